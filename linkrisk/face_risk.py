"""The faces section of a run: what the biometric attacker linked, against the arithmetic.

For each compared pair of datasets (baseline): the threshold and its false-match rate,
the analytic false-positive identification rate of one search, FPIR = 1 − (1 − FMR)^N,
and the expected false pairs FMR × comparisons; with a truth file, the measured ones
(false pairs found, the share of searches returning a stranger, and the share of mated
searches that missed their person: FNIR). Per scenario: face links beside all other
links, pairs linked by faces alone, and the enrichment that survives only because faces
still link: (E_s − E_s without face links) / E_baseline. See docs/faces.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from linkrisk.engine import quote
from linkrisk.face import fpir
from linkrisk.face_search import RECALL_TARGET

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.study import Study


def _measured(engine: "Engine", s: dict, edges: str, persons: str, names: list[str], release) -> dict:
    """False pairs, stranger-returning searches and missed mated searches, from the truth.

    A mated search is one whose person has a template in the gallery; FNIR is the share
    of mated searches that did not return that person (Grother et al., NIST IR 8271)."""
    from linkrisk.face_link import FACE_KIND

    qd, gd = names.index(s["queries_dataset"]), names.index(s["gallery_dataset"])
    got = engine.rows(
        f"WITH e AS (SELECT CASE WHEN da = ? THEN a ELSE b END AS q, CASE WHEN da = ? THEN b ELSE a END AS g "
        f"FROM {quote(edges)} WHERE linker = 'faces' AND ((da = ? AND db = ?) OR (da = ? AND db = ?))), "
        f"t AS (SELECT e.q, e.g, pq.p = pg.p AND pq.p <> 0 AS genuine FROM e JOIN {quote(persons)} pq ON pq._rid = e.q "
        f"JOIN {quote(persons)} pg ON pg._rid = e.g) "
        "SELECT count(*) FILTER (WHERE NOT genuine), count(DISTINCT q) FILTER (WHERE NOT genuine), "
        "count(DISTINCT q) FILTER (WHERE genuine) FROM t", [qd, qd, qd, gd, gd, qd])
    false_pairs, stranger_q, hit_q = (int(v or 0) for v in got[0])
    out = {"false_pairs": false_pairs, "searches_with_stranger": stranger_q, "mated_searches_found": hit_q}
    # every face column of each side: a person is findable through any of them (a
    # dataset may release two, a front and a side capture); the figures above are over
    # the pair of datasets too, whichever column pair the edge came from
    cq, cg = release.of_kind(s["queries_dataset"], FACE_KIND), release.of_kind(s["gallery_dataset"], FACE_KIND)
    if cq and cg:
        def holders(cols) -> str:  # the records holding a template in any of the columns
            return " UNION ".join(f"SELECT _rid FROM {quote(c.table)} WHERE {quote(c.value)} IS NOT NULL"
                                  for c in cols)
        mated = engine.scalar(
            f"SELECT count(*) FROM ({holders(cq)}) q JOIN {quote(persons)} pq USING (_rid) "
            f"WHERE pq.p <> 0 AND pq.p IN (SELECT pg.p FROM ({holders(cg)}) g JOIN {quote(persons)} pg USING (_rid))")
        out["mated_searches"] = int(mated or 0)
        out["fnir_measured"] = 1 - hit_q / mated if mated else None
    return out


def assess_faces(engine: "Engine", study: "Study", loaded, scenarios, persons: str | None, ctx=None) -> dict:
    """Face links per scenario and the baseline's searches against the arithmetic (JSON key ``faces``)."""
    base = scenarios[0]
    info = base.links.probabilistic.get("faces", {"searches": []})
    names = [d.name for d in study.datasets]
    searches = []
    for s in info["searches"]:
        row = dict(s)
        if row.get("fmr") is not None:
            row["expected_searches_with_stranger"] = row["queries"] * fpir(row["fmr"], row["gallery"])
        if persons and base.links.edges in engine.tables():
            row.update(_measured(engine, row, base.links.edges, persons, names, base.release))
            row["fpir_measured"] = row["searches_with_stranger"] / max(row["queries"], 1)
        searches.append(row)
    e_base = float(base.enrichment.total)
    rows = []
    for sc in scenarios:
        br = sc.links.by_rule
        face_edges = int(br.loc[br["linker"] == "faces", "pairs"].sum()) if len(br) else 0
        row = {"scenario": sc.name, "face_links": face_edges,
               "other_links": int(br.loc[br["linker"] != "faces", "pairs"].sum()) if len(br) else 0,
               "pairs_by_faces_only": None, "enrichment": float(sc.enrichment.total),
               "enrichment_without_faces": None, "share_kept_by_faces": None}
        if sc.links.edges in engine.tables() and face_edges:
            row["pairs_by_faces_only"] = int(engine.scalar(
                f"SELECT count(*) FROM (SELECT a, b FROM {quote(sc.links.edges)} GROUP BY a, b "
                "HAVING bool_and(linker = 'faces')) t") or 0)
            if ctx is not None and all(t in engine.tables() for t in sc.release.tables):
                row["enrichment_without_faces"] = _without_faces(engine, study, loaded, sc, ctx)
        elif not face_edges:
            row["pairs_by_faces_only"] = 0
            row["enrichment_without_faces"] = row["enrichment"]
        if row["enrichment_without_faces"] is not None and e_base > 0:
            row["share_kept_by_faces"] = (row["enrichment"] - row["enrichment_without_faces"]) / e_base
        rows.append(row)
    # below 0.99 (or the study's own face_min_recall, if higher) whatever the study asked for
    warnings = [f"the approximate face search found {s['ann_recall']:.1%} of the exact matches of "
                f"{s['recall_queries']} sampled queries ({s['queries_dataset']} against {s['gallery_dataset']}): "
                "face links, and the enrichment they bring, are underestimated; raise [attacker] "
                "face_min_recall (the search effort rises until it is met), or set face_search = \"exact\""
                for s in searches if s.get("ann_recall") is not None
                and s["ann_recall"] < max(RECALL_TARGET, s.get("min_recall", RECALL_TARGET))]
    return {"searches": searches, "scenarios": rows, "warnings": warnings,
            "note": "Face links survive identifier pseudonymisation: a scenario that keys or drops only "
                    "identifiers leaves every face link. The last column is the part of the "
                    "as-leaked enrichment that survives only because faces still link."}


