"""The trajectory linker's candidates: the pairs of traces that share two points or one
rare point, found without expanding any common (cell, bin) into its traces, and scored
exactly (:func:`linkrisk.trace_scoring.trace_scores` with ``candidates="pairs"``).

*Two points.* Cells are grouped in blocks of 2s cells a side and bins in blocks of 2t
bins (s, t the tolerances), so every point of a within tolerance of a point p of b lies
in one of p's 8 surrounding blocks. The index of a holds, per trace, every unordered
pair of its blocks (the same block twice included), as a table of distinct joint keys
and their traces; each two points of a trace of b look up the 8 × 8 pairs of their
blocks. *One rare point.* Each point of b, expanded by the tolerance offsets, is looked
up among the keys whose weight alone reaches the threshold. Blocks and hashing can add a
candidate, never lose one; each candidate is then scored exactly (:func:`verify`), and
a pair sharing one common point only is dropped. Chunks of whole traces of b are scored
in worker threads (numpy releases the GIL in its sorts, searches and gathers), their
results taken in chunk order. Proof and measurements: docs/traces.md.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from linkrisk.trajectory import NO_CELL, lookup, mix


def int_bits(n: int) -> int:
    return max(int(n - 1).bit_length(), 1)


def owner_order(owner: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The order of ``np.lexsort((key, owner))`` (by owner, then key, stable), from one
    stable sort of an int64 packing the owner and the key's leading bits: several times
    faster on millions of points. Should two keys of one owner share those leading bits
    and come out of key order (about one owner in 10^10), the lexsort is taken instead."""
    if not len(owner):
        return np.zeros(0, np.int64)
    ob = int_bits(int(owner.max()) + 1)
    packed = (owner.astype(np.int64) << (63 - ob)) | ((key >> (ob + 1)) + (1 << (62 - ob)))
    order = np.argsort(packed, kind="stable")
    del packed
    o, k = owner[order], key[order]
    if np.any((o[1:] == o[:-1]) & (k[1:] < k[:-1])):
        return np.lexsort((key, owner))
    return order


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


def packed_cells(y: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """Each point's cell as one int64, y · 2^32 + (x + 2^31), or None when a point is a
    cell token or a coordinate is beyond ±2^29 (a grid of 1 m cells spans ±2 × 10^7).
    Two cells' difference d then gives dy = (d + 2^31) >> 32 and dx = d − dy · 2^32
    exactly (|dx| < 2^30), without overflow (|d| < 2^62)."""
    lim = 1 << 29
    if not len(y) or np.any(x == NO_CELL) or np.abs(y).max() >= lim or np.abs(x).max() >= lim:
        return None if len(y) else np.zeros(0, np.int64)
    return (y.astype(np.int64) << 32) + (x.astype(np.int64) + (1 << 31))


def verify(ca, cb, A, B, s: int, tt: int, max_pairs: int):
    """Exact scores of candidate pairs (a trace ``ca``, b trace ``cb``, sorted by a: the
    look-ups then walk a's points once): each point of b against the points of a within
    ``tt`` bins of it (a table, or a binary search, of a's points sorted by (trace,
    bin)), co-occurring when also within ``s`` cells (or the same cell token); each b
    point weighs its rarest match, and the weights are added in b-point order, as
    trace_scoring adds them. Where no point is a cell token, each cell is one packed
    int64 (:func:`packed_cells`): one gather per point instead of four."""
    acode, span, tmin, ay, ax, aw, apk = A
    bptr, by, bx, blo, bhi, bpk = B
    packed = apk is not None and bpk is not None
    nb = bptr[cb + 1] - bptr[cb]
    pieces = []
    step = max(1, max_pairs // (4 * (2 * tt + 1)))
    for c0 in range(0, len(cb), step):
        ka, kb, m1 = ca[c0:c0 + step], cb[c0:c0 + step], nb[c0:c0 + step]
        cr = np.repeat(np.arange(len(kb)), m1)  # (candidate, b point) rows
        j = bptr[kb][cr] + np.arange(len(cr)) - np.repeat(np.cumsum(m1) - m1, m1)
        base = ka[cr] * span
        first, last = base + blo[j], base + bhi[j]
        if isinstance(acode, tuple):  # a table of each (trace, bin)'s first point
            lo = acode[0][first]
            n2 = acode[0][last] - lo
        else:
            lo = np.searchsorted(acode, first)
            n2 = np.searchsorted(acode, last) - lo
        del base, first, last
        r = np.repeat(np.arange(len(cr)), n2)  # × a's points within tt bins
        ia = np.arange(len(r)) + np.repeat(lo - (np.cumsum(n2) - n2), n2)
        if packed:
            d = apk[ia] - bpk[j][r]
            dy = (d + (1 << 31)) >> 32
            d -= dy << 32
            hit = (np.abs(dy) <= s) & (np.abs(d) <= s)
            del d, dy
        else:
            j = j[r]
            ta, tb = ax[ia] == NO_CELL, bx[j] == NO_CELL
            hit = np.where(ta | tb, ta & tb & (ay[ia] == by[j]),
                           (np.abs(ay[ia] - by[j]) <= s) & (np.abs(ax[ia] - bx[j]) <= s))
            del ta, tb
        rr, ww = r[hit], aw[ia[hit]]
        del r, ia, j, hit
        if not len(rr):
            continue
        st = np.flatnonzero(np.r_[True, rr[1:] != rr[:-1]])
        w = np.maximum.reduceat(ww, st)  # each (candidate, b point): its rarest match
        cc = cr[rr[st]]
        cs = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]])
        score = np.round(np.add.reduceat(w, cs), 9)
        pieces.append((ka[cc[cs]], kb[cc[cs]], score, np.diff(np.r_[cs, len(cc)])))
    return pieces


