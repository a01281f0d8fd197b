"""Issue 19: no silent optimism. Each test is a path where linkrisk used to report a
figure more favourable to the data holder than the data allow, without saying so.

Every study here is tiny and made by hand; the expected figures are worked out in the
comments.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from stdnum.cn import ric

import linkrisk as lr
from helpers import new_engine
from linkrisk.cli import main
from linkrisk.quality import giant_entities
from test_linkage_handmade import entity_sets, tiny_study


def _run(study, engine_name, request):
    return study.run(engine=new_engine(engine_name, request))


def _names_dates(dates_b):
    a = pd.DataFrame({"rid": ["a1", "a2"], "name": ["Li Na", "Wang Wei"], "dob": ["1990-07-15", "1985-03-04"]})
    b = pd.DataFrame({"rid": ["b1", "b2"], "name": ["Li Na", "Wang Wei"], "birthday": dates_b})
    return lr.Study([lr.Dataset("A", a, {"name": "full_name", "dob": "date_of_birth"}, record_id="rid"),
                     lr.Dataset("B", b, {"name": "full_name", "birthday": "date_of_birth"}, record_id="rid")],
                    attacker=lr.Attacker(linkers=["quasi_identifiers"],
                                         quasi_identifier_sets=[["full_name", "date_of_birth"]]),
                    what_matters=False, assess_risk=False)


# 1. dates -----------------------------------------------------------------------------
@pytest.mark.parametrize("dates_b, order", [(["15/07/1990", "04/03/1985"], "day_first"),
                                            (["07/15/1990", "03/04/1985"], "month_first")])
def test_dates_written_year_last_link_in_the_order_their_column_shows(engine_name, request, dates_b, order):
    # A writes ISO dates, B the same dates year last. The 15 can only be a day (day-first
    # column) or, in the second case, only a day in the second place (month-first); so
    # 04/03/1985 is 4 March in the first column and 03/04/1985 is 4 March in the second.
    # Both records of B then agree with A on name + date of birth: 2 links. Before, the
    # slash forms were not parsed at all: 0 links, and no warning.
    with _run(_names_dates(dates_b), engine_name, request) as result:
        assert result.baseline.links.pairs == 2
        reading = {d["column"]: d for d in result.extra["assumptions"]["dates"]}["B.birthday"]
        assert (reading["order"], reading["status"], reading["year_last"]) == (order, "evidence", 2)
        assert result.extra["warnings"] == []


def test_an_ambiguous_date_column_is_reported_not_guessed_silently(engine_name, request):
    # 04/03/1985 is 4 March or 3 April: no value shows the order. Read day first (it
    # then links to A's 1985-03-04: 1 link), and a warning names the column.
    with _run(_names_dates([None, "04/03/1985"]), engine_name, request) as result:
        assert result.baseline.links.pairs == 1
        warnings = result.extra["warnings"]
        assert [(w["column"], w["problem"]) for w in warnings] == [("birthday", "ambiguous_dates")]
        assert "04/03" not in warnings[0]["message"]  # no data value is quoted
        md = result.to_dict()
        assert md["warnings"][0]["problem"] == "ambiguous_dates"


def test_a_per_column_date_format_overrides_the_evidence() -> None:
    # 04/03/1985 read with %m/%d/%Y is 3 April: no link to A's 4 March (0 links)
    study = _names_dates([None, "04/03/1985"])
    study.normalisation.date_formats = {"B.birthday": "%m/%d/%Y"}
    with study.run() as result:
        assert result.baseline.links.pairs == 0
        assert result.extra["warnings"] == []  # the study said how to read it
    study.normalisation.date_formats = {"B.nope": "%m/%d/%Y"}
    assert any("date_formats" in p.where for p in study.validate())


# 2. data-quality gates ------------------------------------------------------------------
def _bad_dates_study(tmp_path):
    # 10 birthdays, 8 unreadable ("n/a", "unknown"...): 8 / 10 = 80% invalid > 20%
    a = pd.DataFrame({"rid": [f"r{i}" for i in range(10)], "name": [f"Person {i}" for i in range(10)],
                      "birthday": ["1990-01-02", "1991-03-04"] + ["unknown"] * 4 + ["n/a"] * 4})
    a.to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "study.toml").write_text(
        'name = "bad dates"\n[recommendation]\nwhat_matters = false\n'
        '[[datasets]]\nname = "a"\npath = "a.csv"\nrecord_id = "rid"\n'
        '[datasets.columns]\nname = "full_name"\nbirthday = "date_of_birth"\n'
        '[attacker]\nquasi_identifier_sets = [["full_name", "date_of_birth"]]\n', "utf-8")
    return tmp_path / "study.toml"


def test_mostly_invalid_column_warns_in_validate_run_and_report_and_strict_fails(tmp_path, capsys):
    path = _bad_dates_study(tmp_path)
    warnings: list = []
    assert lr.Study.from_toml(path).validate(warnings=warnings) == []
    assert [(w["column"], w["problem"], w["share"]) for w in warnings] == [("birthday", "invalid", 0.8)]

    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: a.birthday (date_of_birth): 80.0%" in err and "unknown" not in err
    assert main(["validate", "--strict", str(path)]) == 2

    out = tmp_path / "r.json"
    assert main(["run", "-q", str(path), "--json", str(out)]) == 0
    assert "warning: a.birthday" in capsys.readouterr().err  # printed even with --quiet
    assert json.loads(out.read_text("utf-8"))["warnings"][0]["share"] == 0.8
    md = tmp_path / "r.md"
    assert main(["run", "-q", str(path), "--out", str(md)]) == 0
    head = md.read_text("utf-8").split("## Scenarios")[0]
    assert "**Warning:** a.birthday (date_of_birth): 80.0%" in head
    out2 = tmp_path / "strict.json"
    assert main(["run", "--strict", str(path), "--json", str(out2)]) == 2
    assert not out2.exists()


# 3. placeholders and giant entities ------------------------------------------------------
def test_a_placeholder_below_the_absolute_limit_is_a_hub(engine_name, request):
    # 300 people: A holds phones p0..p299, B holds p0..p149 (150 true links). 40 further
    # records of B all give one number (a placeholder that is no repeated-digit pattern).
    # Records per value: 150 values x 2, 150 x 1, one x 40: p99 = 2, so the relative
    # limit is max(10, 5 x 2) = 10 < 40 <= 50 (the absolute default): a hub, not 780
    # links (40 x 39 / 2) merging strangers. Before: 150 + 780 = 930 links.
    phones = [f"139{i:08d}" for i in range(300)]
    a = pd.DataFrame({"rid": [f"a{i}" for i in range(300)], "phone": phones})
    b = pd.DataFrame({"rid": [f"b{i}" for i in range(190)], "phone": phones[:150] + ["13912000001"] * 40})
    study = lr.Study([lr.Dataset("A", a, {"phone": "phone"}, record_id="rid"),
                      lr.Dataset("B", b, {"phone": "phone"}, record_id="rid")],
                     attacker=lr.Attacker(linkers=["identifiers"]), what_matters=False, assess_risk=False)
    with _run(study, engine_name, request) as result:
        assert result.baseline.links.pairs == 150
        hubs = result.baseline.hubs
        assert [(h["records"], h["reason"], h["limit"]) for h in hubs] == [(40, "frequency_outlier", 10)]


def test_known_placeholder_forms_are_hubs_from_three_records() -> None:
    # test@test.com held by 3 records links nothing; a real address held by 3 links them (3 pairs)
    a = pd.DataFrame({"rid": ["a1", "a2", "a3", "a4", "a5", "a6"],
                      "email": ["test@test.com"] * 3 + ["li.na@mail.cn"] * 3})
    study = lr.Study([lr.Dataset("A", a, {"email": "email"}, record_id="rid")],
                     attacker=lr.Attacker(linkers=["identifiers"]), what_matters=False, assess_risk=False)
    with study.run() as result:
        assert result.baseline.links.pairs == 3
        assert [(h["records"], h["reason"]) for h in result.baseline.hubs] == [(3, "placeholder")]


def test_giant_entities_are_flagged() -> None:
    # sizes: 500 x 1, 300 x 2, 50 x 3, one of 84. 851 entities; 99% of them (843) are
    # reached at size 3, so the limit is max(10, 5 x 3) = 15 and the 84-record one is giant
    g = giant_entities({"1": 500, "2": 300, "3": 50, "84": 1}, 1_334)
    assert (g["entities"], g["records"], g["limit"], g["largest"]) == (1, 84, 15, 84)
    assert "84" in g["message"]
    assert giant_entities({"1": 500, "2": 300}, 1_100)["entities"] == 0


def test_a_chain_of_links_makes_a_giant_entity_that_reaches_warnings_and_json(tmp_path) -> None:
    # 100 people are pairs (a_j, b_j) sharing a phone: 100 entities of 2. A chain of 15
    # records a_i, b_i (i = 0..14) links a_i - b_i by phone and b_i - a_(i+1) by e-mail,
    # so its 30 records are one entity. Every value is held by 2 records (no hub).
    # Sizes: 100 x 2, 1 x 30; 99% of the 101 entities are reached at size 2, so the limit
    # is max(10, 5 x 2) = 10 and the 30-record entity is giant.
    n, chain = 100, 15
    pa = [f"1390000{j:04d}" for j in range(n)] + [f"1370000{i:04d}" for i in range(chain)]
    a = pd.DataFrame({"rid": [f"a{k}" for k in range(n + chain)], "phone": pa,
                      "email": [None] * n + [f"p{i}@example.org" for i in range(chain)]})
    b = pd.DataFrame({"rid": [f"b{k}" for k in range(n + chain)], "phone": pa,
                      "email": [None] * n + [f"p{i + 1}@example.org" for i in range(chain)]})
    study = lr.Study([lr.Dataset("A", a, {"phone": "phone", "email": "email"}, record_id="rid"),
                      lr.Dataset("B", b, {"phone": "phone", "email": "email"}, record_id="rid")],
                     attacker=lr.Attacker(linkers=["identifiers"]), what_matters=False, assess_risk=False)
    with study.run() as result:
        giant = [w for w in result.warnings if w["problem"] == "giant_entity"]
        assert [w["scenario"] for w in giant] == ["baseline"]
        assert giant[0]["share"] == 30 / 230
        report = json.loads((result.write(tmp_path / "r.json")).read_text())
        g = report["scenarios"][0]["giant_entities"]
        assert (g["entities"], g["records"], g["largest"], g["limit"]) == (1, 30, 30, 10)
        assert any(w["problem"] == "giant_entity" for w in report["warnings"])


# 4 and 5. resident IDs: every division code ever assigned; the scheme inferred ---------------
def _rid(code: str, born: str, order: str) -> str:
    """A resident ID with its GB 11643-1999 check character: "10X98765432"[sum(d_i w_i) mod 11]."""
    first17 = code + born + order
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def _hashed_ids_study(scheme):
    # 110118 (Miyun District, Beijing) was assigned in 2015: stdnum rejects it for people
    # born in 1990, yet IDs issued there since keep it. 110101 has always existed.
    ids = [_rid("110118", "19900715", "001"), _rid("110101", "19850304", "002")]
    a = pd.DataFrame({"rid": ["a1", "a2"], "nid": ids, "name": ["Li Na", "Wang Wei"]})
    b = pd.DataFrame({"rid": ["b1", "b2"], "nid": ids, "phone": ["13900000011", "13900000012"]})
    return lr.Study([lr.Dataset("A", a, {"nid": "national_id", "name": "full_name"}, record_id="rid"),
                     lr.Dataset("B", b, {"nid": "national_id", "phone": "phone"}, record_id="rid")],
                    attacker=lr.Attacker(linkers=["identifiers"]),
                    scenarios=[lr.Scenario("sha256", {"national_id": {"technique": "hash"}})],
                    normalisation=lr.Normalisation(national_id_scheme=scheme),
                    what_matters=False, assess_risk=False)


def test_resident_ids_with_a_code_newer_than_the_birth_year_are_reversed(engine_name, request) -> None:
    # Both IDs are well formed; one fails stdnum's birth-year rule (a validity statistic:
    # 1 of 2 invalid), but the attacker enumerating every code ever assigned reverses
    # both: 2 of 2 per column. Before: 1 of 2.
    with _run(_hashed_ids_study("cn_ric"), engine_name, request) as result:
        assert [ric.is_valid(v) for v in _hashed_ids_study("cn_ric").datasets[0].source["nid"]] == [False, True]
        q = result.quality.set_index(["dataset", "column"])
        assert q.loc[("A", "nid"), "invalid"] == 1
        rev = {r["column"]: r for r in result.scenario("sha256").release.reversed_columns}
        assert [rev[c]["values_reversed"] for c in ("A.nid", "B.nid")] == [2, 2]
        space = rev["A.nid"]["candidate_space_used"]
        assert space["candidates"] == space["division_codes"] * space["dates"] * 1000
        assert space["division_codes"] > 6000  # codes of every period, not today's ~3,000


def test_the_national_id_scheme_is_inferred_when_the_study_sets_none(tmp_path) -> None:
    # 4 of 4 values are well-formed resident IDs: read as cn_ric, and reversed (2 of 2 per
    # column). Before, the default "generic" made them unreversible: 0 reversed.
    with _hashed_ids_study(None).run() as result:
        md = result.write(tmp_path / "r.md").read_text("utf-8").split("## Scenarios")[0]
        assert "**Assumed:** national IDs read as `cn_ric`: not set by the study; 100.0% of 4" in md
        assumed = result.extra["assumptions"]["national_id_scheme"]
        assert (assumed["scheme"], assumed["source"], assumed["values"], assumed["well_formed"]) == \
            ("cn_ric", "inferred", 4, 4)
        rev = result.scenario("sha256").release.reversed_columns
        assert sorted(r["values_reversed"] for r in rev) == [2, 2]
    with _hashed_ids_study("generic").run() as result:  # what the study says is kept
        assert result.extra["assumptions"]["national_id_scheme"]["source"] == "study"
        assert [r["values_reversed"] for r in result.scenario("sha256").release.reversed_columns] == [0, 0]


# 6. raw-text hashes ---------------------------------------------------------------------
def test_raw_text_hashes_are_reversed_in_every_written_form_seen(engine_name, request) -> None:
    # A writes "+86 139 0000 0011", B "13900000011": their raw-text hashes differ, and
    # neither is the canonical +8613900000011. The attacker enumerates the 1e10 mobiles in
    # the two forms seen (+DD DDD DDDD DDDD and DDDDDDDDDDD): both columns reversed (2 of
    # 2), the 2 phone links come back, and nothing is prevented. Before: 0 reversed,
    # 0 links, prevented 100% (the phone links were the only ones).
    a = pd.DataFrame({"rid": ["a1", "a2"], "phone": ["+86 139 0000 0011", "+86 139 0000 0012"],
                      "name": ["Li Na", "Wang Wei"]})
    b = pd.DataFrame({"rid": ["b1", "b2"], "phone": ["13900000011", "13900000012"], "health": ["flu", "cold"]})
    study = lr.Study([lr.Dataset("A", a, {"phone": "phone", "name": "full_name"}, record_id="rid"),
                      lr.Dataset("B", b, {"phone": "phone", "health": "health"}, record_id="rid")],
                     attacker=lr.Attacker(linkers=["identifiers"]),
                     scenarios=[lr.Scenario("raw", {"phone": {"technique": "hash", "normalise": False}})],
                     what_matters=False, assess_risk=False)
    with _run(study, engine_name, request) as result:
        s = result.scenario("raw")
        rev = {r["column"]: r for r in s.release.reversed_columns}
        assert [rev[c]["values_reversed"] for c in ("A.phone", "B.phone")] == [2, 2]
        assert sorted(rev["A.phone"]["written_forms_tried"]) == ["+DD DDD DDDD DDDD", "DDDDDDDDDDD"]
        assert rev["A.phone"]["candidate_space"] == 2e10  # 1e10 numbers x 2 forms
        assert s.links.pairs == 2
        assert s.prevented["value"] == pytest.approx(0.0)


# 7. prevented, decomposed ---------------------------------------------------------------
def test_prevented_is_split_into_broken_links_and_hidden_values(engine_name, request) -> None:
    # The hand-made study of test_linkage_handmade (E_baseline = 29). One key shared by
    # every holder for national_id: every link survives, so by_links = 0. National IDs are
    # unreadable: K drops by 3 for a1, a2, b1; gains a1 2, b1 5, a2 5, b2 8, c1 3: E = 23.
    # prevented = by_hiding = 6 / 29 = 0.2069.
    study = tiny_study([lr.Scenario("shared", {"national_id": {"technique": "keyed_hash", "key_scope": "global"}}),
                        lr.Scenario("holder", {"national_id": {"technique": "keyed_hash", "key_scope": "dataset"}})])
    with _run(study, engine_name, request) as result:
        p = result.scenario("shared").prevented
        assert p["value"] == pytest.approx(6 / 29)
        assert p["by_links"]["value"] == pytest.approx(0.0)
        assert p["by_hiding"]["value"] == pytest.approx(6 / 29)
        assert p["by_hiding"]["ci_low"] <= p["by_hiding"]["value"] <= p["by_hiding"]["ci_high"]
        # per holder, the a1-b1 link breaks: entities {a1}, {b1}, {a2, b2, c1}. With the
        # baseline's readability: a1 0, b1 0, a2 5, b2 11, c1 6 = 22, by_links = 7 / 29;
        # hidden as well: a2 5 - 0 ... E = 0 + 0 + 5 + 8 + 3 = 16: by_hiding = (22 - 16) / 29
        h = result.scenario("holder").prevented
        assert h["by_links"]["value"] == pytest.approx(7 / 29)
        assert h["by_hiding"]["value"] == pytest.approx(6 / 29)
        assert h["value"] == pytest.approx(13 / 29)
        assert "negative" in h["note"]


# 8. a reversed quasi-identifier links in its plaintext form ------------------------------
def _hashed_dates_study():
    # A and B hold the same three people, no identifier in common. B hashes its dates of
    # birth with an unkeyed SHA-256 (the policy names B's column, so A's dates stay
    # plaintext); B holds a health field, A does not. b3's name differs from a3's.
    a = pd.DataFrame({"rid": ["a1", "a2", "a3"], "name": ["Li Na", "Wang Wei", "Zhang Min"],
                      "dob": ["1990-07-15", "1985-03-04", "1970-01-01"], "sex": ["F", "M", "F"]})
    b = pd.DataFrame({"rid": ["b1", "b2", "b3"], "name": ["Li Na", "Wang Wei", "Zhou Min"],
                      "birthday": ["1990-07-15", "1985-03-04", "1970-01-01"], "sex": ["F", "M", "F"],
                      "health": ["flu", "cold", "flu"]})
    return lr.Study([lr.Dataset("A", a, {"name": "full_name", "dob": "date_of_birth", "sex": "sex"}, record_id="rid"),
                     lr.Dataset("B", b, {"name": "full_name", "birthday": "date_of_birth", "sex": "sex",
                                         "health": "health"}, record_id="rid")],
                    attacker=lr.Attacker(linkers=["quasi_identifiers"],
                                         quasi_identifier_sets=[["full_name", "date_of_birth", "sex"]]),
                    scenarios=[lr.Scenario("sha256-b-dob", {"B.birthday": {"technique": "hash"}})],
                    what_matters=False, assess_risk=False)


def test_a_reversed_quasi_identifier_links_in_its_plaintext_form(engine_name, request) -> None:
    # Baseline: a1-b1 and a2-b2 agree on name + date of birth + sex, each combination
    # once per dataset: 2 links (b3 "Zhou Min" is not a3 "Zhang Min"). Gains: a1 and a2
    # gain B's health (weight 3); b1, b2 gain nothing (A holds nothing B lacks): E = 6.
    # sha256-b-dob: the dictionary attacker hashes A's plaintext dates (or all ~4e4 dates)
    # and recovers all 3 of B's. B's records are then keyed in two forms, the hashed date
    # and the recovered one; the recovered form meets A's: the same 2 links, the same
    # readable kinds, E = 6, prevented 0. Before, the linker read only B's hashed date:
    # 0 links, E = 0, and the scenario claimed to prevent 100% of the enrichment.
    with _run(_hashed_dates_study(), engine_name, request) as result:
        assert result.baseline.links.pairs == 2
        s = result.scenario("sha256-b-dob")
        assert [(r["column"], r["values_reversed"]) for r in s.release.reversed_columns] == [("B.birthday", 3)]
        assert s.links.pairs == 2
        assert entity_sets(s) >= {frozenset({"a1", "b1"}), frozenset({"a2", "b2"})}
        assert s.links.by_rule[["rule", "pairs"]].values.tolist() == [["full_name+date_of_birth+sex", 2]]
        assert s.enrichment.total == pytest.approx(6)
        assert s.prevented["value"] == pytest.approx(0.0)
