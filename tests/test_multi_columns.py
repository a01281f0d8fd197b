"""A dataset that releases two columns of one kind: both count, wherever risk reads them.

The quasi-identifier linker keys a record through every column of a kind
(tests/test_linkage_handmade.py). Re-identification risk (equivalence classes, journalist
risk, the class sizes handed to the population estimators) and face linkage must read
every column too: reading only the first one understates what the breach gives away.
"""

from __future__ import annotations

import pandas as pd
import pytest

import linkrisk as lr
from helpers import new_engine

# Four records, a home and a work address each.
HOMES = pd.DataFrame({"rid": ["r1", "r2", "r3", "r4"],
                      "home": ["1 Road A", "1 Road A", "2 Road B", "2 Road B"],
                      "work": ["7 Street P", "8 Street Q", "9 Street R", "10 Street S"]})


def _risk_study(frames: dict[str, tuple[pd.DataFrame, dict]]) -> lr.Study:
    datasets = [lr.Dataset(name, frame, columns, record_id="rid") for name, (frame, columns) in frames.items()]
    return lr.Study(datasets, name="multi", seed=3, what_matters=False,
                    attacker=lr.Attacker(linkers=["identifiers"]))


def _entry(result: lr.Result, dataset: str) -> dict:
    u = result.uniqueness
    rows = u[u.dataset == dataset]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_both_address_columns_make_the_class_key(engine_name, request, tmp_path):
    # Home alone: {r1, r2} on 1 Road A, {r3, r4} on 2 Road B: two classes of 2, no
    # unique, k 2, marketer risk 2/4. Home + work: four different pairs, four classes of
    # one: uniqueness 4/4 = 1.0, k 1, prosecutor risk 1, marketer risk 4/4 = 1. Before,
    # only the first address column was read: uniqueness 0.
    study = _risk_study({"H": (HOMES, {"home": "address", "work": "address"})})
    with study.run(engine=new_engine(engine_name, request)) as result:
        e = _entry(result, "H")
        assert (e["records"], e["classes"], e["uniques"], e["k"]) == (4, 4, 4, 1)
        assert e["unique_share"] == 1.0 and e["prosecutor_risk"] == 1.0 and e["marketer_risk"] == 1.0
        assert e["quasi_identifiers"] == ["address"]
        assert e["columns"] == {"address": ["home", "work"]}  # the report names both
        assert result.class_sizes("H", ["address"]) == {1: 4}
        # the reports name both columns beside the kind (Markdown escapes the brackets)
        assert "| address \\(home, work\\) |" in result.write(tmp_path / "r.md").read_text("utf-8")
        assert "<td>address (home, work)</td>" in result.write(tmp_path / "r.html").read_text("utf-8")


def test_a_missing_second_column_is_a_value_of_its_own(engine_name, request):
    # Work addresses mostly missing: keys (1 Road A, 7 Street P), (1 Road A, -),
    # (2 Road B, -), (2 Road B, -). A missing value is a value, as for one column: r3 and
    # r4 share a class, r1 and r2 are alone. Classes {1, 1, 2}: uniques 2, share 2/4 =
    # 0.5, k 1, marketer 3/4. Before (home only): {2, 2}, share 0.
    frame = HOMES.assign(work=["7 Street P", None, None, None])
    study = _risk_study({"H": (frame, {"home": "address", "work": "address"})})
    with study.run(engine=new_engine(engine_name, request)) as result:
        e = _entry(result, "H")
        assert (e["records"], e["classes"], e["uniques"], e["k"]) == (4, 3, 2, 1)
        assert e["unique_share"] == 0.5 and e["marketer_risk"] == pytest.approx(0.75)
        assert result.class_sizes("H", ["address"]) == {1: 2, 2: 1}


def test_journalist_risk_reads_every_address_column(engine_name, request):
    # A: name, home, work; B (the population): name, one address.
    #   a1 Li Na    1 Road A  7 Street P      b1 Li Na    7 Street P
    #   a2 Li Na    2 Road B  8 Street Q      b2 Li Na    2 Road B
    #   a3 Wang Wei 3 Road C  -               b3 Li Na    8 Street Q
    #                                         b4, b5 Wang Wei 3 Road C
    # A's forms: (name, home) and (name, work), none with a missing value.
    #   a1: (Li Na, 7 Street P) -> b1: F = 1
    #   a2: (Li Na, 2 Road B) -> b2, (Li Na, 8 Street Q) -> b3: F = 2
    #   a3: (Wang Wei, 3 Road C) -> b4, b5: F = 2
    # records 3, exactly one 1, any 3, mean risk (1 + 1/2 + 1/2) / 3 = 2/3.
    # Home only (before): a1 no match, a2 F = 1 (b2), a3 F = 2: any 2, mean (0 + 1 + 1/2) / 3 = 0.5.
    # B against A: b1 -> a1 (work), b2 -> a2 (home), b3 -> a2 (work), b4 and b5 -> a3:
    # every one of B's 5 records matches exactly one of A's (before: 3, b1 and b3 unmatched).
    a = pd.DataFrame({"rid": ["a1", "a2", "a3"], "name": ["Li Na", "Li Na", "Wang Wei"],
                      "home": ["1 Road A", "2 Road B", "3 Road C"], "work": ["7 Street P", "8 Street Q", None]})
    b = pd.DataFrame({"rid": ["b1", "b2", "b3", "b4", "b5"], "name": ["Li Na"] * 3 + ["Wang Wei"] * 2,
                      "addr": ["7 Street P", "2 Road B", "8 Street Q", "3 Road C", "3 Road C"]})
    study = _risk_study({"A": (a, {"name": "full_name", "home": "address", "work": "address"}),
                         "B": (b, {"name": "full_name", "addr": "address"})})
    with study.run(engine=new_engine(engine_name, request)) as result:
        j = {(r.dataset, r.population): r for r in result.journalist.itertuples()}
        ab = j[("A", "B")]
        assert (ab.records, ab.matching_exactly_one, ab.matching_any) == (3, 1, 3)
        assert ab.mean_risk == pytest.approx(2 / 3)
        assert ab.columns == {"full_name": ["name"], "address": ["home", "work"]}
        assert ab.population_columns == {"full_name": ["name"], "address": ["addr"]}
        ba = j[("B", "A")]
        assert (ba.records, ba.matching_exactly_one, ba.matching_any) == (5, 5, 5)
        # A on name + address (both columns): (Li Na, 1 Road A, 7 Street P),
        # (Li Na, 2 Road B, 8 Street Q), (Wang Wei, 3 Road C, -): three uniques
        assert _entry(result, "A")["uniques"] == 3
        assert _entry(result, "A")["columns"] == {"full_name": ["name"], "address": ["home", "work"]}


