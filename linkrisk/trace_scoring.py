"""Co-occurrence scores of pairs of traces: the trajectory linker's settings and scores.

Two traces *co-occur* at a point when one holds a point in cell (y, x) and time bin t
and the other a point within ``space_tolerance`` cells and ``time_tolerance`` bins of
it. Each co-occurrence is weighted by the rarity of the (cell, bin) in the indexed
dataset, w = ln(N / df) (Sparck Jones 1972); a point of b counts once per candidate, with
the weight of its rarest match; a pair's score is the sum. :func:`trace_scores` gives
every pair's score (``candidates="all"``, the reference: each point of b expanded by the
tolerances and looked up among a's keys) or those of the pairs that can be linked
(``candidates="pairs"``, :mod:`linkrisk.trace_candidates`); :mod:`linkrisk.trace_link`
keeps the best two of each trace. Method: docs/traces.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.trace_candidates import int_bits, owner_order, pair_candidate_scores
from linkrisk.trajectory import NO_CELL, Resolution, Traces, grid, lookup, mix, time_bins

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import StudyConfig


@dataclass(frozen=True)
class TraceAttack:
    """The trajectory linker's settings (the study's ``[attacker] trace_*`` keys).

    The defaults are the study's defaults (``StudyConfig().attacker``): 250 m cells and
    60-minute bins, one cell and one bin of tolerance.
    """

    resolution: Resolution = Resolution(250, 60)
    time_tolerance: int = 1
    space_tolerance: int = 1
    threshold: float = 12.0
    min_points: int = 2
    max_cell_frequency: int = 1000

    @classmethod
    def of(cls, study: "StudyConfig") -> "TraceAttack":
        a = study.attacker
        return cls(Resolution(float(a.trace_cell_metres), float(a.trace_bin_minutes)), int(a.trace_time_tolerance),
                   int(a.trace_space_tolerance), float(a.trace_threshold), int(a.trace_min_points),
                   int(a.trace_max_cell_frequency))


def _binned(tr: Traces, r: Resolution) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (owner, y, x, t) of a trace set at a resolution, sorted by owner, and each
    one's (cell, bin) key."""
    y, x = grid(tr, r.cell_metres)
    t = time_bins(tr, r.bin_minutes)
    if not len(y):
        return (np.zeros(0, np.int64),) * 5
    key = mix(y, x, t)
    order = owner_order(tr.owner, key)
    owner, key = tr.owner[order], key[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (owner[1:] != owner[:-1]) | (key[1:] != key[:-1])
    order = order[keep]
    return owner[keep], y[order], x[order], t[order], key[keep]


def _pair_scores(qi, pos, df, first, aown, rank, rank_weight, bo, attack, prune, n_a):
    """Scores of the pairs of some whole traces of b (their matched points qi at keys pos),
    all in sorted int64 codes (no pandas grouping): a point of b counts once per
    candidate, with its rarest match (the smallest df, the first in code order)."""
    cnt = df[pos]
    total = int(cnt.sum())
    if not total:
        return None
    q0 = int(qi.min())
    ql = qi - q0
    ba, bd = int_bits(n_a), int_bits(len(rank_weight))
    if int_bits(int(ql.max()) + 1) + ba + bd > 62:
        raise ValueError("trace_scores: chunk too large for int64 pair codes; lower chunk")
    rep = np.repeat(np.arange(len(qi)), cnt)
    offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    code = (ql[rep] << (ba + bd)) | (aown[first[pos][rep] + offs] << bd) | rank[pos][rep]
    del rep, offs
    code.sort()
    qa = code >> bd
    head = np.ones(len(code), dtype=bool)
    head[1:] = qa[1:] != qa[:-1]
    code, qa = code[head], qa[head]
    w = rank_weight[code & ((1 << bd) - 1)]
    a = qa & ((1 << ba) - 1)
    b = bo[(qa >> ba) + q0]
    del code, qa, head
    pair = (b << ba) | a
    order = np.argsort(pair, kind="stable")  # sums in b-point order, as trace_candidates.verify adds them
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    # rounded: equal sums of the same weights in another order must tie exactly
    score = np.round(np.add.reduceat(w[order], starts), 9)
    points = np.diff(np.r_[starts, len(pair)])
    pair = pair[starts]
    pa, pb = pair & ((1 << ba) - 1), pair >> ba
    return _prune(pa, pb, score, points, attack) if prune else (pa, pb, score, points)


def _prune(pa, pb, score, points, attack):
    """Keep what best_links can accept, and each b's best pair (for top-1 figures)."""
    if not len(pb):
        return pa, pb, score, points
    if len(pb) > 1 and np.any(pb[1:] < pb[:-1]):
        order = np.lexsort((pa, pb))
        pa, pb, score, points = pa[order], pb[order], score[order], points[order]
    ok = (score >= attack.threshold) & (points >= attack.min_points)
    bstart = np.flatnonzero(np.r_[True, pb[1:] != pb[:-1]])
    top = np.maximum.reduceat(score, bstart)
    is_top = score == np.repeat(top, np.diff(np.r_[bstart, len(pb)]))
    first_top = np.zeros(len(pb), dtype=bool)
    tops = np.flatnonzero(is_top)
    first_top[tops[np.r_[True, pb[tops][1:] != pb[tops][:-1]]]] = True
    keep = ok | first_top
    return pa[keep], pb[keep], score[keep], points[keep]


def trace_scores(a: Traces, b: Traces, attack: TraceAttack = TraceAttack(),
                 chunk: int = 2_000_000, prune: bool = False, max_pairs: int = 20_000_000,
                 hubs: list | None = None, candidates: str = "all", threads: int | None = None) -> pd.DataFrame:
    """Co-occurrence scores of every pair of traces that share at least one point.

    ``b`` is expanded by the tolerances and looked up in an index of ``a``; weights are
    the rarity of the matched (cell, bin) in ``a``. With ``prune``, only the pairs
    :func:`best_links` can accept (score and points at the thresholds) and each trace of
    ``b``'s best pair are kept: the links and top-1 figures are the same, the memory
    far smaller.

    With ``candidates="pairs"`` only the pairs that share at least two points of b, or
    one point whose weight alone reaches ``threshold``, are scored (exactly, as here);
    the others can never be linked with ``min_points`` >= 2, nor with ``min_points`` 1
    (their one point's weight is below the threshold), so :func:`best_links` gives the
    same links with the same scores, and every returned pair has the same score and
    points as with ``"all"``. Candidates come from pairs of points (an index of every
    two blocks of each trace of ``a``, blocks of 2 × tolerance cells and bins) and from
    the rare keys alone: no single common (cell, bin) is expanded into its thousands of
    traces. Proof and measurements: docs/traces.md. (With ``prune``, each b's best pair
    is then its best among these, for top-1 figures.)

    The work is set-based in numpy: the index of ``a`` is sorted (cell, bin) keys with
    posting lists of traces; each chunk of whole traces of ``b`` (at most ``max_pairs``
    candidate rows) is packed into int64 codes (b point, a trace, rarity rank), sorted
    once to keep each point's rarest match per candidate, and once more by (b, a) to sum
    the weights. (cell, bin) keys held by more than ``max_cell_frequency`` traces of
    ``a`` are not used; with a list ``hubs`` they are appended to it as
    ``(y, x, t, traces)`` tuples. ``threads``: as :func:`linkrisk.trace_link.trace_links`
    (pair candidates only).

    Returns
    -------
    DataFrame
        ``a, b, score, points`` (record positions in ``a`` and ``b``; points of ``b``
        that co-occur).

    Examples
    --------
    Two sightings of a (08:10 and 12:10 in cell 0) and one tap of b at 09:05 one cell
    east (0.0024 degrees of longitude is 267 m: x = 1), 60-minute bins: the tap is in
    bin 9, the first sighting in bin 8, the second in bin 12. With one bin and one cell
    of tolerance the tap matches the first sighting only, with weight ln(2/1) = 0.693:
    a holds 2 traces and 1 of them holds that (cell, bin). With no time tolerance bin 9
    holds nothing of a's.

    >>> from linkrisk.trajectory import parse_traces
    >>> a, _ = parse_traces(["2019-01-01T08:10@0.0001,0.0001;2019-01-01T12:10@0.0001,0.0001",
    ...                     "2019-01-01T20:00@10,10"])
    >>> b, _ = parse_traces(["2019-01-01T09:05@0.0001,0.0024"])
    >>> trace_scores(a, b).round(3).values.tolist()
    [[0.0, 0.0, 0.693, 1.0]]
    >>> trace_scores(a, b, TraceAttack(time_tolerance=0)).shape[0]
    0
    """
    out = pd.DataFrame({"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64),
                        "score": np.zeros(0), "points": np.zeros(0, np.int64)})
    pieces = [_prune(*p, attack) if prune and candidates == "pairs" else p
              for p in scored_chunks(a, b, attack, chunk, max_pairs, hubs, candidates, prune, threads)]
    pieces = [p for p in pieces if len(p[0])]
    if not pieces:
        return out
    pa, pb, score, points = (np.concatenate(x) for x in zip(*pieces))
    order = np.lexsort((pb, pa))
    return pd.DataFrame({"a": pa[order].astype(np.int64), "b": pb[order].astype(np.int64),
                         "score": score[order], "points": points[order].astype(np.int64)})


def scored_chunks(a: Traces, b: Traces, attack: TraceAttack, chunk: int, max_pairs: int, hubs: list | None,
                   candidates: str, prune: bool = False, threads: int | None = None, finish=None):
    """The pair scores of :func:`trace_scores`, one piece (a, b, score, points) per chunk of
    whole traces of b (pruned by ``prune`` on the ``"all"`` path), or ``finish(a, b,
    score, points)`` of each piece where that is not None (computed in the worker thread
    that scored the chunk)."""
    if candidates not in ("all", "pairs"):
        raise ValueError(f"trace_scores: candidates must be 'all' or 'pairs', not {candidates!r}")
    threads = max(1, min(os.cpu_count() or 1, 4)) if threads is None else max(1, int(threads))
    r = attack.resolution
    ao, ay, ax, at, akey = _binned(a, r)
    bo, by, bx, bt, _ = _binned(b, r)
    if not len(ao) or not len(bo):
        return
    point_key = akey
    order = np.argsort(akey, kind="stable")
    akey, aown = akey[order], ao[order]
    uk, first, df = np.unique(akey, return_index=True, return_counts=True)
    if hubs is not None:
        over = np.flatnonzero(df > attack.max_cell_frequency)
        at_ = order[first[over]]
        hubs.extend(zip(ay[at_].tolist(), ax[at_].tolist(), at[at_].tolist(), df[over].tolist()))
    del order
    n_a = int(a.n_records) if a.n_records else int(ao.max()) + 1
    n_idx = max(int(len(np.unique(ao))), 1)
    dfs, rank = np.unique(df, return_inverse=True)  # rarity rank: 0 is the rarest
    rank_weight = np.log(n_idx / dfs.astype(float))
    if candidates == "pairs":
        where = np.searchsorted(uk, point_key)
        weight = rank_weight[rank]
        rare = (weight >= attack.threshold) & (df <= attack.max_cell_frequency)
        n_post = df[rare]
        at_ = np.repeat(first[rare], n_post) + np.arange(int(n_post.sum())) - np.repeat(np.cumsum(n_post) - n_post,
                                                                                        n_post)
        yield from pair_candidate_scores(ao, ay, ax, at, weight[where], df[where] <= attack.max_cell_frequency,
                                          bo, by, bx, bt, (akey[at_], aown[at_]), n_a,
                                          int(b.n_records) if b.n_records else int(bo.max()) + 1, attack, chunk,
                                          max_pairs, threads, finish)
        return
    s, tt = attack.space_tolerance, attack.time_tolerance
    offsets = [(dy, dx, dt) for dy in range(-s, s + 1) for dx in range(-s, s + 1) for dt in range(-tt, tt + 1)]
    tok = bx == NO_CELL
    per = max(1, chunk // max(len(offsets), 1))
    # chunks hold whole traces of b (its points are sorted by owner), so each chunk's
    # pair scores are complete and can be pruned at once
    bounds = [0]
    while bounds[-1] < len(bo):
        stop = min(bounds[-1] + per, len(bo))
        if stop < len(bo):
            stop = max(int(np.searchsorted(bo, bo[stop], side="left")), bounds[-1] + 1)
            stop = int(np.searchsorted(bo, bo[stop - 1], side="right"))
        bounds.append(stop)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        q = np.arange(start, stop)
        qi, keys = [], []
        for dy, dx, dt in offsets:
            use = q[~tok[start:stop]] if (dy or dx) else q
            keys.append(mix(by[use] + dy, bx[use] + dx, bt[use] + dt))
            qi.append(use)
        qi, keys = np.concatenate(qi), np.concatenate(keys)
        pos = lookup(uk, keys)
        pos = np.minimum(pos, len(uk) - 1)
        hit = (uk[pos] == keys) & (df[pos] <= attack.max_cell_frequency)
        qi, pos = qi[hit], pos[hit]
        order = np.argsort(qi, kind="stable")
        qi, pos = qi[order], pos[order]
        cum = np.cumsum(df[pos])
        owners = bo[qi]
        s0 = 0
        while s0 < len(qi):  # sub-chunks of whole traces, at most max_pairs candidate rows each
            base = cum[s0 - 1] if s0 else 0
            e = int(np.searchsorted(cum, base + max_pairs, side="right"))
            if e < len(qi):
                e = int(np.searchsorted(owners, owners[max(e - 1, s0)], side="left"))
                if e <= s0:
                    e = int(np.searchsorted(owners, owners[s0], side="right"))
            got = _pair_scores(qi[s0:e], pos[s0:e], df, first, aown, rank, rank_weight, bo, attack, prune, n_a)
            if got is not None and finish is not None:
                got = finish(*got)
            if got is not None:
                yield got
            s0 = e


__all__ = ["TraceAttack", "trace_scores", "scored_chunks"]
