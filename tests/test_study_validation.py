"""Tests of study validation: every problem is found, named by its place, and says what
was allowed; several problems are reported at once.

The studies are tiny (``tests/helpers.write_study``: a ``people`` and a ``shop`` dataset
of two records each); each bad study in ``helpers.BAD_STUDIES`` breaks one thing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import linkrisk as lr
from helpers import BAD_STUDIES, HEAD_TOML, PEOPLE_CSV, PEOPLE_TOML, SHOP_TOML, write_study


def _matching(problems: list[lr.Problem], fragments: list[str]) -> list[lr.Problem]:
    return [p for p in problems if all(f in str(p) for f in fragments)]


def test_the_tiny_study_is_valid(tmp_path: Path) -> None:
    study = lr.Study.from_toml(write_study(tmp_path, truth=True))
    assert study.validate() == []


@pytest.mark.parametrize("name, toml, files, fragments", BAD_STUDIES,
                         ids=[case[0] for case in BAD_STUDIES])
def test_each_problem_names_its_place_and_what_was_allowed(tmp_path: Path, name, toml, files,
                                                          fragments) -> None:
    study = lr.Study.from_toml(write_study(tmp_path, toml, files))
    problems = study.validate()
    assert problems, name
    assert all(isinstance(p, lr.Problem) for p in problems)
    assert _matching(problems, fragments), "\n".join(map(str, problems))
    with pytest.raises(lr.StudyError) as info:
        study.check()
    assert info.value.problems == problems
    assert info.value.exit_code == 2


@pytest.mark.parametrize("name, toml, files, fragments", BAD_STUDIES,
                         ids=[case[0] for case in BAD_STUDIES])
def test_run_refuses_a_bad_study_with_the_same_problems(tmp_path: Path, name, toml, files,
                                                        fragments) -> None:
    study = lr.Study.from_toml(write_study(tmp_path, toml, files))
    with pytest.raises(lr.StudyError) as info:
        study.run()
    assert _matching(info.value.problems, fragments), str(info.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    # Four independent problems: an unknown kind (people.name), a missing file (shop),
    # an unknown technique, and an unknown linker.
    toml = (HEAD_TOML.replace('"quasi_identifiers"]', '"quasi_identifiers", "psychic"]')
            + PEOPLE_TOML.replace('"full_name"', '"fullname"')
            + SHOP_TOML.replace("shop.csv", "gone.csv")
            + '\n[[scenarios]]\nname = "s"\n[scenarios.policy]\nphone = "sha1"\n')
    problems = lr.Study.from_toml(write_study(tmp_path, toml)).validate()
    assert _matching(problems, ["column 'name'", "unknown kind 'fullname'"])
    assert _matching(problems, ["gone.csv", "does not exist"])
    assert _matching(problems, ["policy 'phone'", "unknown technique 'sha1'"])
    assert _matching(problems, ["linkers", "unknown linker 'psychic'", "allowed: identifiers"])
    assert len(problems) == 4, "\n".join(map(str, problems))


def test_unknown_settings_in_the_study_file_are_reported(tmp_path: Path) -> None:
    toml = HEAD_TOML.replace("seed = 0", "seed = 0\nseeed = 1") + PEOPLE_TOML.replace(
        'record_id = "id"', 'record_id = "id"\nrecordid = "id"')
    problems = lr.Study.from_toml(write_study(tmp_path, toml)).validate()
    assert _matching(problems, ["seeed", "unknown setting", "allowed:", "seed"])
    assert _matching(problems, ["datasets #1: recordid", "unknown setting", "record_id"])


def test_a_missing_or_broken_study_file_is_a_study_error(tmp_path: Path) -> None:
    with pytest.raises(lr.StudyError, match="does not exist"):
        lr.Study.from_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "unterminated\n', encoding="utf-8")
    with pytest.raises(lr.StudyError, match="not valid TOML"):
        lr.Study.from_toml(bad)


def test_a_custom_kind_declared_under_kinds_can_be_mapped(tmp_path: Path) -> None:
    toml = (HEAD_TOML + '\n[kinds]\nblood_type = { role = "quasi", weight = 1 }\n'
            + PEOPLE_TOML + 'blood = "blood_type"\n')
    people = ("id,name,phone,birth_date,blood\n"
              "p1,Zhang Wei,13812345678,1990-02-01,AB+\np2,Li Na,13912345678,1985-07-15,O-\n")
    study = lr.Study.from_toml(write_study(tmp_path, toml, {"people.csv": people}))
    assert study.validate() == []
    assert study.catalogue["blood_type"].role is lr.Role.QUASI
    # Without the declaration the same mapping is an unknown kind.
    undeclared = toml.replace('blood_type = { role = "quasi", weight = 1 }', "")
    problems = lr.Study.from_toml(write_study(tmp_path / "b", undeclared,
                                              {"people.csv": people})).validate()
    assert _matching(problems, ["column 'blood'", "unknown kind 'blood_type'", "[kinds]"])


def test_a_bad_custom_kind_is_reported(tmp_path: Path) -> None:
    toml = (HEAD_TOML + '\n[kinds]\nblood_type = { role = "sometimes", weight = -1 }\n'
            + PEOPLE_TOML)
    problems = lr.Study.from_toml(write_study(tmp_path, toml)).validate()
    assert _matching(problems, ["[kinds] blood_type", "unknown role 'sometimes'",
                                "identifier, quasi, attribute"])
    assert _matching(problems, ["[kinds] blood_type weight", "must be a finite number in [0, 1e+06]"])


def test_a_custom_kind_in_code_runs() -> None:
    frame = pd.DataFrame({"id": ["1", "2"], "blood": ["AB+", "O-"], "phone": ["13812345678", None]})
    study = lr.Study([lr.Dataset("a", frame, {"blood": "blood_type", "phone": "phone"},
                                 record_id="id")],
                     kinds={"blood_type": {"role": "quasi", "weight": 1}})
    assert study.validate() == []
    result = study.run()
    assert result.quality.kind.tolist() == ["blood_type", "phone"]
    result.close()


def test_record_id_is_optional_and_row_numbers_name_the_records(tmp_path: Path) -> None:
    toml = (HEAD_TOML + PEOPLE_TOML.replace('record_id = "id"\n', "")
            + SHOP_TOML + '\n[truth]\npath = "truth.csv"\n')
    # Without record_id, people's records are named by their 1-based data row: "1", "2".
    truth = "dataset,record_id,person_id\npeople,1,A\npeople,2,B\nshop,s1,A\nshop,s2,C\n"
    path = write_study(tmp_path, toml, {"truth.csv": truth})
    study = lr.Study.from_toml(path)
    assert study.datasets[0].record_id is None
    assert study.validate() == []
    result = study.run()
    try:
        entities = result.graph("baseline").entity_table()
        people = entities[entities.dataset == "people"]
        assert people.record_id.tolist() == ["1", "2"]
        # p1 and s1 share a phone (13812345678 in two formats): one entity.
        by_record = entities.set_index(["dataset", "record_id"]).entity_id
        assert by_record[("people", "1")] == by_record[("shop", "s1")]
    finally:
        result.close()


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    people = PEOPLE_CSV.replace(",", delimiter)
    study = lr.Study.from_toml(write_study(tmp_path, files={"people.csv": people}))
    assert study.validate() == []
    result = study.run()
    try:
        assert result.loaded.delimiters["people"] == delimiter
        quality = result.quality[result.quality.dataset == "people"]
        assert quality.rows.tolist() == [2, 2, 2]
        assert quality.null.sum() == 0 and quality.invalid.sum() == 0
    finally:
        result.close()


def test_an_explicit_delimiter_wins_over_detection(tmp_path: Path) -> None:
    # A |-separated file whose header holds as many semicolons as bars: detection picks
    # the semicolon (ties go to the first of comma, semicolon, tab, pipe); the study's
    # delimiter = "|" reads it right.
    people = ("id|name;alias;nickname;handle|phone|birth_date\n"
              "p1|Zhang Wei|13812345678|1990-02-01\np2|Li Na|13912345678|1985-07-15\n")
    toml = (HEAD_TOML + PEOPLE_TOML.replace('path = "people.csv"', 'path = "people.csv"\ndelimiter = "|"')
            .replace('name = "full_name"', '"name;alias;nickname;handle" = "full_name"') + SHOP_TOML)
    assert lr.Study.from_toml(write_study(tmp_path, toml, {"people.csv": people})).validate() == []
    undeclared = toml.replace('delimiter = "|"\n', "")
    problems = lr.Study.from_toml(write_study(tmp_path / "b", undeclared,
                                              {"people.csv": people})).validate()
    assert _matching(problems, ["people.csv", "different number of fields", "delimiter"])


def test_a_comma_file_read_with_semicolons_is_one_problem_with_a_hint(tmp_path: Path) -> None:
    toml = HEAD_TOML + PEOPLE_TOML.replace('path = "people.csv"', 'path = "people.csv"\ndelimiter = ";"')
    problems = lr.Study.from_toml(write_study(tmp_path, toml)).validate()
    assert len(problems) == 1
    assert _matching(problems, ["people.csv", "single column 'id,name,phone,birth_date'",
                                "delimiter ';'", "set `delimiter`"])


def test_delimiters_inside_quoted_column_names_do_not_fool_detection(tmp_path: Path) -> None:
    # Three semicolons separate the columns; the quoted name holds four commas.
    people = ('id;"name, family, given, middle, full";phone;birth_date\n'
              'p1;Zhang Wei;13812345678;1990-02-01\np2;Li Na;13912345678;1985-07-15\n')
    toml = HEAD_TOML + PEOPLE_TOML.replace('name = "full_name"',
                                           '"name, family, given, middle, full" = "full_name"')
    assert lr.Study.from_toml(write_study(tmp_path, toml, {"people.csv": people})).validate() == []


def test_an_unsupported_delimiter_is_a_config_problem(tmp_path: Path) -> None:
    toml = HEAD_TOML + PEOPLE_TOML.replace('path = "people.csv"', 'path = "people.csv"\ndelimiter = "::"')
    problems = lr.Study.from_toml(write_study(tmp_path, toml)).validate()
    assert _matching(problems, ["people", "delimiter", "'::' is not supported",
                                "comma (','), semicolon (';'), tab ('\\t'), pipe ('|')"])


def test_a_study_built_in_code_is_validated_too() -> None:
    frame = pd.DataFrame({"id": ["1", "1"], "phone": ["13812345678", "13912345678"]})
    study = lr.Study([lr.Dataset("a", frame, {"phone": "phone", "mail": "email"}, record_id="id"),
                      lr.Dataset("b", Path("/nonexistent/b.csv"), {"x": "phone"})])
    problems = study.validate()
    assert _matching(problems, ["dataset 'a'", "has no column 'mail'", "'id', 'phone'"])
    assert _matching(problems, ["dataset 'b'", "does not exist"])


def test_truth_rows_and_records_that_do_not_match_are_counted(tmp_path: Path) -> None:
    toml = (HEAD_TOML + PEOPLE_TOML.replace('record_id = "id"\n', "")
            + SHOP_TOML + '\n[truth]\npath = "truth.csv"\n')
    # records: people 1, 2 (row numbers) and shop s1, s2. The truth names people 7 (no such
    # record, data row 2) and a shop record with no id (row 3), lists s1 twice, and says
    # nothing of people 2 and shop s2.
    truth = "dataset,record_id,person_id\npeople,1,A\npeople,7,X\nshop,,C\nshop,s1,A\nshop,s1,A\n"
    problems = [p.message for p in lr.Study.from_toml(write_study(tmp_path, toml, {"truth.csv": truth})).validate()]
    assert any("names 2 record(s) that do not exist in the datasets (first at data row 2)" in m for m in problems)
    assert any("has no person for 2 record(s)" in m for m in problems)
    assert any("lists 1 record(s) more than once" in m for m in problems)


@pytest.mark.parametrize("repeated", ["people,7,X\npeople,7,X\n", "shop,,C\nshop,,C\n"])
def test_truth_rows_naming_no_record_twice_are_repeats_too(tmp_path: Path, repeated: str) -> None:
    # every record is named once; one row naming no record (an unknown id, or none) is
    # given twice: two unknown rows, and one record listed more than once
    toml = (HEAD_TOML + PEOPLE_TOML.replace('record_id = "id"\n', "")
            + SHOP_TOML + '\n[truth]\npath = "truth.csv"\n')
    truth = "dataset,record_id,person_id\npeople,1,A\npeople,2,B\nshop,s1,A\nshop,s2,C\n" + repeated
    problems = [p.message for p in lr.Study.from_toml(write_study(tmp_path, toml, {"truth.csv": truth})).validate()]
    assert any("names 2 record(s) that do not exist" in m for m in problems)
    assert any("lists 1 record(s) more than once" in m for m in problems)
    assert not any("has no person" in m for m in problems)


def test_a_column_with_one_value_between_blank_ones_is_not_empty() -> None:
    # its smallest and largest values are blank, so the quick test is inconclusive and
    # the column is counted in full: "  \t" is not blank
    frame = pd.DataFrame({"id": ["1", "2", "3"], "note": [" ", "  \t", "   "], "phone": ["13812345678"] * 3})
    assert lr.Study([lr.Dataset("a", frame, {"note": "employer", "phone": "phone"},
                                record_id="id")]).validate() == []
    frame["note"] = [" ", "  ", "   "]
    problems = lr.Study([lr.Dataset("a", frame, {"note": "employer", "phone": "phone"},
                                    record_id="id")]).validate()
    assert _matching(problems, ["column 'note'", "empty in all 3 rows"])


def test_a_long_field_is_measured_in_characters_not_bytes(tmp_path: Path) -> None:
    # 400,000 Han characters are 1.2 MB of UTF-8 but under the 1,000,000-character limit
    people = PEOPLE_CSV.replace("Li Na", "张" * 400_000)
    assert lr.Study.from_toml(write_study(tmp_path, files={"people.csv": people})).validate() == []
