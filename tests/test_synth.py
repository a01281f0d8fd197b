"""Tests of the synthetic breach generator (linkrisk.synth).

Most tests share one draw of 5,000 people (about 11,000 records) and check the
properties the design promises: valid resident IDs and phone numbers, overlaps between
30 % and 90 %, noise at the documented rates, placeholders frequent enough for the
study's hub guard, a truth table covering every record once, and byte-identical files
for one seed.
"""

from __future__ import annotations

import re
import tomllib
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum.cn import ric

from linkrisk import synth
from linkrisk.synth_lists import PHONE_PREFIXES
from linkrisk.errors import LinkriskError

PEOPLE = 5_000
COLUMNS = {
    "surveillance": ["record_id", "resident_id", "name", "sex", "nationality", "birth_date",
                     "address", "employer", "photo", "sightings"],
    "telecom": ["record_id", "phone", "resident_id", "name", "address"],
    "ecommerce": ["record_id", "email", "phone", "name", "shipping_address", "postcode",
                  "purchases"],
    "clinic": ["record_id", "name", "birth_date", "sex", "phone", "diagnosis"],
}
PLACEHOLDERS = {synth.PLACEHOLDER_PHONE, synth.PLACEHOLDER_EMAIL, synth.PLACEHOLDER_BIRTH_DATE}


@pytest.fixture(scope="module")
def breaches() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return synth.make_breaches(PEOPLE, seed=11)


@pytest.fixture(scope="module")
def people_in(breaches) -> dict[str, set[str]]:
    _, truth = breaches
    return {name: set(group.person_id) for name, group in truth.groupby("dataset")}


def _present(values: pd.Series) -> pd.Series:
    return values[values.notna() & (values != "")]


def _with_person(breaches, name: str) -> pd.DataFrame:
    datasets, truth = breaches
    return datasets[name].merge(truth[truth.dataset == name][["record_id", "person_id"]],
                                on="record_id", validate="one_to_one")


def _true_ids(breaches) -> pd.Series:
    """Each person's resident ID, as the (clean) surveillance data shows it."""
    surveillance = _with_person(breaches, "surveillance")
    known = surveillance[surveillance.resident_id.str.len() == 18]
    return known.drop_duplicates("person_id").set_index("person_id").resident_id


# --- Files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_same_seed_writes_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    first = synth.generate(2_000, seed=5, out=tmp_path / "a", fmt=fmt)
    second = synth.generate(2_000, seed=5, out=tmp_path / "b", fmt=fmt)
    other = synth.generate(2_000, seed=6, out=tmp_path / "c", fmt=fmt)
    names = sorted(p.name for p in first.parent.iterdir())
    assert names == sorted([f"{d}.{fmt}" for d in COLUMNS] + ["truth.csv", "study.toml"])
    for name in names:
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name
    assert ((first.parent / f"surveillance.{fmt}").read_bytes()
            != (other.parent / f"surveillance.{fmt}").read_bytes())


def test_csv_files_are_utf8_with_unix_line_ends_and_no_index(tmp_path: Path) -> None:
    study = synth.generate(300, seed=2, out=tmp_path)
    raw = (study.parent / "surveillance.csv").read_bytes()
    assert b"\r" not in raw
    assert raw.decode("utf-8").splitlines()[0] == ",".join(COLUMNS["surveillance"])
    back = pd.read_csv(study.parent / "surveillance.csv", dtype=str)
    assert list(back.columns) == COLUMNS["surveillance"]


def test_parquet_round_trips_the_tables(tmp_path: Path) -> None:
    study = synth.generate(300, seed=2, out=tmp_path, fmt="parquet")
    datasets, truth = synth.make_breaches(300, seed=2)
    for name, frame in datasets.items():
        back = pd.read_parquet(study.parent / f"{name}.parquet")
        expected = frame.where(frame.notna(), None)
        assert back.astype(object).where(back.notna(), None).equals(expected), name
    assert pd.read_csv(study.parent / "truth.csv", dtype=str).equals(truth)