def pair_candidate_scores(ao, ay, ax, at, a_w, a_use, bo, by, bx, bt, rare, n_a, n_b, attack, chunk, max_pairs,
                           threads=1, finish=None):
    """Scores of the pairs that share two points or one rare point (trace_scores'
    ``candidates="pairs"``), one piece (a, b, score, points) per chunk of whole traces of
    b (or ``finish`` of each piece, in the worker thread). ``a_w`` is each a point's
    weight, ``a_use`` whether its key is not a hub, ``rare`` (keys, owners) of a's non-hub
    keys of weight >= threshold."""
    s, tt = attack.space_tolerance, attack.time_tolerance
    ob = int_bits(n_a)
    shift = ob + 1
    mask = (1 << ob) - 1
    ao, ay, ax, at, a_w = ao[a_use], ay[a_use], ax[a_use], at[a_use], a_w[a_use]
    if not len(ao):
        return
    bptr = np.searchsorted(bo, np.arange(n_b + 1))
    # index of a: every unordered pair of its traces' blocks, the same block twice included
    # (two points of b can match one point of a), packed as (joint key, trace)
    blk = _blocks(ay, ax, at, s, tt, around=False)[:, 0]
    order = owner_order(ao, blk)
    o, k = ao[order], blk[order]
    keep = np.r_[True, (o[1:] != o[:-1]) | (k[1:] != k[:-1])]
    o, k = o[keep], k[keep]
    del order, keep, blk
    size = np.bincount(o, minlength=n_a)[o]
    rank_in = np.arange(len(o)) - np.searchsorted(o, o, side="left")

    def block_pairs(e0: int, e1: int) -> np.ndarray:
        i, j = _group_pairs(o, e0, e1, diagonal=True)
        return (_joint(k[i], k[j], shift) << ob) | o[i]

    codes = list(in_order(block_pairs, _whole_groups(o, size - rank_in, max_pairs), threads))
    codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)
    codes.sort()
    del o, k, size, rank_in
    # as a table: each distinct joint key once, and its traces (one search per query, in
    # an array several times shorter than the codes; half the memory)
    jk = codes >> ob
    heads = np.flatnonzero(np.r_[True, jk[1:] != jk[:-1]]) if len(jk) else np.zeros(0, np.int64)
    ukeys, ustart = jk[heads], np.r_[heads, len(codes)]
    del jk, heads
    codes &= mask
    post = codes.astype(np.int32) if n_a < 2 ** 31 else codes
    del codes
    # a's points by (trace, bin), for the exact scoring of candidates
    tmin = int(at.min())
    span = int(at.max()) - tmin + 1
    acode = ao * span + (at - tmin)  # (trace, bin) in order, as np.lexsort((at, ao)) sorts
    order = np.argsort(acode, kind="stable")
    acode = acode[order]
    if n_a * span + 1 <= max(4 * len(acode), 1 << 20):  # small enough: look up (trace, bin) directly
        table = np.searchsorted(acode, np.arange(n_a * span + 1))
        acode = (table.astype(np.int32) if len(acode) < 2 ** 31 else table,)
        del table
    ay, ax = ay[order], ax[order]
    A = (acode, span, tmin, ay, ax, a_w[order], packed_cells(ay, ax))
    B = (bptr, by, bx, np.clip(bt - tt - tmin, 0, span), np.clip(bt + tt + 1 - tmin, 0, span), packed_cells(by, bx))
    del order
    rare_keys, rare_owner = rare
    off = [(dy, dx, dt) for dy in range(-s, s + 1) for dx in range(-s, s + 1) for dt in range(-tt, tt + 1)]
    nblk = (2 if s else 1) ** 2 * (2 if tt else 1)
    bb_bits = int_bits(n_b)
    npts = np.diff(bptr)[bo]
    rank_b = np.arange(len(bo)) - bptr[bo]

    def work(b0: int, b1: int):
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
            at_ = np.minimum(np.searchsorted(ukeys, jt), max(len(ukeys) - 1, 0))
            found = ukeys[at_] == jt if len(ukeys) else np.zeros(len(jt), bool)
            at_, own = at_[found], own[found]
            lo = ustart[at_]
            n = ustart[at_ + 1] - lo
            if n.sum():
                pos = np.arange(int(n.sum())) + np.repeat(lo - (np.cumsum(n) - n), n)
                cand.append((post[pos].astype(np.int64) << bb_bits) | np.repeat(own, n))
            del at_, found
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
            return None
        cand = np.unique(np.concatenate(cand))
        got = verify(cand >> bb_bits, cand & ((1 << bb_bits) - 1), A, B, s, tt, max_pairs)
        del cand
        if not got:
            return None
        pa, pb, score, points = (np.concatenate(x) for x in zip(*got))
        # a pair that shares one common point only is dropped (a false candidate of blocks)
        keep = (points >= 2) | (score >= attack.threshold)
        got = pa[keep], pb[keep], score[keep], points[keep]
        return finish(*got) if finish is not None else got

    yield from in_order(work, _whole_groups(bo, np.maximum(npts - rank_b - 1, 1) * nblk * nblk, chunk), threads)


def in_order(fn, ranges, threads: int):
    """``fn(start, stop)`` over ``ranges`` in ``threads`` threads, the results (those not
    None) in the order of the ranges, at most 2 × threads of them held at a time. numpy
    releases the GIL in its sorts, searches and gathers, so two chunks of b are scored at
    once on two cores; each chunk's result depends on its chunk only, so the links are
    the same with any number of threads."""
    if threads <= 1:
        for r in ranges:
            got = fn(*r)
            if got is not None:
                yield got
        return
    pending: deque = deque()
    with ThreadPoolExecutor(threads) as pool:
        for r in ranges:
            pending.append(pool.submit(fn, *r))
            if len(pending) >= 2 * threads:
                got = pending.popleft().result()
                if got is not None:
                    yield got
        while pending:
            got = pending.popleft().result()
            if got is not None:
                yield got


__all__ = ["int_bits", "owner_order", "packed_cells", "pair_candidate_scores", "verify", "in_order"]
