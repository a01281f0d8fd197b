"""Every statement a run sends to the engine is portable: Spark can run it.

The stages write portable SQL and take the few functions engines name differently from
their engine's dialect (``linkrisk/dialect.py``: one small table per engine); the Spark
engine carries the common syntax over with sqlglot (``linkrisk/engine/spark_sql.py``).
A DuckDB-only construct added to a stage used to be found only by the slow Spark tests.
This test finds it in seconds and without Java: it records every statement of a DuckDB
run that exercises every linker that runs on Spark and every technique, and fails

- on a function of the dialect table written by a stage itself instead of through
  ``engine.dialect`` (it would be DuckDB's spelling on Spark too), and
- on a statement that, with Spark's dialect answers in place of DuckDB's, the
  translation rejects, or that calls a function Spark does not have.

The run uses a marking dialect: DuckDB's answers, each wrapped in two SQL comments, the
first holding Spark's answer to the same question (``/*<spark>*/duckdb/*>*/``). DuckDB
runs the statements unchanged (comments are ignored); the test reads Spark's statement
by putting the first comment's text in place of each marked span.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

import linkrisk as lr
from linkrisk import synth
from linkrisk.dialect import Dialect, SparkDialect
from linkrisk.engine.duckdb import DuckDBEngine
from linkrisk.engine.spark_sql import to_spark

spark_functions = pytest.importorskip("pyspark.sql.functions")

# Spark SQL functions that pyspark.sql.functions does not name (table-valued or syntax)
SPARK_EXTRA = {"range"}
OPEN, CLOSE = "/*<", "/*>*/"
HAN = r"(?:\p{Han})"  # the marking dialect's Han class: a bare \p{Han} did not come from it


def _spans(sql: str):
    """(start, end, spark text) of each outermost marked span of ``sql``."""
    i, out = 0, []
    while (start := sql.find(OPEN, i)) >= 0:
        head_end = sql.index(">*/", start)
        depth, j = 1, head_end + 3
        while depth:
            nxt_open, nxt_close = sql.find(OPEN, j), sql.find(CLOSE, j)
            if nxt_open != -1 and nxt_open < nxt_close:
                depth, j = depth + 1, sql.index(">*/", nxt_open) + 3
            else:
                depth, j = depth - 1, nxt_close + len(CLOSE)
        out.append((start, j, sql[start + len(OPEN):head_end]))
        i = j
    return out


def _replace_spans(sql: str, by) -> str:
    parts, last = [], 0
    for start, end, spark in _spans(sql):
        parts += [sql[last:start], by(spark)]
        last = end
    return "".join(parts) + sql[last:]


def as_spark(sql: str) -> str:
    """The statement with Spark's dialect answers in place of DuckDB's."""
    return _replace_spans(sql, lambda spark: spark).replace(HAN, r"(?:\p{IsHan})")


def direct_uses(sql: str) -> list[str]:
    """Functions of the dialect table that ``sql`` calls outside the dialect's answers."""
    rest = _replace_spans(sql, lambda spark: "")
    found = [f"{f}()" for f in Dialect.FUNCTIONS if re.search(rf"\b{f}\s*\(", rest, re.I)]
    if re.search(r"'g'\s*\)", rest):
        found.append("regexp_replace(..., 'g')")
    if r"\p{Han}" in rest.replace(HAN, ""):
        found.append(r"\p{Han}")
    return found


class MarkingDialect(Dialect):
    """DuckDB's answers, each marked with Spark's (see the module's docstring)."""

    han = HAN


def _marked(name):
    def method(self, *args):
        duck = getattr(Dialect, name)(self, *args)
        spark = getattr(SparkDialect, name)(SparkDialect(), *(as_spark(a) if isinstance(a, str) else a for a in args))
        assert "*/" not in spark
        return f"{OPEN}{spark}>*/{duck}{CLOSE}"
    return method


for _name in Dialect.METHODS:
    setattr(MarkingDialect, _name, _marked(_name))


