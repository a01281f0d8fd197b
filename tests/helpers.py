"""Shared helpers for the tests: normalise a handful of values, write tiny studies.

Everything here goes through the public front door (``linkrisk``) or the same stage
functions the pipeline calls, so a test exercises the real code path.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import linkrisk as lr
from linkrisk.engine import make_engine
from linkrisk.load import load_study, raw_table
from linkrisk.normalise import build_mappings, normalise_dataset

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"
_ENGINE: list = []  # one DuckDB engine for every normalise_frame call: opening one costs more


def _engine():
    if not _ENGINE:
        _ENGINE.append(make_engine("duckdb"))
    return _ENGINE[0]


def new_engine(name: str, request):
    """A fresh engine of kind ``name`` for a test; Spark engines share the run's session
    (the ``spark_session`` fixture of conftest.py)."""
    if name == "spark":
        from linkrisk.engine.spark import SparkEngine

        return SparkEngine(session=request.getfixturevalue("spark_session"))
    return make_engine(name)


def normalise_frame(kind: str, values: list[str | None], **settings) -> pd.DataFrame:
    """Normalise raw strings as a column of kind ``kind``, as ``Study.run`` does.

    The values become one column of a one-dataset study (row numbers as record ids);
    the load and normalise stages run in a DuckDB engine exactly as
    ``linkrisk.pipeline.run_study`` calls them (every table they make is made anew).

    Parameters
    ----------
    kind : str
        A kind of the catalogue (``national_id``, ``phone``, ``full_name`` ...).
    values : list of str or None
    **settings
        Fields of :class:`linkrisk.Normalisation` (``phone_region``,
        ``transliterate_names``, ``national_id_scheme``).

    Returns
    -------
    DataFrame
        One row per input value, in order: ``raw``, ``value`` (normalised, None when
        null or masked), ``present``, ``invalid``, ``masked``. ``attrs["quality"]``
        holds the stage's quality row for the column (None when every value is blank).
    """
    # A column empty in every row is a study problem; then one extra row keeps it loadable
    # (and the quality row is left out).
    padded = all(v is None or not str(v).strip() for v in values)
    frame = pd.DataFrame({"v": pd.Series(list(values) + (["x"] if padded else []), dtype=object)})
    study = lr.Study([lr.Dataset("d", frame, {"v": kind})],
                     normalisation=lr.Normalisation(**settings))
    engine = _engine()
    loaded, problems = load_study(study, engine)
    if problems:
        raise lr.StudyError(problems)
    build_mappings(engine, study, loaded.columns, raw_table)
    quality = normalise_dataset(engine, study, 0, raw_table(0), loaded.columns_of("d"), None, 0)
    out = engine.df("SELECT c0 AS value, h0 AS present, i0 AS invalid, m0 AS masked "
                    "FROM norm0 WHERE _rid <= ? ORDER BY _rid", [len(values)])
    engine.drop(raw_table(0), "norm0")
    out.insert(0, "raw", list(values))
    out["value"] = out["value"].astype(object).where(out["value"].notna(), None)
    out.attrs["quality"] = None if padded else quality.iloc[0].to_dict()
    return out


def normalise_values(kind: str, values: list[str | None], **settings) -> list[str | None]:
    """The normalised values of ``values`` (see :func:`normalise_frame`).

    Examples
    --------
    >>> normalise_values("email", ["  Foo@Example.COM "])
    ['foo@example.com']
    """
    return normalise_frame(kind, values, **settings)["value"].tolist()


# --- Tiny studies on disk ------------------------------------------------------------

PEOPLE_CSV = ("id,name,phone,birth_date\n"
              "p1,Zhang Wei,13812345678,1990-02-01\n"
              "p2,Li Na,13912345678,1985-07-15\n")
SHOP_CSV = ("id,email,phone,name\n"
            "s1,zhang.wei@example.com,+86 138 1234 5678,ZHANG Wei\n"
            "s2,wang.fang@example.com,13700001111,Wang Fang\n")
TRUTH_CSV = ("dataset,record_id,person_id\n"
             "people,p1,A\npeople,p2,B\nshop,s1,A\nshop,s2,C\n")

PEOPLE_TOML = """
[[datasets]]
name = "people"
path = "people.csv"
record_id = "id"
[datasets.columns]
name = "full_name"
phone = "phone"
birth_date = "date_of_birth"
"""
SHOP_TOML = """
[[datasets]]
name = "shop"
path = "shop.csv"
record_id = "id"
[datasets.columns]
email = "email"
phone = "phone"
name = "full_name"
"""
HEAD_TOML = """name = "tiny"
seed = 0

