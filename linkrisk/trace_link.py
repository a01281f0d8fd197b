"""The trajectory attacker: link records of two datasets whose traces co-occur.

Two traces *co-occur* at a point when one holds a point in cell (y, x) and time bin t
and the other a point within ``space_tolerance`` cells and ``time_tolerance`` bins of
it (a camera 200 m from the station, a clock a few minutes off). Each co-occurrence is
weighted by the rarity of the place and time in the indexed dataset, an inverse
document frequency (Sparck Jones 1972): w = ln(N / df), N the traces of that dataset,
df the traces holding the (cell, bin). A point counts once per candidate, with the
weight of its rarest match. The score of a pair is the sum of its points' weights.

A record is linked to its best-scoring candidate when the score reaches ``threshold``,
at least ``min_points`` of its points co-occur, the best is strictly better than the
second best, and the link is mutual (each is the other's best): the one-to-one rule an
analyst applies when each dataset holds one record per person. Cells held by more than
``max_cell_frequency`` traces in one bin are not used (a station at rush hour), as the
hub guard does for identifiers.

Scenario techniques on traces (``coarsen_space``, ``coarsen_time``, ``drop_points``,
``truncate_window``, ``spatial_noise``; ``drop`` removes the column) are applied here,
to the traces the linker reads; the attacker then works at the coarser of its own and
the released resolution.

Method and the worked tolerance cases: docs/traces.md. Kondor, Hashemian, de Montjoye,
Ratti, "Towards matching user mobility traces in large-scale datasets", IEEE Trans. Big
Data (2020; arXiv 1709.05772) match operator and transit records the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.engine.base import ROW
from linkrisk.errors import StudyError
from linkrisk.redact import redact
from linkrisk.trajectory import (METRES_PER_DEGREE, NO_CELL, TRACE_TECHNIQUES, TRAJECTORY_KIND,  # noqa: F401
                                 Resolution, Traces, grid, lookup, mix, parse_traces, time_bins)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
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
    order = np.lexsort((key, tr.owner))
    owner, key = tr.owner[order], key[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (owner[1:] != owner[:-1]) | (key[1:] != key[:-1])
    order = order[keep]
    return owner[keep], y[order], x[order], t[order], key[keep]


def _bits(n: int) -> int:
    return max(int(n - 1).bit_length(), 1)


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
    ba, bd = _bits(n_a), _bits(len(rank_weight))
    if _bits(int(ql.max()) + 1) + ba + bd > 62:
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
    order = np.argsort(pair, kind="stable")  # sums in b-point order, as _verify adds them
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


def _blocks(y, x, t, s: int, tt: int, around: bool) -> np.ndarray:
    """Block keys of points, shape (points, m): cells grouped in squares of w = max(2s, 1)
    cells, bins in runs of max(2tt, 1) bins; a cell token keeps its token.

    ``around=False``: each point's own block (m = 1). ``around=True``: every block
    within the tolerance of the point. A coordinate within s of y lies in block
    (y − s) // w or the next: the 2s + 1 integers y − s … y + s span exactly two blocks
    of width 2s (one of width 1 when s = 0). So m = 8 with both tolerances 1: a point of
    b is within tolerance of a point of a only if a's block is among b's blocks.
    """
    ws, wt = max(2 * s, 1), max(2 * tt, 1)
    tok = x == NO_CELL
    if not around:
        return mix(np.where(tok, y, y // ws), np.where(tok, x, x // ws), t // wt)[:, None]
    out = []
    for dy in range(2 if s else 1):
        for dx in range(2 if s else 1):
            for dt in range(2 if tt else 1):
                out.append(mix(np.where(tok, y, (y - s) // ws + dy), np.where(tok, x, (x - s) // ws + dx),
                               (t - tt) // wt + dt))
    return np.stack(out, axis=1)


def _group_pairs(group: np.ndarray, start: int, stop: int, diagonal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j), i < j (i <= j with ``diagonal``), of every two elements of one
    group among ``group[start:stop]`` (sorted; the range holds whole groups)."""
    g = group[start:stop]
    if not len(g):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    size = np.diff(np.r_[first, len(g)])
    idx = np.arange(len(g))
    cnt = np.repeat(first + size, size) - idx - (0 if diagonal else 1)
    i = np.repeat(idx, cnt)
    j = np.arange(len(i)) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(idx + (0 if diagonal else 1), cnt)
    return i + start, j + start


