"""The sample study on Spark and on DuckDB: the same figures, the same entities.

Its own file, so that the test runner can give it a worker of its own: the Spark run of
the sample study is the longest test of the suite.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from linkrisk.cli import main

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
    from linkrisk import synth

    out = tmp_path_factory.mktemp("parity")
    # the committed sample without its face templates (`synth` without --faces writes the
    # same people): a study with face templates is refused on Spark (docs/spark.md)
    study = synth.generate(5000, seed=0, out=out / "sample")
    reports = {}
    for engine in ("duckdb", "spark"):
        code = main(["run", str(study), "--engine", engine, "--json", str(out / f"{engine}.json"),
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
        # and the same file, byte for byte: rows in record order, the same quoting
        files = [(both_reports["dir"] / engine / f"entities-{name}.csv").read_bytes() for engine in ("duckdb", "spark")]
        assert files[0] == files[1]
