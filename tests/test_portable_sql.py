"""Every statement a run sends to the engine is portable: Spark can run it.

The stages write DuckDB's SQL; the Spark engine translates each statement
(``linkrisk/engine/spark_sql.py``: sqlglot plus a small table of rewrites, the dialect).
A DuckDB-only construct added to a stage used to be found only by the slow Spark tests.
This test finds it in seconds and without Java: it records every statement of a DuckDB
run that exercises every linker that runs on Spark and every technique, translates each,
and fails on a statement the translation rejects or on a function Spark does not have.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

import linkrisk as lr
from linkrisk import synth
from linkrisk.engine.duckdb import DuckDBEngine
from linkrisk.engine.spark_sql import to_spark

spark_functions = pytest.importorskip("pyspark.sql.functions")

# Spark SQL functions that pyspark.sql.functions does not name (table-valued or syntax)
SPARK_EXTRA = {"range"}


class RecordingEngine(DuckDBEngine):
    """The DuckDB engine, keeping the text of every statement it runs."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.statements: list[str] = []

    def execute(self, sql, params=None):
        self.statements.append(sql)
        return super().execute(sql, params)

    def df(self, sql, params=None):
        self.statements.append(sql)
        return super().df(sql, params)

    def arrays(self, sql, params=None):
        self.statements.append(sql)
        return super().arrays(sql, params)

    def rows(self, sql, params=None):
        self.statements.append(sql)
        return super().rows(sql, params)

    def write_csv(self, sql, path, params=None):
        self.statements.append(sql)
        return super().write_csv(sql, path, params)


def unportable(sql: str) -> list[str]:
    """Why ``sql`` would fail on Spark: the translation's error, or the functions of its
    Spark text that Spark does not have. Empty when it is portable."""
    try:
        statement, _ = to_spark(sql)
    except Exception as exc:  # the translator refuses what it cannot carry over
        return [f"not translatable: {type(exc).__name__}"]
    if statement.kind in ("drop", "rename", "create_empty") or not statement.sql:
        return []
    tree = sqlglot.parse_one(statement.sql.replace(":p", "p_"), read="spark")
    known = {n.lower() for n in dir(spark_functions) if not n.startswith("_")} | SPARK_EXTRA
    return sorted({f"no Spark function {f.name.lower()}()" for f in tree.find_all(exp.Anonymous)
                   if f.name.lower() not in known})


def test_the_check_finds_a_duckdb_only_function():
    # strip_accents is DuckDB's; Spark has no such function. md5_number is DuckDB's too,
    # but the dialect table rewrites it (to md5), so it is portable.
    assert unportable("SELECT strip_accents(v) FROM t") == ["no Spark function strip_accents()"]
    assert unportable("SELECT md5_number(v) AS h FROM t") == []
    assert unportable("SELECT upper(v) FROM t WHERE x = ?") == []


def test_every_statement_of_a_run_is_portable(tmp_path):
    from linkrisk.face import FACE_TECHNIQUES
    from linkrisk.pseudonymise import TECHNIQUES
    from linkrisk.trajectory import TRACE_TECHNIQUES

    synth.generate(150, seed=2, out=tmp_path)
    params = {"mask": {"keep_first": 3}, "generalise": {"level": 3}, "salted_hash": {"key_scope": "dataset"},
              "keyed_hash": {"key_scope": "dataset"}, "deterministic_encryption": {"key_scope": "global"},
              "tokenise": {"key_scope": "global"}}
    # trace and face-template techniques are refused on Spark with their columns (docs/spark.md)
    spark_techniques = sorted(set(TECHNIQUES) - set(TRACE_TECHNIQUES) - set(FACE_TECHNIQUES))
    statements = []
    # two runs: every technique under the exact linkers (with what-matters and risk), and
    # every linker that runs on Spark on the baseline (the traces linker is refused there:
    # docs/spark.md)
    for linkers, techniques in ((["identifiers", "quasi_identifiers"], spark_techniques),
                                (["identifiers", "quasi_identifiers", "probabilistic", "classic"], [])):
        study = lr.Study.from_toml(tmp_path / "study.toml")
        study.attacker.linkers = linkers
        study.scenarios = [lr.Scenario(t, {"national_id": {"technique": t, **params.get(t, {})},
                                           "phone": {"technique": t, **params.get(t, {})}})
                           for t in techniques]
        study.what_matters = bool(techniques)
        engine = RecordingEngine()  # a result closes its engine
        with study.run(engine=engine) as result:
            result.export_entities(tmp_path / f"entities-{len(linkers)}")
        statements += engine.statements
    assert len(statements) > 300  # the run did run: load, normalise, every scenario
    problems = {}
    for sql in statements:
        why = unportable(sql)
        if why:
            problems.setdefault("; ".join(why), sql[:200])
    assert problems == {}
