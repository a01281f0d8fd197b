"""Simulated face templates for the synthetic breaches (``linkrisk.synth``).

This is a simulation, not a face recogniser, and nothing in it comes from a real face:
each person gets an identity vector uniform on the unit sphere of R^d, and each record
holding a face gets one capture of it, normalise(identity + noise · multiplier · g / √d)
(:func:`linkrisk.face.simulate_captures`). The noise is calibrated so that the threshold
set for ``FACE_FMR`` misses ``FACE_FNMR`` of genuine pairs (:func:`linkrisk.face.calibrate_noise`);
an optional per-group multiplier makes one group's captures noisier (a demographic
differential: Grother, Ngan and Hanaoka, NIST IR 8280, 2019).

The sample uses d = 32 to keep the committed CSVs small (a template is 172 base64
characters; at d = 128 it would be 684). At one (FMR, FNMR) operating point the links
found depend on those two rates, not on d; the benchmark runs d = 128. See docs/faces.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from linkrisk.face import calibrate_noise, draw_identities, encode_templates, simulate_captures

FACE_DIM = 32
FACE_FMR = 1e-6  # the false-match rate the sample's attacker sets its threshold for
FACE_FNMR = 0.002  # NIST FRVT 1:N: leading algorithms miss about 0.2% of mated searches
FACE_DATASETS = {"surveillance": "face", "telecom": "face"}  # dataset -> template column
FACE_SCENARIOS = """
[[scenarios]]
name = "drop-face-templates"
description = "identifiers keyed per holder, and no face template released"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }
face_template = { technique = "drop" }

[[scenarios]]
name = "low-quality-templates"
description = "identifiers keyed per holder, templates released with noise of length 0.5 added (a capture holds about 0.42)"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }
face_template = { technique = "degrade_template", level = 0.5 }

[[scenarios]]
name = "protected-templates-per-holder"
description = "identifiers keyed per holder, templates under a keyed random rotation per holder"
[scenarios.policy]
national_id = { technique = "keyed_hash", key_scope = "dataset" }
phone = { technique = "keyed_hash", key_scope = "dataset" }
email = { technique = "keyed_hash", key_scope = "dataset" }
face_template = { technique = "protect_template", key_scope = "dataset" }
"""
FACE_MISSING_RATE = 0.04  # as linkrisk.synth.MISSING_RATE


@lru_cache(maxsize=16)
def capture_noise(dimension: int = FACE_DIM, fmr: float = FACE_FMR, fnmr: float = FACE_FNMR) -> float:
    """The calibrated capture noise (fixed Monte Carlo seed 0: a model constant, not data)."""
    return calibrate_noise(fmr, fnmr, dimension, seed=0, n=100_000)


def identities(rng: np.random.Generator, people: int, dimension: int = FACE_DIM) -> np.ndarray:
    """One identity vector per person, uniform on the unit sphere."""
    return draw_identities(rng, people, dimension)


def face_column(rng: np.random.Generator, ident: np.ndarray, person: np.ndarray,
                multiplier: np.ndarray | float = 1.0, missing_rate: float = FACE_MISSING_RATE) -> np.ndarray:
    """A template column (base64 text, None where missing) for records of the given persons.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> col = face_column(rng, identities(rng, 3), np.array([0, 0, 2]), missing_rate=0.0)
    >>> len(col), len(col[0])
    (3, 172)
    """
    d = ident.shape[1]
    caps = simulate_captures(rng, ident[person], capture_noise(d), multiplier)
    out = np.array(encode_templates(caps), dtype=object)
    out[rng.random(len(person)) < missing_rate] = None
    return out


__all__ = ["FACE_DIM", "FACE_FMR", "FACE_FNMR", "FACE_DATASETS", "FACE_SCENARIOS", "capture_noise", "identities", "face_column"]