def test_face_measures_read_every_face_column_of_a_dataset(tmp_path):
    # A releases two face captures (front, side), B one. Templates (threshold 0.7):
    #   a1 front (1,0,0,0), no side           b1 (0.8,0.6,0,0): cos with a1's front 0.8, a link
    #   a2 no front, side (0,0,1,0)           b2 (0,0,0.8,0.6): cos with a2's side 0.8, a link
    #                                         b3 (0,1,0,0): 0 with both, no link
    # Truth: a1, b1 person 1; a2, b2 person 2; b3 person 3. B (3 templates) is searched in
    # each of A's columns (1 template each): two searches, b1-a1 through the front, b2-a2
    # through the side. Over the pair of datasets: 2 genuine links found (b1, b2), no false
    # pair; mated searches are B's records whose person has a template in any of A's
    # columns: b1 and b2, so 2, and FNIR 1 - 2/2 = 0. Before, only A's last face column
    # (side) was read: mated 1 (b2 only) and FNIR 1 - 2/1 = -1, an impossible rate.
    a = pd.DataFrame({"rid": ["a1", "a2"], "front": ["[1, 0, 0, 0]", None], "side": [None, "[0, 0, 1, 0]"]})
    b = pd.DataFrame({"rid": ["b1", "b2", "b3"],
                      "face": ["[0.8, 0.6, 0, 0]", "[0, 0, 0.8, 0.6]", "[0, 1, 0, 0]"]})
    truth = pd.DataFrame({"dataset": ["A", "A", "B", "B", "B"], "record_id": ["a1", "a2", "b1", "b2", "b3"],
                          "person_id": ["p1", "p2", "p1", "p2", "p3"]})
    study = lr.Study([lr.Dataset("A", a, {"front": "face_template", "side": "face_template"}, record_id="rid"),
                      lr.Dataset("B", b, {"face": "face_template"}, record_id="rid")],
                     name="faces", seed=3, what_matters=False, assess_risk=False, truth=truth,
                     attacker=lr.Attacker(linkers=["faces"], face_threshold=0.7))
    with study.run() as result:
        assert result.baseline.links.pairs == 2
        searches = result.to_dict()["faces"]["searches"]
        assert sorted((s["queries_column"], s["gallery_column"], s["pairs"]) for s in searches) == \
            [("face", "front", 1), ("face", "side", 1)]
        for s in searches:  # measured over the pair of datasets, every face column of each
            assert (s["mated_searches"], s["mated_searches_found"], s["false_pairs"]) == (2, 2, 0)
            assert s["fnir_measured"] == 0
        html = result.write(tmp_path / "r.html").read_text("utf-8")  # two searches of one pair: columns named
        assert "<td>B.face (3)</td><td>A.front (1)</td>" in html and "<td>B.face (3)</td><td>A.side (1)</td>" in html


def test_the_run_says_the_probabilistic_and_classic_linkers_compare_the_first_column_only():
    # Those linkers compare one column per kind and dataset (docs/method.md, Linkers): a
    # dataset with a home and a work address gets a warning naming both columns, none
    # for the one-address dataset, and none without those linkers. No value is quoted.
    a = pd.DataFrame({"rid": ["a1", "a2"], "name": ["Li Na", "Wang Wei"],
                      "home": ["1 Road A", "2 Road B"], "work": ["7 Street P", "8 Street Q"]})
    b = pd.DataFrame({"rid": ["b1"], "name": ["Li Na"], "addr": ["7 Street P"]})
    datasets = [lr.Dataset("A", a, {"name": "full_name", "home": "address", "work": "address"}, record_id="rid"),
                lr.Dataset("B", b, {"name": "full_name", "addr": "address"}, record_id="rid")]
    study = lr.Study(datasets, name="w", seed=3, what_matters=False, assess_risk=False,
                     attacker=lr.Attacker(linkers=["identifiers", "quasi_identifiers", "classic"]))
    with study.run() as result:
        got = [w for w in result.warnings if w["problem"] == "column_not_compared"]
        assert [(w["dataset"], w["kind"], w["column"]) for w in got] == [("A", "address", "work")]
        message = got[0]["message"]
        assert "'home', 'work'" in message and "classic linker compares only the first, 'home'" in message
        assert "Road" not in message and "Street" not in message
    plain = lr.Study(datasets, name="w", seed=3, what_matters=False, assess_risk=False,
                     attacker=lr.Attacker(linkers=["identifiers", "quasi_identifiers"]))
    with plain.run() as result:
        assert not [w for w in result.warnings if w["problem"] == "column_not_compared"]
