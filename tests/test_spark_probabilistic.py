"""The probabilistic linker through Splink's SparkAPI finds what it finds on DuckDB.

A file of its own: the longest Spark test (Splink's training and prediction are about
1,300 small Spark jobs), handed out first so that it does not run alone at the end
(see LONGEST_FIRST in conftest.py)."""

from __future__ import annotations

import linkrisk as lr


def test_probabilistic_linker_on_spark_finds_what_it_finds_on_duckdb(spark_session, tmp_path):
    from linkrisk import synth
    from linkrisk.engine.spark import SparkEngine

    synth.generate(300, seed=3, out=tmp_path)
    study = lr.Study.from_toml(tmp_path / "study.toml")
    study.attacker.linkers = ["probabilistic"]
    study.what_matters = study.assess_risk = False
    study.scenarios = []
    got = {}
    for name, engine in (("duckdb", None), ("spark", SparkEngine(session=spark_session))):
        with study.run(engine=engine) as result:
            got[name] = (result.baseline.links.probabilistic["probabilistic"], result.baseline.ground_truth)
    (duck, duck_truth), (spark, spark_truth) = got["duckdb"], got["spark"]
    # the same blocking rules and candidate pairs: those are linkrisk's own SQL
    assert spark["blocking_rules"] == duck["blocking_rules"]
    assert spark["pairs_scored"] == duck["pairs_scored"]
    # the model is Splink's on another backend (its random sample of pairs for u and
    # Jaro-Winkler come from Spark and Splink's jar): close, not identical
    assert spark["links"] > 0
    assert spark_truth["pair_precision"] >= 0.98
    assert abs(spark_truth["pair_recall"] - duck_truth["pair_recall"]) <= 0.03
