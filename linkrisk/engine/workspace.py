"""Scratch tables under a prefix of their own, dropped together when the work ends.

A stage's scratch tables (candidates, counts, hub lists: tables that live inside one
step) used to have fixed names (``_cand``, ``_idv``), so two pieces of work on one
engine would overwrite each other's, and a step that failed left its tables behind.
A :class:`Workspace` names them under a prefix no other workspace has, records every
table made through it, and drops them all when it closes, errors included: as Splink's
``DatabaseAPI`` records the tables it creates (``splink/internals/database_api.py``).
Tables that pass between stages are not scratch: :mod:`linkrisk.tables` names them.
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from linkrisk.engine.base import Engine

_numbers = itertools.count(1)  # one process-wide sequence: no two workspaces share a prefix


class Workspace:
    """The scratch tables of one piece of work on ``engine``.

    Parameters
    ----------
    engine : Engine
        Where the tables live.
    label : str
        A word for the work (``"link"``, ``"attack"``), part of the prefix, so that a
        table left in a debugger session says whose it is.

    Examples
    --------
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> with Workspace(engine, "demo") as ws:
    ...     t = ws.create("_n", "SELECT 1 AS x")
    ...     t.startswith("_demo") and t.endswith("_n"), engine.count(t)
    (True, 1)
    >>> t in engine.tables()  # dropped on exit
    False
    """

    def __init__(self, engine: "Engine", label: str = "ws"):
        if not label.isidentifier():
            raise ValueError("a workspace label is a word (letters, digits, _)")
        self.engine = engine
        self.prefix = f"_{label}{next(_numbers)}"
        self._tables: dict[str, str] = {}  # short name -> table, in the order first named

    def table(self, name: str) -> str:
        """The engine table that this workspace calls ``name`` (``_cand`` becomes
        ``_attack7_cand``). Naming a table makes it the workspace's: it is dropped when
        the workspace closes, whoever created it."""
        full = self._tables.get(name)
        if full is None:
            full = self._tables[name] = f"{self.prefix}_{name.lstrip('_')}"
        return full

    __getitem__ = table

    def create(self, name: str, sql: str, params: Sequence[Any] | None = None) -> str:
        """``CREATE OR REPLACE TABLE`` the workspace's ``name`` as ``sql``; returns its table."""
        table = self.table(name)
        self.engine.create(table, sql, params)
        return table

    def register_frame(self, name: str, frame: "pd.DataFrame") -> str:
        """Make a DataFrame queryable as the workspace's ``name``; returns its table."""
        table = self.table(name)
        self.engine.register_frame(table, frame)
        return table

    def drop(self, *names: str) -> None:
        """Drop some of the workspace's tables now (those never named are ignored)."""
        tables = [self._tables.pop(n) for n in names if n in self._tables]
        if tables:
            self.engine.drop(*tables)

    def close(self) -> None:
        """Drop every table of the workspace, the last made first."""
        tables = list(reversed(self._tables.values()))
        self._tables.clear()
        if tables:
            self.engine.drop(*tables)

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # the error that ended the work is the one to see, not a failed clean-up
            self.close()
        except Exception:
            pass


def scratch(label: str):
    """Decorate a stage function ``f(engine, ..., *, ws)``: each call gets a fresh
    :class:`Workspace` ``ws`` on ``engine``, closed (its tables dropped) when the call
    returns or fails. The function's body keeps its shape; its scratch tables are
    ``ws.table("_name")``."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(engine, *args, **kwargs):
            with Workspace(engine, label) as ws:
                return fn(engine, *args, ws=ws, **kwargs)
        return run
    return wrap


__all__ = ["Workspace", "scratch"]
