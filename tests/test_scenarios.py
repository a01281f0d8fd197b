"""Pseudonymisation scenarios on the hand-made study of test_linkage_handmade.

Baseline: links a1-b1 (national_id), b2-c1 (phone), a2-c1 (name + dob); E = 29.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from stdnum.cn import ric

import linkrisk as lr
from linkrisk.pseudonymise import TECHNIQUES, KeyRing
from linkrisk.trace_link import TRACE_TECHNIQUES
from linkrisk.face_link import FACE_TECHNIQUES
from test_linkage_handmade import entity_sets, tiny_study

ID_POLICY = ("national_id", "phone")


def scenario(name, technique, **params):
    return lr.Scenario(name, {k: {"technique": technique, **params} for k in ID_POLICY})


@pytest.fixture(scope="module")
def result():
    scenarios = [
        scenario("shared-key", "keyed_hash", key_scope="global"),
        scenario("per-holder", "keyed_hash", key_scope="dataset"),
        scenario("random", "randomise"),
        scenario("dropped", "drop"),
        lr.Scenario("dob-year", {"date_of_birth": {"technique": "generalise", "level": "year"}}),
    ]
    res = tiny_study(scenarios).run()
    yield res
    res.close()


def test_shared_key_cuts_no_links(result):
    # Links and entities are those of the baseline; only readability changes:
    # a1 name,dob,photo 5; b1 nothing 0 -> P = 5: gains 0, 5
    # a2 5; b2 0; c1 name,dob,health 5 -> P = name,dob,photo,health 8: gains 3, 8, 3
    # E = 19; prevented = 1 - 19/29 = 10/29
    s = result.scenario("shared-key")
    assert s.links.pairs == 3
    assert entity_sets(s) == entity_sets(result.baseline)
    assert s.enrichment.total == 19
    assert s.prevented["value"] == pytest.approx(10 / 29)


def test_a_scenario_linking_the_baselines_pairs_reuses_its_entities(monkeypatch):
    # the shared key links exactly the baseline's pairs: its entities are copied, not
    # computed again; the per-holder keys cut links, so its entities are computed
    from linkrisk.engine.duckdb import DuckDBEngine

    computed = []
    original = DuckDBEngine.components_table
    monkeypatch.setattr(DuckDBEngine, "components_table",
                        lambda self, pairs, n, table: computed.append(table) or original(self, pairs, n, table))
    res = tiny_study([scenario("shared-key", "keyed_hash", key_scope="global"),
                      scenario("per-holder", "keyed_hash", key_scope="dataset")]).run()
    try:
        assert computed == ["lab_s0", "lab_s2"]
        assert res.scenario("shared-key").labels.tolist() == res.baseline.labels.tolist()
        assert res.scenario("per-holder").entities > res.baseline.entities
    finally:
        res.close()


def test_key_per_holder_cuts_every_cross_dataset_identifier_link(result):
    # Only a2-c1 (name + dob) remains: P{a2, c1} = name, dob, photo, health = 8;
    # a2 holds 5, c1 holds 5: E = 3 + 3 = 6; prevented = 23/29
    s = result.scenario("per-holder")
    assert set(s.links.by_rule["linker"]) == {"quasi_identifiers"}
    assert s.enrichment.total == 6
    assert s.prevented["value"] == pytest.approx(23 / 29)


def test_randomise_cuts_every_identifier_link(result):
    s = result.scenario("random")
    assert "identifiers" not in set(s.links.by_rule["linker"])
    assert s.enrichment.total == 6


def test_drop_removes_the_kind(result):
    # dropped columns are neither links nor held: same figures as randomise here
    s = result.scenario("dropped")
    assert s.enrichment.total == 6
    assert s.to_dict(["A", "B", "C"])["columns"]["A.nid"]["linkable"] is False


def test_generalise_keeps_unique_name_year_classes(result):
    # name + year is still unique on each side here, so a2-c1 still links
    s = result.scenario("dob-year")
    assert s.links.pairs == 3 and s.enrichment.total == 29


def test_generalising_dob_stops_the_name_dob_linker_when_years_collide():
    # A second Wang Wei born in 1985 (another day) in C: name + dob is unique on both sides,
    # name + year is not, so the generalised scenario loses the a2-c1 link.
    a = pd.DataFrame({"rid": ["a1"], "name": ["Wang Wei"], "dob": ["1985-05-05"], "photo": ["y"]})
    c = pd.DataFrame({"rid": ["c1", "c2"], "name": ["Wang Wei", "Wang Wei"], "dob": ["1985-05-05", "1985-09-09"],
                      "health": ["flu", "cold"]})
    study = lr.Study([lr.Dataset("A", a, {"name": "full_name", "dob": "date_of_birth", "photo": "photo"},
                                 record_id="rid"),
                      lr.Dataset("C", c, {"name": "full_name", "dob": "date_of_birth", "health": "health"},
                                 record_id="rid")],
                     attacker=lr.Attacker(quasi_identifier_sets=[["full_name", "date_of_birth"]]),
                     scenarios=[lr.Scenario("year", {"date_of_birth": {"technique": "generalise", "level": "year"}})])
    with study.run() as res:
        assert res.baseline.links.pairs == 1
        assert res.scenario("year").links.pairs == 0
        assert res.scenario("year").prevented["value"] == 1.0


def test_interval_is_seeded_and_brackets_the_value(result):
    p = result.scenario("shared-key").prevented
    assert p["ci_low"] <= p["value"] <= p["ci_high"]
    with tiny_study([scenario("shared-key", "keyed_hash", key_scope="global")]).run() as again:
        assert again.scenario("shared-key").prevented == p


# resident IDs with a real division code (110101, Dongcheng district, Beijing) -------------
def resident_id(dob: str, order: str) -> str:
    first17 = "110101" + dob.replace("-", "") + order
    return first17 + ric.calc_check_digit(first17 + "0")


def ric_study(policy, budget=86400.0, compromised=()):
    ids = [resident_id("1990-01-01", "123"), resident_id("1985-05-05", "456"), resident_id("1970-07-07", "789")]
    a = pd.DataFrame({"rid": ["a1", "a2", "a3"], "nid": ids, "dob": ["1990-01-01", "1985-05-05", "1970-07-07"],
                      "addr": ["北京市东城区人民路1号", "北京市东城区人民路2号", "北京市东城区人民路3号"],
                      "photo": ["x", "y", "z"]})
    b = pd.DataFrame({"rid": ["b1", "b2"], "nid": [ids[0], ids[1]], "phone": ["13800000001", "13800000002"]})
    return lr.Study(
        [lr.Dataset("A", a, {"nid": "national_id", "dob": "date_of_birth", "addr": "address", "photo": "photo"},
                    record_id="rid"),
         lr.Dataset("B", b, {"nid": "national_id", "phone": "phone"}, record_id="rid")],
        normalisation=lr.Normalisation(national_id_scheme="cn_ric"),
        attacker=lr.Attacker(budget_seconds=budget, compromised_keys=list(compromised)),
        scenarios=[lr.Scenario("s", policy)], seed=3)


def test_unkeyed_sha256_of_resident_ids_is_reversed_and_prevents_nothing():
    with ric_study({"national_id": {"technique": "hash"}}).run() as res:
        s = res.scenario("s")
        assert s.links.pairs == res.baseline.links.pairs == 2
        assert s.enrichment.total == res.baseline.enrichment.total
        assert s.prevented["value"] == 0
        rev = {r["column"]: r for r in s.release.reversed_columns}
        assert rev["A.nid"]["values_reversed"] == 3 and rev["B.nid"]["values_reversed"] == 2
        assert rev["A.nid"]["within_budget"]
        # the 1,000-candidate reversal really ran: all three IDs of A recovered
        assert rev["A.nid"]["demonstration"]["recovered"] == 3


def test_conditioned_reversal_with_a_small_budget():
    # One second of hashing cannot enumerate all 2.9e11 IDs (13 s), but 1,000 candidates
    # per record whose date of birth and county the attacker reads take microseconds.
    with ric_study({"national_id": {"technique": "hash"}}, budget=1.0).run() as res:
        rev = {r["column"]: r for r in res.scenario("s").release.reversed_columns}
        assert rev["A.nid"]["values_reversed"] == 3
        # B's records know date of birth and county only through their link to A
        assert rev["B.nid"]["values_reversed"] == 2
        assert res.scenario("s").prevented["value"] == 0


def test_budget_ending_inside_a_cost_class_takes_the_first_records():
    # At 1,000 hashes a second each of A's records (date of birth and county known: 1,000
    # candidates) costs 1 s; a 2.5 s budget reverses two of the three, a1 and a2 (records of
    # equal cost in record order). B's records link to A's through the unkeyed hash itself,
    # so they know date of birth and county too; on B's own budget both fall.
    study = ric_study({"national_id": {"technique": "hash"}}, budget=2.5)
    study.attacker.hash_rate = 1000.0
    with study.run() as res:
        s = res.scenario("s")
        rev = {r["column"]: r for r in s.release.reversed_columns}
        assert rev["A.nid"]["values_reversed"] == 2 and rev["A.nid"]["candidate_space"] == 1000.0
        assert rev["A.nid"]["method"] == "per-record enumeration conditioned on the linked profile"
        assert rev["B.nid"]["values_reversed"] == 2 and rev["B.nid"]["candidate_space"] == 1000.0
        col = next(c for c in s.release.columns if c.dataset == "A" and c.kind == "national_id"
                   and c.value_column is not None)
        got = res.engine.rows(f"SELECT n._rec FROM {col.table} r JOIN norm0 n USING (_rid) "
                              f"WHERE r.{col.value} IS NOT NULL ORDER BY n._rec")
        assert [g[0] for g in got] == ["a1", "a2"]


def test_the_demonstration_reads_each_columns_own_first_candidates(monkeypatch):
    # Two hashed resident-ID columns in one dataset; the demonstration takes the first
    # DEMO_CAP candidates of each column with known date of birth and county, reading
    # profiles only for a column's first few candidates. nid is filled in even rows
    # only, nid2 in every row; nid2's first record holds an ID of another district
    # (110102) than its address (110101), so it is not recovered. Reading nid2's first
    # candidates (not reusing what was read for nid's) must pick that record.
    from linkrisk import attack_space as attack

    monkeypatch.setattr(attack, "DEMO_CAP", 1)  # profiles read for 8 candidates at first
    n = 20
    ids = [resident_id("1990-01-01", f"{i:03d}") for i in range(n)]
    a = pd.DataFrame({"rid": [f"a{i:02d}" for i in range(n)],
                      "nid": [ids[i] if i % 2 else None for i in range(n)],
                      "nid2": ["110102" + ids[0][6:17] + ric.calc_check_digit("110102" + ids[0][6:17] + "0")]
                      + ids[1:],
                      "dob": ["1990-01-01"] * n, "addr": [f"北京市东城区人民路{i}号" for i in range(n)]})
    study = lr.Study([lr.Dataset("A", a, {"nid": "national_id", "nid2": "national_id", "dob": "date_of_birth",
                                          "addr": "address"}, record_id="rid")],
                     normalisation=lr.Normalisation(national_id_scheme="cn_ric"),
                     scenarios=[lr.Scenario("s", {"national_id": {"technique": "hash"}})], seed=3)
    with study.run() as res:
        rev = {r["column"]: r["demonstration"] for r in res.scenario("s").release.reversed_columns}
        assert rev["A.nid"]["records"] == 1 and rev["A.nid"]["recovered"] == 1
        assert rev["A.nid2"]["records"] == 1 and rev["A.nid2"]["recovered"] == 0


def test_a_reversed_hash_is_not_a_conflicting_identifier():
    # a1 and a1b are one person filed twice in A with one resident ID. Hashed, then
    # reversed, each record holds the ID in two spellings (hash and plaintext): that is
    # no disagreement, so neither the baseline nor the scenario has a suspicious entity.
    rid = resident_id("1990-01-01", "123")
    a = pd.DataFrame({"rid": ["a1", "a1b"], "nid": [rid, rid], "dob": ["1990-01-01"] * 2})
    study = lr.Study([lr.Dataset("A", a, {"nid": "national_id", "dob": "date_of_birth"}, record_id="rid")],
                     normalisation=lr.Normalisation(national_id_scheme="cn_ric"),
                     scenarios=[lr.Scenario("s", {"national_id": {"technique": "hash"}})], seed=3)
    with study.run() as res:
        s = res.scenario("s")
        assert s.release.reversed_columns[0]["values_reversed"] == 2
        assert res.baseline.suspicious_entities == 0 and s.suspicious_entities == 0
        assert s.entities == res.baseline.entities == 1


def test_keyed_hash_is_not_reversed_unless_the_key_is_compromised():
    policy = {"national_id": {"technique": "keyed_hash", "key_scope": "dataset"}}
    with ric_study(policy).run() as res:
        assert res.scenario("s").release.reversed_columns == []
        assert res.scenario("s").links.pairs == 0
    with ric_study(policy, compromised=["dataset:A"]).run() as res:
        rev = {r["column"]: r for r in res.scenario("s").release.reversed_columns}
        assert rev["A.nid"]["values_reversed"] == 3 and "B.nid" not in rev
        # A's plaintext now joins B's... no: B's IDs stay keyed under B's key, so no link
        assert res.scenario("s").links.pairs == 0


def test_reversal_iterates_through_links():
    # A holds a hashed ID and a phone, B holds the phone, date of birth and address,
    # C holds the plain ID. Round 1 links A-B by phone; the profile then gives date of
    # birth and county, so A's ID falls (per record, budget 1 s); round 2 links A-C.
    rid = resident_id("1990-01-01", "123")
    a = pd.DataFrame({"rid": ["a1"], "nid": [rid], "phone": ["13800000001"]})
    b = pd.DataFrame({"rid": ["b1"], "phone": ["13800000001"], "dob": ["1990-01-01"], "addr": ["北京市东城区人民路1号"]})
    c = pd.DataFrame({"rid": ["c1"], "nid": [rid], "health": ["flu"]})
    study = lr.Study(
        [lr.Dataset("A", a, {"nid": "national_id", "phone": "phone"}, record_id="rid"),
         lr.Dataset("B", b, {"phone": "phone", "dob": "date_of_birth", "addr": "address"}, record_id="rid"),
         lr.Dataset("C", c, {"nid": "national_id", "health": "health"}, record_id="rid")],
        normalisation=lr.Normalisation(national_id_scheme="cn_ric"),
        attacker=lr.Attacker(budget_seconds=1.0),
        scenarios=[lr.Scenario("s", {"A.nid": {"technique": "hash"}})])
    with study.run() as res:
        s = res.scenario("s")
        assert entity_sets(s) == {frozenset({"a1", "b1", "c1"})}
        assert s.prevented["value"] == 0


def test_normalise_before_hashing_matters():
    # Phone formats differ between A and C; hashing the raw text loses the link.
    a = pd.DataFrame({"rid": ["a1"], "phone": ["138-0000-0001"], "photo": ["x"]})
    c = pd.DataFrame({"rid": ["c1"], "phone": ["+86 138 0000 0001"], "health": ["flu"]})
    ds = [lr.Dataset("A", a, {"phone": "phone", "photo": "photo"}, record_id="rid"),
          lr.Dataset("C", c, {"phone": "phone", "health": "health"}, record_id="rid")]
    study = lr.Study(ds, scenarios=[
        lr.Scenario("norm", {"phone": {"technique": "keyed_hash", "key_scope": "global"}}),
        lr.Scenario("raw", {"phone": {"technique": "keyed_hash", "key_scope": "global", "normalise": False}})])
    with study.run() as res:
        assert res.scenario("norm").links.pairs == 1
        assert res.scenario("raw").links.pairs == 0


@pytest.mark.parametrize("name", sorted(set(TECHNIQUES) - set(TRACE_TECHNIQUES) - set(FACE_TECHNIQUES)))
# traces: test_traces.py; face templates: test_faces.py
def test_every_technique_keeps_the_contract(name):
    """Each technique runs in the engine, declares a domain and readability, hides its keys."""
    params = {"keep": {}, "drop": {}, "mask": {"keep_first": 3}, "generalise": {"level": 3},
              "hash": {}, "salted_hash": {"key_scope": "dataset"}, "keyed_hash": {"key_scope": "dataset"},
              "deterministic_encryption": {"key_scope": "global"}, "tokenise": {"key_scope": "global"},
              "randomise": {}, "bloom_filter": {"key_scope": "global"}}[name]
    study = tiny_study([lr.Scenario("s", {"phone": {"technique": name, **params}})])
    with study.run() as res:
        s = res.scenario("s")
        cols = [c for c in s.release.columns if c.kind == "phone" and c.value_column is None]
        assert len(cols) == 2
        for c in cols:
            assert c.technique == name
            assert (c.domain is None) == (name == "drop")
            assert isinstance(c.readable, bool)
        text = json.dumps(res.to_dict(), ensure_ascii=False) + repr(res) + repr(s)
        ring = KeyRing(study.seed)
        for scope in ("global", "dataset:B", "dataset:C"):
            for purpose in ("hmac", "salt", "encryption", "vault", "randomise", "record-salt", "bloom"):
                key = ring.key(scope, purpose)
                assert key.hex() not in text and key.hex()[:32] not in text
        # the key ring's repr hides its master secret (it would otherwise print the seed-derived key)
        assert repr(ring) == "KeyRing(<secret>)"
        assert repr(KeyRing(12345)) == "KeyRing(<secret>)"


def test_per_rule_link_counts_count_a_pair_once_when_a_hash_is_reversed():
    # Baseline: A's a1 and a2 share their resident IDs with B's b1 and b2, so the
    # identifiers linker finds 2 pairs (a1-b1, a2-b2), both between A and B. Under the
    # unkeyed SHA-256 the hashes still join (2 edges) and every ID is reversed, so the
    # recovered plaintext joins the same two pairs again (2 more edges). The per-rule
    # count is of distinct pairs: 2, as in the baseline, not 2 + 2 = 4 (issue 26).
    with ric_study({"national_id": {"technique": "hash"}}).run() as res:
        base = res.baseline.links.by_rule
        s = res.scenario("s").links.by_rule
        assert base[["linker", "rule", "pairs"]].values.tolist() == [["identifiers", "national_id", 2]]
        assert s[["linker", "rule", "pairs"]].values.tolist() == [["identifiers", "national_id", 2]]
        rows = res.to_dict()["scenarios"][1]["links_by_rule"]
        assert [(r["rule"], r["dataset_a"], r["dataset_b"], r["pairs"]) for r in rows] == [
            ("national_id", "A", "B", 2)]
