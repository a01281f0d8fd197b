"""Simulated secrets and their scopes, and what a pseudonymisation technique knows of its column.

Keys, salts and vaults are simulated: they derive from the study seed through
:class:`KeyRing` and never appear in any output, log, repr or error. A key scope
(``global``, ``dataset`` or a named group of datasets) decides which datasets share a
secret (:func:`scope_id`), and so which pseudonyms link (docs/method.md, Pseudonymisation).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import Policy, StudyConfig
    from linkrisk.tables import ColumnRef


class KeyRing:
    """Simulated secrets, derived from the study seed.

    ``key(scope, purpose)`` is HMAC-SHA256 of ``purpose:scope`` under a master key that
    is itself derived from the seed. The ring never shows its keys.

    Examples
    --------
    >>> ring = KeyRing(0)
    >>> ring.key("global", "hmac") == KeyRing(0).key("global", "hmac")
    True
    >>> ring
    KeyRing(<secret>)
    """

    def __init__(self, seed: int):
        self.__master = hashlib.sha256(b"linkrisk simulated pseudonymisation keys|" +
                                       str(int(seed)).encode()).digest()

    def key(self, scope: str, purpose: str) -> bytes:
        return hmac.new(self.__master, f"{purpose}:{scope}".encode(), hashlib.sha256).digest()

    def hmac_pads(self, scope: str, purpose: str) -> tuple[bytes, bytes]:
        """The (outer, inner) padded keys of HMAC-SHA256 (RFC 2104) for SQL evaluation."""
        k = self.key(scope, purpose).ljust(64, b"\0")
        return bytes(b ^ 0x5C for b in k), bytes(b ^ 0x36 for b in k)

    def __repr__(self) -> str:
        return "KeyRing(<secret>)"

    __str__ = __repr__

    def __reduce__(self):  # never pickle a key
        raise TypeError("a KeyRing cannot be pickled")


def hmac_sql(x: str) -> str:
    """HMAC-SHA256 (RFC 2104) of a text expression, hex; parameters: outer pad, inner pad."""
    return "sha256(CAST(? AS BLOB) || unhex(sha256(CAST(? AS BLOB) || encode(" + x + "))))"


def scope_id(key_scope: str | None, dataset: str, groups: dict[str, list[str]]) -> str:
    """The concrete secret a dataset uses under a key scope.

    ``global``: one secret everywhere; ``dataset``: one per holder; a group name: one
    per group (datasets outside the group keep their own).

    Examples
    --------
    >>> scope_id("dataset", "telecom", {})
    'dataset:telecom'
    >>> scope_id("carriers", "telecom", {"carriers": ["telecom", "isp"]})
    'group:carriers'
    """
    scope = key_scope or "dataset"
    if scope == "global":
        return "global"
    if scope in groups:
        return f"group:{scope}" if dataset in groups[scope] else f"dataset:{dataset}"
    return f"dataset:{dataset}"


@dataclass
class Context:
    """What a technique needs to know about the column it transforms."""

    study: "StudyConfig"
    ref: "ColumnRef"
    keys: KeyRing
    policy: "Policy"
    aux: str | None = None  # an engine table a technique prepared (bloom_filter: the encodings)

    @property
    def scope(self) -> str:
        return scope_id(self.policy.key_scope, self.ref.dataset, self.study.key_groups)

    @property
    def normaliser(self) -> str:
        return self.study.catalogue[self.ref.kind].normaliser

    @property
    def form(self) -> str:
        return "norm" if self.policy.normalise else "raw"


__all__ = ["Context", "KeyRing", "hmac_sql", "scope_id"]
