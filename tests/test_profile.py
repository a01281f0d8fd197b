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
    assert list(surveillance.columns) == ["column", "suggested_kind", "evidence", "filled", "distinct"]
    assert kinds["resident_id"] == "national_id" and "cn_ric" in evidence["resident_id"]
    assert kinds["birth_date"] == "date_of_birth" and "dates" in evidence["birth_date"]
    assert kinds["sex"] == "sex"
    assert kinds["name"] == "full_name"
    assert kinds["nationality"] == "nationality"  # 中国 is short Han text, but not a name
    assert kinds["record_id"] is None and "record id" in evidence["record_id"]
    # About 4 % of each column is missing in the sample data.
    assert surveillance.set_index("column").filled.between(0.9, 1.0).all()


def test_the_sample_telecom_phone_is_a_phone() -> None:
    profile = profile_file(SAMPLE_DATA / "telecom.csv")
    assert _kinds(profile)["phone"] == "phone"
    assert "Chinese mobile" in _evidence(profile)["phone"]


def test_a_tiny_table(tmp_path: Path) -> None:
    # Every value check on a five-row table (the share of values meeting each check is 100 %):
    # uid unique -> a record id; mail -> email; tel (London numbers) -> phone; born
    # (day.month.year) -> date_of_birth; gender -> sex; years (whole numbers 0-120) -> age;
    # remarks (free text) -> nothing.
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
    assert evidence["years"] == "100% are whole numbers 0-120"
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
