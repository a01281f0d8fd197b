"""The Spark engine: SQL translation, components in the cluster, and the sample study
giving the same figures on Spark as on DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import linkrisk as lr
from linkrisk.cli import main
from linkrisk.engine.spark_sql import java_date_format, to_spark
from linkrisk.graph import components

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "study.toml"


# --------------------------------------------------------------------------------------
# Translation (no Spark needed)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("duck, spark", [
    ("SELECT md5_number(v) FROM t", "SELECT MD5(v) FROM t"),
    ("SELECT regexp_matches(x, '^[0-9]{4}')", "SELECT x RLIKE '^[0-9]{4}'"),
    ("SELECT regexp_full_match(k, '\\p{Han}+')", "SELECT k RLIKE '^(?:\\\\p{IsHan}+)$'"),
    ("SELECT regexp_replace(x, '[.,]', ' ', 'g')", "SELECT REGEXP_REPLACE(x, '[.,]', ' ')"),
    ("SELECT ord(substr(x, 1, 1)) - 48", "SELECT ASCII(SUBSTRING(x, 1, 1)) - 48"),
    ("SELECT chr(12288)", "SELECT '\u3000'"),  # Spark's chr() works modulo 256
    ("SELECT ('10X98765432')[i % 11 + 1]", "SELECT SUBSTRING('10X98765432', i % 11 + 1, 1)"),
    ("SELECT CAST(NULL AS UHUGEINT), CAST(1 AS UBIGINT)", "SELECT CAST(NULL AS STRING), CAST(1 AS BIGINT)"),
    ("SELECT y FROM range(1880, 2101) t(y)", "SELECT y FROM RANGE(1880, 2101) AS t(y)"),
    ("SELECT try_strptime(x, ['%Y-%m-%d', '%Y%m%d'])",
     "SELECT COALESCE(TRY_TO_TIMESTAMP(x, 'yyyy-M-d'), TRY_TO_TIMESTAMP(x, 'yyyyMMdd'))"),
])
def test_functions_are_translated(duck, spark):
    statement, n = to_spark(duck)
    assert (statement.kind, statement.sql, n) == ("query", spark, 0)


def test_positional_parameters_become_named_in_text_order():
    # range(?) is rewritten with its argument copied; named markers keep the count right
    statement, n = to_spark("SELECT count(*) FROM range(?) t(i) WHERE i > ? AND i < ?")
    assert n == 3
    assert ":p0" in statement.sql and ":p1" in statement.sql and ":p2" in statement.sql
    assert "?" not in statement.sql


@pytest.mark.parametrize("duck, kind, name, extra", [
    ('CREATE OR REPLACE TABLE "t" AS SELECT 1 AS a', "create_table", "t", ""),
    ('CREATE OR REPLACE VIEW v AS SELECT 1 AS a', "create_view", "v", ""),
    ('CREATE OR REPLACE TABLE "e" (a BIGINT, linker VARCHAR)', "create_empty", "e", "a BIGINT, linker STRING"),
    ('INSERT INTO "e" SELECT 1, \'x\'', "insert", "e", ""),
    ('DROP TABLE IF EXISTS "t"', "drop", "t", ""),
    ('ALTER TABLE "t_tmp" RENAME TO "t"', "rename", "t_tmp", "t"),
])
def test_statements_are_classified(duck, kind, name, extra):
    statement, _ = to_spark(duck)
    assert (statement.kind, statement.name) == (kind, name)
    if kind == "create_empty":
        assert statement.sql == extra
    if kind == "rename":
        assert statement.target == extra


def test_date_formats_in_java_letters():
    assert java_date_format("%d.%m.%Y") == "d.M.yyyy"
    assert java_date_format("%Y年%m月%d日") == "yyyy年M月d日"
    assert java_date_format("%Y-%m-%d %H:%M:%S") == "yyyy-M-d HH:mm:ss"


def test_study_file_spark_settings(tmp_path):
    text = SAMPLE.read_text(encoding="utf-8")
    text = text.replace('weights = "default"', 'weights = "default"\nengine = "spark"\n\n[spark]\n'
                        'master = "local[1]"\n"spark.executor.memory" = "2g"\ncsv_multiline = false\n', 1)
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    study = lr.Study.from_toml(tmp_path / "study.toml")
    assert study.validate(files=False) == []
    assert study.engine_options() == {"config": {"spark.executor.memory": "2g"}, "master": "local[1]",
                                      "csv_multiline": False}


# --------------------------------------------------------------------------------------
# Components in the cluster
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark(spark_session):
    from linkrisk.engine.spark import SparkEngine

    e = SparkEngine(session=spark_session)
    yield e
    e.close()


def _labels_on_spark(engine, n, a, b):
    import pandas as pd

    engine.register_frame("_pairs", pd.DataFrame({"a": np.asarray(a, dtype=np.int64) + 1,
                                                  "b": np.asarray(b, dtype=np.int64) + 1}))
    return engine.component_labels("_pairs", n)


def test_components_by_hand_on_spark(spark):
    # 0-1, 1-2 and 4-5: components {0,1,2}, {3}, {4,5}, numbered by smallest node
    assert _labels_on_spark(spark, 6, [0, 1, 4], [1, 2, 5]).tolist() == [0, 0, 0, 1, 2, 2]
    assert _labels_on_spark(spark, 3, [], []).tolist() == [0, 1, 2]


def test_a_long_chain_needs_few_rounds(spark):
    # a path 0-1-...-199 given with its ids in reverse: plain min-label propagation would
    # need ~200 rounds; pointer jumping needs one round of log2(200) jumps
    n = 200
    a = np.arange(n - 1)[::-1]
    labels = _labels_on_spark(spark, n, a, a + 1)
    assert labels.tolist() == [0] * n
    assert spark.last_component_rounds <= 2


@pytest.mark.parametrize("seed", range(3))
def test_components_on_spark_match_scipy_and_networkx(spark, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    m = int(rng.integers(0, 2 * n))
    a, b = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(a.tolist(), b.tolist()))
    got = _labels_on_spark(spark, n, a, b)
    assert got.tolist() == components(n, a, b).tolist()  # same numbering, not just same partition
    assert len(set(got.tolist())) == nx.number_connected_components(g)


# --------------------------------------------------------------------------------------
# The sample study: same figures on both engines
# --------------------------------------------------------------------------------------
VOLATILE = {"seconds", "timings", "generated", "engine", "version", "created", "hash_rate_measured"}


def figures(tree, path=""):
    """Every figure of a JSON report as (path, value), timings and versions left out."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k not in VOLATILE and "seconds" not in k:
                yield from figures(v, f"{path}/{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from figures(v, f"{path}[{i}]")
    else:
        yield path, tree


@pytest.fixture(scope="module")
def both_reports(tmp_path_factory, spark_session):
    out = tmp_path_factory.mktemp("parity")
    reports = {}
    for engine in ("duckdb", "spark"):
        code = main(["run", str(SAMPLE), "--engine", engine, "--json", str(out / f"{engine}.json"),
                     "--out", str(out / f"{engine}.md"), "--export", str(out / engine), "--quiet"])
        assert code == 0
        reports[engine] = json.loads((out / f"{engine}.json").read_text(encoding="utf-8"))
    reports["dir"] = out
    return reports


def test_sample_study_same_figures_on_spark_and_duckdb(both_reports):
    duck = dict(figures(both_reports["duckdb"]))
    spark = dict(figures(both_reports["spark"]))
    assert duck.keys() == spark.keys()
    different = {k: (duck[k], spark[k]) for k in duck
                 if duck[k] != spark[k] and not (isinstance(duck[k], float) and spark[k] == pytest.approx(duck[k],
                                                                                                        rel=1e-12))}
    assert different == {}
    # the figures that matter, spelled out: entities, enrichment, prevented with its interval
    for engine in ("duckdb", "spark"):
        assert both_reports[engine]["scenarios"][0]["entities"] == both_reports["duckdb"]["scenarios"][0]["entities"]
    prevented = [s["enrichment_prevented"] for s in both_reports["spark"]["scenarios"][1:]]
    assert prevented == [s["enrichment_prevented"] for s in both_reports["duckdb"]["scenarios"][1:]]
    assert all(p["ci_low"] <= p["value"] <= p["ci_high"] for p in prevented)


def test_sample_study_same_entities_on_spark_and_duckdb(both_reports):
    # every scenario's entity table, exported by `linkrisk run --export`
    scenarios = [s["name"] for s in both_reports["duckdb"]["scenarios"]]
    assert len(scenarios) == 5
    for name in scenarios:
        tables = {}
        for engine in ("duckdb", "spark"):
            t = pd.read_csv(both_reports["dir"] / engine / f"entities-{name}.csv", dtype=str)
            tables[engine] = t.sort_values(["dataset", "record_id"]).reset_index(drop=True)
        assert len(tables["duckdb"]) == sum(d["records"] for d in both_reports["duckdb"]["datasets"])
        # same entity ids for the same records: the same partition, numbered alike
        pd.testing.assert_frame_equal(tables["duckdb"], tables["spark"])
