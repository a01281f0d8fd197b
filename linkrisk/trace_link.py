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

The work is in three modules: the settings and the scores of pairs are in
:mod:`linkrisk.trace_scoring`, the candidates that can be linked and their exact scores
in :mod:`linkrisk.trace_candidates`; this one keeps each trace's best two, accepts the
links, transforms released traces and is the pipeline's ``traces`` linker.

Method and the worked tolerance cases: docs/traces.md. Kondor, Hashemian, de Montjoye,
Ratti, "Towards matching user mobility traces in large-scale datasets", IEEE Trans. Big
Data (2020; arXiv 1709.05772) match operator and transit records the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.engine.base import ROW
from linkrisk.errors import StudyError
from linkrisk.redact import redact
from linkrisk.trace_scoring import TraceAttack, scored_chunks, trace_scores  # noqa: F401  (trace_scores: public here)
from linkrisk.trajectory import (METRES_PER_DEGREE, NO_CELL, TRACE_TECHNIQUES, TRAJECTORY_KIND,  # noqa: F401
                                 Resolution, Traces, parse_traces)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig


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


def _chunk_best(pa, pb, score, points, attack: TraceAttack):
    """What :func:`trace_links` keeps of one chunk's pair scores (whole traces of b), in the
    worker thread that scored it: each b's best pair; the pairs at the thresholds (for the
    counts); each b's best if strictly better than its second (a link if mutual); and each
    a's best and second best score in the chunk, with its best b. None if no pair."""
    if not len(pa):
        return None
    order = np.lexsort((pa, -score, pb))  # by b, best first, then the first a among ties
    pa, pb, score, points = pa[order], pb[order], score[order], points[order]
    head = np.r_[True, pb[1:] != pb[:-1]]
    best = (pb[head], pa[head], score[head], points[head])
    ok = (score >= attack.threshold) & (points >= attack.min_points)
    pa, pb, score, points = pa[ok], pb[ok], score[ok], points[ok]
    if not len(pa):
        return best, None, None, None
    head = np.flatnonzero(np.r_[True, pb[1:] != pb[:-1]])
    nxt = np.r_[score[1:], -np.inf]  # the next score of the same b, if any
    last = np.r_[head[1:] - 1, len(pb) - 1]
    gap = np.where(head == last, True, score[head] > nxt[head])
    link_b = (pa[head[gap]], pb[head[gap]], score[head[gap]], points[head[gap]])
    order = np.lexsort((-score, pa))
    sa, ss, sb = pa[order], score[order], pb[order]
    h = np.flatnonzero(np.r_[True, sa[1:] != sa[:-1]])
    l2 = np.r_[h[1:] - 1, len(sa) - 1]
    c2 = np.where(h == l2, -np.inf, ss[np.minimum(h + 1, len(ss) - 1)])
    return best, (pa, pb), link_b, (sa[h], ss[h], sb[h], c2)


def trace_links(a: Traces, b: Traces, attack: TraceAttack = TraceAttack(), candidates: str = "pairs",
                chunk: int = 200_000, max_pairs: int = 2_000_000, hubs: list | None = None,
                threads: int | None = None) -> TraceLinks:
    """The links the attacker accepts between two trace sets, without holding every score.

    The same links as ``best_links(trace_scores(a, b, attack), attack)``: pair scores come
    chunk by chunk of whole traces of b (:func:`trace_scores`, ``candidates="pairs"``
    by default); each b's best and second best are complete within its chunk, and each
    a's best and second best are carried from chunk to chunk, so memory holds one chunk
    and a few numbers per trace however many pairs reach the threshold.

    Parameters
    ----------
    chunk, max_pairs : int
        Work per chunk of b: candidate look-ups (64 per two points of b with the default
        tolerances) and rows of exact scoring. Small chunks keep the temporaries in the
        processor's caches and out of the kernel's page faults; the links do not depend
        on them.
    threads : int, optional
        Chunks of b scored at once (numpy releases the GIL in its sorts, searches and
        gathers); the default is the machine's cores, at most 4. The results are taken
        in chunk order, so the links are the same with any number.

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
    for best_b, ok_pairs, link_b, best_a in scored_chunks(a, b, attack, chunk, max_pairs, hubs, candidates,
                                                          threads=threads, finish=partial(_chunk_best, attack=attack)):
        best.append(best_b)
        if ok_pairs is None:
            continue
        ok_a += np.bincount(ok_pairs[0], minlength=n_a)
        ok_b += np.bincount(ok_pairs[1], minlength=n_b)
        links.append(link_b)
        # each a's best two in this chunk, merged into the running best two (in chunk order)
        who, c1, c1b, c2 = best_a
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
            with engine.workspace("trace") as ws:
                found_links = ws.register_frame("_links", frame)
                engine.execute(f"INSERT INTO {quote(edges)} SELECT a, b, 'traces', ?, da, db, p "
                               f"FROM {quote(found_links)}", [rule])
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
