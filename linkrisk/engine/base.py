"""The engine interface the stages talk to."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from linkrisk.dialect import Dialect
from linkrisk.errors import LinkriskError
from linkrisk.tables import ROW  # noqa: F401 (the engines name the row column)

NESTED_TYPES = ("[]", "STRUCT", "MAP", "UNION", "ARRAY", "LIST")  # type names of nested columns


def quote(identifier: str) -> str:
    """Quote an SQL identifier (table or column name) so any text is safe in it.

    Examples
    --------
    >>> quote('birth date')
    '"birth date"'
    >>> quote('a"b')
    '"a""b"'
    """
    return '"' + str(identifier).replace('"', '""') + '"'


def first_line(text: str) -> str:
    """An engine's error message cut to its first line, with anything that could be a data
    value taken out: DuckDB's "Original Line" part, quoted values, long digit runs.

    >>> first_line("Conversion Error: '13812345678' is not a date\\nmore")
    "Conversion Error: '…' is not a date"
    """
    import re

    line = text.strip().splitlines()[0] if text.strip() else text
    line = line.split("Original Line", 1)[0]
    line = re.sub(r"'[^']*'", "'…'", line)
    line = re.sub(r"\d{6,}", "…", line)
    return line[:300]


RAGGED_SCAN_CHARS = 1_000_000_000  # how much of a file the error path reads for the line


def first_ragged_line(path, delimiter: str, encoding: str = "utf-8",
                      limit: int = RAGGED_SCAN_CHARS) -> int | None:
    """The line on which a CSV file's first row with more or fewer fields than its header
    starts.

    Read with Python's csv module as the engines read the file (``"`` quotes, doubled
    inside a field, which may hold line breaks); blank lines are skipped, the first
    non-blank row is the header. Only the line number is returned, never the row.
    None when every row matches, when the file cannot be read here, or when no such row
    is found in its first ``limit`` characters (the engine's own message still stands;
    this only names the line, and should not keep the user waiting to do so).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text('id,note\\n1,"a, b"\\n\\n2,"x\\ny",z\\n')
    >>> first_ragged_line(path, ",")
    4
    """
    import codecs
    import csv

    if not isinstance(delimiter, str) or len(delimiter) != 1:
        return None

    class _Enough(Exception):
        pass

    def lines(fh):
        read = 0
        for line in fh:
            read += len(line)
            if read > limit:
                raise _Enough
            yield line

    try:
        codecs.lookup(encoding)
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(lines(fh), delimiter=delimiter, quotechar='"', doublequote=True)
            header = next((row for row in reader if row), None)
            if header is None:
                return None
            start = reader.line_num + 1  # the line the next row starts on
            for row in reader:
                if row and len(row) != len(header):
                    return start
                start = reader.line_num + 1
    except (OSError, ValueError, LookupError, UnicodeError, csv.Error, _Enough):
        return None  # unreadable here, or too long to read through: no line to name
    return None


def ragged_message(path, delimiter: str, encoding: str = "utf-8") -> str:
    """What every engine says of a CSV file whose rows do not match its header: what to
    check, and the line of the first such row when it can be found."""
    line = first_ragged_line(path, delimiter, encoding)
    return (f"{path} has rows with a different number of fields than its header (ragged rows, "
            "or the wrong delimiter). Check the delimiter (set `delimiter` for this dataset) and "
            "the quoting of the file."
            + (f" The first row that differs is line {line} of the file." if line else ""))


def components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each node of an undirected graph.

    Parameters
    ----------
    n_nodes : int
        Nodes are ``0 .. n_nodes - 1``.
    a, b : array of int
        Edge end points.

    Returns
    -------
    ndarray of int64
        ``labels[i]`` is the component of node ``i``; components are numbered in order
        of their smallest node, from 0.

    Examples
    --------
    >>> components(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    if n_nodes == 0:
        return np.zeros(0, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes)).tocsr()
    _, labels = connected_components(m, directed=False)
    return labels.astype(np.int64)


class Engine(ABC):
    """Runs set-based work over named tables.

    Every loaded table gets a first column :data:`ROW` (``__linkrisk_row``): the 1-based
    position of the row in its source, so a record without an id column can still be
    named. The name is linkrisk's own, so that no user column (``_row``, ``rowid``) can
    collide with it; a file with a column of that very name is refused. Every input
    column is read as text, so that leading zeros survive.
    """

    name: str = "engine"
    #: the SQL functions this engine names its own way (:mod:`linkrisk.dialect`)
    dialect: Dialect = Dialect()
    #: whether the engine keeps several studies' tables apart (:meth:`use_namespace`)
    namespaces: bool = False

    @abstractmethod
    def load_csv(self, table: str, path: Path, delimiter: str, encoding: str = "utf-8") -> list[str]:
        """Load a CSV file (header row, every column text) into ``table``; return its columns."""

    @abstractmethod
    def load_parquet(self, table: str, path: Path) -> list[str]:
        """Load a Parquet file into ``table`` (every column cast to text); return its columns."""

    @abstractmethod
    def load_frame(self, table: str, frame: pd.DataFrame) -> list[str]:
        """Load a pandas DataFrame into ``table`` (every column cast to text)."""

    def nested_columns(self, table: str) -> list[str]:
        """Columns of a loaded ``table`` whose values are nested (lists, structs, maps):
        linkrisk compares text, and the text of a list (``[]``) would link as one value."""
        return list(getattr(self, "_nested", {}).get(table, []))

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement that returns nothing of interest."""

    @abstractmethod
    def df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a query; return the (small) result as a DataFrame."""

    @abstractmethod
    def arrays(self, sql: str, params: Sequence[Any] | None = None) -> dict[str, np.ndarray]:
        """Run a query; return its columns as numpy arrays (for large numeric results)."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run a query; return its rows as tuples (for small results)."""

    @abstractmethod
    def register_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Make a DataFrame queryable as ``table`` (as a view when the engine can)."""

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables and views that exist."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources."""

    def component_labels(self, pairs_table: str, n_nodes: int) -> np.ndarray:
        """Connected-component label of every record (index = record id - 1) of the graph
        whose edges are the rows ``(a, b)`` of ``pairs_table`` (record ids from 1).

        Components are numbered in order of their smallest record, from 0. This default
        brings the edges to Python and uses scipy (:func:`linkrisk.graph.components`);
        a distributed engine computes them in the cluster.
        """
        arr = self.arrays(f"SELECT a, b FROM {quote(pairs_table)}")
        return components(n_nodes, np.asarray(arr["a"], dtype=np.int64) - 1,
                          np.asarray(arr["b"], dtype=np.int64) - 1)

    def components_table(self, pairs_table: str, n_nodes: int, table: str) -> str:
        """Create ``table(_rid, e)``: the connected component ``e`` of every record
        ``1 .. n_nodes`` (numbered as :meth:`component_labels` numbers them) of the graph
        whose edges are the rows ``(a, b)`` of ``pairs_table``. Returns ``table``.

        The stages after the graph (scoring, ground truth, risk) join this table; the
        labels stay in the engine. This default computes them with
        :meth:`component_labels` and loads them back.
        """
        labels = self.component_labels(pairs_table, n_nodes)
        frame = pd.DataFrame({"_rid": np.arange(1, n_nodes + 1, dtype=np.int64), "e": labels.astype(np.int64)})
        with self.workspace("cc") as ws:
            self.create(table, f"SELECT _rid, e FROM {ws.register_frame('_cc_frame', frame)}")
        return table

    def write_csv(self, sql: str, path: Path, params: Sequence[Any] | None = None) -> None:
        """Write a query's rows, in its order, as a CSV file with a header (comma, ``"``
        quoting where needed, ``\\n`` line ends): through a temporary file renamed into
        place, so an interrupted write leaves nothing. The engines stream rows from their
        tables to the file; this default goes through a pandas DataFrame."""
        from linkrisk.files import atomic_write

        atomic_write(Path(path), self.df(sql, params).to_csv(index=False, lineterminator="\n"))

    def blank(self, table: str, columns: Sequence[str], key: str, values_sql: str,
              params: Sequence[Any] | None = None) -> None:
        """Set ``columns`` of ``table`` to NULL in the rows whose ``key`` is one of the
        values the query ``values_sql`` returns (its first column)."""
        sets = ", ".join(f"{quote(c)} = NULL" for c in columns)
        self.execute(f"UPDATE {quote(table)} SET {sets} WHERE {quote(key)} IN ({values_sql})", params)

    def use_namespace(self, namespace: str) -> None:
        """Name tables, from now on, in ``namespace`` (created if new): two studies on one
        engine each keep their tables apart, under the same names. The default namespace
        is ``"main"``; an engine that cannot keep namespaces apart accepts only that one."""
        if namespace != "main":
            raise LinkriskError(f"the {self.name} engine holds the tables of one study at a time")

    def drop_namespace(self, namespace: str) -> None:
        """Drop every table of ``namespace`` (not ``"main"``)."""

    def dialect_expr(self, sql: str) -> str:
        """A portable SQL expression (a Splink comparison level, say) in this engine's
        syntax; its engine-specific functions come from :attr:`dialect`."""
        return sql

    def splink_api(self):
        """A Splink database API on this engine's own connection or session."""
        raise NotImplementedError(f"the {self.name} engine does not run Splink")

    def splink_table(self, table: str):
        """What ``splink_api().register()`` takes for the engine table ``table``."""
        return table

    # Conveniences built on the primitives above -------------------------------------
    def workspace(self, label: str = "ws"):
        """A :class:`~linkrisk.engine.workspace.Workspace` on this engine: scratch tables
        under a prefix of their own, dropped when it closes (``with engine.workspace("link") as ws``)."""
        from linkrisk.engine.workspace import Workspace

        return Workspace(self, label)

    def create(self, table: str, sql: str, params: Sequence[Any] | None = None) -> None:
        """``CREATE OR REPLACE TABLE table AS sql``."""
        self.execute(f"CREATE OR REPLACE TABLE {quote(table)} AS {sql}", params)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The single value a query returns."""
        out = self.rows(sql, params)
        return out[0][0] if out else None

    def count(self, table: str) -> int:
        """Number of rows of ``table``."""
        return int(self.scalar(f"SELECT count(*) FROM {quote(table)}"))

    def columns(self, table: str) -> list[str]:
        """Column names of ``table``."""
        return list(self.df(f"SELECT * FROM {quote(table)} LIMIT 0").columns)

    def drop(self, *tables: str) -> None:
        """Drop tables (or views) if they exist."""
        for t in tables:
            self.execute(f"DROP TABLE IF EXISTS {quote(t)}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
