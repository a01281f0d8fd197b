"""Unicity of trajectories: the share of people singled out by p points of their own trace.

ε_p (de Montjoye et al. 2013) is the share of traces for which p points drawn at random
from the trace, each a (cell, time bin), are contained in that trace and in no other. A
person with fewer than p distinct points is tested with all of them (the attacker cannot
know more than the whole trace). The draws for p = 1 … P are nested (the first p of one
random order of the person's points), so ε_p never falls as p grows.

The test is set-based and vectorised: every (trace, point) pair is one int64 code in a
sorted array, every point has a posting list of the traces holding it. For each tested
person the candidates are the posting list of the *rarest* drawn point; a candidate
other than the person survives only if it holds every other drawn point (one
``searchsorted`` per point). The person is unique when no candidate survives. Work is
chunked so that at most ``max_pairs`` candidates are held at a time; the other drawn
points are checked rarest first, and only surviving candidates are looked up again.
Because the draws are nested, a person singled out by p points is not tested again
for p + 1.

Sampling: ``sample`` tested persons, drawn without replacement, give ε_p with a Wilson
score interval (Wilson 1927); ±0.5 points at 95% needs about 38,400 persons. The test
of each sampled person is still against the whole population. With ``sample=None``
every person is tested (exact in the population; the interval then covers only the
randomness of the drawn points).

References
----------
de Montjoye, Hidalgo, Verleysen, Blondel, "Unique in the Crowd: The privacy bounds of
human mobility", Scientific Reports 3, 1376 (2013).
Farzanehfar, Houssiau, de Montjoye, "The risk of re-identification remains high even in
country-scale location datasets", Patterns 2(3), 100204 (2021).
Wilson, "Probable inference, the law of succession, and statistical inference", JASA 22
(1927) 209-212.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from linkrisk.trace_index import TraceIndex
from linkrisk.trajectory import Resolution, Traces, point_keys


def wilson(k: np.ndarray | int, n: np.ndarray | int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion k / n.

    Examples
    --------
    >>> lo, hi = wilson(50, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4038, 0.5962)
    """
    from scipy.stats import norm

    z = norm.ppf(0.5 + confidence / 2)
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ph = k / n
        d = 1 + z * z / n
        c = (ph + z * z / (2 * n)) / d
        h = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / d
    return np.clip(c - h, 0, 1), np.clip(c + h, 0, 1)


