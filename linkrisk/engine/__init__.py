"""Engines: where linkrisk's set-based work runs.

The stages (normalise, release, link, graph, score) describe their work as SQL over
named tables and talk to an :class:`Engine`; only this package imports a database.
DuckDB is the embedded default.
"""

from __future__ import annotations

from linkrisk.engine.base import Engine, quote
from linkrisk.errors import LinkriskError

ENGINES = ("duckdb", "spark")


def make_engine(name: str = "duckdb", **options) -> Engine:
    """Create the engine called ``name`` (``"duckdb"``; ``"spark"`` needs ``linkrisk[spark]``)."""
    if name == "duckdb":
        from linkrisk.engine.duckdb import DuckDBEngine

        return DuckDBEngine(**options)
    raise LinkriskError(f"Unknown engine {name!r}; choose one of {', '.join(ENGINES)}. "
                        "The Spark engine is not available in this version.")


__all__ = ["Engine", "make_engine", "quote", "ENGINES"]
