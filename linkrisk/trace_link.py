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
    order = np.argsort(pair)
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    # rounded: equal sums of the same weights in another order must tie exactly
    score = np.round(np.add.reduceat(w[order], starts), 9)
    points = np.diff(np.r_[starts, len(pair)])
    pair = pair[starts]
    pa, pb = pair & ((1 << ba) - 1), pair >> ba
    if prune:  # keep what best_links can accept, and each b's best pair (for top-1 figures)
        ok = (score >= attack.threshold) & (points >= attack.min_points)
        bstart = np.flatnonzero(np.r_[True, pb[1:] != pb[:-1]])
        top = np.maximum.reduceat(score, bstart)
        is_top = score == np.repeat(top, np.diff(np.r_[bstart, len(pb)]))
        first_top = np.zeros(len(pb), dtype=bool)
        tops = np.flatnonzero(is_top)
        first_top[tops[np.r_[True, pb[tops][1:] != pb[tops][:-1]]]] = True
        keep = ok | first_top
        pa, pb, score, points = pa[keep], pb[keep], score[keep], points[keep]
    return pa, pb, score, points


def trace_scores(a: Traces, b: Traces, attack: TraceAttack = TraceAttack(),
                 chunk: int = 2_000_000, prune: bool = False, max_pairs: int = 20_000_000,
                 hubs: list | None = None) -> pd.DataFrame:
    """Co-occurrence scores of every pair of traces that share at least one point.

    ``b`` is expanded by the tolerances and looked up in an index of ``a``; weights are
    the rarity of the matched (cell, bin) in ``a``. With ``prune``, only the pairs
    :func:`best_links` can accept (score and points at the thresholds) and each trace of
    ``b``'s best pair are kept: the links and top-1 figures are the same, the memory
    far smaller.

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
    r = attack.resolution
    ao, ay, ax, at, akey = _binned(a, r)
    bo, by, bx, bt, _ = _binned(b, r)
    out = pd.DataFrame({"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64),
                        "score": np.zeros(0), "points": np.zeros(0, np.int64)})
    if not len(ao) or not len(bo):
        return out
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
    s, tt = attack.space_tolerance, attack.time_tolerance
    offsets = [(dy, dx, dt) for dy in range(-s, s + 1) for dx in range(-s, s + 1) for dt in range(-tt, tt + 1)]
    tok = bx == NO_CELL
    pieces = []
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
                pieces.append(got)
            s0 = e
    if not pieces:
        return out
    pa, pb, score, points = (np.concatenate(x) for x in zip(*pieces))
    order = np.lexsort((pb, pa))
    return pd.DataFrame({"a": pa[order].astype(np.int64), "b": pb[order].astype(np.int64),
                         "score": score[order], "points": points[order].astype(np.int64)})


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
            scores = trace_scores(tri, trj, att, prune=True, hubs=key_hubs)
            for y, x, t, n in sorted(key_hubs, key=lambda h: (-h[3], h[2], h[0], h[1]))[:MAX_TRACE_HUBS]:
                hubs.append({"linker": "traces", "rule": rule, "domain": None, "records": int(n), "datasets": 1,
                             "value": _key_hub_value(y, x, t, r, show_values), "reason": "max_cell_frequency",
                             "limit": int(att.max_cell_frequency)})
            ok = scores[(scores["score"] >= att.threshold) & (scores["points"] >= att.min_points)]
            for side, rid, d in (("a", ridi, di), ("b", ridj, dj)):
                n_ok = ok[side].value_counts()
                for pos, n in sorted(n_ok[n_ok > limit].items(), key=lambda kv: (-kv[1], kv[0])):
                    rec = engine.scalar(f"SELECT _rec FROM {quote(table[d])} WHERE _rid = ?", [int(rid[pos])])
                    shown = f"{study.datasets[d].name} record {rec}" if show_values else \
                        f"{study.datasets[d].name} record {redact(rec)}"
                    hubs.append({"linker": "traces", "rule": rule, "domain": None, "records": int(n),
                                 "datasets": 2, "value": shown, "reason": "ambiguous_record", "limit": limit})
            links = best_links(scores, att)
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


__all__ = ["TraceAttack", "trace_scores", "best_links", "transform_traces", "link_traces", "TRAJECTORY_KIND",
           "TRACE_TECHNIQUES"]
