"""The Spark engine: SQL translation, components in the cluster, the study file's Spark
settings (the probabilistic linker through Splink's SparkAPI is in
test_spark_probabilistic.py, the sample study on both engines in test_spark_parity.py)."""

from __future__ import annotations


import networkx as nx
import numpy as np
import pytest

import linkrisk as lr
from linkrisk.dialect import SparkDialect
from linkrisk.engine.spark_sql import java_date_format, to_spark
from linkrisk.graph import components



# --------------------------------------------------------------------------------------
# Translation (no Spark needed)
# --------------------------------------------------------------------------------------
_S = SparkDialect()


# the Spark dialect's answers (linkrisk/dialect.py) and the portable syntax around them,
# as the translation prints them for Spark
@pytest.mark.parametrize("duck, spark", [
    (f"SELECT {_S.hash_key('v')} FROM t", "SELECT MD5(v) FROM t"),
    ("SELECT regexp_matches(x, '^[0-9]{4}')", "SELECT x RLIKE '^[0-9]{4}'"),
    (f"SELECT {_S.regexp_full_match('k', _S.han + '+')}", "SELECT k RLIKE '^(?:\\\\p{IsHan}+)$'"),
    (f"SELECT {_S.regexp_replace_all('x', '[.,]', ' ')}", "SELECT REGEXP_REPLACE(x, '[.,]', ' ')"),
    (f"SELECT {_S.char(12288)}", "SELECT '\u3000'"),  # Spark's chr() works modulo 256
    ("SELECT substr('10X98765432', i % 11 + 1, 1)", "SELECT SUBSTRING('10X98765432', i % 11 + 1, 1)"),
    ("SELECT y FROM range(1880, 2101) t(y)", "SELECT y FROM RANGE(1880, 2101) AS t(y)"),
    (f"SELECT max({_S.byte_length('x')})", "SELECT MAX(OCTET_LENGTH(x))"),
    ("SELECT (TRY_CAST(x AS BIGINT) // 10) % 10", "SELECT (TRY_CAST(x AS BIGINT) DIV 10) % 10"),
    (f"SELECT {_S.parse_time('x', '%Y-%m-%d', '%Y%m%d')}",
     "SELECT COALESCE(TRY_TO_TIMESTAMP(x, 'yyyy-M-d'), TRY_TO_TIMESTAMP(x, 'yyyyMMdd'))"),
    (f"SELECT {_S.hash64('a', 'b')}", "SELECT XXHASH64(a, b)"),
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
    # a sample without face templates: a study with them is refused on Spark (docs/spark.md)
    from linkrisk import synth

    synth.generate(200, seed=0, out=tmp_path)
    text = (tmp_path / "study.toml").read_text(encoding="utf-8")
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
@pytest.fixture(scope="module", params=["cluster", "driver"])
def spark(spark_session, request):
    """A Spark engine finding components in the cluster (every graph), then one finding
    them on the driver (every graph of up to a million edges, the default)."""
    from linkrisk.engine.spark import SparkEngine

    e = SparkEngine(session=spark_session, driver_components_max=0 if request.param == "cluster" else None)
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
    if spark.driver_components_max:
        assert spark.last_component_rounds == 0  # solved on the driver
    else:
        assert 1 <= spark.last_component_rounds <= 2


def test_driver_components_number_every_node_there_only_for_small_graphs(spark_session):
    # 80 random edges among 1,000 nodes, with at most 100 edges on the driver: at most
    # 4 x 100 = 400 nodes get their ids on the driver (1,000 do not: only the roots are
    # found there and numbered in the cluster); both give scipy's numbering
    from linkrisk.engine.spark import SparkEngine
    from linkrisk.engine.spark_components import DRIVER_NODES_PER_EDGE

    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 400, size=80), rng.integers(0, 400, size=80)
    e = SparkEngine(session=spark_session, driver_components_max=100)
    try:
        assert DRIVER_NODES_PER_EDGE * 100 == 400
        for n in (400, 1000):
            got = _labels_on_spark(e, n, a, b)
            assert got.tolist() == components(n, a, b).tolist()
            assert e.last_component_rounds == 0
    finally:
        e.close()


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


def test_entity_ids_are_numbered_across_partitions(spark):
    # with several shuffle partitions the roots are sorted into ranges; each partition's
    # offset (the sizes of the ones before it) keeps the ids running from 0 in order
    rng = np.random.default_rng(11)
    n = 3000
    a, b = rng.integers(0, n, size=1500), rng.integers(0, n, size=1500)
    spark.spark.conf.set("spark.sql.shuffle.partitions", "4")
    try:
        got = _labels_on_spark(spark, n, a, b)
    finally:
        spark.spark.conf.set("spark.sql.shuffle.partitions", "1")
    assert got.tolist() == components(n, a, b).tolist()


def test_local_mode_keeps_no_warehouse_in_the_working_directory(spark_session):
    # linkrisk only makes temporary views: the warehouse folder Spark insists on goes to /tmp
    assert "linkrisk-spark-warehouse-" in spark_session.conf.get("spark.sql.warehouse.dir")


def test_a_local_session_starts_without_spark_log_lines(spark_session):
    # (spark_session: skipped or failed like the other Spark tests when Spark cannot run)
    # linkrisk's progress is the terminal's: a fresh JVM does not print Spark's notice of
    # its shell log level (the Java launcher's own lines are beyond linkrisk's reach)
    import subprocess
    import sys

    code = ("from linkrisk.engine.spark import SparkEngine; "
            "SparkEngine.start_session({'master': 'local[1]'}).stop()")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Setting default log level" not in run.stderr and "setLogLevel" not in run.stderr
    assert " INFO " not in run.stderr and " WARN " not in run.stderr  # Spark's log lines


# --------------------------------------------------------------------------------------
# Spark jobs: a table's count comes with the job that makes it
# --------------------------------------------------------------------------------------
def _jobs(engine) -> int:
    """The number of Spark jobs the engine's session has run so far."""
    ids = engine.spark.sparkContext.statusTracker().getJobIdsForGroup()
    return max(ids) + 1 if ids else 0


def test_a_created_tables_count_costs_no_job_of_its_own(spark_session):
    # CREATE TABLE computes and checkpoints the table in one Spark job, which also counts
    # its rows: the count that usually follows a CREATE is then known without a job (it
    # used to be a second one). The values 1..10 with x % 3 = 0 are 3, 6, 9: 3 rows, sum 18.
    import pandas as pd

    from linkrisk.engine.spark import SparkEngine

    e = SparkEngine(session=spark_session)
    try:
        e.register_frame("_src", pd.DataFrame({"x": np.arange(1, 11, dtype=np.int64)}))
        before = _jobs(e)
        e.create("_t", "SELECT x FROM _src WHERE x % 3 = 0")
        assert _jobs(e) - before == 1  # the table, computed and counted
        assert e.count("_t") == 3 and _jobs(e) - before == 1  # no job for the count
        assert e.rows("SELECT sum(x) FROM _t") == [(18,)]  # read from the checkpoint
        # a rename keeps the count; an insert makes it unknown: Spark counts (3 + 1 rows)
        e.execute('ALTER TABLE "_t" RENAME TO "_u"')
        assert e.count("_u") == 3
        before = _jobs(e)
        e.execute('INSERT INTO "_u" SELECT 12')
        assert e.count("_u") == 4 and _jobs(e) - before == 1
        # blanking values rebuilds the table (one job, counted) and keeps its 4 rows
        e.blank("_u", ["x"], "x", "SELECT 12")
        before = _jobs(e)
        assert e.count("_u") == 4 and _jobs(e) == before
        assert e.rows("SELECT count(x) FROM _u") == [(3,)]
        # an empty table: 0 without a job; a lazy view: asked of Spark (9 and 10)
        e.execute('CREATE OR REPLACE VIEW "_v" AS SELECT x FROM _src WHERE x > 8')
        e.execute('CREATE OR REPLACE TABLE "_empty" (a BIGINT)')
        before = _jobs(e)
        assert e.count("_empty") == 0 and _jobs(e) == before
        assert e.count("_v") == 2 and _jobs(e) - before == 1
        e.drop("_u")
        assert "_u" not in e.views.counts
    finally:
        e.close()


def test_a_csv_file_loads_in_three_jobs_with_its_count(spark_session, tmp_path):
    # Spark reads a CSV file's header in a job of its own; the file (read whole: one
    # partition) is then numbered and checkpointed in one job, which counts its rows, and
    # checked for bytes that are not UTF-8 in another: 3 jobs. The numbered table is a
    # projection of that checkpoint, not checkpointed again (it used to be, a fourth job,
    # and the count a fifth)
    from linkrisk.engine.spark import SparkEngine

    path = tmp_path / "people.csv"
    path.write_text("id,phone\n1,0123\n2,\n3,0456\n", encoding="utf-8")
    e = SparkEngine(session=spark_session)
    try:
        before = _jobs(e)
        assert e.load_csv("_raw", path, ",") == ["id", "phone"]
        assert _jobs(e) - before == 3
        assert e.count("_raw") == 3 and _jobs(e) - before == 3
        # the rows numbered from 1 in file order, leading zeros kept
        assert e.rows('SELECT "__linkrisk_row", id, phone FROM _raw ORDER BY 1') == [
            (1, "1", "0123"), (2, "2", None), (3, "3", "0456")]
    finally:
        e.close()


def test_small_graph_components_take_one_job_on_the_driver(spark_session):
    # the edges come to the driver in one job (their DISTINCT computed by it, not
    # checkpointed first) and the labels go back through Arrow, held by Spark as sent (no
    # checkpoint job): components_table is one job, reading the labels back a second.
    # It used to be three jobs before the read. Edges 1-2, 2-3, 5-6 of 6 nodes: {1,2,3},
    # {4}, {5,6} -> entity ids 0 0 0 1 2 2.
    import pandas as pd

    from linkrisk.engine.spark import SparkEngine

    e = SparkEngine(session=spark_session)
    try:
        e.register_frame("_pairs", pd.DataFrame({"a": [1, 2, 5], "b": [2, 3, 6]}))
        before = _jobs(e)
        assert e.component_labels("_pairs", 6).tolist() == [0, 0, 0, 1, 2, 2]
        assert _jobs(e) - before == 2 and e.last_component_rounds == 0
    finally:
        e.close()


def test_splinks_tables_are_checkpointed_in_a_scratch_folder_in_local_mode(spark_session, tmp_path, monkeypatch):
    # persisted, Splink's tables keep their plans and every EM iteration re-analyses them
    # (2-7 s a statement on test_spark_probabilistic.py's study against 1-2.5 s
    # checkpointed); the folder is a scratch one, never the working directory
    import tempfile

    from linkrisk.engine.spark import SparkEngine

    monkeypatch.chdir(tmp_path)
    engine = SparkEngine(session=spark_session)
    try:
        api = engine.splink_api()
        folder = engine.spark.sparkContext.getCheckpointDir()
    finally:
        engine.close()
    assert api.break_lineage_method == "checkpoint"
    assert folder is not None and not folder.startswith(f"file:{tmp_path}")
    assert "linkrisk-spark-checkpoints-" in folder and tempfile.gettempdir() in folder
    assert list(tmp_path.iterdir()) == []


def test_ordered_lists_are_the_same_on_spark_and_duckdb(spark_session):
    # group 1 holds b, a, c, a and group 2 holds z, y, in an order neither sorted nor
    # reversed: sorted, [a, a, b, c] and [y, z]; descending, [c, b, a, a] and [z, y];
    # distinct, [a, b, c] and [y, z]; only x > 'a', [b, c] and [y, z]
    import pandas as pd

    from linkrisk.engine.duckdb import DuckDBEngine
    from linkrisk.engine.spark import SparkEngine

    frame = pd.DataFrame({"g": [1, 1, 2, 1, 2, 1], "x": ["b", "a", "z", "c", "y", "a"]})
    sql = ("SELECT g, list(x ORDER BY x) AS up, list(x ORDER BY x DESC) AS down, "
           "list(DISTINCT x ORDER BY x) AS once, list(x ORDER BY x) FILTER (WHERE x > ?) AS later "
           "FROM t GROUP BY g ORDER BY g")
    expected = [(1, ["a", "a", "b", "c"], ["c", "b", "a", "a"], ["a", "b", "c"], ["b", "c"]),
                (2, ["y", "z"], ["z", "y"], ["y", "z"], ["y", "z"])]
    duck, spark = DuckDBEngine(), SparkEngine(session=spark_session)
    try:
        for e in (duck, spark):
            e.register_frame("t", frame)
            got = [tuple(list(v) if not isinstance(v, (int, np.integer)) else int(v) for v in row)
                   for row in e.rows(sql, ["a"])]
            assert got == expected, type(e).__name__
    finally:
        duck.close()
        spark.close()
