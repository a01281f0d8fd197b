"""The index unicity searches: each trace's distinct points and each point's traces.

Every (trace, point) pair is one int64 code in a sorted array (person · K + point), and
the same pairs sorted by point give each point's posting list, so that "which traces
hold this point" and "does this trace hold that point" are each one ``searchsorted``.
:meth:`TraceIndex.from_traces` builds it from the binned points without sorting every
point (:mod:`linkrisk.unicity` uses it; docs/traces.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkrisk.trajectory import NO_CELL, Resolution, Traces, grid, mix, point_keys, time_bins


@dataclass
class TraceIndex:
    """Distinct (trace, point) pairs of a population, sorted both ways.

    ``codes`` = person · K + point (sorted); ``ptr[i]:ptr[i+1]`` are person i's points;
    ``post_codes`` = point · n + person (sorted), so ``post_owner[post_ptr[k]:post_ptr[k+1]]``
    are the persons holding point k, in order.
    """

    n: int
    k: int
    codes: np.ndarray
    point: np.ndarray
    ptr: np.ndarray
    post_owner: np.ndarray
    post_ptr: np.ndarray
    count: np.ndarray
    post_codes: np.ndarray

    @classmethod
    def build(cls, owner: np.ndarray, keys: np.ndarray, n: int) -> "TraceIndex":
        """Index points ``keys`` (any int64) owned by persons ``owner`` (0 … n − 1).

        Sorts only (no stable argsort): dense point ids from one argsort of the keys,
        both directions as sorted packed codes.
        """
        keys = np.asarray(keys, dtype=np.int64)
        # dense point ids from one argsort: a new id wherever the sorted key changes
        order = np.argsort(keys)
        sk = keys[order]
        new = np.empty(len(sk), dtype=bool)
        new[:1] = True
        new[1:] = sk[1:] != sk[:-1]
        del sk
        kid = np.empty(len(keys), dtype=np.int64)
        kid[order] = np.cumsum(new) - 1
        k = max(int(new.sum()), 1)
        del order, new
        return cls._assemble(np.asarray(owner, dtype=np.int64), kid, k, n)

    @classmethod
    def from_traces(cls, traces: Traces, resolution: Resolution, max_range: int = 1 << 26) -> "TraceIndex":
        """The index of ``build(traces.owner, point_keys(traces, resolution), n)``, the
        same arrays, built without sorting every point.

        When the points' cells and bins span a box of at most ``max_range`` (cell, bin)
        slots (a city for a few days: about 160 × 160 cells × 24 bins), each point's slot
        in the box is its id; only the distinct slots are hashed and sorted, to number
        them in the order of their keys as ``build`` does. Otherwise (cell tokens, a
        country, months) it is ``build``.

        Examples
        --------
        >>> from linkrisk.trajectory import parse_traces
        >>> tr, _ = parse_traces(["2019-01-01T08:00@0.001,0.001;2019-01-01T09:00@0.003,0.001",
        ...                       "2019-01-01T08:00@0.001,0.001"])
        >>> a = TraceIndex.from_traces(tr, Resolution(250, 60))
        >>> b = TraceIndex.build(tr.owner, point_keys(tr, Resolution(250, 60)), 2)
        >>> a.k, a.codes.tolist() == b.codes.tolist()
        (2, True)
        """
        y, x = grid(traces, resolution.cell_metres)
        t = time_bins(traces, resolution.bin_minutes)
        n = traces.n_records
        if not len(t) or (x == NO_CELL).any():
            return cls.build(traces.owner, mix(y, x, t), n)
        lo = [int(v.min()) for v in (y, x, t)]
        size = [int(v.max()) - m + 1 for v, m in zip((y, x, t), lo)]
        if size[0] * size[1] * size[2] > max_range:
            return cls.build(traces.owner, mix(y, x, t), n)
        slot = ((y - lo[0]) * size[1] + (x - lo[1])) * size[2] + (t - lo[2])
        del y, x, t
        used = np.zeros(size[0] * size[1] * size[2], dtype=bool)
        used[slot] = True
        ids = np.flatnonzero(used)
        del used
        yx, ut = np.divmod(ids, size[2])
        uy, ux = np.divmod(yx, size[1])
        # number the distinct points in the order of their keys, as build() does
        key = mix(uy + lo[0], ux + lo[1], ut + lo[2])
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.argsort(key)] = np.arange(len(ids))
        remap = np.zeros(size[0] * size[1] * size[2], dtype=np.int64)
        remap[ids] = rank
        kid = remap[slot]
        del remap, slot
        return cls._assemble(np.asarray(traces.owner, dtype=np.int64), kid, max(len(ids), 1), n)

    @classmethod
    def _assemble(cls, owner: np.ndarray, kid: np.ndarray, k: int, n: int) -> "TraceIndex":
        codes = np.unique(owner * k + kid)
        person, point = np.divmod(codes, k)
        ptr = np.searchsorted(person, np.arange(n + 1))
        del person
        by_point = point * max(n, 1) + codes // k
        by_point.sort()
        count = np.bincount(point, minlength=k)
        post_ptr = np.concatenate([[0], np.cumsum(count)])
        return cls(n, k, codes, point, ptr, by_point % max(n, 1), post_ptr, count, by_point)

    def sizes(self) -> np.ndarray:
        return np.diff(self.ptr)


__all__ = ["TraceIndex"]
