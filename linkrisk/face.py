"""Face templates: fixed-length vectors per record, read, checked and simulated.

A ``face_template`` column holds, per record, one face embedding in one of two text forms:

- **base64** of the vector's components as little-endian IEEE 754 float32 (4 bytes a
  component; a 128-dimensional template is 684 characters), what ``synth`` writes;
- a **bracketed list** of decimal numbers, ``[0.12, -0.03, ...]`` (commas between, spaces
  allowed), what a NumPy or JSON export gives.

Every template of a study has the same dimension, holds finite numbers only and has a
nonzero length; it is normalised to unit length when read, so that the inner product of
two templates is their cosine similarity. An empty cell means no template.

The simulation (:func:`simulate_captures`) is a model, not a face recogniser: identity
vectors uniform on the unit sphere, a capture = normalise(identity + noise), the noise
calibrated so that a threshold set for a target false-match rate misses a target share of
genuine pairs. See ``docs/faces.md``. No real face or template is shipped or loaded.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Sequence

import numpy as np
import pandas as pd

from linkrisk.errors import Problem

FACE_KIND = "face_template"
FACE_TECHNIQUES = ("degrade_template", "protect_template")
TEXT_FORM = ("base64 of little-endian float32 components, or a bracketed list such as "
             "[0.12, -0.03, 0.5] (docs/faces.md)")


def _rows(positions: np.ndarray, limit: int = 5) -> str:
    rows = sorted(set(int(r) + 1 for r in positions))
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{' …' if len(rows) > limit else ''}"


def encode_templates(vectors: np.ndarray) -> list[str]:
    """Templates as base64 of little-endian float32 (the first text form).

    Examples
    --------
    >>> encode_templates(np.array([[1.0, 0.0]]))
    ['AACAPwAAAAA=']
    """
    raw = np.ascontiguousarray(vectors, dtype="<f4")
    if not raw.size:
        return [""] * len(raw)
    width = raw.shape[1] * 4
    text = base64.b64encode(raw.tobytes()).decode("ascii") if width % 3 == 0 else None
    if text is not None:  # whole rows map onto whole base64 quanta: cut the one string
        step = width // 3 * 4
        return [text[i:i + step] for i in range(0, len(text), step)]
    return [base64.b64encode(r.tobytes()).decode("ascii") for r in raw]


def _decode_base64(text: pd.Series) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Decode each value (one C call per value: about a microsecond each)."""
    out: list[np.ndarray | None] = []
    bad = np.zeros(len(text), dtype=bool)
    for i, v in enumerate(text.tolist()):
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) % 4 or not raw:
            out.append(None)
            bad[i] = True
        else:
            out.append(np.frombuffer(raw, dtype="<f4"))
    return out, bad


def parse_templates(values: Sequence[str | None], where: str = "face_template",
                    dimension: int | None = None) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    """Read a template column in either text form, check it and normalise it.

    Parameters
    ----------
    values : sequence of str or None
        One entry per record; None or blank: no template.
    where : str
        Names the column in problems (``dataset 'telecom' column 'face'``).
    dimension : int, optional
        The dimension every template must have; by default the most common one of the
        column (ties: the smallest).

    Returns
    -------
    (templates, present, problems)
        ``templates`` is a float32 array (records × dimension) of unit vectors, zero rows
        where ``present`` is False; ``problems`` holds one problem per kind of fault,
        naming the 1-based data rows (at most five shown) and what to do. A problem never
        quotes a value. A faulty template is left out (``present`` False).

    Examples
    --------
    >>> t, ok, problems = parse_templates(["[3, 4]", None, "AACAPwAAAAA="])
    >>> t.astype(float).round(2).tolist(), ok.tolist(), problems
    ([[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]], [True, False, True], [])
    >>> _, _, problems = parse_templates(["[1, 0]", "[1, 0, 0]", "[nan, 1]"], "column 'face'")
    >>> print(problems[0])
    column 'face': row 2: the template has 3 components, the others 2; every template of a study must come from one model (one dimension)
    >>> print(problems[1])
    column 'face': row 3: a component is not a finite number (NaN or infinite); write base64 of little-endian float32 components, or a bracketed list such as [0.12, -0.03, 0.5] (docs/faces.md)
    """
    s = pd.Series(list(values), dtype=object)
    n = len(s)
    text = s.where(s.notna(), "").astype(str).str.strip()
    has = (text != "").to_numpy()
    problems: list[Problem] = []
    vecs: list[np.ndarray | None] = [None] * n
    bad_form = np.zeros(n, dtype=bool)
    is_list = text.str.startswith("[").to_numpy() & has
    if is_list.any():
        body = text[is_list]
        closed = body.str.endswith("]").to_numpy()
        idx = np.flatnonzero(is_list)
        for i, v, ok in zip(idx, body.tolist(), closed):
            parts = v[1:-1].split(",") if ok else []
            try:
                vecs[i] = np.array([float(p) for p in parts], dtype=np.float64) if ok and v[1:-1].strip() else None
            except ValueError:
                vecs[i] = None
            if vecs[i] is None:
                bad_form[i] = True
    is_b64 = has & ~is_list
    if is_b64.any():
        idx = np.flatnonzero(is_b64)
        got, bad = _decode_base64(text[is_b64].reset_index(drop=True))
        for i, v, b in zip(idx, got, bad):
            vecs[i] = v
            bad_form[i] = b
    if bad_form.any():
        problems.append(Problem(where, f"{_rows(np.flatnonzero(bad_form))}: the template is neither valid base64 "
                                       f"of float32 components nor a bracketed list of numbers; write {TEXT_FORM}"))
    dims = np.array([len(v) if v is not None else -1 for v in vecs])
    if dimension is None:
        seen = dims[dims > 0]
        dimension = int(pd.Series(seen).value_counts().sort_index().idxmax()) if len(seen) else 0
    wrong = (dims > 0) & (dims != dimension)
    if wrong.any():
        got = sorted(set(dims[wrong].tolist()))
        problems.append(Problem(where, f"{_rows(np.flatnonzero(wrong))}: the template has "
                                       f"{' or '.join(map(str, got))} components, the others {dimension}; every "
                                       "template of a study must come from one model (one dimension)"))
    ok = (dims == dimension) & (dims > 0)
    m = np.zeros((n, max(dimension, 0)), dtype=np.float64)
    if ok.any():
        m[ok] = np.vstack([vecs[i] for i in np.flatnonzero(ok)])
    finite = np.isfinite(m).all(axis=1)
    nonfinite = ok & ~finite
    if nonfinite.any():
        problems.append(Problem(where, f"{_rows(np.flatnonzero(nonfinite))}: a component is not a finite number "
                                       f"(NaN or infinite); write {TEXT_FORM}"))
    ok &= finite
    m[~ok] = 0.0
    norm = np.linalg.norm(m, axis=1)
    zero = ok & (norm == 0)
    if zero.any():
        problems.append(Problem(where, f"{_rows(np.flatnonzero(zero))}: the template has length zero (every "
                                       "component 0): it cannot be compared; leave the cell empty instead"))
    ok &= norm > 0
    m[ok] /= norm[ok, None]
    return m.astype(np.float32), ok, problems


