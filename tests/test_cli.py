"""Tests of the ``linkrisk`` command line (linkrisk.cli), mostly in-process.

Bad input must give a non-zero exit code and a one-paragraph message that names the file
or column, never a traceback (unless ``--debug``). The sample study is run once for the
whole module.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import linkrisk as lr
from helpers import BAD_STUDIES, SAMPLE_DATA, write_study
from linkrisk import synth
from linkrisk.cli import COMMANDS, main

SAMPLE_STUDY = SAMPLE_DATA / "study.toml"
SCENARIOS = ["baseline", "keyed-hash-per-holder", "keyed-hash-shared-key", "sha256-resident-id",
             "generalise-dob-postcode"]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _assert_readable_error(err: str, *fragments: str) -> None:
    assert err.startswith("linkrisk: error: "), err
    assert "Traceback" not in err
    assert "\n\n" not in err.strip(), "the message should be one paragraph"
    for f in fragments:
        assert f in err, (f, err)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> dict:
    """``linkrisk run sample_data/study.toml --json ... --export ...``, once."""
    out = tmp_path_factory.mktemp("sample_run")
    code, stdout, stderr = _run(["run", SAMPLE_STUDY, "--json", out / "report.json",
                                 "--export", out / "entities"])
    return {"code": code, "stdout": stdout, "stderr": stderr, "dir": out}


# --- validate and run ------------------------------------------------------------------------

def test_validate_accepts_the_sample_study() -> None:
    code, out, err = _run(["validate", SAMPLE_STUDY])
    assert code == 0, err
    assert "valid (4 datasets, 4 scenarios)" in err


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name, toml, files, fragments", BAD_STUDIES,
                         ids=[case[0] for case in BAD_STUDIES])
def test_bad_input_gives_a_readable_error_and_exit_code_2(tmp_path: Path, command, name, toml,
                                                         files, fragments) -> None:
    study = write_study(tmp_path, toml, files)
    report = tmp_path / "report.html"
    code, out, err = _run([command, study] + (["--out", report] if command == "run" else []))
    assert code == 2, err
    assert out == ""
    _assert_readable_error(err, "problem", *fragments)
    assert not report.exists()


def test_every_problem_is_listed(tmp_path: Path) -> None:
    study = write_study(tmp_path, files={"people.csv": b"", "shop.csv": "id,email\n"})
    code, _, err = _run(["validate", study])
    assert code == 2
    _assert_readable_error(err, "has 2 problems", "people.csv", "0 bytes", "shop.csv",
                           "header but no records")


def test_a_missing_or_broken_study_file(tmp_path: Path) -> None:
    code, _, err = _run(["validate", tmp_path / "nope.toml"])
    assert code == 2
    _assert_readable_error(err, "nope.toml", "does not exist", "linkrisk synth")
    (tmp_path / "bad.toml").write_text("name = [\n", encoding="utf-8")
    code, _, err = _run(["run", tmp_path / "bad.toml"])
    assert code == 2
    _assert_readable_error(err, "bad.toml", "is not valid TOML")


def test_debug_lets_the_traceback_through(tmp_path: Path) -> None:
    study = write_study(tmp_path, files={"people.csv": b""})
    for argv in (["--debug", "validate", study], ["validate", "--debug", study]):
        with pytest.raises(lr.StudyError, match="0 bytes"):
            main([str(a) for a in argv])


def test_the_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("linkrisk")
    study = write_study(tmp_path, files={"people.csv": b""})
    plain = subprocess.run([script, "validate", study], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2
    assert plain.stderr.startswith("linkrisk: error: ") and "Traceback" not in plain.stderr
    debug = subprocess.run([script, "--debug", "validate", study], capture_output=True, text=True,
                           timeout=120)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "StudyError" in debug.stderr


def test_unexpected_errors_are_reported_as_bugs_without_a_traceback(monkeypatch) -> None:
    def broken(args, console):
        raise RuntimeError("something internal")

    monkeypatch.setitem(COMMANDS, "info", broken)
    code, _, err = _run(["info"])
    assert code == 1
    _assert_readable_error(err, "unexpected RuntimeError", "bug", "--debug")
    assert "something internal" not in err
    with pytest.raises(RuntimeError):
        main(["--debug", "info"])


@pytest.mark.parametrize("error, code", [(lr.MissingDependencyError("install linkrisk[spark]"), 4),
                                         (lr.InputError("x.csv cannot be read"), 3),
                                         (KeyboardInterrupt(), 130)])
def test_exit_codes(monkeypatch, error, code) -> None:
    def failing(args, console):
        raise error

    monkeypatch.setitem(COMMANDS, "info", failing)
    got, _, err = _run(["info"])
    assert got == code
    _assert_readable_error(err)


def test_no_command_prints_help() -> None:
    code, out, _ = _run([])
    assert code == 2
    assert "usage: linkrisk" in out


# --- The sample study, run once -------------------------------------------------------------

def test_run_succeeds_and_prints_a_summary(sample_run) -> None:
    assert sample_run["code"] == 0, sample_run["stderr"]
    assert "Traceback" not in sample_run["stderr"]
    for name in SCENARIOS:
        assert name in sample_run["stdout"]
    assert "wrote" in sample_run["stdout"]


def test_run_export_writes_every_record_once_per_scenario(sample_run) -> None:
    truth = pd.read_csv(SAMPLE_DATA / "truth.csv", dtype=str)
    records = set(zip(truth.dataset, truth.record_id))
    folder = sample_run["dir"] / "entities"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"entities-{s}.csv" for s in SCENARIOS)
    for name in SCENARIOS:
        path = folder / f"entities-{name}.csv"
        assert path.read_text("utf-8").splitlines()[0] == "dataset,record_id,entity_id"
        table = pd.read_csv(path, dtype={"dataset": str, "record_id": str, "entity_id": "int64"})
        assert len(table) == len(records)
        assert set(zip(table.dataset, table.record_id)) == records
        assert not table.duplicated(["dataset", "record_id"]).any()


def test_run_json_report_has_the_promised_keys(sample_run) -> None:
    report = json.loads((sample_run["dir"] / "report.json").read_text("utf-8"))
    assert {"linkrisk_version", "study", "datasets", "weights", "scenarios"} <= set(report)
    assert [s["name"] for s in report["scenarios"]] == SCENARIOS
    baseline = report["scenarios"][0]
    for key in ("links", "entities", "multi_dataset_entities", "enrichment", "enrichment_prevented",
                "reversed_columns", "hubs", "ground_truth"):
        assert key in baseline, key
    assert {"total", "mean_per_record", "by_dataset"} <= set(baseline["enrichment"])


# --- synth, info, profile ---------------------------------------------------------------------

def test_synth_with_one_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        code, _, err = _run(["synth", "--people", "300", "--seed", "7", "--out", tmp_path / folder])
        assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["clinic.csv", "ecommerce.csv", "study.toml", "surveillance.csv", "telecom.csv",
                     "truth.csv"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_sample_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    # sample_data/ holds other files too (the Adult table, a README); these six are generated.
    synth.generate(5000, seed=0, out=tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["clinic.csv", "ecommerce.csv", "study.toml", "surveillance.csv", "telecom.csv",
                       "truth.csv"]
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DATA / name).read_bytes(), (
            f"sample_data/{name} differs from linkrisk.synth.generate(5000, seed=0): regenerate it")


def test_info_prints_versions() -> None:
    code, out, _ = _run(["info"])
    assert code == 0
    assert out.startswith(f"linkrisk {lr.__version__}\n")
    for name in ("python", "duckdb", "splink", "recordlinkage", "pandas"):
        assert name in out
    code, out, _ = _run(["info", "--kinds"])
    assert code == 0 and "national_id" in out and "identifier" in out


def test_profile_suggests_kinds_for_the_sample_surveillance_table() -> None:
    code, out, err = _run(["profile", SAMPLE_DATA / "surveillance.csv"])
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "national_id" in lines["resident_id"] and "cn_ric" in lines["resident_id"]
    assert "date_of_birth" in lines["birth_date"]
    code, out, _ = _run(["profile", SAMPLE_DATA / "telecom.csv", "--toml"])
    assert code == 0
    assert 'phone = "phone"' in out.splitlines()


def test_profile_of_a_missing_file_exits_3(tmp_path: Path) -> None:
    code, out, err = _run(["profile", tmp_path / "nope.csv"])
    assert code == 3
    _assert_readable_error(err, "nope.csv", "does not exist")


def test_a_bad_memory_limit_on_the_command_line_is_a_study_problem(tmp_path: Path) -> None:
    code, _, err = _run(["run", write_study(tmp_path), "--memory-limit", "lots"])
    assert code == 2
    _assert_readable_error(err, "[duckdb] memory_limit", '"4GB"', "'lots'")
