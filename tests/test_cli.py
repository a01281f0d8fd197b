"""Tests of the ``linkrisk`` command line (linkrisk.cli), mostly in-process.

Bad input must give a non-zero exit code and a one-paragraph message that names the file
or column, never a traceback (unless ``--debug``). The sample study is run once for the
whole module.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import subprocess
import time
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
             "generalise-dob-postcode", "drop-face-templates", "low-quality-templates",
             "protected-templates-per-holder"]  # the last three since the sample has face templates (issue 22)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


STAGE_LINE = re.compile(r"^(\[\d+/\d+\] )? *\d+\.\ds  ")  # progress off a terminal: "[2/9]   0.4s  normalising"


def _assert_readable_error(err: str, *fragments: str) -> None:
    # off a terminal a run prints a line per stage before it meets a problem in the files
    err = "".join(line for line in err.splitlines(keepends=True) if not STAGE_LINE.match(line))
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
    assert "valid (4 datasets, 7 scenarios)" in err


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
    # sample_data/ holds other files too (the Adult table, a README); these six are generated,
    # with simulated face templates (issue 22)
    synth.generate(5000, seed=0, out=tmp_path, faces=True)
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


# --- issue 26: messages, exit codes and progress ----------------------------------------------

def test_unknown_settings_suggest_the_setting_meant(tmp_path: Path) -> None:
    from helpers import HEAD_TOML, PEOPLE_TOML, SHOP_TOML

    toml = (HEAD_TOML + PEOPLE_TOML + SHOP_TOML).replace("seed = ", 'weigths = "uniform"\nseed = ', 1)
    study = write_study(tmp_path, toml + '\n[normalize]\nphone_region = "CN"\n')
    code, _, err = _run(["validate", study])
    assert code == 2
    _assert_readable_error(err, "has 2 problems", "weigths: unknown setting; did you mean weights?",
                           "normalize: unknown setting; did you mean normalise?")


def test_run_reports_the_same_problems_as_validate(tmp_path: Path) -> None:
    # Two problems: an unknown kind (found in the settings) and a missing file (found only
    # by reading): run used to stop at the first; both commands now list both.
    study = write_study(tmp_path)
    text = study.read_text("utf-8")
    assert '"shop.csv"' in text and '"email"' in text
    study.write_text(text.replace('"shop.csv"', '"gone.csv"').replace('= "email"', '= "emial"', 1), "utf-8")
    got = {}
    for command in ("validate", "run"):
        code, _, err = _run([command, study])
        assert code == 2, err
        got[command] = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(got["validate"]) == 2 and got["run"] == got["validate"]
    assert any("emial" in line for line in got["run"]) and any("gone.csv" in line for line in got["run"])


def test_a_report_suffix_that_names_no_format_exits_2(tmp_path: Path) -> None:
    code, out, err = _run(["run", write_study(tmp_path), "--out", tmp_path / "r.pdf"])
    assert code == 2 and out == ""
    _assert_readable_error(err, "r.pdf", "use .html, .md or .json", "nothing was run")


def test_synth_names_the_study_from_its_size_and_seed(tmp_path: Path) -> None:
    code, _, err = _run(["synth", "--people", "300", "--seed", "7", "--out", tmp_path])
    assert code == 0, err
    assert lr.Study.from_toml(tmp_path / "study.toml").name == "four-breach sample, 300 people, seed 7"


def test_profile_toml_prints_a_complete_dataset_block_and_reads_an_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("ref,Full Name,e-mail\nk1,Jürgen Müller,a@example.com\nk2,Zoë Brontë,b@example.com\n"
                     .encode("latin-1"))
    code, _, err = _run(["profile", path])  # read as UTF-8, the bytes are invalid
    assert code == 3
    _assert_readable_error(err, "--encoding")
    code, out, err = _run(["profile", path, "--encoding", "latin-1", "--toml"])
    assert code == 0, err
    assert out == ('[[datasets]]\nname = "latin"\n'
                   f'path = "{path.as_posix()}"  # relative to the study file\n'
                   'record_id = "ref"\nencoding = "latin-1"\n[datasets.columns]\n"Full Name" = "full_name"\n'
                   'e-mail = "email"\n')


def test_profile_warns_on_stderr_when_few_values_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("dob\nthe first of May\nsome day\n", encoding="utf-8")
    code, out, err = _run(["profile", path])
    assert code == 0
    assert "date_of_birth" in out
    assert err.startswith("linkrisk: warning: column dob: suggested as date_of_birth, but only 0%")
    assert "first of May" not in err  # no value in a message


def test_run_off_a_terminal_prints_a_line_per_stage_and_says_when_it_writes(sample_run) -> None:
    lines = sample_run["stderr"].splitlines()
    stages = [line for line in lines if STAGE_LINE.match(line) and line.startswith("[")]
    assert len(stages) >= 5, lines
    steps = [int(line[1:line.index("/")]) for line in stages]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # one line per stage
    assert any("writing the JSON report report.json" in line for line in lines)
    assert any("exporting entities to entities" in line for line in lines)


def test_the_run_time_printed_is_the_wall_time_of_the_whole_command(tmp_path: Path, monkeypatch) -> None:
    # Writing the report is made to take 1.5 s: the time printed includes it (it used to
    # stop when the linking ended).
    import linkrisk.result

    write = linkrisk.result.Result.write

    def slow_write(self, *args, **kwargs):
        time.sleep(1.5)
        return write(self, *args, **kwargs)

    monkeypatch.setattr(linkrisk.result.Result, "write", slow_write)
    t0 = time.perf_counter()
    code, out, err = _run(["run", write_study(tmp_path), "--out", tmp_path / "r.md"])
    wall = time.perf_counter() - t0
    assert code == 0, err
    printed = float(re.search(r", ([0-9.]+)s$", out.splitlines()[0]).group(1))
    assert 1.5 <= printed <= wall + 0.05


def test_run_time_counts_from_the_command_not_from_an_exec_ing_shell():
    # `bash -c "a && linkrisk ..."` may exec linkrisk in the shell's own process: its
    # start time in /proc is then the shell's, 2 s before here (the sleep). The command's
    # clock starts when the command line is imported, so it reads well under 2 s.
    import shutil

    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    code = ("import time; from linkrisk.cli_console import STARTED; "
            "print(time.perf_counter() - STARTED)")
    out = subprocess.run(["bash", "-c", f"sleep 2 && exec {shlex.quote(sys.executable)} -c {shlex.quote(code)}"],
                         capture_output=True, text=True, check=True).stdout
    assert float(out) < 1.5