# --- The impostor distribution and the threshold ------------------------------------------

def impostor_tail(t: float | np.ndarray, dimension: int) -> np.ndarray:
    """P(s >= t) for the cosine s of two independent uniform unit vectors in R^d.

    (1 + s) / 2 follows Beta((d − 1)/2, (d − 1)/2): one coordinate of a uniform point of
    the sphere S^(d−1) has density proportional to (1 − x²)^((d − 3)/2) (Cai, Fan and
    Jiang, "Distributions of angles in random packing on spheres", JMLR 14, 2013,
    section 2), and the cosine with any fixed unit vector is such a coordinate.

    Examples
    --------
    >>> round(float(impostor_tail(0.0, 128)), 3)   # symmetric about 0
    0.5
    >>> float(impostor_tail(1.0, 3))
    0.0
    """
    from scipy.stats import beta

    a = (dimension - 1) / 2
    return beta.sf((1 + np.asarray(t, dtype=np.float64)) / 2, a, a)


def threshold_for_fmr(fmr: float, dimension: int) -> float:
    """The similarity threshold t with P(impostor cosine >= t) = ``fmr`` at dimension d.

    t = 2 · B⁻¹(1 − fmr; (d − 1)/2, (d − 1)/2) − 1, B the Beta distribution function
    (see :func:`impostor_tail`). This is the false-match rate of *one* comparison; a
    search among N templates returns a stranger with probability FPIR = 1 − (1 − FMR)^N
    (:func:`fpir`).

    Parameters
    ----------
    fmr : float
        Target false-match rate, in (0, 1).
    dimension : int
        Template dimension d (at least 2).

    Examples
    --------
    >>> round(threshold_for_fmr(0.5, 64), 6)
    0.0
    >>> t = threshold_for_fmr(1e-6, 128)
    >>> round(t, 4), round(float(impostor_tail(t, 128)) / 1e-6, 9)
    (0.4044, 1.0)
    """
    from scipy.stats import beta

    a = (dimension - 1) / 2
    return float(2 * beta.isf(fmr, a, a) - 1)


def fpir(fmr: float, gallery: int) -> float:
    """False-positive identification rate of a 1:N search: 1 − (1 − FMR)^N.

    The probability that a search of a person not in the gallery returns at least one
    candidate above the threshold, when the N comparisons are independent (Grother,
    Ngan and Hanaoka, NIST IR 8271, FRVT Part 2: Identification, 2019, section 3).
    Computed as −expm1(N · log1p(−FMR)) so that tiny rates keep their digits.

    Examples
    --------
    >>> round(fpir(1e-6, 2_500_000), 4)    # about 1 − e^(−2.5)
    0.9179
    >>> round(2_500_000 * 1e-6, 1)           # expected strangers per search
    2.5
    """
    return float(-np.expm1(gallery * np.log1p(-fmr)))


# --- Simulation -------------------------------------------------------------------------

