"""Links, entities and enrichment on a tiny study worked out by hand.

Three holders, seven records:

    A (surveillance): national_id, full_name, date_of_birth, photo
        a1  ID1  Li Na     1990-01-01  x
        a2  ID2  Wang Wei  1985-05-05  y
    B (telecom): phone, national_id
        b1  13800000001  ID1
        b2  13800000002  -
    C (clinic): full_name, date_of_birth, phone, health
        c1  Wang Wei  1985-05-05  13800000002  flu
        c2  Zhao Lei  1970-07-07  13800000003  cold

Links: a1-b1 (national_id), b2-c1 (phone), a2-c1 (full_name + date_of_birth).
Entities: {a1, b1}, {a2, b2, c1}, {c2}; two of them span two or more datasets.

Default weights: national_id 3, phone 2, full_name 1, date_of_birth 1, photo 3, health 3.

    a1 holds nid, name, dob, photo = 8     b1 holds phone, nid = 5
    P{a1,b1} = nid, name, dob, photo, phone = 10      gains: a1 2, b1 5
    a2 holds 8; b2 holds phone = 2; c1 holds name, dob, phone, health = 7
    P{a2,b2,c1} = nid, name, dob, photo, phone, health = 13   gains: a2 5, b2 11, c1 6
    c2 gains 0.
    E = 2 + 5 + 5 + 11 + 6 = 29; per record 29 / 7; by dataset A 7, B 16, C 6.
"""

from __future__ import annotations

import pandas as pd
import pytest

import linkrisk as lr
from helpers import new_engine

A = pd.DataFrame({"rid": ["a1", "a2"], "nid": ["ID1", "ID2"], "name": ["Li Na", "Wang Wei"],
                  "dob": ["1990-01-01", "1985-05-05"], "photo": ["x", "y"]})
B = pd.DataFrame({"rid": ["b1", "b2"], "phone": ["13800000001", "13800000002"], "nid": ["ID1", None]})
C = pd.DataFrame({"rid": ["c1", "c2"], "name": ["Wang Wei", "Zhao Lei"], "dob": ["1985-05-05", "1970-07-07"],
                  "phone": ["138-0000-0002", "+86 138 0000 0003"], "health": ["flu", "cold"]})
TRUTH = pd.DataFrame({"dataset": ["A", "A", "B", "B", "C", "C"], "record_id": ["a1", "a2", "b1", "b2", "c1", "c2"],
                      "person_id": ["p1", "p2", "p1", "p2", "p2", "p3"]})


def tiny_study(scenarios=(), weights="default", truth=None, **attacker) -> lr.Study:
    datasets = [
        lr.Dataset("A", A, {"nid": "national_id", "name": "full_name", "dob": "date_of_birth", "photo": "photo"},
                   record_id="rid"),
        lr.Dataset("B", B, {"phone": "phone", "nid": "national_id"}, record_id="rid"),
        lr.Dataset("C", C, {"name": "full_name", "dob": "date_of_birth", "phone": "phone", "health": "health"},
                   record_id="rid"),
    ]
    settings = {"quasi_identifier_sets": [["full_name", "date_of_birth"]], **attacker}
    # what-matters and risk are left out: not what these tests check, and on Spark they
    # would triple each run
    return lr.Study(datasets, name="tiny", seed=7, weights=weights, scenarios=list(scenarios),
                    attacker=lr.Attacker(**settings), truth=truth, what_matters=False, assess_risk=False)


def run(study: lr.Study, engine_name: str, request) -> lr.Result:
    """Run ``study`` on the engine under test (each test runs on DuckDB and on Spark)."""
    return study.run(engine=new_engine(engine_name, request))


def entity_sets(scenario) -> set[frozenset]:
    table = scenario.graph.entity_table()
    table["rec"] = table["record_id"]
    return {frozenset(g["rec"]) for _, g in table.groupby("entity_id")}


@pytest.fixture(scope="module")
def baseline(engine_name, request):
    result = run(tiny_study(truth=TRUTH), engine_name, request)
    yield result
    result.close()


