"""Tests of column profiling (linkrisk.profile): a suggested kind per column, with
aggregate evidence and never a raw value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import linkrisk as lr
from helpers import SAMPLE_DATA
from linkrisk.profile import columns_toml, profile_file


def _kinds(profile: pd.DataFrame) -> dict[str, str | None]:
    return dict(zip(profile.column, profile.suggested_kind))


def _evidence(profile: pd.DataFrame) -> dict[str, str]:
    return dict(zip(profile.column, profile.evidence))


@pytest.fixture(scope="module")
def surveillance() -> pd.DataFrame:
    return profile_file(SAMPLE_DATA / "surveillance.csv")


def test_the_sample_surveillance_table(surveillance) -> None:
    kinds, evidence = _kinds(surveillance), _evidence(surveillance)
    assert list(surveillance.columns) == ["column", "suggested_kind", "evidence", "filled", "distinct", "warning"]
    assert kinds["resident_id"] == "national_id" and "cn_ric" in evidence["resident_id"]
    assert kinds["birth_date"] == "date_of_birth" and "dates" in evidence["birth_date"]
    assert kinds["sex"] == "sex"
    assert kinds["name"] == "full_name"
    assert kinds["nationality"] == "nationality"  # 中国 is short Han text, but not a name
    assert kinds["record_id"] is None and "record id" in evidence["record_id"]
    assert surveillance.attrs["record_id"] == "record_id"
    # About 4 % of each column is missing in the sample data.
    assert surveillance.set_index("column").filled.between(0.9, 1.0).all()


def test_the_sample_telecom_phone_is_a_phone() -> None:
    profile = profile_file(SAMPLE_DATA / "telecom.csv")
    assert _kinds(profile)["phone"] == "phone"
    assert "Chinese mobile" in _evidence(profile)["phone"]


def test_a_tiny_table(tmp_path: Path) -> None:
    # Every value check on a five-row table (the share of values meeting each check is 100 %):
    # uid unique -> a record id; mail -> email; tel (London numbers) -> phone; born
    # (day.month.year) -> date_of_birth; gender -> sex; years (whole numbers 0-120, and a
    # name that says age) -> age; remarks (free text) -> nothing.
    path = tmp_path / "t.csv"
    path.write_text(
        "uid,mail,tel,born,gender,years,remarks\n"
        "u1,a@example.com,+44 20 7946 0958,01.02.1990,M,34,likes tea\n"
        "u2,b@example.com,+44 20 7946 0959,15.07.1985,F,39,\n"
        "u3,c@example.com,+44 20 7946 0960,30.11.1970,female,54,moved\n"
        "u4,d@example.com,+44 20 7946 0961,02.03.2001,male,23,\n"
        "u5,e@example.com,+44 20 7946 0962,09.09.1999,F,25,no remarks\n", encoding="utf-8")
    profile = profile_file(path)
    assert _kinds(profile) == {"uid": None, "mail": "email", "tel": "phone", "born": "date_of_birth",
                               "gender": "sex", "years": "age", "remarks": None}
    evidence = _evidence(profile)
    assert evidence["mail"] == "100% look like e-mail addresses"
    assert evidence["years"] == "100% are whole numbers 0-120; the name agrees"
    assert "record id" in evidence["uid"]
    assert profile.set_index("column").loc["remarks", "filled"] == pytest.approx(0.6)
    # the evidence is aggregate: no value of the table appears in it (but the sex codes it
    # names, and single letters and digits)
    raw = [v for v in pd.read_csv(path, dtype=str).stack() if len(v) > 3 and v not in ("male", "female")]
    assert not any(v in e for v in raw for e in evidence.values())


def test_columns_toml_maps_the_suggested_kinds(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"e mail": ["a@example.com", "b@example.com"], "x": ["k1", "k2"]}).to_parquet(path)
    profile = profile_file(path)
    assert columns_toml(profile) == '[datasets.columns]\n"e mail" = "email"\n'


def test_unreadable_files_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(lr.InputError, match="does not exist"):
        profile_file(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(lr.InputError, match="empty"):
        profile_file(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(lr.InputError, match="no rows"):
        profile_file(tmp_path / "header.csv")


# --- the cases of issue 26: name hints and value evidence weighed together ---------------------

def _write(tmp_path: Path, header: str, rows: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_unique_full_name_is_not_the_record_id(tmp_path: Path) -> None:
    # Every column is unique in every row. "Full Name" is a name ("full_name" once spaces
    # become underscores), not a key; "ref" holds codes without spaces and is the record id.
    path = _write(tmp_path, "Full Name,ref", [f"Person {c} Example,r{i:03d}" for i, c in enumerate("ABCDEFGH")])
    profile = profile_file(path)
    assert _kinds(profile) == {"Full Name": "full_name", "ref": None}
    assert profile.attrs["record_id"] == "ref"
    # with no code-shaped or id-named column, nothing is guessed: a unique column of names
    # named "customer" is neither named nor shaped like a record id (its values hold spaces)
    path = _write(tmp_path, "customer,note", [f"Person {c} Example,x" for c in "ABCDEFGH"], "u.csv")
    profile = profile_file(path)
    assert profile.attrs["record_id"] is None
    assert "neither named nor shaped like a record id" in _evidence(profile)["customer"]


def test_spend_is_not_an_age(tmp_path: Path) -> None:
    # 8 amounts, all whole numbers 0-120 (the age check reads 100%), but the name says an
    # amount: financial. A column "score" of the same numbers gets no kind: whole numbers
    # alone never make an age.
    values = ["12", "45", "99", "7", "120", "33", "45", "81"]  # 45 twice: not unique, not a record id
    path = _write(tmp_path, "spend,score", [f"{v},{v}" for v in values])
    profile = profile_file(path)
    assert _kinds(profile) == {"spend": "financial", "score": None}
    assert "does not say age" in _evidence(profile)["score"]


def test_a_date_column_with_malformed_values_is_a_date_not_a_phone(tmp_path: Path) -> None:
    # 25 values: 23 ISO dates and 2 malformed (month 13, day 45), 8% malformed. The loose
    # phone pattern (digits and dashes) matches all 25 (100% x 0.6 = 0.60); the date
    # parser reads 23 of 25 (92% x 1.0 = 0.92): the date wins. 92% >= 80%: no warning.
    dates = [f"19{60 + i}-0{1 + i % 9}-1{i % 10}" for i in range(23)] + ["1990-13-45", "1985-00-99"]
    path = _write(tmp_path, "when", dates)
    profile = profile_file(path)
    assert _kinds(profile) == {"when": "date_of_birth"}
    assert _evidence(profile)["when"] == "92% parse as dates"
    assert profile.warning.tolist() == [None]


def test_birth_place_is_not_a_date_of_birth(tmp_path: Path) -> None:
    # "birth_place" holds town names: the name hint for a place comes before the one for
    # "birth", and no value parses as a date.
    path = _write(tmp_path, "birth_place,birth_country", [f"Town{c},Land{c}" for c in "ABCDE"])
    profile = profile_file(path)
    assert _kinds(profile) == {"birth_place": "city", "birth_country": "nationality"}


def test_a_date_column_where_no_value_parses_warns(tmp_path: Path) -> None:
    # "dob" says date of birth, but 0 of 4 values parse as dates: still suggested (the
    # name is the only evidence), with a warning that the values will not link.
    path = _write(tmp_path, "dob", ["the first of May", "around spring", "unknown day", "late June"])
    profile = profile_file(path)
    assert _kinds(profile) == {"dob": "date_of_birth"}
    assert _evidence(profile)["dob"] == "column name matches date_of_birth; 0% parse as dates"
    warning = profile.warning[0]
    assert "only 0% of its values parse as dates" in warning and "date_formats" in warning


def test_dataset_toml_is_a_complete_block_a_study_accepts(tmp_path: Path) -> None:
    from linkrisk.profile import dataset_toml

    path = _write(tmp_path, "ref,e mail,dob", ["r1,a@example.com,1990-01-02", "r2,b@example.com,1985-03-04"],
                  "shop-2024.csv")
    block = dataset_toml(profile_file(path), path.name)
    assert block == ('[[datasets]]\nname = "shop-2024"\npath = "shop-2024.csv"  # relative to the study file\n'
                     'record_id = "ref"\n[datasets.columns]\n"e mail" = "email"\ndob = "date_of_birth"\n')
    (tmp_path / "study.toml").write_text('name = "x"\n' + block, encoding="utf-8")
    assert lr.Study.from_toml(tmp_path / "study.toml").validate() == []