def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def draw_identities(rng: np.random.Generator, n: int, dimension: int) -> np.ndarray:
    """n identity vectors uniform on the unit sphere of R^d (normalised Gaussians, Muller 1959)."""
    return unit_rows(rng.standard_normal((n, dimension), dtype=np.float32))


def simulate_captures(rng: np.random.Generator, identities: np.ndarray, noise: float,
                      multiplier: np.ndarray | float = 1.0) -> np.ndarray:
    """One capture per row: normalise(identity + noise · multiplier · g / √d), g ~ N(0, I).

    ``noise`` is the expected length of the noise vector relative to the unit identity;
    ``multiplier`` scales it per record (a demographic differential, a worse camera).
    """
    d = identities.shape[1]
    g = rng.standard_normal(identities.shape, dtype=np.float32)
    scale = (np.float32(noise) * np.asarray(multiplier, dtype=np.float32).reshape(-1, 1)
             if np.ndim(multiplier) else np.float32(noise * float(multiplier)))
    return unit_rows(identities + g * (scale / np.float32(np.sqrt(d))))


def genuine_scores(rng: np.random.Generator, dimension: int, noise: float, n: int,
                   multiplier: float = 1.0) -> np.ndarray:
    """Cosine of two independent captures of each of n random identities (Monte Carlo)."""
    ident = draw_identities(rng, n, dimension)
    a = simulate_captures(rng, ident, noise, multiplier)
    b = simulate_captures(rng, ident, noise, multiplier)
    return np.einsum("ij,ij->i", a, b, dtype=np.float64)


def calibrate_noise(fmr: float, fnmr: float, dimension: int, seed: int = 0, n: int = 200_000) -> float:
    """The capture noise at which a threshold set for ``fmr`` misses ``fnmr`` of genuine pairs.

    Bisection on the noise with one fixed set of Monte Carlo draws (common random
    numbers: the miss rate is then monotone in the noise), 40 steps. The genuine score
    of a pair is the cosine of two captures of one identity (:func:`genuine_scores`).
    With n = 200,000 pairs, a miss rate of 0.002 is estimated within about ±10%
    (binomial standard error sqrt(0.002 / n) = 1e-4, two of them).

    Examples
    --------
    >>> s = calibrate_noise(1e-4, 0.01, 32, n=20_000)
    >>> 0.3 < s < 1.0
    True
    """
    rng = np.random.default_rng([seed, 22, dimension])
    ident = draw_identities(rng, n, dimension)
    g1 = rng.standard_normal(ident.shape, dtype=np.float32) / np.float32(np.sqrt(dimension))
    g2 = rng.standard_normal(ident.shape, dtype=np.float32) / np.float32(np.sqrt(dimension))
    t = threshold_for_fmr(fmr, dimension)

    def miss(sigma: float) -> float:
        a = unit_rows(ident + np.float32(sigma) * g1)
        b = unit_rows(ident + np.float32(sigma) * g2)
        return float((np.einsum("ij,ij->i", a, b, dtype=np.float64) < t).mean())

    lo, hi = 0.0, 4.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if miss(mid) > fnmr:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def impostor_fmr(rng: np.random.Generator, dimension: int, threshold: float, comparisons: int,
                 chunk: int = 4096) -> tuple[int, int]:
    """Count impostor comparisons at or above ``threshold`` among random unit vectors.

    Blocks of ``chunk`` × ``chunk`` fresh identities are compared all against all (a
    matrix product), so that ``comparisons`` (rounded up to whole blocks) can reach 1e8
    and more in seconds. Returns (false matches, comparisons made).
    """
    done = hits = 0
    while done < comparisons:
        a = draw_identities(rng, chunk, dimension)
        b = draw_identities(rng, chunk, dimension)
        hits += int(np.count_nonzero(a @ b.T >= threshold))
        done += chunk * chunk
    return hits, done


# --- The synthetic sample's templates (linkrisk.synth --faces) ----------------------------
# Each person gets an identity vector, each record holding a face one capture of it.
# The sample uses d = 32 to keep the committed CSVs small (a template is 172 base64
# characters; at d = 128 it would be 684). At one (FMR, FNMR) operating point the links
# found depend on those two rates, not on d; the benchmark runs both (docs/faces.md).

FACE_DIM = 32
FACE_FMR = 1e-6  # the false-match rate the sample's attacker sets its threshold for
FACE_FNMR = 0.002  # NIST FRVT 1:N: leading algorithms miss about 0.2% of mated searches
FACE_DATASETS = {"surveillance": "face", "telecom": "face"}  # dataset -> template column
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


__all__ = ["FACE_KIND", "FACE_TECHNIQUES", "TEXT_FORM", "encode_templates", "parse_templates", "impostor_tail", "threshold_for_fmr", "fpir",
           "unit_rows", "draw_identities", "simulate_captures", "genuine_scores", "calibrate_noise",
           "impostor_fmr", "FACE_DIM", "FACE_FMR", "FACE_FNMR", "FACE_DATASETS", "capture_noise", "identities",
           "face_column"]