def test_links_and_entities(baseline):
    s = baseline.baseline
    assert s.links.pairs == 3
    rules = set(zip(s.links.by_rule["linker"], s.links.by_rule["rule"]))
    assert rules == {("identifiers", "national_id"), ("identifiers", "phone"),
                     ("quasi_identifiers", "full_name+date_of_birth")}
    assert entity_sets(s) == {frozenset({"a1", "b1"}), frozenset({"a2", "b2", "c1"}), frozenset({"c2"})}
    assert s.entities == 3
    assert s.multi_dataset_entities == 2


def test_enrichment_by_hand(baseline):
    e = baseline.baseline.enrichment
    assert e.gain.tolist() == [2, 5, 5, 11, 6, 0]  # a1, a2, b1, b2, c1, c2 in record-id order
    assert e.total == 29
    assert e.mean_per_record == pytest.approx(29 / 6)
    assert {k: v["total"] for k, v in e.by_dataset.items()} == {"A": 7, "B": 16, "C": 6}


def test_kinds_gained_from_other_datasets(baseline):
    g = baseline.baseline.enrichment.gained_from
    # B's two records gain photo from A (b1 from a1, b2 from a2): share 2 / 2
    row = g[(g.dataset == "B") & (g.from_dataset == "A") & (g.kind == "photo")]
    assert row["records"].item() == 2 and row["share"].item() == 1.0
    # only b2 gains health, and only from C
    row = g[(g.dataset == "B") & (g.kind == "health")]
    assert row["from_dataset"].tolist() == ["C"] and row["records"].item() == 1


def test_json_keys(baseline):
    d = baseline.to_dict()
    assert list(d)[:5] == ["linkrisk_version", "study", "datasets", "weights", "scenarios"]
    base = d["scenarios"][0]
    assert base["name"] == "baseline"
    for key in ("links", "entities", "multi_dataset_entities", "enrichment", "enrichment_prevented",
                "reversed_columns", "hubs", "ground_truth"):
        assert key in base
    assert base["enrichment_prevented"] is None
    assert set(base["enrichment"]) >= {"total", "mean_per_record", "by_dataset"}


def test_uniform_weights(engine_name, request):
    # every kind weighs 1: gains a1 1, b1 3, a2 2, b2 5, c1 2 -> 13
    with run(tiny_study(weights="uniform"), engine_name, request) as result:
        assert result.baseline.enrichment.total == 13
        assert set(result.to_dict()["weights"].values()) == {1.0}


def test_ground_truth(baseline):
    g = baseline.baseline.ground_truth
    # predicted pairs: 1 + 3 = 4; true pairs p1: 1, p2: 3 -> 4; all predicted pairs are true
    assert g["pair_precision"] == 1.0 and g["pair_recall"] == 1.0
    assert g["pure_entities"] == 1.0
    assert g["true_gain"] == 29 and g["false_gain"] == 0


def test_false_gain_from_a_wrong_merge(engine_name, request):
    # Say c1 is really a third person: then the entity {a2, b2, c1} holds one wrong merge.
    truth = TRUTH.copy()
    truth.loc[truth.record_id == "c1", "person_id"] = "p4"
    with run(tiny_study(truth=truth), engine_name, request) as result:
        g = result.baseline.ground_truth
        # predicted pairs 4, true pairs 2 (a1-b1, a2-b2), correct 2
        assert g["pair_precision"] == 0.5 and g["pair_recall"] == 1.0
        assert g["pure_entities"] == pytest.approx(2 / 3)
        # true gains: a1 2, b1 5 (unchanged); a2 with b2 only: +phone 2; b2 with a2: +nid,name,dob,photo 8;
        # c1 alone: 0 -> true gain 17; false gain 29 - 17 = 12
        assert g["true_gain"] == 17 and g["false_gain"] == 12


