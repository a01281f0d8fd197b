"""The biometric attacker: link records of two datasets whose face templates match.

For every two face-template columns of different datasets in one linkage domain, each
template of the larger side is searched among the templates of the smaller (a 1:N search
per record) and every pair with cosine similarity at or above the threshold becomes an
edge (linker ``faces``, rule ``face_template``, the similarity in the edge's ``p``). The
threshold is set from a target false-match rate (``[attacker] face_fmr``, default 1e-6)
under the impostor distribution of random unit vectors at the templates' dimension
(:func:`linkrisk.face.threshold_for_fmr`), or given as ``face_threshold``.

This module reads the released templates, runs the search of :mod:`linkrisk.face_search`
(exact, or an index whose recall is measured and raised) on each pair of columns, applies
the hub guard and writes the edges with their provenance. Scenario techniques on templates
are :mod:`linkrisk.face_protect`'s.

Hub guard: a template that matches more than ``face_max_candidates`` templates of the
other dataset (a default avatar, a blank camera frame, a "wolf" template) links nothing
and is listed as a hub, as a placeholder value is for identifiers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.engine.base import ROW
from linkrisk.errors import Problem, StudyError
from linkrisk.face import FACE_KIND, FACE_TECHNIQUES, fpir, parse_templates
from linkrisk.face_protect import transform_templates
from linkrisk.face_search import FaceAttack, search

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import Study


def hub_filter(pairs: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """Drop every pair of a template that matches more than ``limit`` others; count them.

    Examples
    --------
    >>> p = pd.DataFrame({"q": [0, 1, 2, 3], "g": [5, 5, 5, 6], "sim": [0.9] * 4})
    >>> kept, hubs = hub_filter(p, 2)    # gallery 5 matches 3 queries: a hub
    >>> kept[["q", "g"]].values.tolist(), hubs
    ([[3, 6]], 1)
    """
    if pairs.empty:
        return pairs, 0
    nq = pairs["q"].map(pairs["q"].value_counts())
    ng = pairs["g"].map(pairs["g"].value_counts())
    hub_q = set(pairs.loc[nq > limit, "q"])
    hub_g = set(pairs.loc[ng > limit, "g"])
    keep = ~(pairs["q"].isin(hub_q) | pairs["g"].isin(hub_g))
    return pairs[keep].reset_index(drop=True), len(hub_q) + len(hub_g)


def released_templates(engine: "Engine", study: "Study", release: "Release") -> list[dict]:
    """Per face-template column of the release: dataset index, domain, record ids and templates."""
    out = []
    index = {d.name: i for i, d in enumerate(study.datasets)}
    for c in release.columns:
        if c.kind != FACE_KIND or c.domain is None:
            continue
        # every record, in the order of the file, so that a problem names the file's row
        got = engine.arrays(f"SELECT _rid, {quote(c.value)} AS v FROM {quote(c.table)} ORDER BY _rid")
        where = f"dataset {c.dataset!r} column {c.ref.column!r}"
        m, ok, problems = parse_templates(list(got["v"]), where)
        if problems:
            raise StudyError(problems, str(study.source) if study.source else None)
        rids = np.asarray(got["_rid"], dtype=np.int64)[ok]
        m = m[ok]
        pol = release.policies.get(c.ref)
        if pol is not None and pol[0].name in FACE_TECHNIQUES:
            tech, ctx = pol
            rotate = tech.name == "protect_template" and not c.linkage.is_plain  # plain: key compromised
            key = ctx.keys.key(ctx.scope, "face-projection") if rotate else None
            rng = np.random.default_rng([int(study.seed), 22, index[c.dataset]])
            m = transform_templates(m, tech.name, ctx.policy.level, key, rng)
        out.append({"dataset": index[c.dataset], "name": c.dataset, "column": c.ref.column, "domain": c.domain,
                    "rids": rids, "templates": m})
    dims = {x["templates"].shape[1] for x in out if len(x["templates"])}
    if len(dims) > 1:
        raise StudyError(Problem("faces linker", "face templates of different dimensions ("
                                 + ", ".join(f"{x['name']}.{x['column']}: {x['templates'].shape[1]}" for x in out)
                                 + "): templates compare only within one model; map one model's templates"),
                         str(study.source) if study.source else None)
    return out


def link_faces(engine: "Engine", study: "Study", release: "Release", edges: str) -> tuple[list[dict], dict]:
    """The ``faces`` linker of the pipeline. Returns the hubs and, for the report, one
    entry per compared pair of datasets (method, threshold, comparisons, analytic FPIR,
    expected false pairs, pairs linked, hubs, ANN recall)."""
    attack = FaceAttack.of(study)
    cols = released_templates(engine, study, release)
    hubs: list[dict] = []
    searches = []
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            x, y = cols[i], cols[j]
            if x["dataset"] == y["dataset"] or x["domain"] != y["domain"]:
                continue
            if not len(x["templates"]) or not len(y["templates"]):
                continue
            # the smaller side is the gallery (the index), the larger the queries
            qc, gc = (x, y) if len(x["templates"]) >= len(y["templates"]) else (y, x)
            d = qc["templates"].shape[1]
            t = attack.threshold_at(d)
            pairs, info = search(qc["templates"], gc["templates"], attack, t, seed=int(study.seed))
            pairs, n_hubs = hub_filter(pairs, attack.max_candidates)
            nq, ng = len(qc["templates"]), len(gc["templates"])
            fmr = attack.fmr if attack.threshold is None else None
            searches.append({"queries_dataset": qc["name"], "gallery_dataset": gc["name"],
                             "queries_column": qc["column"], "gallery_column": gc["column"], **info,
                             "dimension": int(d), "threshold": round(t, 6), "fmr": fmr, "queries": nq,
                             "gallery": ng, "comparisons": nq * ng,
                             "fpir_analytic": None if fmr is None else fpir(fmr, ng),
                             "expected_false_pairs": None if fmr is None else fmr * nq * ng,
                             "pairs": int(len(pairs)), "hub_templates": n_hubs})
            if n_hubs:
                hubs.append({"linker": "faces", "rule": FACE_KIND, "domain": x["domain"], "records": n_hubs,
                             "datasets": 2, "value": "[face template]", "reason": "face_max_candidates",
                             "limit": attack.max_candidates})
            if pairs.empty:
                continue
            ra, rb = qc["rids"][pairs["q"].to_numpy()], gc["rids"][pairs["g"].to_numpy()]
            da, db = qc["dataset"], gc["dataset"]
            frame = pd.DataFrame({"a": np.minimum(ra, rb), "b": np.maximum(ra, rb),
                                  "da": np.where(ra < rb, da, db).astype(np.int32),
                                  "db": np.where(ra < rb, db, da).astype(np.int32),
                                  "p": pairs["sim"].to_numpy(dtype=np.float64)})
            with engine.workspace("face") as ws:  # the frame's table is dropped, errors included
                links = ws.register_frame("_links", frame)
                engine.execute(f"INSERT INTO {quote(edges)} SELECT a, b, 'faces', ?, da, db, p FROM {quote(links)}",
                               [FACE_KIND])
    return hubs, {"searches": searches}


def has_faces(study: "Study") -> bool:
    return any(k == FACE_KIND for d in study.datasets for k in d.columns.values())


def file_problems(study: "Study", engine: "Engine") -> list[Problem]:
    """Unreadable templates in the loaded (raw) face-template columns, and mixed dimensions."""
    from linkrisk.load import raw_table

    p: list[Problem] = []
    tables = set(engine.tables())
    dims = {}
    for i, d in enumerate(study.datasets):
        for col, kind in d.columns.items():
            if kind != FACE_KIND or raw_table(i) not in tables or col not in engine.columns(raw_table(i)):
                continue
            got = engine.arrays(f"SELECT {quote(col)} AS v FROM {quote(raw_table(i))} ORDER BY {quote(ROW)}")
            m, ok, problems = parse_templates(list(got["v"]), f"{d.label()} column {col!r}")
            p += problems
            if ok.any():
                dims[f"{d.name}.{col}"] = m.shape[1]
    if len(set(dims.values())) > 1:
        p.append(Problem("face templates", "columns hold templates of different dimensions ("
                         + ", ".join(f"{k}: {v}" for k, v in dims.items())
                         + "); templates compare only within one model: map one model's templates"))
    return p


__all__ = ["FaceAttack", "search", "hub_filter", "transform_templates", "released_templates", "link_faces",
           "has_faces", "file_problems", "FACE_KIND", "FACE_TECHNIQUES"]
