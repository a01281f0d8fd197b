"""The Spark engine: the same stages on a Spark cluster (or Spark's local mode).

Install with ``pip install 'linkrisk[spark]'`` (and a Java 17+ runtime). Tables are
Spark temporary views over checkpointed DataFrames; the stages' few engine-specific
functions come from :class:`~linkrisk.dialect.SparkDialect`, and their SQL is carried
over by :mod:`linkrisk.engine.spark_sql`. Temporary views have no namespaces: the
engine holds one study's tables at a time (:mod:`linkrisk.engine.namespace`).
The table statements Spark has no form of (insert into a view, rename, ``UPDATE``) are
emulated on the views by :mod:`linkrisk.engine.spark_views`. Connected components are
computed in the cluster, or on the driver for small graphs
(:mod:`linkrisk.engine.spark_components`), and stay there as a table, which scoring,
ground truth and risk join; only aggregates return to the driver (docs/spark.md). The
session and its settings: :mod:`linkrisk.engine.spark_session`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from linkrisk.engine.base import ROW, Engine, first_line as _first_line, ragged_message
from linkrisk.dialect import SparkDialect
from linkrisk.engine.spark_components import components_table
from linkrisk.engine.spark_session import DEFAULTS, LOCAL_DEFAULTS, RUNTIME, start_session  # noqa: F401
from linkrisk.engine.spark_sql import expression_to_spark
from linkrisk.engine.spark_views import ViewStore
from linkrisk.errors import InputError

def _charset(encoding: str) -> str:
    """Python's name of an encoding in the spelling Spark's CSV reader accepts."""
    import codecs

    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    return {"iso8859-1": "iso-8859-1", "utf-8-sig": "utf-8", "ascii": "us-ascii",
            "utf-16-be": "utf-16be", "utf-16-le": "utf-16le"}.get(name, name)


def _as_text(column: pd.Series) -> pd.Series:
    """A column as text, missing values (None, NaN, NaT, NA) as None."""
    return column.astype(object).where(column.notna(), None).map(lambda v: None if v is None else str(v))


def _schema_of(frame: pd.DataFrame):
    from pyspark.sql import types as T

    fields = []
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            t = T.BooleanType()
        elif pd.api.types.is_integer_dtype(dtype):
            t = T.LongType()
        elif pd.api.types.is_float_dtype(dtype):
            t = T.DoubleType()
        else:
            t = T.StringType()
        fields.append(T.StructField(str(name), t, True))
    return T.StructType(fields)


# Graphs up to this many distinct edges get their components on the driver: each
# in-cluster round is several small jobs, each costing a fixed scheduling time, which on
# the graphs of a test or a sample study is most of the run (the F1 curve alone computes
# six of them). A million edges is 16 MB through Arrow.
DRIVER_COMPONENTS_MAX = 1_000_000


class SparkEngine(Engine):
    """Engine on a Spark session.

    Parameters
    ----------
    master : str, optional
        Spark master URL; default ``LINKRISK_SPARK_MASTER`` or ``SPARK_MASTER`` from the
        environment, else ``local[*]``.
    config : dict, optional
        Spark settings (``{"spark.executor.memory": "8g", ...}``).
    session : pyspark.sql.SparkSession, optional
        Use an existing session instead of creating one (it is then not stopped on close).
    checkpoint_dir : str, optional
        Reliable checkpoints to this folder (HDFS, S3, ...); default: local checkpoints,
        which suffice in local mode and on a cluster whose executors do not fail.
    csv_multiline : bool
        Read quoted line breaks inside CSV fields, as DuckDB does (default). Spark then
        reads each CSV file in one task; for very large inputs, give Parquet (or split
        CSV files) instead, or set this to False.
    driver_components_max : int
        Connected components of a graph with at most this many distinct edges are found
        on the driver (the edges collected through Arrow, scipy's union-find), in one
        Spark job (about six when the graph has over four nodes per edge allowed, whose
        roots are then numbered in the cluster) instead of the 20-60 of the in-cluster rounds;
        larger graphs stay in the cluster. Default :data:`DRIVER_COMPONENTS_MAX` (16 bytes an edge: 16 MB);
        0 keeps every graph in the cluster.
    """

    name = "spark"
    dialect = SparkDialect()

    def __init__(self, master: str | None = None, config: dict[str, Any] | None = None,
                 session=None, checkpoint_dir: str | None = None, csv_multiline: bool = True,
                 driver_components_max: int | None = None):
        settings = dict(config or {})
        self.driver_components_max = int(DRIVER_COMPONENTS_MAX if driver_components_max is None
                                          else driver_components_max)
        if master:
            settings["master"] = master
        if session is None:
            from pyspark.sql import SparkSession

            session = SparkSession.getActiveSession()
        self._own = session is None  # a session the caller started stays theirs
        if session is None:
            session = self.start_session(settings)
        else:
            # the caller's session keeps its temporary views; linkrisk's tables live in a
            # session of their own on the same cluster (two engines never share table names)
            session = session.newSession()
            for key in RUNTIME:
                session.conf.set(key, DEFAULTS[key])
        self.spark = session
        # errors reach the caller as exceptions; Spark would also log each one as a page of JSON
        self.spark.sparkContext.setLogLevel("FATAL")
        checkpoint_dir = checkpoint_dir or settings.get("checkpoint_dir")
        if checkpoint_dir:
            self.spark.sparkContext.setCheckpointDir(str(checkpoint_dir))
        self._reliable = bool(checkpoint_dir)
        self.csv_multiline = bool(settings.get("csv_multiline", csv_multiline))
        self.views = ViewStore(self.spark, self._reliable)  # the tables, and the statements on them
        self._nested: dict[str, list[str]] = {}  # loaded table -> its nested columns

    @staticmethod
    def start_session(settings: dict[str, Any]):
        """Start a Spark session with linkrisk's defaults under ``settings`` (``master``,
        ``app_name`` and any ``spark.*`` option): :func:`linkrisk.engine.spark_session.start_session`."""
        return start_session(settings)

    # tables --------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | None):
        """Carry out one statement; return a DataFrame for a query, else None."""
        return self.views.run(sql, params)

    # loading -------------------------------------------------------------------------
    def _numbered(self, table: str, df) -> list[str]:
        """Register ``df`` as ``table`` with :data:`ROW` (1-based position in the source) first."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, MapType, StructType

        cols = list(df.columns)
        self._nested[table] = [f.name for f in df.schema.fields
                               if isinstance(f.dataType, (ArrayType, MapType, StructType))]
        text = df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in cols])
        out, rows = self.views.positions_counted(text, cols, ROW)
        # a projection of the checkpointed, numbered rows: not checkpointed again (a job fewer)
        self.views.put(table, out.select((F.col(ROW) + 1).alias(ROW), *[F.col(f"`{c}`") for c in cols]),
                       materialise=False, rows=rows)
        return cols

    def load_csv(self, table, path, delimiter, encoding="utf-8"):
        path = Path(path)
        reader = (self.spark.read.option("header", True).option("sep", delimiter)
                  .option("encoding", _charset(encoding)).option("quote", '"').option("escape", '"')
                  .option("mode", "FAILFAST").option("inferSchema", False)
                  .option("maxCharsPerColumn", 67108864).option("multiLine", self.csv_multiline))
        try:
            df = reader.csv(str(path))
            bom = [c for c in df.columns if c.startswith("\ufeff")]
            if bom:  # a spreadsheet's byte-order mark is not part of the first column's name
                df = df.withColumnRenamed(bom[0], bom[0][1:])
            cols = self._numbered(table, df)
        except Exception as exc:  # py4j / Spark analysis errors
            text = str(exc)
            low = text.lower()
            if "malformed" in low:
                raise InputError(ragged_message(path, delimiter, encoding)) from None
            raise InputError(f"{path} could not be read as a table by Spark: {_first_line(text)}") from None
        if encoding.lower().replace("-", "") in ("utf8", "utf8sig") and cols:
            # Spark replaces bytes that are not UTF-8 with U+FFFD instead of failing
            cond = " OR ".join(f"instr(`{c}`, '\ufffd') > 0" for c in cols)
            if self.spark.sql(f"SELECT 1 FROM `{table}` WHERE {cond} LIMIT 1").count():
                self.drop(table)
                raise InputError(f"{path} is not valid UTF-8 text. Re-save it as UTF-8, or set "
                                 "`encoding` for this dataset in the study file.")
        return cols

    def load_parquet(self, table, path):
        path = Path(path)
        try:
            return self._numbered(table, self.spark.read.parquet(str(path)))
        except Exception as exc:
            raise InputError(f"{path} could not be read as Parquet by Spark: {_first_line(str(exc))}") from None

    def load_frame(self, table, frame):
        frame = frame.apply(_as_text)
        frame.insert(0, ROW, np.arange(1, len(frame) + 1, dtype=np.int64), allow_duplicates=True)
        frame.columns = [ROW, *[str(c) for c in frame.columns[1:]]]
        self.views.put(table, self.spark.createDataFrame(frame, _schema_of(frame)), rows=len(frame))
        return list(frame.columns[1:])

    def register_frame(self, table, frame):
        frame = frame.apply(lambda s: _as_text(s) if s.dtype == object else s)
        self.views.put(table, self.spark.createDataFrame(frame, _schema_of(frame)), materialise=False,
                       rows=len(frame))

    # queries -------------------------------------------------------------------------
    def execute(self, sql, params=None):
        df = self._run(sql, params)
        if df is not None:
            df.collect()

    def df(self, sql, params=None):
        # results for reports are small: collecting rows costs one job, where Arrow's
        # transfer costs about twice the time of a small query
        df = self._run(sql, params)
        if df is None:
            return pd.DataFrame()
        rows = df.collect()
        frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=df.columns)
        for i, (name, dtype) in enumerate(df.dtypes):  # the dtypes DuckDB's df() gives
            col = frame.iloc[:, i]
            if dtype in ("bigint", "int", "smallint", "tinyint"):
                col = col.astype(np.int64) if col.notna().all() else col.astype(float)
            elif dtype in ("double", "float"):
                col = col.astype(float)
            elif dtype == "boolean" and col.notna().all():
                col = col.astype(bool)
            elif dtype in ("date", "timestamp", "timestamp_ntz"):
                col = pd.to_datetime(col)
            frame[frame.columns[i]] = col
        return frame

    def arrays(self, sql, params=None):
        df = self._run(sql, params)  # per-record arrays: Arrow, column by column
        frame = df.toPandas()
        return {c: frame[c].to_numpy() for c in frame.columns}

    def rows(self, sql, params=None):
        df = self._run(sql, params)
        return [] if df is None else [tuple(r) for r in df.collect()]

    def write_csv(self, sql, path, params=None):
        """Rows stream to the driver one partition at a time (``toLocalIterator``), in the
        query's order, into a local file: memory stays bounded however many rows there are,
        and the file lands where the user asked, also when the executors are elsewhere."""
        import csv

        from linkrisk.files import atomic_path

        df = self._run(sql, params)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(df.columns)
            for row in df.toLocalIterator(prefetchPartitions=True):
                writer.writerow(["" if v is None else v for v in row])

    def columns(self, table):
        return list(self.spark.table(f"`{table}`").columns)

    def count(self, table):
        """The rows of ``table``: known without a Spark job for a table made by ``CREATE
        TABLE`` (its count comes with the job that computes it,
        :meth:`linkrisk.engine.spark_views.ViewStore.materialise_counted`) or loaded."""
        rows = self.views.counts.get(table)
        return super().count(table) if rows is None else rows

    def tables(self):
        return [t.name for t in self.spark.catalog.listTables()]

    def drop(self, *tables):
        self.views.drop(*tables)

    def close(self):
        self.views.drop(*list(self.views.frames))
        if self._own:
            self.spark.stop()

    @property
    def version(self) -> str:
        return self.spark.version

    # Splink and other engine-specific SQL ----------------------------------------------
    def blank(self, table, columns, key, values_sql, params=None):
        """A temporary view cannot be updated: the table is rebuilt, joined to the values
        (:meth:`linkrisk.engine.spark_views.ViewStore.blank`)."""
        self.views.blank(table, columns, key, values_sql, params)

    def dialect_expr(self, sql):
        return expression_to_spark(sql)

    def splink_api(self):
        """Splink's SparkAPI on this session, its intermediate tables checkpointed.

        Splink breaks the lineage of its intermediate tables (blocked pairs, comparison
        vectors, predictions) by persisting them unless told to checkpoint. A persisted
        table keeps its whole plan, which Spark's analyser walks again for every
        statement that reads it: each EM iteration and the prediction. On the test
        suite's 300-person study that was 2-7 s a statement (stack samples: the
        analyser's DeduplicateRelations and InlineCTE); checkpointed, 1-2.5 s. A local
        session without a checkpoint folder gets one in the scratch space (removed when
        Python exits); a cluster session without one (``checkpoint_dir``) keeps
        persisting. Never Parquet in the working directory (Splink's default).
        """
        from splink import SparkAPI

        from linkrisk.files import scratch_dir

        sc = self.spark.sparkContext
        if sc.getCheckpointDir() is None and sc.master.startswith("local"):
            sc.setCheckpointDir(scratch_dir("linkrisk-spark-checkpoints-"))
        return SparkAPI(spark_session=self.spark,
                        break_lineage_method="checkpoint" if sc.getCheckpointDir() else "persist")

    def splink_table(self, table):
        return self.spark.table(f"`{table}`")

    # graph ---------------------------------------------------------------------------
    def component_labels(self, pairs_table: str, n_nodes: int) -> np.ndarray:
        """:meth:`components_table`, brought to the driver (for small graphs and tests)."""
        with self.workspace("cc") as ws:
            labels = self.components_table(pairs_table, n_nodes, ws.table("_cc_labels"))
            return self.arrays(f"SELECT e FROM {labels} ORDER BY _rid")["e"].astype(np.int64)

    def components_table(self, pairs_table: str, n_nodes: int, table: str) -> str:
        """Connected components as the table ``table(_rid, e)``: on the driver (scipy) for
        a graph of at most :attr:`driver_components_max` distinct edges, else in the
        cluster by min-label propagation with pointer jumping
        (:func:`linkrisk.engine.spark_components.components_table`); entity ids run from 0
        as on DuckDB. ``last_component_rounds`` is the number of in-cluster rounds."""
        self.last_component_rounds = components_table(self.views, pairs_table, n_nodes, table,
                                                      self.driver_components_max)
        return table