def test_hub_values_do_not_link(engine_name, request):
    # Three records of B share a placeholder phone; with max_value_frequency 2 it is a hub.
    b = pd.DataFrame({"rid": ["b1", "b2", "b3"], "phone": ["13800000000"] * 3, "nid": ["X1", "X2", "X3"]})
    study = lr.Study([lr.Dataset("B", b, {"phone": "phone", "nid": "national_id"}, record_id="rid")],
                     attacker=lr.Attacker(max_value_frequency=2), what_matters=False, assess_risk=False)
    with run(study, engine_name, request) as result:
        s = result.baseline
        assert s.links.pairs == 0
        assert s.entities == 3
        assert [(h["rule"], h["records"]) for h in s.hubs] == [("phone", 3)]
        assert "13800000000" not in str(s.hubs) and "+8613800000000" not in str(s.hubs)


def test_a_record_counts_once_per_value(engine_name, request):
    # b1 holds one number in both phone columns and c1 holds it too: two records, not
    # three, hold the value, so with max_value_frequency 2 it links them and is no hub
    b = pd.DataFrame({"rid": ["b1", "b2"], "mobile": ["13800000001", "13800000002"],
                      "home": ["13800000001", None]})
    c = pd.DataFrame({"rid": ["c1"], "phone": ["13800000001"]})
    study = lr.Study([lr.Dataset("B", b, {"mobile": "phone", "home": "phone"}, record_id="rid"),
                      lr.Dataset("C", c, {"phone": "phone"}, record_id="rid")],
                     attacker=lr.Attacker(max_value_frequency=2), what_matters=False, assess_risk=False)
    with run(study, engine_name, request) as result:
        s = result.baseline
        assert s.hubs == []
        assert s.links.pairs == 1
        assert entity_sets(s) == {frozenset({"b1", "c1"}), frozenset({"b2"})}


def test_every_column_of_a_quasi_identifier_kind_links(engine_name, request):
    # C releases two addresses (home, ship), D two (address, work); the set is full_name +
    # address, max_class_size 1, max_value_frequency 2. Keys per record:
    #   c1: (Li Na, 1 Road A), (Li Na, 2 Road B)    d1: (Li Na, 2 Road B)
    #   c2: (Wang Wei, 3 Road C) through both columns, counted once: class 1 in C
    #   c3: (Zhang Min, 5 Road E), (Zhang Min, 6 Road F)    d3: the same two keys
    #   d2: (Wang Wei, 3 Road C)
    # Every class holds one record per dataset, and no combination more than 2 records in
    # all (Wang Wei's: c2 once + d2): 3 links, c1-d1 (through C's second column), c2-d2,
    # c3-d3 (through two keys, one edge), no hub. Before, only each dataset's first
    # address was read: 2 links (c2-d2, c3-d3).
    c = pd.DataFrame({"rid": ["c1", "c2", "c3"], "name": ["Li Na", "Wang Wei", "Zhang Min"],
                      "home": ["1 Road A", "3 Road C", "5 Road E"], "ship": ["2 Road B", "3 Road C", "6 Road F"]})
    d = pd.DataFrame({"rid": ["d1", "d2", "d3"], "name": ["Li Na", "Wang Wei", "Zhang Min"],
                      "address": ["2 Road B", "3 Road C", "5 Road E"], "work": [None, None, "6 Road F"]})
    study = lr.Study([lr.Dataset("C", c, {"name": "full_name", "home": "address", "ship": "address"}, record_id="rid"),
                      lr.Dataset("D", d, {"name": "full_name", "address": "address", "work": "address"},
                                 record_id="rid")],
                     attacker=lr.Attacker(linkers=["quasi_identifiers"], quasi_identifier_sets=[["full_name", "address"]],
                                          max_value_frequency=2),
                     what_matters=False, assess_risk=False)
    with run(study, engine_name, request) as result:
        s = result.baseline
        assert s.hubs == []
        assert s.links.pairs == 3
        assert entity_sets(s) == {frozenset({"c1", "d1"}), frozenset({"c2", "d2"}), frozenset({"c3", "d3"})}
        assert int(result.engine.scalar(f"SELECT count(*) FROM {s.links.edges}")) == 3  # c3-d3 once


