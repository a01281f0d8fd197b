"""Incremental scenarios (issue 24): a scenario reuses what its policy leaves alone, and
every figure is the one a full recomputation gives.

The tiny study of tests/test_linkage_handmade.py (three holders, six records):

    A: a1 ID1 Li Na 1990-01-01 photo x;  a2 ID2 Wang Wei 1985-05-05 photo y
    B: b1 13800000001 ID1;               b2 13800000002 -
    C: c1 Wang Wei 1985-05-05 13800000002 flu;  c2 Zhao Lei 1970-07-07 13800000003 cold

Baseline links a1-b1 (national_id), b2-c1 (phone), a2-c1 (full_name + date_of_birth);
entities {a1, b1}, {a2, b2, c1}, {c2}; enrichment E = 29 (worked there).
"""

from __future__ import annotations

import pandas as pd
import pytest

import linkrisk as lr
from helpers import new_engine
from test_linkage_handmade import TRUTH, entity_sets, tiny_study

HASH_A_NID = lr.Scenario("hash-a-nid", {"A.nid": {"technique": "hash"}})
DROP_C_HEALTH = lr.Scenario("drop-c-health", {"C.health": {"technique": "drop"}})
PHONE_SHARED = lr.Scenario("phone-shared-key", {"phone": {"technique": "keyed_hash", "key_scope": "global"}})
PHONE_PER_HOLDER = lr.Scenario("phone-per-holder", {"phone": {"technique": "keyed_hash", "key_scope": "dataset"}})
HASH_PHONE = lr.Scenario("hash-phone", {"phone": {"technique": "hash"}})
HASH_C_DOB = lr.Scenario("hash-c-dob", {"C.dob": {"technique": "hash"}})
SCENARIOS = (HASH_A_NID, DROP_C_HEALTH, PHONE_SHARED, PHONE_PER_HOLDER, HASH_PHONE, HASH_C_DOB)


@pytest.fixture(scope="module")
def engine_name() -> str:
    """DuckDB only. What these tests compare, the incremental path against a full
    recomputation, is the same SQL on either engine, and Spark runs that SQL in
    tests/test_spark_parity.py: the sample study on Spark, incrementally, gives every
    figure DuckDB gives. On Spark these tests took about three minutes of the suite."""
    return "duckdb"


def _figures(result: lr.Result) -> dict:
    """Every figure of a result: its JSON without timings, and per scenario the records'
    entities, gains and distinct linked pairs by rule."""
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if "seconds" not in k and k not in ("timings", "generated")}
        if isinstance(o, list):
            return [strip(x) for x in o]
        return o

    out = {"json": strip(result.to_dict())}
    for s in result.scenarios:
        edges = result.engine.df(f"SELECT DISTINCT a, b, linker, rule FROM {s.links.edges} ORDER BY a, b, linker, rule")
        out[s.name] = (s.graph.entity_table().to_dict("records"), s.enrichment.gain.tolist(),
                       edges.to_dict("records"))
    return out


@pytest.fixture(scope="module")
def both(engine_name, request):
    """The tiny study with its scenarios, run incrementally and with incrementality off."""
    import linkrisk.scenario_run as scenario_run

    study = tiny_study(SCENARIOS, truth=TRUTH)
    incremental = study.run(engine=new_engine(engine_name, request))
    scenario_run.INCREMENTAL = False
    try:
        full = study.run(engine=new_engine(engine_name, request))
    finally:
        scenario_run.INCREMENTAL = True
    yield incremental, full
    incremental.close()
    full.close()


def test_incremental_and_full_runs_give_every_figure_alike(both):
    incremental, full = both
    assert [s.name for s in incremental.scenarios] == ["baseline", *(s.name for s in SCENARIOS)]
    assert _figures(incremental) == _figures(full)


def test_a_reversal_merges_two_entities(both):
    # Round 1: A's national IDs are hashed, B's are plaintext: a1 and b1 are apart
    # ({a1}, {b1}). The dictionary attacker hashes B's plaintext ID1 and recovers a1's;
    # round 2 links a1-b1 in the plaintext domain (the phone and name+dob rules are
    # copied from round 1): entities as in the baseline. a2's ID2 is in no plaintext
    # column, so it stays unreadable.
    # Gains: a1 holds nid, name, dob, photo = 8 and b1 phone, nid = 5; P = 10: a1 2, b1 5.
    # a2 holds name, dob, photo = 5, b2 phone = 2, c1 name, dob, phone, health = 7;
    # P = name, dob, photo, phone, health = 10: a2 5, b2 8, c1 3. c2 0. E = 23.
    for result in both:
        s = result.scenario("hash-a-nid")
        assert entity_sets(s) == {frozenset({"a1", "b1"}), frozenset({"a2", "b2", "c1"}), frozenset({"c2"})}
        assert s.enrichment.gain.tolist() == [2, 5, 5, 8, 3, 0]  # a1, a2, b1, b2, c1, c2
        assert s.enrichment.total == 23
        assert [r["values_reversed"] for r in s.release.reversed_columns] == [1]