def _without_faces(engine: "Engine", study: "Study", loaded, sc, ctx) -> float:
    """Enrichment of a scenario's release with its entities built from all links but the faces'."""
    from linkrisk.enrichment import score, score_table

    pairs, labels, scores = "_nf_pairs", "_nf_labels", "_nf_scores"
    engine.create(pairs, f"SELECT a, b FROM {quote(sc.links.edges)} WHERE linker <> 'faces' GROUP BY a, b")
    try:
        engine.components_table(pairs, loaded.total, labels)
        score_table(engine, study, loaded, sc.release, ctx.bits, labels, scores)
        return float(score(engine, scores, ctx.bits, loaded.datasets).total)
    finally:
        engine.drop(pairs, labels, scores)


def share_figure(faces: dict):
    """Enrichment per scenario, split into what faces alone keep and the rest."""
    import matplotlib.pyplot as plt

    rows = [r for r in faces["scenarios"] if r["enrichment_without_faces"] is not None]
    # 0.4 in more than one row per scenario needs (the title takes two lines), and room
    # for the legend below the title when there are only one or two scenarios
    fig, ax = plt.subplots(figsize=(6.4, max(2.2, 0.9 + 0.45 * len(rows))))
    y = np.arange(len(rows))
    other = [r["enrichment_without_faces"] for r in rows]
    kept = [r["enrichment"] - r["enrichment_without_faces"] for r in rows]
    ax.barh(y, other, label="without face links")
    ax.barh(y, kept, left=other, label="kept only by face links")
    ax.set_yticks(y, [r["scenario"] for r in rows])
    ax.invert_yaxis()
    # two lines: on one, the title ran 0.8 in past the figure's right edge and was cut off
    ax.set_title("Enrichment each scenario leaves,\nand the part only face links keep", fontsize=10)
    ax.set_xlabel("enrichment (sum of weights gained)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["assess_faces", "share_figure"]