def test_quasi_identifier_classes_must_be_unique(engine_name, request):
    # Two "Zhao Lei, 1970-07-07" in C: the combination is not unique in C, so no link.
    c = pd.concat([C, pd.DataFrame({"rid": ["c3"], "name": ["Zhao Lei"], "dob": ["1970-07-07"],
                                    "phone": ["13800000009"], "health": ["x"]})], ignore_index=True)
    a = pd.concat([A, pd.DataFrame({"rid": ["a3"], "nid": ["ID3"], "name": ["Zhao Lei"],
                                    "dob": ["1970-07-07"], "photo": ["z"]})], ignore_index=True)
    study = lr.Study([lr.Dataset("A", a, {"nid": "national_id", "name": "full_name", "dob": "date_of_birth"},
                                 record_id="rid"),
                      lr.Dataset("C", c, {"name": "full_name", "dob": "date_of_birth"}, record_id="rid")],
                     attacker=lr.Attacker(quasi_identifier_sets=[["full_name", "date_of_birth"]]),
                     what_matters=False, assess_risk=False)  # as tiny_study: links only
    with run(study, engine_name, request) as result:
        pairs = result.engine.df(f"SELECT a, b FROM {result.baseline.links.edges}")
        # only a2-c1 (Wang Wei) links; a3 with c2 or c3 would be a guess
        assert len(pairs) == 1
    with run(tiny_study(max_class_size=2), engine_name, request) as result:
        assert result.baseline.links.pairs == 3


def test_entity_neighbourhood_is_redacted(baseline):
    g = baseline.graph("baseline")
    e = g.entity(g.entity_of("A", "a2"))
    assert sorted(e.records["record_id"]) == ["a2", "b2", "c1"]
    nx_graph = e.to_networkx()
    records = [n for n, d in nx_graph.nodes(data=True) if d["type"] == "record"]
    values = [d for n, d in nx_graph.nodes(data=True) if d["type"] == "value"]
    assert sorted(records) == ["A:a2", "B:b2", "C:c1"]
    # identifier values: ID2 (a2) and the phone shared by b2 and c1 -> two value nodes
    assert sorted(v["kind"] for v in values) == ["national_id", "phone"]
    text = str(list(nx_graph.nodes(data=True)))
    assert "ID2" not in text and "13800000002" not in text
    shown = g.entity(e.id, show_values=True).to_networkx()
    assert "+8613800000002" in str(list(shown.nodes(data=True)))


def test_suspicious_entity(engine_name, request):
    # b1 and b2 share a phone but hold different national ids: one suspicious entity
    b = pd.DataFrame({"rid": ["b1", "b2"], "phone": ["13800000001"] * 2, "nid": ["X1", "X2"]})
    study = lr.Study([lr.Dataset("B", b, {"phone": "phone", "nid": "national_id"}, record_id="rid")],
                     what_matters=False, assess_risk=False)
    with run(study, engine_name, request) as result:
        assert result.baseline.suspicious_entities == 1


def test_suspicious_entities_are_all_counted_beyond_the_ids_kept(engine_name, request, monkeypatch):
    # three such pairs (b1-b2, b3-b4, b5-b6), three suspicious entities; with one id kept
    # for the explorer the count is still 3 (the count and the ids come from one query)
    import linkrisk.stages as stages

    monkeypatch.setattr(stages, "SUSPICIOUS_IDS", 1)
    b = pd.DataFrame({"rid": [f"b{i}" for i in range(1, 7)],
                      "phone": ["13800000001"] * 2 + ["13800000002"] * 2 + ["13800000003"] * 2,
                      "nid": [f"X{i}" for i in range(1, 7)]})
    study = lr.Study([lr.Dataset("B", b, {"phone": "phone", "nid": "national_id"}, record_id="rid")],
                     what_matters=False, assess_risk=False)
    with run(study, engine_name, request) as result:
        assert result.baseline.suspicious_entities == 3
        assert result.baseline.suspicious_ids == [0]  # entities numbered by their first record


def test_person_codes_need_a_truth_file(engine_name, request):
    from linkrisk.errors import LinkriskError
    from linkrisk.truth import person_codes

    with run(tiny_study(), engine_name, request) as result:
        with pytest.raises(LinkriskError, match="no ground truth"):
            person_codes(result.engine, result.study, result.loaded)