def _draw(index: TraceIndex, persons: np.ndarray, p_max: int, rng: np.random.Generator) -> np.ndarray:
    """Point ids of ``p_max`` points of each person in a random order (−1 pads), drawn
    without replacement; only the tested persons' points are shuffled."""
    sizes = index.sizes()[persons]
    who = np.repeat(np.arange(len(persons)), sizes)
    pos = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(index.ptr[persons], sizes)
    order = np.argsort((who.astype(np.int64) << 31) | rng.integers(0, 2 ** 31, len(who)))
    rank = np.arange(len(who)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    keep = rank < p_max
    out = np.full((len(persons), p_max), -1, dtype=np.int64)
    out[who[keep], rank[keep]] = index.point[pos[order][keep]]
    return out


def _unique(index: TraceIndex, persons: np.ndarray, drawn: np.ndarray, p: int,
            max_pairs: int = 20_000_000) -> np.ndarray:
    """Whether each of ``persons`` is unique given its drawn points ``drawn[i, :p]`` (−1 = none)."""
    return _unique_nested(index, persons, drawn, [p], max_pairs)[0]


def _holds(index: TraceIndex, cand: np.ndarray, pc: np.ndarray) -> np.ndarray:
    """Whether trace ``cand[i]`` holds point ``pc[i]`` (−1: no point, true): a binary search
    in pc's posting list (point · n + person). One tested person's candidates ascend, so
    its searches walk one short posting list (no sort of the queries)."""
    ok = np.ones(len(cand), dtype=bool)
    check = np.flatnonzero(pc >= 0)
    if len(check):
        code = pc[check] * index.n + cand[check]
        pos = np.minimum(np.searchsorted(index.post_codes, code), len(index.post_codes) - 1)
        ok[check[index.post_codes[pos] != code]] = False
    return ok


def _unique_nested(index: TraceIndex, persons: np.ndarray, drawn: np.ndarray, p_values: Sequence[int],
                   max_pairs: int = 20_000_000) -> np.ndarray:
    """Whether each of ``persons`` is unique given its first p drawn points, for each p of
    ``p_values`` (increasing): a boolean array (len(p_values), len(persons)).

    The draws are nested, so the traces holding the first p points are those holding the
    first p' < p that also hold points p' … p − 1: the candidates of the first p ≥ 2 are
    enumerated once (the posting list of the rarest of its points, checked against the
    others rarest first) and the survivors are only checked against the new points at
    each later p. With p = 1 the posting list's length decides alone.
    """
    p_values = list(p_values)
    out = np.zeros((len(p_values), len(persons)), dtype=bool)
    big = np.iinfo(np.int64).max
    for row, p in enumerate(p_values):
        if p == 1:
            first = drawn[:, 0]
            out[row] = (first >= 0) & (index.count[np.maximum(first, 0)] == 1)
    rows = [r for r, p in enumerate(p_values) if p >= 2]
    if not rows or not len(persons):
        return out
    p0 = p_values[rows[0]]
    pts = drawn[:, :p0]
    has = pts >= 0
    counts = np.where(has, index.count[np.where(has, pts, 0)], big)
    j = np.argmin(counts, axis=1)
    rare = pts[np.arange(len(persons)), j]
    m = counts[np.arange(len(persons)), j]
    none = ~has.any(axis=1)
    alone = (m == 1) & ~none  # its rarest point is its own: unique at p0 and after
    out[np.ix_(rows, np.flatnonzero(alone))] = True
    todo = np.flatnonzero((m > 1) & ~none)
    if not len(todo):
        return out
    cum = np.cumsum(m[todo])
    start = 0
    while start < len(todo):
        stop = int(np.searchsorted(cum, (cum[start - 1] if start else 0) + max_pairs, side="right"))
        stop = max(stop, start + 1)
        sel = todo[start:stop]
        mm = m[sel]
        which = np.repeat(np.arange(len(sel)), mm)
        cand = index.post_owner[np.arange(int(mm.sum())) + np.repeat(index.post_ptr[rare[sel]] - (np.cumsum(mm) - mm),
                                                                     mm)]
        keep = cand != persons[sel][which]
        cand, which = cand[keep], which[keep]
        # the other first-p0 points, rarest first: most candidates fail the first check,
        # and only the survivors are looked up again
        spts = pts[sel]
        scount = np.where(spts >= 0, index.count[np.maximum(spts, 0)], big)
        ranked = np.take_along_axis(spts, np.argsort(scount, axis=1, kind="stable"), axis=1)
        for col in range(1, p0):
            if not len(cand):
                break
            ok = _holds(index, cand, ranked[which, col])
            cand, which = cand[ok], which[ok]
        prev = p0
        for r in rows:
            p = p_values[r]
            for col in range(prev, p):  # the points drawn after p0: survivors only
                if not len(cand):
                    break
                ok = _holds(index, cand, drawn[sel[which], col])
                cand, which = cand[ok], which[ok]
            prev = p
            out[r, sel] = np.bincount(which, minlength=len(sel)) == 0
        start = stop
    return out


def unicity(owner: np.ndarray, keys: np.ndarray | None, n: int, p_values: Iterable[int] = range(1, 11),
            sample: int | None = None, seed: int = 0, confidence: float = 0.95,
            index: TraceIndex | None = None) -> pd.DataFrame:
    """ε_p for each p: the share of persons singled out by p random points of their trace.

    Parameters
    ----------
    owner : int array
        The person (0 … n − 1) of each point.
    keys : int64 array or None
        Each point's (cell, time bin) key (:func:`linkrisk.trajectory.point_keys`); not
        read when ``index`` is given.
    n : int
        Persons in the population; persons without points count as not singled out.
    p_values : iterable of int
        Numbers of known points (default 1 … 10).
    sample : int, optional
        Persons to test, drawn at random; None tests everyone (exact).
    seed : int
        Seeds the draws of persons and of points.
    confidence : float
        Level of the Wilson interval.
    index : TraceIndex, optional
        The population's index, if built already (:meth:`TraceIndex.from_traces` builds
        it from traces without sorting every point).

    Returns
    -------
    DataFrame
        ``p, tested, unique, epsilon, ci_low, ci_high, exact``.

    Notes
    -----
    de Montjoye et al. (2013), Scientific Reports 3:1376; intervals after Wilson (1927).
    See the module docstring for the algorithm and docs/traces.md for a worked example.

    Examples
    --------
    Three people, hourly points in one cell each: a = {1, 2}, b = {1, 3}, c = {1}.
    Point 1 is held by all three, so one point singles out a or b only when it is
    their second point (2 or 3), and never c: with p = 2 a and b are unique, c is not.

    >>> owner = np.array([0, 0, 1, 1, 2]); keys = np.array([1, 2, 1, 3, 1])
    >>> unicity(owner, keys, 3, [2])[["p", "unique", "tested"]].values.tolist()
    [[2, 2, 3]]
    """
    rng = np.random.default_rng(seed)
    if index is None:
        if keys is None:
            raise ValueError("unicity: give the points' keys, or their index")
        index = TraceIndex.build(np.asarray(owner), np.asarray(keys), n)
    p_values = sorted(set(int(p) for p in p_values))
    exact = sample is None or sample >= n
    persons = np.arange(n) if exact else np.sort(rng.choice(n, size=sample, replace=False))
    drawn = _draw(index, persons, max(p_values), rng)
    rows = []
    # the draws are nested (the first p of one order): each p only checks the traces
    # that hold the first points against the next ones
    unique = _unique_nested(index, persons, drawn, p_values)
    for p, u in zip(p_values, unique):
        k = int(u.sum())
        lo, hi = wilson(k, len(persons), confidence)
        rows.append({"p": p, "tested": len(persons), "unique": k, "epsilon": k / len(persons) if len(persons) else np.nan,
                     "ci_low": float(lo), "ci_high": float(hi), "exact": exact})
    return pd.DataFrame(rows)


def per_record_risk(owner: np.ndarray, keys: np.ndarray, n: int, p: int = 4, draws: int = 20,
                    seed: int = 0) -> np.ndarray:
    """Each person's share of ``draws`` random draws of p points that single them out.

    Examples
    --------
    >>> owner = np.array([0, 0, 1, 1, 2]); keys = np.array([1, 2, 1, 3, 1])
    >>> per_record_risk(owner, keys, 3, p=1, draws=1000, seed=1).round(1).tolist()   # 1/2, 1/2, 0
    [0.5, 0.5, 0.0]
    """
    rng = np.random.default_rng(seed)
    index = TraceIndex.build(np.asarray(owner), np.asarray(keys), n)
    persons = np.arange(n)
    hits = np.zeros(n)
    for _ in range(draws):
        drawn = _draw(index, persons, p, rng)
        hits += _unique(index, persons, drawn, p)
    return hits / draws


def worst_case_risk(owner: np.ndarray, keys: np.ndarray, n: int, p: int = 2,
                    max_combinations: int = 50_000_000) -> np.ndarray:
    """Each person's re-identification risk against the attacker who knows the *worst* p
    points of their trace: max over every p-subset of their distinct points of
    1 / (persons whose trace holds all p). With fewer than p points, the whole trace.

    This is the risk of scikit-mobility's ``LocationTimeAttack`` (Pellungrini et al.
    2017: background knowledge of ``knowledge_length`` = p (place, time) points, every
    instance tried, the risk the largest 1 / matches); :func:`per_record_risk` is the
    random-draw share of de Montjoye et al. instead. Exhaustive, so for small
    populations (a differential check, ``benchmarks/traces_skmob.py``): persons' point
    sets are bit sets, one AND and one popcount per subset.

    Raises
    ------
    ValueError
        When the subsets to try exceed ``max_combinations``.

    References
    ----------
    Pellungrini, Pappalardo, Pratesi, Monreale, "A data mining approach to assess privacy
    risk in human mobility data", ACM TIST 9(3), 31 (2017).

    Examples
    --------
    a = {1, 2}, b = {1, 3}, c = {1}. With p = 1 the worst point of a is 2 (a alone
    holds it): risk 1; c's only point is held by all three: 1/3. With p = 2 c still has
    one point: 1/3.

    >>> owner = np.array([0, 0, 1, 1, 2]); keys = np.array([1, 2, 1, 3, 1])
    >>> worst_case_risk(owner, keys, 3, p=1).round(3).tolist()
    [1.0, 1.0, 0.333]
    >>> worst_case_risk(owner, keys, 3, p=2).round(3).tolist()
    [1.0, 1.0, 0.333]
    """
    from itertools import combinations
    from math import comb

    index = TraceIndex.build(np.asarray(owner), np.asarray(keys), n)
    sizes = index.sizes()
    total = sum(comb(int(m), min(p, int(m))) for m in sizes if m)
    if total > max_combinations:
        raise ValueError(f"worst_case_risk would try {total:,} subsets of points (more than "
                         f"{max_combinations:,}); use per_record_risk at this size")
    words = (n + 63) // 64
    bits = np.zeros((index.k, words), dtype=np.uint64)
    person, point = np.divmod(index.codes, index.k)
    np.bitwise_or.at(bits, (point, person // 64), np.left_shift(np.uint64(1), (person % 64).astype(np.uint64)))
    risk = np.zeros(n)
    for i in range(n):
        pts = index.point[index.ptr[i]:index.ptr[i + 1]]
        if not len(pts):
            continue
        combos = np.array(list(combinations(pts.tolist(), min(p, len(pts)))), dtype=np.int64)
        both = np.bitwise_and.reduce(bits[combos], axis=1)
        holders = np.bitwise_count(both).sum(axis=1)
        risk[i] = 1.0 / holders.min()
    return risk


def resolution_curve(traces: Traces, resolutions: Sequence[Resolution], p_values: Iterable[int] = (1, 2, 4, 8),
                     sample: int | None = None, seed: int = 0) -> pd.DataFrame:
    """ε_p at several space/time resolutions: one row per (resolution, p).

    Examples
    --------
    >>> from linkrisk.trajectory import parse_traces
    >>> tr, _ = parse_traces(["2019-01-01T08:00@22.50,114.00", "2019-01-01T08:30@22.50,114.00"])
    >>> c = resolution_curve(tr, [Resolution(100, 15), Resolution(100, 60)], [1])
    >>> c[["resolution", "epsilon"]].values.tolist()   # 15 min bins tell them apart, 60 min do not
    [['100 m / 15 min', 1.0], ['100 m / 60 min', 0.0]]
    """
    out = []
    for r in resolutions:
        t = unicity(traces.owner, None, traces.n_records, p_values, sample=sample, seed=seed,
                    index=TraceIndex.from_traces(traces, r))
        t.insert(0, "resolution", r.label)
        t.insert(1, "cell_metres", r.cell_metres)
        t.insert(2, "bin_minutes", r.bin_minutes)
        out.append(t)
    return pd.concat(out, ignore_index=True)


__all__ = ["TraceIndex", "unicity", "per_record_risk", "worst_case_risk", "resolution_curve", "wilson"]