def test_study_file_parses_and_names_the_written_files(tmp_path: Path) -> None:
    study_path = synth.generate(300, seed=9, out=tmp_path, fmt="parquet")
    study = tomllib.loads(study_path.read_text("utf-8"))
    assert study["seed"] == 9
    assert study["attacker"]["max_value_frequency"] == 50
    assert study["attacker"]["quasi_identifier_sets"] == [["full_name", "date_of_birth"],
                                                          ["full_name", "address"]]
    assert [d["name"] for d in study["datasets"]] == list(COLUMNS)
    for dataset in study["datasets"]:
        path = study_path.parent / dataset["path"]
        assert path.suffix == ".parquet" and path.exists()
        header = list(pd.read_parquet(path).columns)
        assert dataset["record_id"] == "record_id"
        assert set(dataset["columns"]) == set(header) - {"record_id"}
    assert (study_path.parent / study["truth"]["path"]).exists()
    assert [s["name"] for s in study["scenarios"]] == [
        "keyed-hash-per-holder", "keyed-hash-shared-key", "sha256-resident-id",
        "generalise-dob-postcode"]
    assert study["scenarios"][1]["policy"]["email"] == {"technique": "keyed_hash",
                                                         "key_scope": "global"}


@pytest.mark.parametrize("kwargs, message", [
    ({"people": 0}, "people"), ({"people": -3}, "people"), ({"people": 2.5}, "people"),
    ({"people": 10, "fmt": "json"}, "fmt"), ({"people": 10, "seed": -1}, "seed"),
])
def test_bad_arguments_raise_a_linkrisk_error(tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(LinkriskError, match=message):
        synth.generate(out=tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_one_person_is_enough() -> None:
    datasets, truth = synth.make_breaches(1, seed=0)
    assert set(truth.person_id) <= {"P0000001"}


# --- Shape and ground truth ------------------------------------------------------------------

def test_columns_record_ids_and_types(breaches) -> None:
    datasets, _ = breaches
    assert list(datasets) == list(COLUMNS)
    for name, frame in datasets.items():
        assert list(frame.columns) == COLUMNS[name]
        prefix = synth.RECORD_ID_PREFIXES[name]
        assert list(frame.record_id) == [f"{prefix}{i:06d}" for i in range(1, len(frame) + 1)]
        values = frame.to_numpy().ravel()
        assert all(v is None or isinstance(v, str) for v in values), name


def test_truth_covers_every_record_exactly_once(breaches) -> None:
    datasets, truth = breaches
    assert list(truth.columns) == ["dataset", "record_id", "person_id"]
    records = pd.concat([pd.DataFrame({"dataset": n, "record_id": f.record_id})
                         for n, f in sorted(datasets.items())], ignore_index=True)
    assert truth[["dataset", "record_id"]].equals(records)  # same rows, same (sorted) order
    assert not truth.duplicated(["dataset", "record_id"]).any()
    assert truth.person_id.str.fullmatch(r"P\d{7}").all()


def test_rows_are_shuffled(breaches) -> None:
    _, truth = breaches
    order = truth[truth.dataset == "surveillance"].person_id
    assert not order.is_monotonic_increasing


# --- Identifiers -----------------------------------------------------------------------------

def test_every_full_resident_id_is_valid(breaches) -> None:
    datasets, _ = breaches
    ids = _present(datasets["surveillance"].resident_id)
    assert ids.str.len().eq(18).all()
    assert all(ric.is_valid(x) for x in ids)
    telecom = _present(datasets["telecom"].resident_id)
    full = telecom[telecom.str.fullmatch(r"\d{17}[\dXx]")]
    assert all(ric.is_valid(x) for x in full)


def test_resident_ids_are_unique_and_encode_sex_and_birth_date(breaches) -> None:
    frame = _with_person(breaches, "surveillance")
    frame = frame[frame.resident_id.str.len() == 18]
    per_person = frame.drop_duplicates("person_id")
    assert per_person.resident_id.is_unique
    sexed = per_person[per_person.sex.isin(["男", "女"])]
    odd = sexed.resident_id.str[16].astype(int) % 2 == 1
    assert (odd == (sexed.sex == "男")).all()
    dated = per_person[per_person.birth_date.str.len() == 10]
    assert (dated.resident_id.str[6:14] == dated.birth_date.str.replace("-", "")).all()


def test_telecom_resident_id_variants(breaches) -> None:
    telecom = _with_person(breaches, "telecom")
    telecom = telecom[telecom.resident_id.notna() & (telecom.resident_id != "")]
    true = _true_ids(breaches)
    telecom = telecom[telecom.person_id.isin(true.index)]
    ids, truth_ids = telecom.resident_id, true.loc[telecom.person_id].to_numpy()

    legacy = ids.str.len() == 15
    assert ids[legacy].str.fullmatch(r"\d{15}").all()
    assert (ids[legacy] == [t[:6] + t[8:17] for t in truth_ids[legacy]]).all()
    assert all(t[6:8] == "19" for t in truth_ids[legacy])  # only people born before 2000

    masked = ids.str.contains("*", regex=False)
    assert (ids[masked] == [t[:6] + "*" * 8 + t[14:] for t in truth_ids[masked]]).all()

    full = ~legacy & ~masked
    assert (ids[full].str.upper() == truth_ids[full]).all()
    lower_x = ids.str.endswith("x")
    assert lower_x.sum() > 0

    born_before_2000 = np.mean([t[6:8] == "19" for t in truth_ids])
    assert legacy.mean() == pytest.approx(synth.LEGACY_ID_RATE * born_before_2000, abs=0.015)
    assert masked.mean() == pytest.approx(synth.MASKED_ID_RATE * (1 - legacy.mean()), abs=0.012)
    ends_x = full & ids.str.upper().str.endswith("X")
    assert (lower_x.sum() / ends_x.sum()) == pytest.approx(synth.LOWERCASE_X_RATE, abs=0.06)


def _digits_only(phone: pd.Series) -> pd.Series:
    return phone.str.replace(r"^(\+86|0086)", "", regex=True).str.replace(r"[ \-]", "", regex=True)


def test_phones_are_valid_mobile_numbers_in_every_format(breaches) -> None:
    datasets, _ = breaches
    prefixes = {str(p) for p in PHONE_PREFIXES}
    for name in ("telecom", "ecommerce", "clinic"):
        phones = _present(datasets[name].phone)
        phones = phones[phones != synth.PLACEHOLDER_PHONE]
        digits = _digits_only(phones)
        assert digits.str.fullmatch(r"\d{11}").all(), name
        assert digits.str[:3].isin(prefixes).all(), name
        assert digits.ne(synth.PLACEHOLDER_PHONE).all()
    ecommerce = _present(datasets["ecommerce"].phone)
    for pattern in (r"\d{11}", r"\+86 \d{3} \d{4} \d{4}", r"0086-\d{3}-\d{4}-\d{4}",
                    r"\d{3}-\d{4}-\d{4}", r"\+86\d{11}"):
        assert ecommerce.str.fullmatch(pattern).any(), pattern


def test_phones_and_emails_identify_one_person_each(breaches) -> None:
    for name, column in (("telecom", "phone"), ("ecommerce", "phone"), ("ecommerce", "email")):
        frame = _with_person(breaches, name)
        frame = frame[frame[column].notna() & (frame[column] != "")
                      & ~frame[column].isin(PLACEHOLDERS)]
        key = (_digits_only(frame[column]) if column == "phone"
               else frame[column].str.strip().str.lower())
        frame = frame.assign(key=key)
        assert frame.groupby("key").person_id.nunique().max() == 1, (name, column)
        assert frame.groupby("person_id").key.nunique().max() == 1, (name, column)


def test_emails_look_like_lower_case_pinyin_addresses(breaches) -> None:
    datasets, _ = breaches
    emails = _present(datasets["ecommerce"].email)
    emails = emails[emails != synth.PLACEHOLDER_EMAIL]
    clean = emails.str.strip().str.lower()
    domains = "|".join(re.escape(d) for d in ("qq.com", "163.com", "126.com", "gmail.com",
                                              "outlook.com", "sina.com"))
    assert clean.str.fullmatch(rf"[a-z][a-z._]*\d*@({domains})").all()
    varied = (emails != clean).mean()
    assert varied == pytest.approx(synth.EMAIL_VARIATION_RATE, abs=0.015)


def test_clinic_dates_and_sex_are_written_in_mixed_forms(breaches) -> None:
    datasets, _ = breaches
    clinic = datasets["clinic"]
    dates = _present(clinic.birth_date)
    patterns = [r"\d{4}-\d\d-\d\d", r"\d{4}/\d\d/\d\d", r"\d{8}", r"\d\d\.\d\d\.\d{4}"]
    matched = pd.concat([dates.str.fullmatch(p) for p in patterns], axis=1)
    assert matched.sum(axis=1).eq(1).all()
    assert matched.any(axis=0).all()  # every format occurs
    assert set(_present(clinic.sex)) == {"M", "F", "male", "female", "男", "女"}


# --- Overlaps and noise rates ----------------------------------------------------------------

def test_dataset_sizes_follow_the_target_shares(people_in) -> None:
    for name, share in synth.DATASET_SHARES.items():
        assert len(people_in[name]) / PEOPLE == pytest.approx(share, abs=0.03), name


def test_every_pair_of_datasets_overlaps_between_30_and_90_percent(people_in) -> None:
    for a, b in permutations(people_in, 2):
        share = len(people_in[a] & people_in[b]) / len(people_in[a])
        assert 0.30 <= share <= 0.90, (a, b, share)


def test_duplicate_records_follow_the_rate(breaches) -> None:
    _, truth = breaches
    for name, group in truth.groupby("dataset"):
        people = group.person_id.nunique()
        assert group.person_id.value_counts().max() <= 2
        assert (len(group) - people) / people == pytest.approx(synth.DUPLICATE_RATE, abs=0.01)


def test_missing_values_follow_the_rate(breaches) -> None:
    datasets, _ = breaches
    for name, frame in datasets.items():
        assert frame.record_id.notna().all()
        for column in frame.columns[1:]:
            missing = (frame[column].isna() | (frame[column] == "")).mean()
            assert missing == pytest.approx(synth.MISSING_RATE, abs=0.02), (name, column)


def test_name_typos_follow_the_rate(breaches) -> None:
    # Surveillance and telecom each misspell a Han name independently, so for a person
    # with one record in each, the two names differ in about 1 - (1 - rate)^2 of cases.
    han = r"[\u4e00-\u9fff]{2,3}"
    surveillance = _with_person(breaches, "surveillance")
    assert _present(surveillance.name).str.fullmatch(han).all()
    telecom = _with_person(breaches, "telecom")
    pairs = surveillance.merge(telecom, on="person_id")
    pairs = pairs[~pairs.person_id.duplicated(keep=False)]
    both_han = pairs.name_x.str.fullmatch(han, na=False) & pairs.name_y.str.fullmatch(han, na=False)
    pairs = pairs[both_han]
    differ = (pairs.name_x != pairs.name_y).mean()
    assert differ == pytest.approx(1 - (1 - synth.NAME_TYPO_RATE) ** 2, abs=0.012)


def test_each_placeholder_is_frequent_enough_for_the_hub_guard(breaches) -> None:
    datasets, _ = breaches
    phone = sum((datasets[name].phone == synth.PLACEHOLDER_PHONE).sum()
                for name in ("ecommerce", "clinic"))
    email = (datasets["ecommerce"].email == synth.PLACEHOLDER_EMAIL).sum()
    birth = (datasets["clinic"].birth_date == synth.PLACEHOLDER_BIRTH_DATE).sum()
    assert min(phone, email, birth) > 50, (phone, email, birth)
    assert (datasets["clinic"].phone == synth.PLACEHOLDER_PHONE).sum() == round(
        synth.PLACEHOLDER_PHONE_RATE * len(datasets["clinic"]))
