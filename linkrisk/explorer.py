"""The data of the HTML report's entity explorer: a bounded set of entities, as JSON.

The explorer lets a reader browse entities the way Splink's cluster studio does: a
sortable, searchable list, and any listed entity's graph drawn on demand by the page's own
script (inline SVG, no network). A report must stay small for a study of millions of
records, so the page holds only:

- the :data:`TOP` largest entities of two or more records (ties broken by entity id),
- every suspicious entity (two records of one dataset with different values of one
  identifier kind), up to the 1,000 whose ids the run kept,

and of each entity at most :data:`MAX_RECORDS` records are drawn (a larger one is listed
with its size; read it with ``result.graph().entity(id)``). Values, record ids included,
are redacted unless the report is written with ``show_values``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from linkrisk.engine import quote
from linkrisk.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.result import Result

TOP = 200  # the largest entities embedded in a report
MAX_RECORDS = 150  # records of one entity drawn in the explorer


def explorer_data(result: "Result", scenario: str = "baseline", show_values: bool = False,
                  top: int = TOP, max_records: int = MAX_RECORDS) -> dict:
    """The entities the explorer embeds, with their records, links and identifier values.

    Parameters
    ----------
    result : Result
    scenario : str, default "baseline"
    show_values : bool, default False
        Raw identifier values and record ids instead of redacted ones.
    top : int, default :data:`TOP`
        How many of the largest multi-record entities to embed (suspicious ones come on top).
    max_records : int, default :data:`MAX_RECORDS`
        Entities with more records are listed but not drawn.

    Returns
    -------
    dict
        ``entities`` (a list of ``id, records, datasets, gain, suspicious, largest,
        drawn`` and, when drawn, ``nodes`` and ``edges``), ``top``, ``multi_record``
        (entities of two or more records in the scenario), ``suspicious_total``,
        ``suspicious_shown``, ``max_records``, ``redacted``, and ``datasets`` and ``kinds``,
        the names that nodes refer to by index (a record node: ``ds``, ``rid``, ``kinds``,
        ``gain``; a value node: ``kind``, ``value``).
    """
    s = result.scenario(scenario)
    engine, scores = result.engine, s.enrichment.table
    stats = ("SELECT e, count(*) AS n, count(DISTINCT _ds) AS nds, sum(g) AS gain "
             f"FROM {quote(scores)} GROUP BY e HAVING count(*) >= 2")
    multi = int(engine.scalar(f"SELECT count(*) FROM ({stats}) t") or 0)
    largest = engine.rows(f"SELECT e, n, nds, gain FROM ({stats}) t ORDER BY n DESC, e LIMIT {int(top)}")
    suspicious = set(s.suspicious_ids)
    rows = {int(e): (int(n), int(nds), float(g)) for e, n, nds, g in largest}
    top_ids = set(rows)
    missing = sorted(suspicious - top_ids)
    if missing:
        marks = ", ".join("?" for _ in missing)
        for e, n, nds, g in engine.rows(f"SELECT e, count(*), count(DISTINCT _ds), sum(g) FROM {quote(scores)} "
                                        f"WHERE e IN ({marks}) GROUP BY e", missing):
            rows[int(e)] = (int(n), int(nds), float(g))
    drawn = [e for e, (n, _, _) in rows.items() if n <= max_records]
    details = {}
    if drawn:
        gains = dict(engine.rows(f"SELECT _rid, g FROM {quote(scores)} WHERE e IN ({', '.join('?' for _ in drawn)})",
                                 drawn))
        for ent in s.graph.entities(sorted(drawn), show_values=show_values):
            details[ent.id] = _graph(ent, gains, show_values)
    names = result.loaded.datasets
    kinds = sorted({k for d in details.values() for node in d["nodes"] for k in node.get("kinds", [])}
                   | {node["kind"] for d in details.values() for node in d["nodes"] if node["t"] == "v"})
    code = {k: i for i, k in enumerate(kinds)}
    for d in details.values():  # kinds and datasets as indices: a third of the size
        for node in d["nodes"]:
            if node["t"] == "r":
                node["kinds"] = [code[k] for k in node["kinds"]]
                node["ds"] = names.index(node["ds"])
            else:
                node["kind"] = code[node["kind"]]
    entities = []
    for e in sorted(rows, key=lambda e: (-rows[e][0], e)):
        n, nds, g = rows[e]
        item = {"id": e, "records": n, "datasets": nds, "gain": round(g, 2), "suspicious": e in suspicious,
                "largest": e in top_ids, "drawn": e in details}
        item.update(details.get(e, {}))
        entities.append(item)
    return {"scenario": s.name, "entities": entities, "top": int(top), "multi_record": multi,
            "suspicious_total": int(s.suspicious_entities), "suspicious_shown": len(suspicious),
            "max_records": int(max_records), "redacted": not show_values, "datasets": list(names),
            "kinds": kinds}


def _graph(entity, gains: dict, show_values: bool) -> dict:
    """Nodes (records, then identifier values) and edges (links, then "holds") of one
    entity, with node indices for the page's script."""
    nodes, index = [], {}
    for r in entity.records.to_dict("records"):
        index[r["_rid"]] = len(nodes)
        rid = str(r["record_id"])
        nodes.append({"t": "r", "ds": r["dataset"], "rid": rid if show_values else redact(rid),
                      "kinds": list(r["kinds"]), "gain": round(float(gains.get(r["_rid"], 0.0)), 2)})
    value_index = {}
    for v in entity.values.to_dict("records"):
        if v["node"] not in value_index:
            value_index[v["node"]] = len(nodes)
            nodes.append({"t": "v", "kind": v["kind"], "value": str(v["value"])})
    edges, seen = [], {}
    for lk in entity.links.itertuples(index=False):
        key = (index[lk.a], index[lk.b])
        if key in seen:  # one line per record pair; every rule that linked it is listed
            edges[seen[key]]["rules"].append(f"{lk.linker}: {lk.rule}")
            continue
        seen[key] = len(edges)
        edges.append({"s": key[0], "t": key[1], "linker": lk.linker, "rules": [f"{lk.linker}: {lk.rule}"]})
    for v in entity.values.to_dict("records"):
        edges.append({"s": index[v["_rid"]], "t": value_index[v["node"]], "linker": "holds", "rules": []})
    return {"nodes": nodes, "edges": edges}


def explorer_json(data: dict) -> str:
    """``data`` as JSON safe inside an HTML ``<script type="application/json">`` element:
    ``<``, ``>`` and ``&`` are escaped, so no value can close the element.

    >>> explorer_json({"v": "</script>"})
    '{"v": "\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


__all__ = ["explorer_data", "explorer_json", "TOP", "MAX_RECORDS"]
