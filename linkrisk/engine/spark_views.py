"""Spark's tables: temporary views, and the table statements Spark has no form of.

A temporary view over a checkpointed DataFrame stands in for each table. Spark SQL has
no ``INSERT INTO`` a view, no ``UPDATE`` and no ``ALTER TABLE ... RENAME``: a
:class:`ViewStore` carries out the statements :func:`linkrisk.engine.spark_sql.to_spark`
recognises (create, create empty, insert, rename, drop) on the views, and rebuilds a
view to blank values (:meth:`ViewStore.blank`, DuckDB's ``UPDATE ... SET c = NULL``).
:class:`~linkrisk.engine.spark.SparkEngine` holds one.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from linkrisk.engine.spark_sql import Statement, to_spark
from linkrisk.errors import LinkriskError


def spark_param(v):
    """A bound parameter as Spark takes it (numpy scalars as Python numbers, bytes as bytearray)."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (bytes, memoryview)):
        return bytearray(v)
    return v


class ViewStore:
    """The tables of one Spark session, as temporary views, and the statements on them.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session whose temporary views are the tables.
    reliable : bool
        Checkpoint to the session's checkpoint folder (else local checkpoints).
    """

    def __init__(self, spark, reliable: bool):
        self.spark = spark
        self.reliable = reliable
        self.frames: dict[str, Any] = {}  # name -> DataFrame behind the temporary view
        self.parts: dict[str, list] = {}  # name -> the DataFrames inserted into it, in order
        self.counts: dict[str, int] = {}  # name -> its number of rows, where known without a job

    def materialise(self, df):
        """``df`` computed now and checkpointed: its lineage cut, so it is never recomputed."""
        return df.checkpoint(eager=True) if self.reliable else df.localCheckpoint(eager=True)

    def materialise_counted(self, df):
        """``(df, rows)``: ``df`` computed now and checkpointed, as :meth:`materialise`,
        and its number of rows, in the one Spark job that computes it.

        A local checkpoint marked lazily is written by the first job that reads it: a
        ``count()`` computes the table, keeps its blocks and returns the count, where an
        eager checkpoint and a later ``SELECT count(*)`` cost two jobs (a table's count
        often follows its ``CREATE``). A reliable checkpoint is written by a job of its
        own after the first: it stays eager, and its count is left to a query.
        """
        if self.reliable:
            return self.materialise(df), None
        df = df.localCheckpoint(eager=False)
        return df, int(df.count())

    def put(self, name: str, df, materialise: bool = True, rows: int | None = None) -> None:
        """Register ``df`` as the view ``name``: computed now and checkpointed (its
        number of rows kept, :attr:`counts`), or with ``materialise=False`` kept lazy.
        ``rows``, when the caller knows it, is the number of rows."""
        if materialise:
            df, counted = self.materialise_counted(df)
            rows = counted if counted is not None else rows
        self.drop(name)
        df.createOrReplaceTempView(name)
        self.frames[name] = df
        if rows is not None:
            self.counts[name] = int(rows)

    def sql(self, sql: str, n: int, params: Sequence[Any] | None):
        """A DataFrame of Spark SQL with ``n`` named parameters ``:p0 ...``."""
        params = list(params or [])
        if len(params) != n:
            raise LinkriskError(f"the statement takes {n} parameter(s), {len(params)} given")
        args = {f"p{i}": spark_param(v) for i, v in enumerate(params)}
        return self.spark.sql(sql, args=args) if args else self.spark.sql(sql)

    def run(self, sql: str, params: Sequence[Any] | None):
        """Carry out one statement of the common SQL; return a DataFrame for a query, else None."""
        st, n = to_spark(sql)
        if st.kind == "query":
            return self.sql(st.sql, n, params)
        if st.kind == "create_table":
            self.put(st.name, self.sql(st.sql, n, params))
        elif st.kind == "create_view":
            self.put(st.name, self.sql(st.sql, n, params), materialise=False)
        elif st.kind == "create_empty":
            self.put(st.name, self.spark.createDataFrame([], st.sql), materialise=False, rows=0)
        elif st.kind == "insert":
            self.insert(st, n, params)
        elif st.kind == "rename":
            self.rename(st.name, st.target)
        elif st.kind == "drop":
            self.drop(st.name)
        return None

    def rename(self, name: str, target: str) -> None:
        """``ALTER TABLE name RENAME TO target``: the same DataFrame under the new view name."""
        df, parts = self.frames.pop(name), self.parts.pop(name, None)
        rows = self.counts.pop(name, None)
        self.spark.catalog.dropTempView(name)
        self.drop(target)
        df.createOrReplaceTempView(target)
        self.frames[target] = df
        if parts is not None:
            self.parts[target] = parts
        if rows is not None:
            self.counts[target] = rows

    def insert(self, st: Statement, n: int, params) -> None:
        """``INSERT INTO name [(columns)] query``: the view becomes the union of its parts."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        old = self.frames.get(st.name)
        if old is None:
            raise LinkriskError(f"cannot insert into {st.name!r}: no such table")
        new = self.sql(st.sql, n, params)
        cols = list(st.columns) or old.columns[:len(new.columns)]
        new = new.toDF(*cols)
        types = dict(old.dtypes)
        new = new.select(*[(F.col(f"`{c}`") if c in cols else F.lit(None)).cast(types[c]).alias(c)
                           for c in old.columns])
        # every insert is kept as a part and the view is their union: appending costs no job
        # and no copy of what is already there
        parts = self.parts.pop(st.name, None) or [old]
        parts.append(new.persist(StorageLevel.MEMORY_AND_DISK))
        union = parts[0]
        for part in parts[1:]:
            union = union.unionByName(part)
        union.createOrReplaceTempView(st.name)
        self.frames[st.name] = union
        self.parts[st.name] = parts
        self.counts.pop(st.name, None)  # the new part is not computed yet

    def blank(self, table: str, columns, key: str, values_sql: str, params=None) -> None:
        """Set ``columns`` to NULL in the rows whose ``key`` is among the values of
        ``values_sql`` (its first column). A temporary view cannot be updated: the table is
        rebuilt, joined to the values."""
        from pyspark.sql import functions as F

        st, n = to_spark(f"SELECT DISTINCT * FROM ({values_sql})")
        values = self.sql(st.sql, n, params)
        values = values.select(values.columns[0]).toDF("_blank_k")
        old = self.spark.table(f"`{table}`")
        joined = old.join(values, old[f"`{key}`"] == values["_blank_k"], "left")
        out = joined.select(*[(F.when(F.col("_blank_k").isNull(), old[f"`{c}`"]).alias(c) if c in columns
                               else old[f"`{c}`"]) for c in old.columns])
        self.put(table, out)

    def drop(self, *tables: str) -> None:
        """Drop views. A checkpointed table is left to Spark's cleaner: a lazy table made
        from it may still need its blocks; only the persisted parts of inserts are released."""
        for t in tables:
            self.frames.pop(t, None)
            self.counts.pop(t, None)
            self.spark.catalog.dropTempView(t)
            for part in self.parts.pop(t, []):
                part.unpersist()

    def positions(self, df, cols: list[str], name: str):
        """``df`` (materialised) with ``name`` first: each row's 0-based position in the
        order of the partitions and of the rows within them.

        Positions come from the partition index and the position within the partition
        (``monotonically_increasing_id``), offset by the sizes of earlier partitions: no
        single-partition window over the whole table.
        """
        from pyspark.sql import functions as F

        frame, _ = self.positions_counted(df, cols, name)
        return frame

    def positions_counted(self, df, cols: list[str], name: str):
        """``(frame, rows)``: :meth:`positions`, and the number of rows, which comes with
        the jobs that number them. ``frame`` is a projection of a checkpointed table
        (nothing in it is computed again when it is read)."""
        from pyspark.sql import functions as F

        src, rows = self.materialise_counted(df.select(F.spark_partition_id().alias("_pid"),
                                                       F.monotonically_increasing_id().alias("_mid"),
                                                       *[F.col(f"`{c}`") for c in cols]))
        mask = (1 << 33) - 1
        within = F.expr(f"_mid & {mask}")
        if src.rdd.getNumPartitions() > 1:
            counts = dict(src.groupBy("_pid").count().collect())
            offsets, total = [], 0
            for pid in sorted(counts):
                offsets += [F.lit(int(pid)), F.lit(int(total))]
                total += counts[pid]
            rows = total
            # the offsets as a literal map: no table from the driver, no join
            within = F.element_at(F.create_map(*offsets), F.col("_pid")) + within
        # one partition (a CSV file read whole, say): the position is the one within it
        return src.select(within.cast("bigint").alias(name), *[F.col(f"`{c}`") for c in cols]), rows