def _whole_groups(group: np.ndarray, weight: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Ranges of ``group`` (sorted) holding whole groups, each of ``weight`` at most
    ``budget`` (or one group, if a group alone is heavier)."""
    cum = np.cumsum(weight)
    out, start = [], 0
    while start < len(group):
        base = cum[start - 1] if start else 0
        stop = int(np.searchsorted(cum, base + budget, side="right"))
        if stop < len(group):
            stop = int(np.searchsorted(group, group[stop], side="left"))
            if stop <= start:
                stop = int(np.searchsorted(group, group[start], side="right"))
        out.append((start, stop))
        start = stop
    return out


def _joint(k1: np.ndarray, k2: np.ndarray, shift: int) -> np.ndarray:
    """An unordered pair of block keys hashed to 64 − ``shift`` bits (a collision only
    adds a candidate, which scoring then drops)."""
    return (mix(np.minimum(k1, k2), np.maximum(k1, k2)).view(np.uint64) >> np.uint64(shift)).view(np.int64)


def _verify(ca, cb, A, B, s: int, tt: int, max_pairs: int):
    """Exact scores of candidate pairs (a trace ``ca``, b trace ``cb``, sorted by a: the
    binary searches then walk a's points once): each point of b against the points of a within ``tt`` bins of it (a binary
    search in a's points sorted by (trace, bin)), co-occurring when also within ``s``
    cells (or the same cell token); each b point weighs its rarest match, and the
    weights are added in b-point order, as _pair_scores adds them."""
    acode, span, tmin, ay, ax, at, aw = A
    bptr, by, bx, bt = B
    nb = bptr[cb + 1] - bptr[cb]
    pieces = []
    for c0 in range(0, len(cb), max(1, max_pairs // (4 * (2 * tt + 1)))):
        c1 = c0 + max(1, max_pairs // (4 * (2 * tt + 1)))
        ka, kb, m1 = ca[c0:c1], cb[c0:c1], nb[c0:c1]
        cr = np.repeat(np.arange(len(kb)), m1)  # (candidate, b point) rows
        j = bptr[kb][cr] + np.arange(len(cr)) - np.repeat(np.cumsum(m1) - m1, m1)
        base = ka[cr] * span
        first, last = base + np.clip(bt[j] - tt - tmin, 0, span), base + np.clip(bt[j] + tt + 1 - tmin, 0, span)
        if isinstance(acode, tuple):  # a table of each (trace, bin)'s first point
            lo, n2 = acode[0][first], acode[0][last] - acode[0][first]
        else:
            lo = np.searchsorted(acode, first)
            n2 = np.searchsorted(acode, last) - lo
        del base, first, last
        r = np.repeat(np.arange(len(cr)), n2)  # × a's points within tt bins
        ia = np.arange(len(r)) + np.repeat(lo - (np.cumsum(n2) - n2), n2)
        j = j[r]
        ta, tb = ax[ia] == NO_CELL, bx[j] == NO_CELL
        hit = np.where(ta | tb, ta & tb & (ay[ia] == by[j]),
                       (np.abs(ay[ia] - by[j]) <= s) & (np.abs(ax[ia] - bx[j]) <= s))
        rr, ww = r[hit], aw[ia[hit]]
        del r, ia, j, ta, tb, hit
        if not len(rr):
            continue
        st = np.flatnonzero(np.r_[True, rr[1:] != rr[:-1]])
        w = np.maximum.reduceat(ww, st)  # each (candidate, b point): its rarest match
        cc = cr[rr[st]]
        cs = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]])
        score = np.round(np.add.reduceat(w, cs), 9)
        pieces.append((ka[cc[cs]], kb[cc[cs]], score, np.diff(np.r_[cs, len(cc)])))
    return pieces


def _pair_candidate_scores(ao, ay, ax, at, a_w, a_use, bo, by, bx, bt, rare, n_a, n_b, attack, chunk, max_pairs):
    """Scores of the pairs that share two points or one rare point (trace_scores'
    ``candidates="pairs"``), one piece (a, b, score, points) per chunk of whole traces of
    b. ``a_w`` is each a point's weight, ``a_use`` whether its key is not a hub, ``rare``
    (keys, owners) of a's non-hub keys of weight >= threshold."""
    s, tt = attack.space_tolerance, attack.time_tolerance
    ob = _bits(n_a)
    shift = ob + 1
    mask = (1 << ob) - 1
    ao, ay, ax, at, a_w = ao[a_use], ay[a_use], ax[a_use], at[a_use], a_w[a_use]
    if not len(ao):
        return
    bptr = np.searchsorted(bo, np.arange(n_b + 1))
    # index of a: every unordered pair of its traces' blocks, the same block twice included
    # (two points of b can match one point of a), packed as (joint key, trace)
    blk = _blocks(ay, ax, at, s, tt, around=False)[:, 0]
    order = np.lexsort((blk, ao))
    o, k = ao[order], blk[order]
    keep = np.r_[True, (o[1:] != o[:-1]) | (k[1:] != k[:-1])]
    o, k = o[keep], k[keep]
    del order, keep, blk
    size = np.bincount(o, minlength=n_a)[o]
    rank_in = np.arange(len(o)) - np.searchsorted(o, o, side="left")
    codes = []
    for e0, e1 in _whole_groups(o, size - rank_in, max_pairs):
        i, j = _group_pairs(o, e0, e1, diagonal=True)
        codes.append((_joint(k[i], k[j], shift) << ob) | o[i])
    codes = np.sort(np.concatenate(codes)) if codes else np.zeros(0, np.int64)
    del o, k, size, rank_in
    # a's points by (trace, bin), for the exact scoring of candidates
    tmin = int(at.min())
    span = int(at.max()) - tmin + 1
    order = np.lexsort((at, ao))
    acode = ao[order] * span + (at[order] - tmin)
    if n_a * span + 1 <= max(4 * len(acode), 1 << 20):  # small enough: look up (trace, bin) directly
        acode = (np.searchsorted(acode, np.arange(n_a * span + 1)),)
    A = (acode, span, tmin, ay[order], ax[order], at[order], a_w[order])
    del order
    rare_keys, rare_owner = rare
    off = [(dy, dx, dt) for dy in range(-s, s + 1) for dx in range(-s, s + 1) for dt in range(-tt, tt + 1)]
    nblk = (2 if s else 1) ** 2 * (2 if tt else 1)
    bb_bits = _bits(n_b)
    npts = np.diff(bptr)[bo]
    rank_b = np.arange(len(bo)) - bptr[bo]
    for b0, b1 in _whole_groups(bo, np.maximum(npts - rank_b - 1, 1) * nblk * nblk, chunk):
        cand = []
        # (a) two points of b, each in a block around it, against a's pairs of blocks
        i, j = _group_pairs(bo, b0, b1, diagonal=False)
        if len(i):
            bb = _blocks(by[b0:b1], bx[b0:b1], bt[b0:b1], s, tt, around=True)
            i0, j0 = i - b0, j - b0
            jt = _joint(np.repeat(bb[i0], nblk, axis=1).ravel(), np.tile(bb[j0], (1, nblk)).ravel(), shift)
            own = np.repeat(bo[i], nblk * nblk)
            del bb, i0, j0
            order = np.argsort(jt)  # queries in order: the searches walk the index once
            jt, own = jt[order], own[order]
            lo = np.searchsorted(codes, jt << ob)
            n = np.searchsorted(codes, (jt << ob) | mask, side="right") - lo
            if n.sum():
                pos = np.arange(int(n.sum())) + np.repeat(lo - (np.cumsum(n) - n), n)
                cand.append(((codes[pos] & mask) << bb_bits) | np.repeat(own, n))
            del jt, own, lo, n, order
        # (b) one point of b matching a rare key exactly (the tolerance offsets of the linker)
        if len(rare_keys):
            q = np.arange(b0, b1)
            tok = bx[b0:b1] == NO_CELL
            qi, keys = [], []
            for dy, dx, dt in off:
                use = q[~tok] if (dy or dx) else q
                keys.append(mix(by[use] + dy, bx[use] + dx, bt[use] + dt))
                qi.append(use)
            qi, keys = np.concatenate(qi), np.concatenate(keys)
            lo = lookup(rare_keys, keys)
            hi = np.searchsorted(rare_keys, keys, side="right")
            n = hi - lo
            if n.sum():
                pos = np.arange(int(n.sum())) + np.repeat(lo - (np.cumsum(n) - n), n)
                cand.append((rare_owner[pos] << bb_bits) | np.repeat(bo[qi], n))
        if not cand:
            continue
        cand = np.unique(np.concatenate(cand))
        got = _verify(cand >> bb_bits, cand & ((1 << bb_bits) - 1), A, (bptr, by, bx, bt), s, tt, max_pairs)
        del cand
        if got:
            pa, pb, score, points = (np.concatenate(x) for x in zip(*got))
            # a pair that shares one common point only is dropped (a false candidate of blocks)
            keep = (points >= 2) | (score >= attack.threshold)
            yield pa[keep], pb[keep], score[keep], points[keep]


def trace_scores(a: Traces, b: Traces, attack: TraceAttack = TraceAttack(),
                 chunk: int = 2_000_000, prune: bool = False, max_pairs: int = 20_000_000,
                 hubs: list | None = None, candidates: str = "all") -> pd.DataFrame:
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
    ``(y, x, t, traces)`` tuples.

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
              for p in _scored_chunks(a, b, attack, chunk, max_pairs, hubs, candidates, prune)]
    pieces = [p for p in pieces if len(p[0])]
    if not pieces:
        return out
    pa, pb, score, points = (np.concatenate(x) for x in zip(*pieces))
    order = np.lexsort((pb, pa))
    return pd.DataFrame({"a": pa[order].astype(np.int64), "b": pb[order].astype(np.int64),
                         "score": score[order], "points": points[order].astype(np.int64)})


def _scored_chunks(a: Traces, b: Traces, attack: TraceAttack, chunk: int, max_pairs: int, hubs: list | None,
                   candidates: str, prune: bool = False):
    """The pair scores of :func:`trace_scores`, one piece (a, b, score, points) per chunk of
    whole traces of b (pruned by ``prune`` on the ``"all"`` path)."""
    if candidates not in ("all", "pairs"):
        raise ValueError(f"trace_scores: candidates must be 'all' or 'pairs', not {candidates!r}")
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
        yield from _pair_candidate_scores(ao, ay, ax, at, weight[where], df[where] <= attack.max_cell_frequency,
                                          bo, by, bx, bt, (akey[at_], aown[at_]), n_a,
                                          int(b.n_records) if b.n_records else int(bo.max()) + 1, attack, chunk,
                                          max_pairs)
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
            if got is not None:
                yield got
            s0 = e


@dataclass(frozen=True)
class TraceLinks:
    """What :func:`trace_links` found.

    Attributes
    ----------
    links : DataFrame
        ``a, b, score, points``: the accepted links, as :func:`best_links` gives them.
    best : DataFrame
        ``b, a, score, points``: each trace of b's best-scoring candidate, linked or not
        (for top-1 accuracy; the first a among ties).
    ok_a, ok_b : int arrays
        For each trace, how many of the other dataset's traces it reaches the thresholds
        with (a record above ``max_value_frequency`` is an ambiguous record).
    """

    links: pd.DataFrame
    best: pd.DataFrame
    ok_a: np.ndarray
    ok_b: np.ndarray


def trace_links(a: Traces, b: Traces, attack: TraceAttack = TraceAttack(), candidates: str = "pairs",
                chunk: int = 2_000_000, max_pairs: int = 20_000_000, hubs: list | None = None) -> TraceLinks:
    """The links the attacker accepts between two trace sets, without holding every score.

    The same links as ``best_links(trace_scores(a, b, attack), attack)``: pair scores come
    chunk by chunk of whole traces of b (:func:`trace_scores`, ``candidates="pairs"``
    by default); each b's best and second best are complete within its chunk, and each
    a's best and second best are carried from chunk to chunk, so memory holds one chunk
    and a few numbers per trace however many pairs reach the threshold.

    Examples
    --------
    >>> from linkrisk.trajectory import parse_traces
    >>> a, _ = parse_traces(["2019-01-01T08:10@0.0001,0.0001;2019-01-01T12:10@0.0001,0.0001",
    ...                     "2019-01-01T20:00@10,10"])
    >>> b, _ = parse_traces(["2019-01-01T08:20@0.0001,0.0001;2019-01-01T12:40@0.0001,0.0001"])
    >>> trace_links(a, b, TraceAttack(threshold=1)).links.round(3).values.tolist()   # 2 x ln(2/1)
    [[0.0, 0.0, 1.386, 2.0]]
    """
    n_a, n_b = int(a.n_records), int(b.n_records)
    top_s = np.full(n_a, -np.inf)  # each a's best and second best score over ok pairs, and its best b
    top_b = np.full(n_a, -1, dtype=np.int64)
    second = np.full(n_a, -np.inf)
    ok_a, ok_b = np.zeros(n_a, np.int64), np.zeros(n_b, np.int64)
    links, best = [], []
    for pa, pb, score, points in _scored_chunks(a, b, attack, chunk, max_pairs, hubs, candidates):
        if not len(pa):
            continue
        order = np.lexsort((pa, -score, pb))  # by b, best first, then the first a among ties
        pa, pb, score, points = pa[order], pb[order], score[order], points[order]
        head = np.r_[True, pb[1:] != pb[:-1]]
        best.append((pb[head], pa[head], score[head], points[head]))
        ok = (score >= attack.threshold) & (points >= attack.min_points)
        pa, pb, score, points = pa[ok], pb[ok], score[ok], points[ok]
        if not len(pa):
            continue
        ok_a += np.bincount(pa, minlength=n_a)
        ok_b += np.bincount(pb, minlength=n_b)
        head = np.flatnonzero(np.r_[True, pb[1:] != pb[:-1]])
        nxt = np.r_[score[1:], -np.inf]  # the next score of the same b, if any
        last = np.r_[head[1:] - 1, len(pb) - 1]
        gap = np.where(head == last, True, score[head] > nxt[head])
        links.append((pa[head[gap]], pb[head[gap]], score[head[gap]], points[head[gap]]))
        # each a's best two in this chunk, merged into the running best two
        order = np.lexsort((-score, pa))
        sa, ss, sb = pa[order], score[order], pb[order]
        h = np.flatnonzero(np.r_[True, sa[1:] != sa[:-1]])
        l2 = np.r_[h[1:] - 1, len(sa) - 1]
        c1, c1b = ss[h], sb[h]
        c2 = np.where(h == l2, -np.inf, ss[np.minimum(h + 1, len(ss) - 1)])
        who = sa[h]
        t1, t1b, t2 = top_s[who], top_b[who], second[who]
        new_first = c1 > t1
        top_s[who] = np.maximum(t1, c1)
        top_b[who] = np.where(new_first, c1b, t1b)
        second[who] = np.where(new_first, np.maximum(c2, t1), np.maximum(t2, c1))
    cols = ["a", "b", "score", "points"]
    if links:
        la, lb, ls, lp = (np.concatenate(x) for x in zip(*links))
        mutual = (top_b[la] == lb) & (top_s[la] > second[la])
        frame = pd.DataFrame({"a": la[mutual], "b": lb[mutual], "score": ls[mutual], "points": lp[mutual]})
        frame = frame.sort_values(["a", "b"]).reset_index(drop=True)
    else:
        frame = pd.DataFrame({c: np.zeros(0, np.int64 if c != "score" else float) for c in cols})
    if best:
        bb, ba, bs, bp = (np.concatenate(x) for x in zip(*best))
        top = pd.DataFrame({"b": bb, "a": ba, "score": bs, "points": bp}).sort_values("b").reset_index(drop=True)
    else:
        top = pd.DataFrame({c: np.zeros(0, np.int64 if c != "score" else float) for c in ["b", "a", "score", "points"]})
    return TraceLinks(frame.astype({"a": np.int64, "b": np.int64, "points": np.int64}), top, ok_a, ok_b)


def best_links(scores: pd.DataFrame, attack: TraceAttack = TraceAttack()) -> pd.DataFrame:
    """The links the attacker accepts: mutual, unique best pairs above the thresholds.

    Examples
    --------
    >>> s = pd.DataFrame({"a": [0, 0, 1, 2, 2], "b": [0, 1, 1, 2, 3],
    ...                   "score": [20.0, 5.0, 15.0, 13.0, 13.0], "points": [3, 1, 2, 2, 2]})
    >>> best_links(s)[["a", "b"]].values.tolist()   # a=2 ties between b=2 and b=3: no link
    [[0, 0], [1, 1]]
    """
    ok = scores[(scores["score"] >= attack.threshold) & (scores["points"] >= attack.min_points)]
    if ok.empty:
        return ok

    def unique_best(frame: pd.DataFrame, by: str) -> pd.DataFrame:
        srt = frame.sort_values([by, "score"], ascending=[True, False])
        top = srt.groupby(by, sort=False).head(2)
        first = top.groupby(by, sort=False).nth(0)
        second = top.groupby(by, sort=False)["score"].nth(1)
        second = pd.Series(second.to_numpy(), index=top.loc[second.index, by].to_numpy())
        gap = first["score"].to_numpy() > second.reindex(first[by].to_numpy()).fillna(-np.inf).to_numpy()
        return first[gap]

    left = unique_best(ok, "b")
    right = unique_best(ok, "a")
    return left.merge(right[["a", "b"]], on=["a", "b"]).sort_values(["a", "b"]).reset_index(drop=True)


def transform_traces(tr: Traces, technique: str, level: float, rng: np.random.Generator) -> tuple[Traces, Resolution]:
    """Apply a scenario's trace technique; returns the traces and the released resolution
    floor (cell metres, bin minutes; 0 where the technique leaves it)."""
    if technique == "coarsen_space":
        return tr, Resolution(float(level), 0)
    if technique == "coarsen_time":
        return tr, Resolution(0, float(level))
    if technique == "drop_points":
        return tr.take(rng.random(len(tr)) >= float(level)), Resolution(0, 0)
    if technique == "truncate_window":
        if not len(tr):
            return tr, Resolution(0, 0)
        return tr.take(tr.t > tr.t.max() - float(level) * 3600), Resolution(0, 0)
    if technique == "spatial_noise":
        lat = tr.lat + rng.normal(0, float(level), len(tr)) / METRES_PER_DEGREE
        lon = tr.lon + rng.normal(0, float(level), len(tr)) / (METRES_PER_DEGREE * np.cos(np.radians(tr.lat)))
        return Traces(tr.owner, tr.t, np.clip(lat, -90, 90), (lon + 180) % 360 - 180, tr.cell, tr.n_records), \
            Resolution(0, 0)
    return tr, Resolution(0, 0)


def released_traces(engine: "Engine", study: "StudyConfig", release: "Release") -> list[tuple]:
    """(dataset index, record ids, Traces, released resolution floor, technique) per trajectory column."""
    out = []
    index = {d.name: i for i, d in enumerate(study.datasets)}
    for c in release.columns:
        if c.kind != TRAJECTORY_KIND or c.domain is None:
            continue
        got = engine.arrays(f"SELECT _rid, {quote(c.value)} AS v FROM {quote(c.table)} "
                            f"WHERE {quote(c.value)} IS NOT NULL ORDER BY _rid")
        where = f"dataset {c.dataset!r} column {c.ref.column!r}"
        tr, problems = parse_traces(list(got["v"]), where)
        if problems:
            raise StudyError(problems, str(study.source) if study.source else None)
        floor = Resolution(0, 0)
        pol = release.policies.get(c.ref)
        if pol is not None and pol[0].name in TRACE_TECHNIQUES:
            rng = np.random.default_rng([int(study.seed), 21, index[c.dataset]])
            tr, floor = transform_traces(tr, pol[0].name, pol[1].policy.level, rng)
        out.append((index[c.dataset], np.asarray(got["_rid"], dtype=np.int64), tr, floor, c.technique))
    return out


MAX_TRACE_HUBS = 20  # busiest (cell, bin) keys listed per pair of datasets


def _key_hub_value(y: int, x: int, t: int, r: Resolution, show_values: bool) -> str:
    """Where and when a hub key is: the cell's centre and the bin's start (redacted unless asked)."""
    start = pd.Timestamp(int(t) * int(round(r.bin_minutes * 60)), unit="s").strftime("%Y-%m-%dT%H:%M")
    if x == NO_CELL:
        text = f"a cell token from {start}"
    else:
        h = r.cell_metres / METRES_PER_DEGREE
        lat = (y + 0.5) * h
        lon = (x + 0.5) * h / np.cos(np.radians(lat))
        text = f"{lat:.5f},{lon:.5f} from {start}"
    return text if show_values else redact(text)


def link_traces(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                show_values: bool = False, reuse=None) -> list[dict]:
    """The ``traces`` linker of the pipeline: edges between records of two datasets whose
    trajectories co-occur (rule ``trajectory <cell> m / <bin> min``).

    Each edge's ``p`` holds its co-occurrence score (a sum of ln(N/df) weights, not a
    probability). Returns the hubs: (cell, bin) keys held by more than
    ``trace_max_cell_frequency`` traces of the indexed dataset (not used to link; the
    ``MAX_TRACE_HUBS`` busiest per pair of datasets are listed, reason
    ``max_cell_frequency``), and records that reach the threshold against more than
    ``max_value_frequency`` records of the other dataset (reason ``ambiguous_record``;
    their link stands only where it is the unique mutual best, as for every record).
    """
    attack = TraceAttack.of(study)
    cols = released_traces(engine, study, release)
    index = {d.name: i for i, d in enumerate(study.datasets)}
    table = {index[c.dataset]: c.table for c in release.columns if c.kind == TRAJECTORY_KIND}
    hubs: list[dict] = []
    limit = int(study.attacker.max_value_frequency)
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            di, ridi, tri, fi, _ = cols[i]
            dj, ridj, trj, fj, _ = cols[j]
            if di == dj:
                continue
            r = Resolution(max(attack.resolution.cell_metres, fi.cell_metres, fj.cell_metres),
                           max(attack.resolution.bin_minutes, fi.bin_minutes, fj.bin_minutes))
            att = TraceAttack(r, attack.time_tolerance, attack.space_tolerance, attack.threshold,
                              attack.min_points, attack.max_cell_frequency)
            rule = f"trajectory {r.label}"
            key_hubs: list = []
            found = trace_links(tri, trj, att, hubs=key_hubs)
            for y, x, t, n in sorted(key_hubs, key=lambda h: (-h[3], h[2], h[0], h[1]))[:MAX_TRACE_HUBS]:
                hubs.append({"linker": "traces", "rule": rule, "domain": None, "records": int(n), "datasets": 1,
                             "value": _key_hub_value(y, x, t, r, show_values), "reason": "max_cell_frequency",
                             "limit": int(att.max_cell_frequency)})
            for rid, d, n_ok in ((ridi, di, found.ok_a), (ridj, dj, found.ok_b)):
                over = np.flatnonzero(n_ok > limit)
                for pos, n in sorted(zip(over.tolist(), n_ok[over].tolist()), key=lambda kv: (-kv[1], kv[0])):
                    rec = engine.scalar(f"SELECT _rec FROM {quote(table[d])} WHERE _rid = ?", [int(rid[pos])])
                    shown = f"{study.datasets[d].name} record {rec}" if show_values else \
                        f"{study.datasets[d].name} record {redact(rec)}"
                    hubs.append({"linker": "traces", "rule": rule, "domain": None, "records": int(n),
                                 "datasets": 2, "value": shown, "reason": "ambiguous_record", "limit": limit})
            links = found.links
            if links.empty:
                continue
            ra, rb = ridi[links["a"].to_numpy()], ridj[links["b"].to_numpy()]
            lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
            frame = pd.DataFrame({"a": lo, "b": hi, "da": np.where(ra < rb, di, dj).astype(np.int32),
                                  "db": np.where(ra < rb, dj, di).astype(np.int32),
                                  "p": links["score"].to_numpy(dtype=float)})
            engine.register_frame("_trace_links", frame)
            try:
                engine.execute(f"INSERT INTO {quote(edges)} SELECT a, b, 'traces', ?, da, db, p "
                               "FROM _trace_links", [rule])
            finally:
                engine.drop("_trace_links")
    return hubs


def file_problems(study: "StudyConfig", engine: "Engine") -> list:
    """Unreadable points in the loaded (raw) trajectory columns, one problem per fault."""
    from linkrisk.load import raw_table

    p = []
    tables = set(engine.tables())
    for i, d in enumerate(study.datasets):
        for col, kind in d.columns.items():
            if kind != TRAJECTORY_KIND or raw_table(i) not in tables or col not in engine.columns(raw_table(i)):
                continue
            got = engine.arrays(f"SELECT {quote(col)} AS v FROM {quote(raw_table(i))} ORDER BY {quote(ROW)}")
            p += parse_traces(list(got["v"]), f"{d.label()} column {col!r}")[1]
    return p


__all__ = ["TraceAttack", "TraceLinks", "trace_scores", "trace_links", "best_links", "transform_traces", "link_traces", "TRAJECTORY_KIND",
           "TRACE_TECHNIQUES"]