def test_a_reversed_quasi_identifier_links_again_in_plaintext(both):
    # C's dates of birth are hashed (unkeyed), A's are plaintext. Round 1: a2 and c1 agree
    # on Wang Wei but C's date is a hash: no full_name + date_of_birth link; entities
    # {a1, b1}, {a2}, {b2, c1}, {c2}. The attacker enumerates all ~4e4 dates within
    # budget: both of C's fall (2). Round 2 relinks the quasi-identifier set, C keyed in
    # both forms; the recovered 1985-05-05 meets a2's: a2-c1 links and the entities, and
    # with C's dates readable again the gains, are the baseline's (E = 29, worked in
    # tests/test_linkage_handmade.py): a1 2, a2 5, b1 5, b2 11, c1 6, c2 0.
    for result in both:
        s = result.scenario("hash-c-dob")
        assert [(r["column"], r["values_reversed"]) for r in s.release.reversed_columns] == [("C.dob", 2)]
        assert entity_sets(s) == {frozenset({"a1", "b1"}), frozenset({"a2", "b2", "c1"}), frozenset({"c2"})}
        assert s.enrichment.gain.tolist() == [2, 5, 5, 11, 6, 0]
        assert s.prevented["value"] == pytest.approx(0)


def test_a_hidden_value_is_not_the_baselines_score(both):
    # C.health dropped: the links, hence the entities, are the baseline's (copied), but
    # c1 no longer reads health. a2 holds 8, b2 2, c1 name, dob, phone = 4; P = nid,
    # name, dob, photo, phone = 10: a2 2, b2 8, c1 6; a1 2, b1 5; c2 name, dob, phone
    # = 4, alone: 0. E = 23; prevented 1 - 23/29 = 6/29, all of it by hiding (the links
    # are the baseline's: by links 0).
    for result in both:
        s = result.scenario("drop-c-health")
        assert s.enrichment.gain.tolist() == [2, 2, 5, 8, 6, 0]
        assert s.prevented["value"] == pytest.approx(6 / 29)
        assert s.prevented["by_links"]["value"] == pytest.approx(0)
        assert s.prevented["by_hiding"]["value"] == pytest.approx(6 / 29)


def test_a_scenario_with_the_baselines_entities_scores_once(engine_name, request, monkeypatch):
    # drop-c-health links exactly the baseline's pairs: its entities are copied, so the
    # score with the baseline's readability (for the decomposition) is the baseline's
    # own table, and only the scenario's own score is computed
    import linkrisk.stages as stages

    made = []
    real = stages.score_table
    monkeypatch.setattr(stages, "score_table", lambda *a, **k: made.append(a[-1]) or real(*a, **k))
    with tiny_study([DROP_C_HEALTH]).run(engine=new_engine(engine_name, request)) as result:
        assert made == ["score_s0", "score_s1"]
        assert result.scenario("drop-c-health").enrichment.total == 23


def test_the_attackers_later_rounds_copy_what_no_reversal_changed(engine_name, request, monkeypatch):
    # hash-a-nid: round 2 follows a national_id reversal, so only the national_id rule is
    # linked again; phone and full_name+date_of_birth are copied from round 1's edges
    import linkrisk.link as link

    copied = []
    real = link._reuse
    monkeypatch.setattr(link, "_reuse", lambda engine, src, edges, linker, rule:
                        copied.append((src.edges, linker, rule)) or real(engine, src, edges, linker, rule))
    with tiny_study([HASH_A_NID]).run(engine=new_engine(engine_name, request)) as result:
        assert ("edges_s1_prev", "identifiers", "phone") in copied
        assert ("edges_s1_prev", "quasi_identifiers", "full_name+date_of_birth") in copied
        assert not any(rule == "national_id" and src == "edges_s1_prev" for src, _, rule in copied)
        assert result.scenario("hash-a-nid").links.pairs == 3
        assert "edges_s1_prev" not in result.engine.tables()  # the previous round's edges are dropped


def test_a_quasi_identifier_reversal_relinks_only_its_sets(engine_name, request, monkeypatch):
    # hash-c-dob: round 2 follows a date_of_birth reversal, so the full_name +
    # date_of_birth set is linked again (in both of C's forms) and the identifier rules
    # are copied from round 1's edges
    import linkrisk.link as link

    copied = []
    real = link._reuse
    monkeypatch.setattr(link, "_reuse", lambda engine, src, edges, linker, rule:
                        copied.append((src.edges, linker, rule)) or real(engine, src, edges, linker, rule))
    with tiny_study([HASH_C_DOB]).run(engine=new_engine(engine_name, request)) as result:
        assert {("edges_s1_prev", "identifiers", "national_id"), ("edges_s1_prev", "identifiers", "phone")} <= \
            set(copied)
        assert not any(linker == "quasi_identifiers" and src == "edges_s1_prev" for src, linker, _ in copied)
        assert result.scenario("hash-c-dob").links.pairs == 3


