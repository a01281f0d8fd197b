"""The committed sample study, end to end: accuracy against the truth file, hubs, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import linkrisk as lr

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "study.toml"


@pytest.fixture(scope="module")
def result():
    res = lr.Study.from_toml(SAMPLE).run()
    yield res
    res.close()


def test_baseline_precision(result):
    g = result.baseline.ground_truth
    # 1.0 before the sample held face templates (issue 22); the faces linker at FMR 1e-6
    # makes FMR x 4,141 x 2,932 = 12.1 stranger pairs in expectation (13 in the sample),
    # each merging two entities: 0.9892
    assert g["pair_precision"] >= 0.985


def test_recovers_true_pairs_that_share_an_identifier(result):
    """Of the true pairs that share a normalised identifier value (not a hub), >= 99% are
    in one baseline entity."""
    from linkrisk.truth import person_codes

    eng = result.engine
    persons = person_codes(eng, result.study, result.loaded)
    labels = result.baseline.labels
    hubs = {(h["domain"]) for h in result.baseline.hubs}
    parts = [f"SELECT _rid, '{c.kind}' AS k, {c.value} AS v FROM {c.table} WHERE {c.value} IS NOT NULL"
             for c in result.baseline.release.columns if c.kind in ("national_id", "phone", "email")]
    pairs = eng.arrays(f"""
        WITH u AS ({' UNION ALL '.join(parts)}),
             f AS (SELECT k, v FROM u GROUP BY k, v HAVING count(*) <= {result.study.attacker.max_value_frequency})
        SELECT DISTINCT l._rid AS a, r._rid AS b FROM u l JOIN u r ON l.k = r.k AND l.v = r.v AND l._rid < r._rid
        WHERE (l.k, l.v) IN (SELECT (k, v) FROM f)""")
    a, b = pairs["a"].astype(np.int64) - 1, pairs["b"].astype(np.int64) - 1
    true = persons[a] == persons[b]
    assert true.sum() > 1000 and hubs
    recovered = (labels[a[true]] == labels[b[true]]).mean()
    assert recovered >= 0.99


def test_placeholders_are_hubs_and_merge_no_strangers(result):
    hubs = {h["rule"]: h for h in result.baseline.hubs}
    assert {"phone", "email"} <= set(hubs)
    assert all(h["records"] > 50 for h in hubs.values())
    # no placeholder value in any hub entry
    text = json.dumps(result.baseline.hubs, ensure_ascii=False)
    assert "13800000000" not in text and "test@test.com" not in text
    # records holding the placeholder phone are not merged with each other through it
    from linkrisk.truth import person_codes

    persons = person_codes(result.engine, result.study, result.loaded)
    labels = result.baseline.labels
    rids = [r[0] for r in result.engine.rows(
        " UNION ALL ".join(f"SELECT _rid FROM {c.table} WHERE {c.value} = '+8613800000000'"
                           for c in result.baseline.release.columns if c.kind == "phone"))]
    idx = np.array(rids, dtype=np.int64) - 1
    assert len(idx) > 50
    for i in idx:
        same_entity = np.flatnonzero(labels == labels[i])
        assert (persons[same_entity] == persons[i]).all()


def test_every_scenario_in_json(result):
    d = result.to_dict()
    names = [s["name"] for s in d["scenarios"]]
    assert names[0] == "baseline" and len(names) == 1 + len(result.study.scenarios)
    for s in d["scenarios"][1:]:
        p = s["enrichment_prevented"]
        assert p["ci_low"] <= p["value"] <= p["ci_high"]
    shared = result.scenario("keyed-hash-shared-key")
    per_holder = result.scenario("keyed-hash-per-holder")
    assert shared.links.pairs == result.baseline.links.pairs
    assert per_holder.prevented["value"] > shared.prevented["value"]
    sha = result.scenario("sha256-resident-id")
    assert {r["column"] for r in sha.release.reversed_columns} == {"surveillance.resident_id",
                                                                   "telecom.resident_id"}
    assert abs(sha.prevented["value"]) < 0.01


def test_export_every_record_once(result, tmp_path):
    import pandas as pd

    paths = result.export_entities(tmp_path)
    assert len(paths) == len(result.scenarios)
    table = pd.read_csv(paths[0], dtype=str)
    assert list(table.columns) == ["dataset", "record_id", "entity_id"]
    assert len(table) == result.loaded.total
    assert not table.duplicated(["dataset", "record_id"]).any()


def test_kinds_gained_from_each_dataset_agree_with_and_without_per_dataset_profiles(result, monkeypatch):
    # up to WIDE_DATASETS datasets the score table carries each entity's profile per
    # dataset; beyond, a join computes the same table
    from linkrisk import enrichment

    wide = {s.name: s.enrichment.gained_from for s in result.scenarios}
    assert all(len(g) for g in wide.values())
    assert "pm0" in result.engine.columns(result.baseline.enrichment.table)
    monkeypatch.setattr(enrichment, "WIDE_DATASETS", 0)
    for s in result.scenarios:
        table = enrichment.score_table(result.engine, result.study, result.loaded, s.release, result.bits,
                                       s.graph.labels_table, "_score_narrow")
        assert "pm0" not in result.engine.columns(table)
        joined = enrichment.score(result.engine, table, result.bits, result.loaded.datasets)
        assert joined.gained_from.equals(wide[s.name]), s.name
        assert joined.total == s.enrichment.total
    result.engine.drop("_score_narrow")


def test_entity_sizes_counted_with_the_ground_truth_match_a_count_of_their_own(result):
    # with a truth file the entity sizes come from the ground-truth pass; counted alone
    # (as without one) they are the same
    from linkrisk.graph import entity_stats

    for s in result.scenarios:
        alone = entity_stats(result.engine, s.enrichment.table)
        assert alone["entities"] == s.entities, s.name
        assert alone["multi_dataset_entities"] == s.multi_dataset_entities, s.name
        assert alone["entity_sizes"] == s.entity_sizes, s.name
        assert len(s.entity_sizes) > 2