[attacker]
linkers = ["identifiers", "quasi_identifiers"]
quasi_identifier_sets = [["full_name", "date_of_birth"]]
"""
SCENARIO_TOML = """
[[scenarios]]
name = "hmac"
[scenarios.policy]
phone = { technique = "keyed_hash", key_scope = "dataset" }
"""


def write_study(folder: Path, toml: str | None = None, files: dict[str, str | bytes] | None = None,
                truth: bool = False) -> Path:
    """Write a tiny two-dataset study (``people`` and ``shop``) into ``folder``.

    ``toml`` replaces the whole study text; ``files`` adds or replaces data files (text
    is written as UTF-8 exactly as given, bytes as they are). With ``truth`` a truth
    file covering the four records is added. Returns the study file's path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, str | bytes] = {"people.csv": PEOPLE_CSV, "shop.csv": SHOP_CSV}
    if truth:
        data["truth.csv"] = TRUTH_CSV
    data.update(files or {})
    for name, content in data.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    if toml is None:
        toml = HEAD_TOML + PEOPLE_TOML + SHOP_TOML + SCENARIO_TOML
        if truth:
            toml += '\n[truth]\npath = "truth.csv"\n'
    study = folder / "study.toml"
    study.write_text(toml, encoding="utf-8")
    return study


