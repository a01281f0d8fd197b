"""The kind catalogue: what a column holds, its role and its sensitivity weight.

The built-in kinds are data (``linkrisk/data/kinds.toml``), not code branches. A study
may override weights, choose ``weights = "uniform"``, or declare kinds of its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from enum import Enum
from importlib import resources
from types import MappingProxyType
from typing import Mapping


class Role(str, Enum):
    """How a kind can be used by an attacker."""

    IDENTIFIER = "identifier"  # designed to be unique: an exact join key
    QUASI = "quasi"  # identifying in combination
    ATTRIBUTE = "attribute"  # only enriches a profile


NORMALISERS = (
    "national_id",
    "phone",
    "email",
    "name",
    "date",
    "sex",
    "postcode",
    "address",
    "text",
    "code",
    "integer",
    "none",
)


@dataclass(frozen=True)
class Kind:
    """One attribute kind.

    Parameters
    ----------
    name : str
        The kind's name, as used in study files (``national_id``).
    role : Role
        ``identifier``, ``quasi`` or ``attribute``.
    weight : float
        Sensitivity weight used by the enrichment score (docs/method.md, Enrichment).
    category : str
        What the kind tells about a person (``contact``, ``location`` ...).
    normaliser : str
        The normalisation rule (one of ``NORMALISERS``).
    special : bool
        A special category of personal data (GDPR Art. 9).
    """

    name: str
    role: Role
    weight: float
    category: str = "other"
    normaliser: str = "text"
    special: bool = False


def _load_builtin() -> dict[str, Kind]:
    text = resources.files("linkrisk").joinpath("data/kinds.toml").read_text("utf-8")
    out = {}
    for name, spec in tomllib.loads(text).items():
        out[name] = Kind(name=name, role=Role(spec["role"]), weight=float(spec["weight"]),
                         category=spec.get("category", "other"),
                         normaliser=spec.get("normaliser", "text"),
                         special=bool(spec.get("special", False)))
    return out


BUILTIN_KINDS: Mapping[str, Kind] = MappingProxyType(_load_builtin())


class Catalogue(Mapping[str, Kind]):
    """The kinds a study can use: the built-in ones, the study's own, with its weights.

    Parameters
    ----------
    custom : mapping of str to Kind, optional
        Kinds declared by the study; they may also redefine a built-in kind.
    weights : "default", "uniform" or mapping of str to float
        ``"uniform"`` gives every kind weight 1; a mapping overrides single weights.

    Examples
    --------
    >>> cat = Catalogue(weights="uniform")
    >>> cat["national_id"].weight
    1.0
    >>> Catalogue()["national_id"].role.value
    'identifier'
    """

    def __init__(self, custom: Mapping[str, Kind] | None = None,
                 weights: str | Mapping[str, float] = "default"):
        kinds = dict(BUILTIN_KINDS)
        kinds.update(custom or {})
        if weights == "uniform":
            kinds = {n: replace(k, weight=1.0) for n, k in kinds.items()}
        elif isinstance(weights, Mapping):
            for n, w in weights.items():
                if n in kinds:
                    kinds[n] = replace(kinds[n], weight=float(w))
        self._kinds = kinds

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __iter__(self):
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def weight(self, name: str) -> float:
        """The weight of kind ``name``."""
        return self._kinds[name].weight

    def to_frame(self):
        """The catalogue as a pandas DataFrame, one row per kind."""
        import pandas as pd

        return pd.DataFrame([{"kind": k.name, "role": k.role.value, "weight": k.weight,
                              "category": k.category, "normaliser": k.normaliser,
                              "special": k.special} for k in self._kinds.values()])
