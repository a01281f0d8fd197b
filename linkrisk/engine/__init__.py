"""Engines: where linkrisk's set-based work runs.

The stages (normalise, release, link, graph, score) describe their work as SQL over
named tables and talk to an :class:`Engine`; only this package imports a database.
DuckDB is the embedded default; Spark (``linkrisk[spark]``) runs the same stages on a
cluster: the few functions it names differently come from its dialect
(:mod:`linkrisk.dialect`), the common syntax is carried over by
:mod:`linkrisk.engine.spark_sql`. Scratch tables live in a workspace
(:mod:`linkrisk.engine.workspace`); a study sees the engine through a
:class:`~linkrisk.engine.namespace.StudyEngine` (:mod:`linkrisk.engine.namespace`).
"""

from __future__ import annotations

from linkrisk.engine.base import Engine, quote
from linkrisk.errors import LinkriskError, MissingDependencyError

ENGINES = ("duckdb", "spark")


def make_engine(name: str = "duckdb", **options) -> Engine:
    """Create the engine called ``name`` (``"duckdb"``; ``"spark"`` needs ``linkrisk[spark]``)."""
    if name == "duckdb":
        from linkrisk.engine.duckdb import DuckDBEngine

        return DuckDBEngine(**options)
    if name == "spark":
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            raise MissingDependencyError(
                "the Spark engine needs PySpark: install it with `pip install 'linkrisk[spark]'` "
                "(and a Java runtime), or use engine = \"duckdb\"")
        from linkrisk.engine.spark import SparkEngine

        return SparkEngine(**options)
    raise LinkriskError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


__all__ = ["Engine", "make_engine", "quote", "ENGINES"]
