"""Tests of loading tables into the engine (linkrisk.engine, linkrisk.load).

Every input column is read as text, so that leading zeros survive ('007' stays '007');
every loaded table gets ``__linkrisk_row`` (engine.base.ROW), the 1-based position of the row in its source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import linkrisk as lr
from linkrisk.engine import make_engine


@pytest.fixture
def engine(any_engine):
    """Each engine in turn (see conftest.py)."""
    return any_engine


@pytest.fixture
def duck():
    """DuckDB only: the tests of DuckDB's own reader and settings."""
    with make_engine("duckdb") as e:
        yield e


def _rows(engine, table: str) -> list[dict]:
    frame = engine.df(f"SELECT * FROM {table} ORDER BY __linkrisk_row")
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in frame.to_dict("records")]


def test_csv_columns_are_text_with_leading_zeros_and_rows_numbered_from_1(engine, tmp_path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,code,amount\n007,0012,1.50\n008,,2\n", encoding="utf-8")
    assert engine.load_csv("t", path, ",") == ["id", "code", "amount"]
    assert _rows(engine, "t") == [
        {"__linkrisk_row": 1, "id": "007", "code": "0012", "amount": "1.50"},
        {"__linkrisk_row": 2, "id": "008", "code": None, "amount": "2"},
    ]
    assert engine.df("SELECT * FROM t").dtypes.drop("__linkrisk_row").eq(object).all()


def test_csv_with_bom_crlf_and_quoted_separators(engine, tmp_path) -> None:
    # A spreadsheet export: byte-order mark, CRLF line ends, a quoted comma and a quoted
    # line break, no newline after the last row.
    path = tmp_path / "excel.csv"
    path.write_bytes('\ufeffid,address\r\n1,"12 Main St, Apt 4"\r\n2,"line one\nline two"\r\n3,x'
                     .encode("utf-8"))
    assert engine.load_csv("t", path, ",") == ["id", "address"]
    assert [r["address"] for r in _rows(engine, "t")] == ["12 Main St, Apt 4", "line one\nline two", "x"]
    assert [r["__linkrisk_row"] for r in _rows(engine, "t")] == [1, 2, 3]


def test_parquet_columns_are_cast_to_text(engine, tmp_path) -> None:
    # A string column keeps its zeros; an integer column cannot have had any ('7');
    # a missing float is NULL, not 'NaN'.
    path = tmp_path / "a.parquet"
    pd.DataFrame({"id": ["007", "008"], "n": [7, 8], "x": [1.5, np.nan]}).to_parquet(path)
    assert engine.load_parquet("t", path) == ["id", "n", "x"]
    assert _rows(engine, "t") == [{"__linkrisk_row": 1, "id": "007", "n": "7", "x": "1.5"},
                                  {"__linkrisk_row": 2, "id": "008", "n": "8", "x": None}]


def test_dataframe_columns_are_cast_to_text(engine) -> None:
    frame = pd.DataFrame({"id": ["007", None, "009"], "n": pd.array([1, None, 3], dtype="Int64"),
                          "born": pd.to_datetime(["1990-02-01", None, "1985-07-15"])})
    assert engine.load_frame("t", frame) == ["id", "n", "born"]
    rows = _rows(engine, "t")
    assert [r["__linkrisk_row"] for r in rows] == [1, 2, 3]
    assert [r["id"] for r in rows] == ["007", None, "009"]
    assert [r["n"] for r in rows] == ["1", None, "3"]
    assert rows[0]["born"].startswith("1990-02-01")


def test_a_ragged_row_beyond_the_sniffed_sample_is_reported_by_line(duck, tmp_path) -> None:
    engine = duck
    # DuckDB guesses the dialect from the first 20,480 rows; line 25,002 (the header is
    # line 1) has one field too many.
    lines = ["id,name"] + [f"r{i},n{i}" for i in range(30_000)]
    lines.insert(25_001, "r,secret,extra")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(lr.InputError) as info:
        engine.load_csv("t", path, ",")
    message = str(info.value)
    assert str(path) in message and "different number of fields" in message
    assert "line 25002 of the file" in message
    assert "secret" not in message  # no raw value in an error message


def test_an_unsupported_encoding_is_named_and_nothing_is_downloaded(duck, tmp_path) -> None:
    engine = duck
    path = tmp_path / "gbk.csv"
    path.write_bytes("id,name\n1,张伟\n".encode("gbk"))
    with pytest.raises(lr.InputError, match="not one the CSV reader supports"):
        engine.load_csv("t", path, ",", encoding="gbk")
    # DuckDB would otherwise fetch its `encodings` extension from the network.
    assert engine.scalar("SELECT current_setting('autoinstall_known_extensions')") is False


def test_latin_1_files_load_with_their_encoding(engine, tmp_path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,name\n1,Zoë\n".encode("latin-1"))
    with pytest.raises(lr.InputError, match="not valid UTF-8"):
        engine.load_csv("t", path, ",")
    engine.load_csv("t", path, ",", encoding="latin-1")
    assert engine.scalar("SELECT name FROM t") == "Zoë"


def test_a_ragged_row_is_reported_without_its_values(engine, tmp_path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("id,name\nr1,n1\nr2,secret,extra\nr3,n3\n", encoding="utf-8")
    with pytest.raises(lr.InputError) as info:
        engine.load_csv("t", path, ",")
    message = str(info.value)
    assert str(path) in message and "different number of fields" in message
    assert "line 3 of the file" in message  # the header is line 1
    assert "secret" not in message


def test_a_ragged_row_is_found_with_the_file_s_delimiter_and_encoding(engine, tmp_path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes("id;name\nr1;Zoë\nr2;Zoë;extra\n".encode("latin-1"))
    with pytest.raises(lr.InputError) as info:
        engine.load_csv("t", path, ";", encoding="latin-1")
    assert "line 3 of the file" in str(info.value)


@pytest.mark.parametrize("text, line", [
    ('id,note\n1,x\n2,"a\nb\nc",secret\n', 3),  # a row is named by the line it starts on
    ('\nid,note\n1,x\n2,y,z\n', 4),  # the first non-blank row is the header
    ('id,note\n1,"x, y"\n\n2\n', 4),  # quoted delimiters are not fields; blank lines are no rows
    ('id,note\n1,x\n2,y\n', None),  # nothing ragged: nothing to name
])
def test_first_ragged_line_by_hand(tmp_path, text, line) -> None:
    from linkrisk.engine.base import first_ragged_line

    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    assert first_ragged_line(path, ",") == line
    assert first_ragged_line(path, ",", limit=8) is None  # too long to read through: left unnamed


def test_a_file_that_is_not_parquet(engine, tmp_path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("id,name\n1,a\n", encoding="utf-8")
    with pytest.raises(lr.InputError, match="could not be read as Parquet"):
        engine.load_parquet("t", path)


def test_unknown_engines_are_refused() -> None:
    with pytest.raises(lr.LinkriskError, match="unknown engine 'oracle'.*duckdb"):
        make_engine("oracle")


def test_spark_without_pyspark_names_the_extra(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(lr.MissingDependencyError, match=r"linkrisk\[spark\]"):
        make_engine("spark")


def _entity_ids(study: lr.Study) -> list[str]:
    result = study.run()
    try:
        return result.graph("baseline").entity_table().record_id.tolist()
    finally:
        result.close()


def test_record_ids_keep_their_leading_zeros_from_csv_parquet_and_frames(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["007", "0008"], "phone": ["13812345678", "13912345678"]})
    csv, parquet = tmp_path / "a.csv", tmp_path / "a.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    before = csv.read_bytes(), parquet.read_bytes()
    for source in (csv, parquet, frame):
        study = lr.Study([lr.Dataset("a", source, {"phone": "phone"}, record_id="id")])
        assert _entity_ids(study) == ["007", "0008"], source
    assert (csv.read_bytes(), parquet.read_bytes()) == before  # inputs are never modified


def test_the_format_follows_the_suffix_or_the_setting(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["1"], "phone": ["13812345678"]})
    frame.to_parquet(tmp_path / "a.data")
    ds = lr.Dataset("a", tmp_path / "a.data", {"phone": "phone"}, record_id="id", format="parquet")
    assert ds.file_format == "parquet"
    assert lr.Study([ds]).validate() == []
    assert lr.Dataset("b", tmp_path / "b.PARQUET").file_format == "parquet"
    assert lr.Dataset("c", tmp_path / "c.txt").file_format == "csv"


def test_engine_errors_carry_no_data_values() -> None:
    from linkrisk.engine.duckdb import _first_line

    text = _first_line("Conversion Error: Could not convert string '13812345678' to INT32\nOriginal Line: a,b")
    assert "13812345678" not in text and "Original Line" not in text
    assert _first_line("CSV Error on Line: 3 Original Line: x1,13800000000,extra") == "CSV Error on Line: 3 "


def test_blank_sets_columns_to_null_where_the_key_is_listed(engine) -> None:
    # the hub guard of the probabilistic linker: rows whose key is a hub lose the key and
    # its text; the other rows and columns stay as they were
    engine.register_frame("src", pd.DataFrame({"k": ["a", "b", "a", None], "t": ["1", "2", "3", "4"],
                                               "n": [1, 2, 3, 4]}))
    engine.create("t", "SELECT * FROM src")
    engine.register_frame("hubs", pd.DataFrame({"v": ["a", "z"]}))
    engine.blank("t", ["k", "t"], "k", "SELECT v FROM hubs WHERE v <> ?", ["z"])
    got = engine.rows("SELECT k, t, n FROM t ORDER BY n")
    assert got == [(None, None, 1), ("b", "2", 2), (None, None, 3), (None, "4", 4)]


def test_spark_without_java_names_the_runtime(monkeypatch) -> None:
    pytest.importorskip("pyspark")
    from linkrisk.engine.spark import SparkEngine

    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(lr.MissingDependencyError, match="Java 17"):
        SparkEngine.start_session({"master": "local[1]"})


def test_duckdb_settings_from_the_study_file_and_no_spill_folder_in_the_working_directory(tmp_path):
    # [duckdb] memory_limit reaches the engine; what spills goes to a fresh folder under
    # the system's temporary directory (DuckDB's default would be .tmp here), removed on close
    import tempfile

    from helpers import HEAD_TOML, PEOPLE_TOML, SHOP_TOML, write_study

    path = write_study(tmp_path, HEAD_TOML.replace('seed = 0\n', 'seed = 0\n\n[duckdb]\nmemory_limit = "1GB"\n'
                                                   'threads = 1\n', 1) + PEOPLE_TOML + SHOP_TOML)
    study = lr.Study.from_toml(path)
    assert study.validate() == []
    assert study.engine_options() == {"memory_limit": "1GB", "threads": 1}
    engine = make_engine(study.engine, **study.engine_options())
    limit, threads, temp = engine.rows("SELECT current_setting('memory_limit'), current_setting('threads'), "
                                       "current_setting('temp_directory')")[0]
    assert limit == "953.6 MiB" and int(threads) == 1
    assert temp.startswith(tempfile.gettempdir()) and Path(temp).is_dir()
    engine.close()
    assert not Path(temp).exists()
