"""The DuckDB engine: in-process, multi-threaded, spills to disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from linkrisk.engine.base import NESTED_TYPES, ROW, Engine, first_line as _first_line, quote, ragged_message
from linkrisk.errors import InputError, LinkriskError


def _explain(path: Path, exc: Exception, delimiter: str = ",", encoding: str = "utf-8") -> str:
    text = str(exc)
    low = text.lower()
    not_utf8 = (f"{path} is not valid UTF-8 text. Re-save it as UTF-8, or set "
                f"`encoding` for this dataset in the study file.")
    # DuckDB's own words for bad bytes first: its sniffing errors mention "utf-8" and
    # "encoding" among their generic hints, so those words alone do not mean bad bytes.
    if "invalid unicode" in low or "not utf-8 encoded" in low:
        return not_utf8
    if "does not support the encoding" in low:
        return (f"{path}: its `encoding` is not one the CSV reader supports (utf-8, utf-16, "
                f"latin-1). Re-save the file as UTF-8 and leave `encoding` out.")
    if ("expected" in low and "column" in low) or "too many columns" in low or "sniff" in low:
        return f"{ragged_message(path, delimiter, encoding)} DuckDB said: {_first_line(text)}"
    if "unicode" in low or "utf-8" in low or "utf8" in low or "encoding" in low:
        return not_utf8
    return f"{path} could not be read as a table. DuckDB said: {_first_line(text)}"


class DuckDBEngine(Engine):
    """Engine on an in-process DuckDB connection.

    Parameters
    ----------
    database : str
        ``":memory:"`` (default) or a file for a persistent database.
    threads : int, optional
        Worker threads (DuckDB's default: every core).
    memory_limit : str, optional
        DuckDB memory limit such as ``"4GB"`` (DuckDB's default: 80% of the machine's
        memory); work beyond it spills to ``temp_directory``.
    temp_directory : str, optional
        Where DuckDB spills; default: a fresh folder under the system's temporary
        directory, removed when the engine closes (DuckDB's own default, ``.tmp`` in the
        working directory, would leave gigabytes beside the user's files).
    connection : duckdb.DuckDBPyConnection, optional
        Reuse an existing connection instead of opening one.
    """

    name = "duckdb"
    namespaces = True  # a DuckDB schema per namespace

    def __init__(self, database: str = ":memory:", threads: int | None = None,
                 memory_limit: str | None = None, connection=None, temp_directory: str | None = None):
        own = connection is None
        if own:
            connection = duckdb.connect(database)
            # linkrisk never reaches the network (docs/security.md): DuckDB would
            # otherwise try to download an extension it knows of (``encodings`` for an
            # unsupported CSV encoding, for one) the first time a query needs it.
            connection.execute("SET autoinstall_known_extensions = false")
        self.con = connection
        # linkrisk reports its own progress; DuckDB's bar would print into pipes and notebooks
        try:
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error:  # in Jupyter without ipywidgets DuckDB refuses; it shows no bar there
            pass
        self._own_temp = None
        if own or temp_directory:  # a connection the caller opened keeps its own setting
            # always a private folder of this engine (inside the one the user named, if
            # any), removed when the engine closes: spill files hold raw values, and a
            # shared folder could not be cleaned without touching other programs' files
            from linkrisk.files import scratch_dir

            try:
                self._own_temp = scratch_dir("linkrisk-duckdb-", temp_directory)
            except OSError as exc:
                raise LinkriskError(f"DuckDB's temp_directory cannot be used: {exc.strerror or exc} "
                                    "(give a folder linkrisk can write)") from None
            self.con.execute("SET temp_directory = ?", [str(self._own_temp)])
        try:
            if threads:
                self.con.execute(f"SET threads = {int(threads)}")
            if memory_limit:
                self.con.execute("SET memory_limit = ?", [str(memory_limit)])
        except duckdb.Error as exc:
            raise LinkriskError(f"DuckDB setting not accepted: {_first_line(str(exc))} (memory_limit takes a "
                                "size such as \"4GB\" or \"500MB\"; threads a whole number)") from None
        self._namespace = "main"  # DuckDB's default schema
        self._kept: dict[str, tuple[dict, dict, dict]] = {}  # per namespace: frames, views, nested

    # per namespace: registered DataFrames, views over loaded tables (view -> the table
    # under it), loaded tables' nested columns
    @property
    def _frames(self) -> dict[str, pd.DataFrame]:
        return self._kept.setdefault(self._namespace, ({}, {}, {}))[0]

    @property
    def _views(self) -> dict[str, str]:
        return self._kept.setdefault(self._namespace, ({}, {}, {}))[1]

    @property
    def _nested(self) -> dict[str, list[str]]:
        return self._kept.setdefault(self._namespace, ({}, {}, {}))[2]

    def use_namespace(self, namespace):
        if namespace == self._namespace:
            return
        if namespace != "main":
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(namespace)}")
        self.con.execute(f"SET schema = {_literal(namespace)}")
        self._namespace = namespace

    def drop_namespace(self, namespace):
        if namespace == "main":
            return
        if self._namespace == namespace:
            self.use_namespace("main")
        for t in list(self._kept.get(namespace, ({}, {}, {}))[0]):
            self.con.unregister(t)
        self._kept.pop(namespace, None)
        self.con.execute(f"DROP SCHEMA IF EXISTS {quote(namespace)} CASCADE")

    # loading --------------------------------------------------------------------------
    def load_csv(self, table, path, delimiter, encoding="utf-8"):
        # skip = 0: the header is the first line. Left to itself, DuckDB's sniffer takes a
        # ragged row (more fields than the header) for the header and skips every row
        # before it, silently loading nothing; with skip = 0 it reports the ragged row.
        path = Path(path)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TABLE {quote(table + '__src')} AS SELECT * FROM read_csv(?, "
                "delim = ?, header = true, skip = 0, all_varchar = true, strict_mode = true, "
                "quote = '\"', escape = '\"', encoding = ?, max_line_size = 67108864)",
                [str(path), delimiter, encoding])
        except duckdb.Error as exc:
            raise InputError(_explain(path, exc, delimiter, encoding)) from None
        return self._number_rows(table)

    def load_parquet(self, table, path):
        path = Path(path)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {quote(table + '__src')} AS "
                             "SELECT * FROM read_parquet(?)", [str(path)])
        except duckdb.Error as exc:
            raise InputError(f"{path} could not be read as Parquet. DuckDB said: "
                             f"{_first_line(str(exc))}") from None
        return self._number_rows(table, cast=True)

    def load_frame(self, table, frame):
        view = table + "__frame"
        self.con.register(view, frame)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {quote(table + '__src')} AS "
                             f"SELECT * FROM {quote(view)}")
        finally:
            self.con.unregister(view)
        return self._number_rows(table, cast=True)

    def _number_rows(self, table: str, cast: bool = False) -> list[str]:
        src = quote(table + "__src")
        described = self.con.execute(f"DESCRIBE {src}").fetchall()
        cols = [r[0] for r in described]
        self._nested[table] = [r[0] for r in described
                               if any(t in str(r[1]).upper() for t in NESTED_TYPES)]
        # rowid is the insertion position, i.e. the row's position in the source; a user
        # column named rowid (in any case) would hide it, so such a column is renamed in
        # the loaded table and shown under its own name by the view
        stored = {}
        for j, c in enumerate(cols):
            stored[c] = c
            if c.casefold() == "rowid":
                stored[c] = f"__linkrisk_col{j}"
                self.con.execute(f"ALTER TABLE {src} RENAME COLUMN {quote(c)} TO {quote(stored[c])}")
        exprs = ", ".join(
            (f"CAST({quote(stored[c])} AS VARCHAR) AS {quote(c)}" if cast else
             f"{quote(stored[c])} AS {quote(c)}") for c in cols)
        # A view over the loaded table numbers the rows without copying them.
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(table)} AS "
                         f"SELECT rowid + 1 AS {ROW}, {exprs} FROM {src}")
        self._views[table] = table + "__src"
        return cols

    def register_frame(self, table, frame):
        self._frames[table] = frame
        self.con.register(table, frame)

    # queries --------------------------------------------------------------------------
    def execute(self, sql, params=None):
        self.con.execute(sql, params or [])

    def df(self, sql, params=None):
        return self.con.execute(sql, params or []).df()

    def arrays(self, sql, params=None):
        return {k: np.asarray(v) for k, v in self.con.execute(sql, params or []).fetchnumpy().items()}

    def rows(self, sql, params=None):
        return self.con.execute(sql, params or []).fetchall()

    def columns(self, table):
        return [r[0] for r in self.con.execute(f"DESCRIBE {quote(table)}").fetchall()]

    def tables(self):
        # the current namespace's tables, and the DataFrames registered on the connection
        return [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() OR table_catalog = 'temp'").fetchall()]

    def drop(self, *tables):
        for t in tables:
            if t in self._frames:
                self.con.unregister(t)
                del self._frames[t]
            elif t in self._views:
                self.con.execute(f"DROP VIEW IF EXISTS {quote(t)}")
                self.con.execute(f"DROP TABLE IF EXISTS {quote(self._views.pop(t))}")
            else:
                self.con.execute(f"DROP TABLE IF EXISTS {quote(t)}")

    def splink_api(self):
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def write_csv(self, sql, path, params=None):
        from linkrisk.files import atomic_path

        with atomic_path(path) as tmp:
            self.con.execute(f"COPY ({sql}) TO {_literal(tmp)} (FORMAT csv, HEADER, DELIMITER ',')",
                             params or [])

    def close(self):
        self.con.close()
        if self._own_temp:
            shutil.rmtree(self._own_temp, ignore_errors=True)

    @property
    def version(self) -> str:
        return duckdb.__version__


def _literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"