# Each bad study: (id, toml text or None for the default, extra files, the strings one
# reported problem must contain: the place, then what was wrong or allowed).
_DEFAULT = HEAD_TOML + PEOPLE_TOML + SHOP_TOML + SCENARIO_TOML
BAD_STUDIES = [
    ("risk-sampling-size", _DEFAULT.replace('seed = 0\n', 'seed = 0\n\n[risk_sampling]\nexact_up_to = 0\n', 1), {},
     ["[risk_sampling] exact_up_to", "whole number of at least 1", "got 0"]),
    ("risk-sampling-confidence", _DEFAULT.replace('seed = 0\n', 'seed = 0\n\n[risk_sampling]\nconfidence = 95\n', 1),
     {}, ["[risk_sampling] confidence", "between 0 and 1", "got 95"]),
    ("duckdb-memory-limit", _DEFAULT.replace('seed = 0\n', 'seed = 0\n\n[duckdb]\nmemory_limit = "lots"\n', 1), {},
     ["[duckdb] memory_limit", "\"4GB\"", "'lots'"]),
    ("duckdb-unknown-setting", _DEFAULT.replace('seed = 0\n', 'seed = 0\n\n[duckdb]\nthreds = 2\n', 1), {},
     ["[duckdb] threds", "memory_limit, threads, temp_directory"]),
    ("unknown-kind", _DEFAULT.replace('name = "full_name"\nphone', 'name = "fullname"\nphone'), {},
     ["people", "column 'name'", "unknown kind 'fullname'", "full_name", "[kinds]"]),
    ("missing-file", _DEFAULT.replace('path = "shop.csv"', 'path = "nope.csv"'), {},
     ["dataset 'shop'", "nope.csv", "does not exist"]),
    ("missing-column", _DEFAULT.replace('email = "email"', 'e_mail = "email"'), {},
     ["shop.csv", "has no column 'e_mail'", "its columns are 'id', 'email', 'phone', 'name'"]),
    ("record-id-missing", None,
     {"people.csv": PEOPLE_CSV + ",Wang Fang,13700001111,1970-01-01\n"},
     ["people.csv", "column 'id'", "missing in 1 row", "first at data row 3", "row numbers"]),
    ("record-id-not-unique", None,
     {"people.csv": PEOPLE_CSV + "p1,Wang Fang,13700001111,1970-01-01\n"},
     ["people.csv", "column 'id'", "not unique", "first repeat at data row 3", "row numbers"]),
    ("duplicate-dataset-names", _DEFAULT.replace('name = "shop"', 'name = "people"'), {},
     ["datasets", "'people' is used by 2 datasets", "unique"]),
    ("unknown-technique", _DEFAULT.replace('technique = "keyed_hash"', 'technique = "sha1"'), {},
     ["scenario 'hmac' policy 'phone'", "unknown technique 'sha1'", "allowed: keep, drop"]),
    ("unknown-key-scope", _DEFAULT.replace('key_scope = "dataset"', 'key_scope = "team"'), {},
     ["scenario 'hmac' policy 'phone'", "unknown key scope 'team'", "allowed: global, dataset"]),
    ("qi-kind-absent", _DEFAULT.replace('["full_name", "date_of_birth"]', '["full_name", "address"]'),
     {}, ["quasi_identifier_sets", "'address', which no dataset has",
          "kinds present: date_of_birth, email, full_name, phone"]),
    ("truth-unknown-record", _DEFAULT + '\n[truth]\npath = "truth.csv"\n',
     {"truth.csv": TRUTH_CSV + "shop,s9,D\n"},
     ["truth.csv", "names 1 record(s) that do not exist", "data row 5"]),
    ("truth-unknown-dataset", _DEFAULT + '\n[truth]\npath = "truth.csv"\n',
     {"truth.csv": TRUTH_CSV + "clinic,c1,D\n"},
     ["truth.csv", "1 row(s) whose `dataset` is not a dataset", "data row 5", "'people', 'shop'"]),  # the value itself is data: never shown
    ("no-datasets", HEAD_TOML.replace('["full_name", "date_of_birth"]', ""), {},
     ["study.toml", "has no datasets", "[[datasets]]"]),
    ("column-of-nulls", None,
     {"people.csv": "id,name,phone,birth_date\np1,Zhang Wei,,1990-02-01\np2,Li Na,,1985-07-15\n"},
     ["people.csv", "column 'phone'", "empty in all 2 rows"]),
    ("zero-byte-file", None, {"people.csv": b""}, ["people.csv", "is empty (0 bytes)"]),
    ("header-only", None, {"people.csv": "id,name,phone,birth_date\n"},
     ["people.csv", "has a header but no records"]),
    ("not-utf8", None,
     {"people.csv": "id,name,phone,birth_date\np1,张伟,13812345678,1990-02-01\n".encode("gb18030")},
     ["people.csv", "not valid UTF-8", "encoding"]),
    ("ragged-rows", None,
     {"people.csv": PEOPLE_CSV + "p3,Wang Fang,13700001111,1970-01-01,extra,fields\n"},
     ["people.csv", "different number of fields", "delimiter"]),
    ("wrong-delimiter", _DEFAULT.replace('path = "people.csv"', 'path = "people.csv"\ndelimiter = ","'),
     {"people.csv": PEOPLE_CSV.replace(",", ";")},
     ["people.csv", "single column 'id;name;phone;birth_date'", "delimiter ','", "'name', 'phone'",
      "set `delimiter`"]),
    ("field-too-long", None,
     {"people.csv": PEOPLE_CSV.replace("Li Na", "L" * 1_000_001)},
     ["people.csv", "column 'name'", "1,000,001 characters", "data row 2", "1,000,000"]),
]
