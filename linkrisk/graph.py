"""Stage 5, graph: records as nodes, links as edges, entities as connected components.

The engine computes the components (:meth:`linkrisk.engine.Engine.components_table`):
DuckDB hands the edges to ``scipy.sparse.csgraph`` (:func:`components`, well under a
second for millions of nodes), Spark propagates minimum labels in the cluster. Either
way the entity of every record is a table in the engine, which the later stages join.
networkx is the exploration view: one entity's neighbourhood, with record nodes and
identifier-value nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.catalogue import Role
from linkrisk.engine import quote
from linkrisk.engine.base import components
from linkrisk.errors import LinkriskError
from linkrisk.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

    from linkrisk.dialect import Dialect
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig


@dataclass
class Entity:
    """One entity (connected component): its records and the links among them."""

    id: int
    records: pd.DataFrame  # _rid, dataset, record_id, and one column per kind (redacted)
    links: pd.DataFrame  # a, b, linker, rule, score (edges' p: see linkrisk.link; None for exact rules)
    values: pd.DataFrame  # _rid, kind, value (identifier values, redacted unless asked)

    def to_networkx(self) -> "nx.Graph":
        """The entity as a networkx graph.

        Record nodes are named ``dataset:record_id`` (attribute ``type="record"``);
        identifier-value nodes ``kind#n`` (``type="value"``; attribute ``value`` holds the
        value, redacted unless the entity was asked for with ``show_values=True``). Record-record edges
        carry ``linker``, ``rule`` and ``score`` (the match probability of a probabilistic
        link, the co-occurrence score of a trace link, None for an exact rule);
        record-value edges ``type="holds"``.
        """
        import networkx as nx

        g = nx.Graph(entity=self.id)
        name = {}
        for r in self.records.to_dict("records"):
            node = f"{r['dataset']}:{r['record_id']}"
            name[r["_rid"]] = node
            g.add_node(node, type="record", dataset=r["dataset"], record_id=r["record_id"],
                       kinds=list(r["kinds"]))
        for r in self.links.itertuples(index=False):
            u, v = name[r.a], name[r.b]
            if g.has_edge(u, v):
                g.edges[u, v]["rules"].append(f"{r.linker}:{r.rule}")
            else:
                g.add_edge(u, v, type="link", linker=r.linker, rule=r.rule,
                           score=None if pd.isna(r.score) else float(r.score), rules=[f"{r.linker}:{r.rule}"])
        for r in self.values.to_dict("records"):
            node = r["node"]
            g.add_node(node, type="value", kind=r["kind"], value=r["value"])
            g.add_edge(name[r["_rid"]], node, type="holds")
        return g

    def __repr__(self) -> str:
        return f"Entity(id={self.id}, records={len(self.records)}, links={len(self.links)})"

    def _repr_html_(self) -> str:
        """The entity in a notebook: its records with the kinds they hold, its identifier
        values (as the entity was asked for: redacted unless ``show_values``) and its links
        by rule."""
        import html

        def table(header, rows):
            head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in r)
                           + "</tr>" for r in rows)
            return f"<table><tr>{head}</tr>{body}</table>"

        recs = [(r["dataset"], r["record_id"], ", ".join(r["kinds"]))
                for r in self.records.to_dict("records")]
        vals = self.values.drop_duplicates("node")
        values = [(v.kind, v.value, int((self.values.node == v.node).sum())) for v in vals.itertuples(index=False)]
        rules = (self.links.groupby(["linker", "rule"]).size().reset_index(name="n") if len(self.links)
                 else pd.DataFrame(columns=["linker", "rule", "n"]))
        return (f"<p><b>entity {self.id}</b>: {len(self.records):,} records in "
                f"{self.records['dataset'].nunique() if len(self.records) else 0} datasets, {len(self.links):,} links</p>"
                + table(["dataset", "record id", "kinds it holds"], recs)
                + (table(["identifier", "value", "records holding it"], values) if values else "")
                + table(["linker", "rule", "links"], [(r.linker, r.rule, r.n) for r in rules.itertuples(index=False)]))


def entity_stats(engine: "Engine", table: str) -> dict:
    """Entities, entities spanning two or more datasets, and the entity-size distribution,
    from a table with one row per record and columns ``e`` (entity) and ``_ds`` (dataset)."""
    sizes = engine.df(f"SELECT size, CAST(count(*) AS BIGINT) AS n, CAST(sum(CASE WHEN d >= 2 THEN 1 ELSE 0 END) "
                      f"AS BIGINT) AS multi FROM (SELECT e, count(*) AS size, CASE WHEN min(_ds) < max(_ds) THEN 2 ELSE 1 END AS d "
                      f"FROM {quote(table)} GROUP BY e) t GROUP BY size ORDER BY size")
    return entity_stats_of_sizes(sizes)


def entity_stats_of_sizes(sizes: pd.DataFrame) -> dict:
    """:func:`entity_stats` from a table of entity sizes ``size, n, multi`` (entities of
    that size, and how many of them span two or more datasets)."""
    return {"entities": int(sizes["n"].sum()), "multi_dataset_entities": int(sizes["multi"].sum()),
            "entity_sizes": {str(int(r.size)): int(r.n) for r in sizes.itertuples(index=False)}}


MAX_ENTITY_RECORDS = 2_000  # records of one entity view (IdentityGraph.entity)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_sql(column: str, d: "Dialect") -> str:
    """SQL for ``column`` with a ``'`` put before a value a spreadsheet would run as a
    formula (it starts with one of :data:`FORMULA_PREFIXES` and is not a number), in the
    dialect ``d`` (``engine.dialect``)."""
    first = ", ".join(["'='", "'+'", "'-'", "'@'", d.char(9), d.char(13)])
    c = quote(column)
    return (f"CASE WHEN substr({c}, 1, 1) IN ({first}) AND TRY_CAST({c} AS DOUBLE) IS NULL "
            f"THEN concat({d.char(39)}, {c}) ELSE {c} END")


class IdentityGraph:
    """The identity graph of one scenario: records, links and entities.

    Obtained from ``result.graph("baseline")``. The entity of every record lives in the
    engine (table :attr:`labels_table`, columns ``_rid, e``); queries bring back only the
    neighbourhood asked for, and :attr:`labels` the whole array on request.
    """

    def __init__(self, scenario: str, engine: "Engine", study: "StudyConfig", loaded: "Loaded",
                 release: "Release", edges: str, labels_table: str, n_entities: int):
        self.scenario = scenario
        self._engine = engine
        self._study = study
        self._loaded = loaded
        self._release = release
        self._edges = edges
        self.labels_table = labels_table
        self.n_entities = int(n_entities)
        self._labels: np.ndarray | None = None
        self._released = False

    @property
    def labels(self) -> np.ndarray:
        """Entity id of every record (index = record id - 1), fetched from the engine once."""
        if self._labels is None:
            self._labels = self._engine.arrays(
                f"SELECT e FROM {quote(self.labels_table)} ORDER BY _rid")["e"].astype(np.int64)
        return self._labels

    def release_tables(self) -> None:
        """Drop this scenario's released copies, edges and scores from the engine to save memory.

        The entity table and sizes still work; neighbourhood views (:meth:`entity`) do not.
        """
        from linkrisk.release import BASELINE

        if self.scenario == BASELINE or self._released:
            return
        tag = self._edges[len('edges_'):]
        self._engine.drop(self._edges, f"pairs_{tag}", f"score_{tag}", *self._release.tables)
        self._released = True

    def entity_of(self, dataset: str, record_id: str) -> int:
        """The entity id of one record."""
        table = f"norm{self._study.datasets.index(self._study.dataset(dataset))}"
        e = self._engine.rows(f"SELECT l.e FROM {quote(table)} n JOIN {quote(self.labels_table)} l USING (_rid) "
                              "WHERE n._rec = ?", [str(record_id)])
        if not e:
            raise LinkriskError(f"dataset {dataset!r} has no record with that id")
        return int(e[0][0])

    def _entity_rows(self, neutralise: bool = False) -> tuple[str, list]:
        """SQL (and its parameters) for ``dataset, record_id, entity_id`` of every record,
        in record order (record ids made safe for spreadsheets with ``neutralise``)."""
        parts, params = [], []
        for name in self._loaded.datasets:
            idx = self._study.datasets.index(self._study.dataset(name))
            parts.append(f"SELECT ? AS dataset, n._rec AS record_id, l.e AS entity_id, n._rid FROM norm{idx} n "
                         f"JOIN {quote(self.labels_table)} l USING (_rid)")
            params.append(name)
        if not parts:
            parts, params = ["SELECT '' AS dataset, '' AS record_id, 0 AS entity_id, 0 AS _rid WHERE false"], []
        rid = neutralise_sql("record_id", self._engine.dialect) if neutralise else "record_id"
        return (f"SELECT dataset, {rid} AS record_id, entity_id FROM ({' UNION ALL '.join(parts)}) t ORDER BY _rid",
                params)

    def entity_table(self) -> pd.DataFrame:
        """Every record with its entity: ``dataset, record_id, entity_id``."""
        d = self._engine.df(*self._entity_rows())
        return pd.DataFrame({"dataset": d["dataset"].astype(str), "record_id": d["record_id"].astype(str),
                             "entity_id": d["entity_id"].to_numpy(dtype=np.int64)})

    def write_entity_table(self, path) -> None:
        """Write :meth:`entity_table` as CSV (``dataset,record_id,entity_id``) straight
        from the engine, without holding it in memory.

        A record id that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
        return and is not a plain number is written with a leading ``'``, so that a
        spreadsheet shows it as text instead of running it as a formula (CSV injection,
        OWASP); ``-12`` stays ``-12``. See docs/security.md.
        """
        sql, params = self._entity_rows(neutralise=True)
        self._engine.write_csv(sql, path, params)

    def sizes(self) -> np.ndarray:
        """Number of records of each entity (index = entity id)."""
        d = self._engine.arrays(f"SELECT e, count(*) AS n FROM {quote(self.labels_table)} GROUP BY e")
        out = np.zeros(self.n_entities, dtype=np.int64)
        out[d["e"].astype(np.int64)] = d["n"].astype(np.int64)
        return out

    def entity(self, entity_id: int, show_values: bool = False) -> Entity:
        """One entity's records, links and identifier values."""
        entity_id = int(entity_id)
        if self._released:
            raise LinkriskError(f"the tables of scenario {self.scenario!r} were dropped to save memory (the study "
                                f"has over {1_000_000:,} records); entity views work for the baseline, or run "
                                "a study with fewer records")
        if not 0 <= entity_id < self.n_entities:
            raise LinkriskError(f"no entity {entity_id}; entity ids run from 0 to {self.n_entities - 1}")
        size = int(self._engine.scalar(f"SELECT count(*) FROM {quote(self.labels_table)} WHERE e = ?",
                                       [entity_id]))
        if size > MAX_ENTITY_RECORDS:
            links = int(self._engine.scalar(
                f"SELECT count(*) FROM {quote(self._edges)} x JOIN {quote(self.labels_table)} l "
                "ON l._rid = x.a WHERE l.e = ?", [entity_id]))
            raise LinkriskError(
                f"entity {entity_id} has {size:,} records and {links:,} links; an entity view is limited to "
                f"{MAX_ENTITY_RECORDS:,} records (its graph would need about {size + links:,} nodes and "
                "edges in memory and far more to draw). Such an entity is usually a wrong merge through a "
                "shared placeholder value: lower [attacker] max_value_frequency, or read its records "
                "with entity_table()")
        return self.entities([entity_id], show_values=show_values)[0]

    def entities(self, entity_ids: list[int], show_values: bool = False) -> list[Entity]:
        """Several entities at once (a handful of queries for all of them, not per entity),
        in the order asked; the report's entity explorer reads its entities this way.

        Unlike :meth:`entity` there is no size check: keep the entities small (their
        records are read into memory).
        """
        ids = [int(e) for e in entity_ids]
        if not ids:
            return []
        if self._released:
            return [self.entity(ids[0])]  # raises the explanation
        cat = self._study.catalogue
        emarks = ", ".join("?" for _ in ids)
        owner = {int(r): int(e) for r, e in self._engine.rows(
            f"SELECT _rid, e FROM {quote(self.labels_table)} WHERE e IN ({emarks}) ORDER BY _rid", ids)}
        rid_list = list(owner)
        records: dict[int, list] = {e: [] for e in ids}
        values: dict[int, list] = {e: [] for e in ids}
        value_nodes: dict[tuple, str] = {}  # distinct values get distinct nodes, named without the value
        per_kind: dict[tuple, int] = {}
        marks = ", ".join("?" for _ in rid_list)
        for name in self._loaded.datasets if rid_list else []:
            cols = self._release.of_dataset(name)
            if not cols:
                continue
            table = cols[0].table
            sel = ", ".join(f"{c.present} AS h{j}, {c.value} AS v{j}" for j, c in enumerate(cols))
            df = self._engine.df(f"SELECT _rid, _rec, {sel} FROM {quote(table)} WHERE _rid IN ({marks}) "
                                 "ORDER BY _rid", rid_list)
            for row in df.to_dict("records"):
                e = owner[int(row["_rid"])]
                kinds = []
                for j, c in enumerate(cols):
                    if row[f"h{j}"] and c.readable:
                        kinds.append(c.kind)
                    v = row[f"v{j}"]
                    if v is not None and not (isinstance(v, float) and np.isnan(v)) and \
                            cat[c.kind].role is Role.IDENTIFIER and c.linkage is not None:
                        shown = v if (show_values and c.readable) else redact(v)
                        key = (e, c.linkage, v)
                        if key not in value_nodes:
                            per_kind[(e, c.kind)] = per_kind.get((e, c.kind), 0) + 1
                            value_nodes[key] = f"{c.kind}#{per_kind[(e, c.kind)]}"
                        values[e].append({"_rid": row["_rid"], "kind": c.kind, "node": value_nodes[key],
                                          "value": shown})
                records[e].append({"_rid": row["_rid"], "dataset": name, "record_id": row["_rec"],
                                   "kinds": tuple(dict.fromkeys(kinds))})
        links = self._engine.df(f"SELECT a, b, linker, rule, p AS score FROM {quote(self._edges)} "
                                f"WHERE a IN ({marks}) ORDER BY a, b, linker, rule", rid_list) if rid_list else \
            pd.DataFrame(columns=["a", "b", "linker", "rule", "score"])
        link_owner = links["a"].map(lambda r: owner[int(r)]) if len(links) else pd.Series([], dtype=np.int64)
        out = []
        for e in ids:
            recs = sorted(records[e], key=lambda r: r["_rid"])
            out.append(Entity(e, pd.DataFrame(recs, columns=["_rid", "dataset", "record_id", "kinds"]),
                              links[link_owner == e].reset_index(drop=True),
                              pd.DataFrame(values[e], columns=["_rid", "kind", "node", "value"]).drop_duplicates()
                              .reset_index(drop=True)))
        return out

    def first_entity(self, min_size: int, max_size: int | None = None) -> int | None:
        """The smallest entity id with ``min_size`` to ``max_size`` records (None if none)."""
        having = f"count(*) >= {int(min_size)}" + (f" AND count(*) <= {int(max_size)}" if max_size else "")
        e = self._engine.scalar(f"SELECT min(e) FROM (SELECT e FROM {quote(self.labels_table)} GROUP BY e "
                                f"HAVING {having}) t")
        return None if e is None else int(e)

    def largest(self, n: int = 5) -> list[int]:
        """Ids of the ``n`` largest entities."""
        rows = self._engine.rows(f"SELECT e FROM {quote(self.labels_table)} GROUP BY e "
                                 f"ORDER BY count(*) DESC, e LIMIT {int(n)}")
        return [int(r[0]) for r in rows]