class RecordingEngine(DuckDBEngine):
    """The DuckDB engine with the marking dialect, keeping the text of every statement it runs."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.dialect = MarkingDialect()
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
    """Why ``sql`` (Spark's statement) would fail on Spark: the translation's error, or
    the functions of its Spark text that Spark does not have. Empty when it is portable."""
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
    # strip_accents is DuckDB's; Spark has no such function. md5 is both engines'.
    assert unportable("SELECT strip_accents(v) FROM t") == ["no Spark function strip_accents()"]
    assert unportable("SELECT md5(v) AS h FROM t") == []
    assert unportable("SELECT upper(v) FROM t WHERE x = ?") == []
    # md5_number is DuckDB's alone: the translation no longer rewrites it, the dialect answers
    assert unportable("SELECT md5_number(v) AS h FROM t") == ["no Spark function md5_number()"]


def test_the_check_finds_a_dialect_function_written_directly():
    d = MarkingDialect()
    through = f"SELECT {d.hash_key('v')}, {d.regexp_replace_all(d.char(31), 'a', 'b')} FROM t"
    assert direct_uses(through) == []
    # Spark's statement: md5 for md5_number, no 'g' flag, the character itself for chr(31)
    assert as_spark(through) == "SELECT md5(v), regexp_replace('\x1f', 'a', 'b') FROM t"
    assert direct_uses("SELECT md5_number(v), hash(a, b), regexp_replace(v, 'a', 'b', 'g') FROM t") == [
        "md5_number()", "hash()", "regexp_replace(..., 'g')"]
    assert direct_uses(r"SELECT regexp_matches(v, '\p{Han}') FROM t") == [r"\p{Han}"]
    assert direct_uses(f"SELECT regexp_matches(v, '{d.han}+') FROM t") == []
    # the marks nest: an answer inside an answer's arguments
    nested = d.regexp_full_match(d.parse_time("x", "%Y%m%d"), "[0-9]+")
    assert direct_uses(nested) == []
    assert as_spark(nested) == "regexp_matches(try_to_timestamp(x, 'yyyyMMdd'), '^(?:[0-9]+)$')"


# A list aggregate ordered by its own value (Spark's collect_list keeps no order)
@pytest.mark.parametrize("duck, spark", [
    ("SELECT g, list(x ORDER BY x) FROM t GROUP BY g", "SELECT g, SORT_ARRAY(COLLECT_LIST(x), TRUE) FROM t GROUP BY g"),
    ("SELECT array_agg(lower(x) ORDER BY lower(x) DESC) FROM t", "SELECT SORT_ARRAY(COLLECT_LIST(LOWER(x)), FALSE) FROM t"),
    ("SELECT list(DISTINCT x ORDER BY x) FROM t", "SELECT SORT_ARRAY(COLLECT_LIST(DISTINCT x), TRUE) FROM t"),
    # the FILTER and OVER belong to the aggregate, inside the sort
    ("SELECT list(x ORDER BY x) FILTER (WHERE x > ?) FROM t",
     "SELECT SORT_ARRAY(COLLECT_LIST(x) FILTER(WHERE x > :p0), TRUE) FROM t"),
    ("SELECT list(x ORDER BY x) OVER (PARTITION BY g) FROM t",
     "SELECT SORT_ARRAY(COLLECT_LIST(x) OVER (PARTITION BY g), TRUE) FROM t"),
    ("SELECT list(x) FROM t", "SELECT COLLECT_LIST(x) FROM t"),  # no order asked, none given
])
def test_an_ordered_list_keeps_its_order_on_spark(duck, spark):
    # sqlglot alone printed COLLECT_LIST(x) for each of the first five: the ORDER BY gone
    statement, _ = to_spark(duck)
    assert statement.sql == spark
    assert unportable(duck) == []  # sort_array is Spark's


@pytest.mark.parametrize("duck", ["SELECT array_agg(x ORDER BY k) FROM t", "SELECT list(x ORDER BY x, k) FROM t",
                                  "SELECT g, list(x ORDER BY k DESC) FILTER (WHERE x > 1) FROM t GROUP BY g"])
def test_a_list_ordered_by_another_key_is_refused_for_spark(duck):
    # Spark's collect_list keeps no order and no sort of the list alone can restore an
    # order by another column: refused when translated, not run unordered
    with pytest.raises(lr.LinkriskError, match="cannot translate .* for Spark: a list ordered by anything but"):
        to_spark(duck)


@pytest.fixture(scope="module")
def statements(tmp_path_factory):
    """Every statement of two DuckDB runs (marking dialect): every technique under the
    exact linkers (with what-matters and risk), and every linker that runs on Spark on
    the baseline (the traces linker is refused there: docs/spark.md)."""
    from linkrisk.face import FACE_TECHNIQUES
    from linkrisk.pseudonymise import TECHNIQUES
    from linkrisk.trajectory import TRACE_TECHNIQUES

    tmp_path = tmp_path_factory.mktemp("portable")
    synth.generate(150, seed=2, out=tmp_path)
    params = {"mask": {"keep_first": 3}, "generalise": {"level": 3}, "salted_hash": {"key_scope": "dataset"},
              "keyed_hash": {"key_scope": "dataset"}, "deterministic_encryption": {"key_scope": "global"},
              "tokenise": {"key_scope": "global"}}
    # trace and face-template techniques are refused on Spark with their columns (docs/spark.md)
    spark_techniques = sorted(set(TECHNIQUES) - set(TRACE_TECHNIQUES) - set(FACE_TECHNIQUES))
    out = []
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
        out += engine.statements
    return out


def test_every_statement_of_a_run_is_portable(statements):
    assert len(statements) > 300  # the run did run: load, normalise, every scenario
    # the dialect was asked: hashing, dates, regular expressions, characters
    assert sum(OPEN in s for s in statements) > 50
    direct, problems = {}, {}
    for sql in statements:
        if why := direct_uses(sql):
            direct.setdefault("; ".join(why), sql[:200])
        if why := unportable(as_spark(sql)):
            problems.setdefault("; ".join(why), sql[:200])
    assert direct == {}
    assert problems == {}


# Tables with fixed names a run may create: those that pass between stages (the truth
# and persons tables, the normalisers' mapping tables), and scratch tables named after a
# table that is itself unique to its scenario or counted (enrichment's masks, the Bloom
# filter's per-column copy, the uniqueness curve's rest). Every other scratch table is a
# workspace's (linkrisk/engine/workspace.py): its name starts _<label><n>_.
SHARED = {"_truth", "_persons", "_ric_years", "_ric_codes", "_phone_map", "_pinyin_map"}
DERIVED = re.compile(r"_masks_\w+|_clk_\w+_[0-9]+|_curve_rest[0-9]+_next")
WORKSPACE = re.compile(r"_[a-z]+[0-9]+_\w+")


def test_scratch_tables_live_in_workspaces(statements):
    made = set()
    for sql in statements:
        statement, _ = to_spark(as_spark(sql))
        if statement.kind in ("create_table", "create_empty", "create_view", "insert") and statement.name:
            made.add(statement.name)
    scratch = {t for t in made if t.startswith("_")}
    assert {t for t in scratch if WORKSPACE.fullmatch(t)}  # the workspaces were used
    assert sorted(t for t in scratch if not (t in SHARED or DERIVED.fullmatch(t) or WORKSPACE.fullmatch(t))) == []
