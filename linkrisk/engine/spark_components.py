"""Connected components on Spark: on the driver for small graphs, in the cluster otherwise.

:meth:`linkrisk.engine.spark.SparkEngine.components_table` calls :func:`components_table`;
the result stays in the cluster as a table (``_rid``, ``e``), which scoring, ground truth
and risk join. Entity ids run from 0 in the order of each component's smallest node, as
on DuckDB (:func:`linkrisk.engine.base.components`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine.base import components

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine.spark_views import ViewStore

# On the driver path, every node's entity id is computed on the driver when the graph has
# at most this many nodes per edge allowed there (16 bytes a node through Arrow: four
# million nodes at the default edge limit, 64 MB); beyond, the roots are numbered in the cluster.
DRIVER_NODES_PER_EDGE = 4


def driver_roots(views: "ViewStore", edges):
    """``(x, m)``: every node of ``edges`` (distinct ``a < b`` pairs) and the smallest
    node of its component, found on the driver; None when there is no edge."""
    pairs = edges.toPandas()
    if pairs.empty:
        return None
    a, b = pairs["a"].to_numpy(np.int64), pairs["b"].to_numpy(np.int64)
    nodes, idx = np.unique(np.concatenate([a, b]), return_inverse=True)
    # numbered in order of their smallest (sorted) node: a component's first node is its root
    comp = components(len(nodes), idx[:len(a)], idx[len(a):])
    _, first = np.unique(comp, return_index=True)
    frame = pd.DataFrame({"x": nodes, "m": nodes[first][comp]})
    return views.spark.createDataFrame(frame, "x bigint, m bigint")


def _pointer_jump(views: "ViewStore", m):
    """``M(x) := M(M(x))`` until nothing changes (a chain of length L takes log2 L joins)."""
    s = views.spark
    while True:
        m.createOrReplaceTempView("_cc_m")
        jumped = views.materialise(s.sql(
            "SELECT p.x, coalesce(q.m, p.m) AS m, coalesce(q.m, p.m) <> p.m AS moved "
            "FROM _cc_m p LEFT JOIN _cc_m q ON q.x = p.m"))
        moved = jumped.filter("moved").limit(1).count()
        m = views.materialise(jumped.select("x", "m"))
        if not moved:
            return m


def cluster_roots(views: "ViewStore", edges):
    """``((x, m), rounds)``: every node of ``edges`` and the smallest node of its
    component, by min-label propagation with pointer jumping in the cluster; each round
    is checkpointed, so lineage stays short. None when there is no edge.

    A round maps every node to the smallest of itself and its neighbours in the current
    (contracted) graph, follows those pointers to their end, and replaces the edges by
    the edges between the new labels, self-loops dropped. When no edge is left, every
    node's label is the smallest node of its component. Nothing travels to the driver
    but counts.
    """
    s = views.spark
    labels, rounds = None, 0  # node -> label, for every node that had an edge
    while True:
        edges.createOrReplaceTempView("_cc_e")
        if edges.limit(1).count() == 0:
            break
        rounds += 1
        m = _pointer_jump(views, views.materialise(s.sql(
            "SELECT x, least(x, min(y)) AS m FROM (SELECT a AS x, b AS y FROM _cc_e "
            "UNION ALL SELECT b, a FROM _cc_e) GROUP BY x")))
        m.createOrReplaceTempView("_cc_m")
        if labels is None:
            labels = m
        else:
            labels.createOrReplaceTempView("_cc_l")
            labels = views.materialise(s.sql(
                "SELECT l.x, coalesce(m.m, l.m) AS m FROM _cc_l l LEFT JOIN _cc_m m ON m.x = l.m "
                "UNION ALL SELECT m.x, m.m FROM _cc_m m LEFT ANTI JOIN _cc_l l ON l.x = m.x"))
        edges = views.materialise(s.sql(
            "SELECT DISTINCT least(ma.m, mb.m) AS a, greatest(ma.m, mb.m) AS b FROM _cc_e e "
            "JOIN _cc_m ma ON ma.x = e.a JOIN _cc_m mb ON mb.x = e.b WHERE ma.m <> mb.m"))
    for v in ("_cc_e", "_cc_m", "_cc_l"):
        s.catalog.dropTempView(v)
    return labels, rounds


def _driver_table(views: "ViewStore", pairs: pd.DataFrame, n_nodes: int, table: str) -> None:
    """``table(_rid, e)`` for every node 1..``n_nodes``, numbered on the driver from the
    edges ``pairs`` (``a``, ``b``): ids in the order of each component's smallest node,
    as :func:`linkrisk.engine.base.components` numbers them on DuckDB."""
    a = pairs["a"].to_numpy(np.int64) - 1
    b = pairs["b"].to_numpy(np.int64) - 1
    comp = components(n_nodes, a, b)
    # a component's first (smallest) node decides its place in the numbering
    _, first = np.unique(comp, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=np.int64)
    frame = pd.DataFrame({"_rid": np.arange(1, n_nodes + 1, dtype=np.int64), "e": rank[comp]})
    # the labels are the driver's data, held by Spark as sent: reading them again costs
    # no recomputation, so they are not checkpointed (a job fewer)
    views.put(table, views.spark.createDataFrame(frame, "_rid bigint, e bigint"), materialise=False,
              rows=len(frame))


def components_table(views: "ViewStore", pairs_table: str, n_nodes: int, table: str,
                     driver_max: int) -> int:
    """Create ``table(_rid, e)``: the entity id of each of the nodes 1..``n_nodes`` of the
    graph ``pairs_table(a, b)``; a graph of at most ``driver_max`` distinct edges is
    solved on the driver (scipy), a larger one in the cluster (:func:`cluster_roots`),
    with the same numbering. Returns the rounds run in the cluster (0 on the driver).

    On the driver, with at most ``DRIVER_NODES_PER_EDGE`` x ``driver_max`` nodes, every
    node's id is computed there and sent back through Arrow, where Spark holds it as
    sent (one Spark job in all: the one that brings the edges to the driver);
    otherwise the roots are numbered in the cluster (a sort and per-partition offsets),
    so entity ids run from 0 as on DuckDB.
    """
    from pyspark.sql import functions as F

    s = views.spark
    edges = s.sql(f"SELECT DISTINCT least(a, b) AS a, greatest(a, b) AS b FROM `{pairs_table}` WHERE a <> b")
    # at most driver_max + 1 edges come to the driver: one more says the graph is larger.
    # The edges are read once on the driver path: computed by that read, not checkpointed
    # first (a job fewer); a larger graph computes them again, checkpointed, below
    small = edges.limit(driver_max + 1).toPandas() if driver_max > 0 else None
    if small is not None and len(small) <= driver_max and n_nodes <= DRIVER_NODES_PER_EDGE * max(driver_max, 1):
        _driver_table(views, small, n_nodes, table)
        return 0
    edges = views.materialise(edges)
    if small is not None and len(small) <= driver_max:
        labels, rounds = driver_roots(views, edges), 0
    else:
        labels, rounds = cluster_roots(views, edges)
    nodes = s.range(1, n_nodes + 1).withColumnRenamed("id", "_rid")
    if labels is not None:
        nodes = (nodes.join(labels.withColumnRenamed("x", "_rid"), "_rid", "left")
                 .select("_rid", F.coalesce("m", "_rid").alias("root")))
    else:
        nodes = nodes.select("_rid", F.col("_rid").alias("root"))
    nodes = views.materialise(nodes)
    # a root is a node labelled with itself; numbered in order, they are the entity ids
    roots = views.positions(nodes.filter("root = _rid").select("root").orderBy("root"), ["root"], "e")
    out = nodes.join(roots, "root").select(F.col("_rid").cast("bigint"), F.col("e").cast("bigint"))
    views.put(table, out)
    return rounds