def test_a_reversed_kind_links_only_its_plain_domain_again(engine_name, request, monkeypatch):
    # hash-phone: every phone is hashed (one unkeyed domain); the attacker enumerates all
    # 1e10 mobile numbers within budget and recovers b1, b2, c1 and c2's. Round 2 links the
    # recovered plaintext (the phone's plain domain); the hashed domain reads the same
    # columns as in round 1, so its edges (b2-c1) are copied, not linked again.
    import linkrisk.link as link

    copied = []
    real_reuse = link._reuse
    monkeypatch.setattr(link, "_reuse", lambda engine, src, edges, linker, rule:
                        copied.append((src.edges, rule)) or real_reuse(engine, src, edges, linker, rule))
    with tiny_study([HASH_PHONE]).run(engine=new_engine(engine_name, request)) as result:
        s = result.scenario("hash-phone")
        assert ("edges_s1_prev", "phone") in copied  # round 2: the hashed domain's edges
        assert [r["values_reversed"] for r in s.release.reversed_columns] == [2, 2]  # B's and C's phones
        assert entity_sets(s) == {frozenset({"a1", "b1"}), frozenset({"a2", "b2", "c1"}), frozenset({"c2"})}
        assert s.links.pairs == 3
        rules = s.links.by_rule.groupby("rule")["pairs"].sum().to_dict()
        # b2-c1 counts once under phone though both domains link it (issue 26)
        assert rules == {"national_id": 1, "phone": 1, "full_name+date_of_birth": 1}


def test_a_column_is_tried_again_when_its_dictionary_grows(engine_name, request, monkeypatch):
    # A's national IDs are hashed (unkeyed): their dictionary is the plaintext IDs the
    # attacker reads elsewhere. B's are encrypted under B's key, which the attacker
    # holds. Round 1: B.nid is decrypted (b1: ID1); A.nid finds no plaintext ID to hash.
    # Round 2: B's recovered ID1 is in A.nid's dictionary: a1 falls; B.nid is not tried
    # (decryption reads nothing from the graph, and no other national_id column grew).
    # Round 3: A.nid grew, so B.nid is tried (nothing new); A.nid is not. Links and
    # gains are then those of hash-a-nid: E = 23.
    import linkrisk.attack as attack
    import linkrisk.scenario_run as scenario_run

    policy = {"A.nid": {"technique": "hash"}, "B.nid": {"technique": "deterministic_encryption",
                                                         "key_scope": "dataset"}}
    study = tiny_study([lr.Scenario("s", policy)], compromised_keys=["dataset:B"])
    tried = []
    real = attack._reverse_column
    monkeypatch.setattr(attack, "_reverse_column", lambda engine, study, loaded, release, c, *a:
                        tried.append(f"{c.dataset}.{c.ref.column}") or real(engine, study, loaded, release, c, *a))
    figures = []
    for incremental in (True, False):
        tried.clear()
        monkeypatch.setattr(scenario_run, "INCREMENTAL", incremental)
        with study.run(engine=new_engine(engine_name, request)) as result:
            s = result.scenario("s")
            assert entity_sets(s) == {frozenset({"a1", "b1"}), frozenset({"a2", "b2", "c1"}), frozenset({"c2"})}
            assert s.enrichment.gain.tolist() == [2, 5, 5, 8, 3, 0]
            rev = {r["column"]: r["values_reversed"] for r in s.release.reversed_columns}
            assert rev == {"A.nid": 1, "B.nid": 1}
            figures.append(_figures(result))
        assert tried == (["A.nid", "B.nid", "A.nid", "B.nid"] if incremental else ["A.nid", "B.nid"] * 3)
    assert figures[0] == figures[1]


@pytest.mark.slow
def test_the_sample_study_incrementally_and_in_full(monkeypatch):
    # the sample study's linkers (identifiers, quasi-identifiers, faces), its seven
    # scenarios (keyed and unkeyed hashes, generalisation, face templates dropped,
    # degraded and protected) and the dictionary attacker: the same figures whether
    # scenarios reuse the baseline's work or not
    import linkrisk.scenario_run as scenario_run
    from test_sample_study import SAMPLE

    study = lr.Study.from_toml(SAMPLE)
    study.what_matters = False  # the same scenario runner; not what differs here
    study.assess_risk = False
    figures = []
    for incremental in (True, False):
        monkeypatch.setattr(scenario_run, "INCREMENTAL", incremental)
        with study.run() as result:
            figures.append(_figures(result))
    assert figures[0] == figures[1]
