"""Hostile input (issue 25): what an attacker or a careless user feeds linkrisk.

Each test names the item of the issue it covers. Every one ends as documented: exit 0,
2 (invalid study or output), 3 (unreadable input) or 130 (interrupted), with a message
that quotes no data value, and nothing written outside the outputs the user named.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import linkrisk as lr
from helpers import HEAD_TOML, PEOPLE_CSV, PEOPLE_TOML, SCENARIO_TOML, SHOP_TOML, TRUTH_CSV, write_study
from linkrisk.cli import main


def _run(argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its content (to show nothing changed)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- 1. no raw values in any message --------------------------------------------------------

# the first record of a file without a header row (synthetic values)
HEADERLESS = ("p1,13812345678,110101199003071234,Zhang Wei,3 Garden Road\n"
              "p2,13912345678,110101198507152345,Li Na,9 River Street\n")
FIRST_ROW = ["13812345678", "110101199003071234", "Zhang Wei", "3 Garden Road"]


def test_a_file_without_a_header_row_is_not_quoted_in_messages(tmp_path: Path) -> None:
    # Before: "has no column 'name'; its columns are 'p1', '13812345678', ..." once per
    # mapped column (three times here), every cell of the first record listed.
    study = write_study(tmp_path, files={"people.csv": HEADERLESS})
    for cmd in ("validate", "run"):
        code, _, err = _run([cmd, study])
        assert code == 2, err
        for cell in FIRST_ROW:
            assert cell not in err, (cell, err)
        assert "5 cells, not shown: the first row looks like data" in err
        assert err.count("people.csv") == 1, "one problem for the one cause, not one per column"


def test_profile_does_not_print_a_data_row_as_column_names(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADERLESS, encoding="utf-8")
    for extra in ([], ["--toml"]):
        code, out, err = _run(["profile", path, *extra])
        assert code == 0, err
        for cell in FIRST_ROW:
            assert cell not in out + err, (cell, out)
    code, out, _ = _run(["profile", path])
    assert "column 2 (withheld)" in out


def test_truth_dataset_values_are_counted_not_listed(tmp_path: Path) -> None:
    # a truth file whose `dataset` column holds 40 phone numbers: before, every distinct
    # number was listed in the message
    phones = [f"1380000{i:04d}" for i in range(40)]
    truth = TRUTH_CSV + "".join(f"{p},x{i},P{i}\n" for i, p in enumerate(phones))
    study = write_study(tmp_path, files={"truth.csv": truth},
                        toml=HEAD_TOML + PEOPLE_TOML + SHOP_TOML + '\n[truth]\npath = "truth.csv"\n')
    code, _, err = _run(["validate", study])
    assert code == 2
    assert not any(p in err for p in phones), err
    # rows 5 to 44 of the truth file name no dataset of the study: 40 rows, first at row 5
    assert "has 40 row(s) whose `dataset` is not a dataset of the study (first at data row 5)" in err


# --- 2. path traversal through scenario and dataset names ------------------------------------

@pytest.mark.parametrize("name", ["x/../../telecom", "/tmp/evil", "..", "a\\b", "\u001b[31mred", "",
                                  "x" * 65])
def test_names_that_become_paths_are_refused_by_validate_and_run(tmp_path: Path, name: str) -> None:
    toml = HEAD_TOML + PEOPLE_TOML + SHOP_TOML + SCENARIO_TOML.replace('"hmac"', json.dumps(name))
    study = write_study(tmp_path / "s", toml)
    before = _digest(tmp_path)
    for argv in (["validate", study], ["run", study, "--export", tmp_path / "s" / "exp"]):
        code, _, err = _run(argv)
        assert code == 2, err
        assert "scenarios #1 name: must be" in err
        assert "\u001b" not in err
    assert _digest(tmp_path) == before


def test_a_dataset_name_with_a_slash_is_refused(tmp_path: Path) -> None:
    study = write_study(tmp_path, HEAD_TOML + PEOPLE_TOML.replace('name = "people"', 'name = "../people"')
                        + SHOP_TOML)
    code, _, err = _run(["validate", study])
    assert code == 2 and "datasets #1 name: must be a name" in err


# --- 3 and 7. outputs never overwrite inputs; checked before the run ------------------------

@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if the study is run at all: output paths must be refused first."""
    import linkrisk.pipeline

    def refuse(*a, **k):
        raise AssertionError("the run started although an output path was bad")

    monkeypatch.setattr(linkrisk.pipeline, "run_study", refuse)


def test_an_output_onto_an_input_is_refused_before_the_run(tmp_path: Path, no_run) -> None:
    # an input dataset named like a report (people.json, read as CSV), and a CSV input
    # named like an export file
    toml = (HEAD_TOML + PEOPLE_TOML.replace('path = "people.csv"', 'path = "people.json"\nformat = "csv"')
            + SHOP_TOML.replace('path = "shop.csv"', 'path = "entities-baseline.csv"'))
    study = write_study(tmp_path, toml, files={
        "people.json": PEOPLE_CSV,
        "entities-baseline.csv": "id,email,phone,name\ns1,a@example.com,13700001111,Wang Fang\n"})
    before = _digest(tmp_path)
    cases = [(["--json", tmp_path / "people.json"], "is an input of the study"),
             (["--out", tmp_path / "sub" / ".." / "people.json"], "is an input of the study"),
             (["--export", tmp_path], "would overwrite the input"),
             (["--out", study.with_suffix(".json"), "--json", study.with_suffix(".json")], "is also the path of"),
             (["--json", study], "must end in .json")]
    for extra, fragment in cases:
        code, _, err = _run(["run", study, *extra])
        assert code == 2, (extra, err)
        assert fragment in err, (extra, err)
    assert _digest(tmp_path) == before


@pytest.mark.parametrize("option, target, fragment", [
    ("--out", "DIR.html", "is a folder"),
    ("--out", "r.txt", "has no report suffix"),
    ("--json", "r.html", "must end in .json"),
    ("--out", "x" * 300 + ".html", "file systems take 255 bytes"),
    ("--out", "/proc/r.html", "cannot be written"),
    ("--export", "FILE", "is a file, not a folder"),
    ("--out", "dev.html", "is not a regular file"),  # a link to /dev/null
])
def test_bad_output_paths_fail_in_a_second_not_after_the_run(tmp_path: Path, no_run, option, target,
                                                            fragment) -> None:
    study = write_study(tmp_path)
    (tmp_path / "DIR.html").mkdir()
    (tmp_path / "FILE").write_text("keep me")
    (tmp_path / "dev.html").symlink_to("/dev/null")  # replacing it would replace the device (as root)
    path = target if target.startswith("/") else tmp_path / target
    code, _, err = _run(["run", study, option, path])
    assert code == 2, err
    assert fragment in err and "nothing was run" in err, err
    assert (tmp_path / "FILE").read_text() == "keep me"


def test_an_export_lands_whole_and_only_in_the_named_folder(tmp_path: Path, monkeypatch) -> None:
    study = write_study(tmp_path / "in")
    code, _, err = _run(["run", study, "--export", tmp_path / "out" / "exp", "--json", tmp_path / "out" / "r.json"])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["exp", "r.json"]
    assert sorted(p.name for p in (tmp_path / "out" / "exp").iterdir()) == [
        "entities-baseline.csv", "entities-hmac.csv"]  # no staging folder or temporary file left

    # interrupted after the first of the two export files: before, that file was left
    # (and the reports written before it); now nothing lands, in a new or an existing folder
    from linkrisk.graph import IdentityGraph

    real = IdentityGraph.write_entity_table
    calls = []

    def interrupted(self, path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(self, path)

    monkeypatch.setattr(IdentityGraph, "write_entity_table", interrupted)
    for folder in (tmp_path / "new", tmp_path / "out" / "exp"):
        before = _digest(tmp_path / "out")
        calls.clear()
        code, _, err = _run(["run", study, "--json", tmp_path / "new.json", "--export", folder])
        assert code == 130, err
        assert not (tmp_path / "new.json").exists() and not (tmp_path / "new").exists()
        assert _digest(tmp_path / "out") == before
        assert [p.name for p in (tmp_path / "out" / "exp").iterdir()] == [
            "entities-baseline.csv", "entities-hmac.csv"]


# --- 4. interrupts -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_study(tmp_path_factory) -> Path:
    """30,000 synthetic people: a run long enough (tens of seconds on 2 shared cores) to
    be interrupted in the middle of its DuckDB work."""
    from linkrisk import synth

    return synth.generate(30_000, seed=4, out=tmp_path_factory.mktemp("big"))


def test_a_signal_that_a_library_swallowed_still_ends_the_run(tmp_path: Path, monkeypatch, capsys) -> None:
    # DuckDB turns the KeyboardInterrupt raised in a query into an InterruptException; code
    # that falls back on any Exception would carry on and finish with exit 0. The next
    # progress step must end the run instead.
    from linkrisk import cli, pipeline

    study = write_study(tmp_path / "s")
    steps = []

    def run_that_swallows(study, progress=None, **kw):
        progress("loading datasets")
        steps.append("loading")
        try:
            cli.Interrupts.active._handler(signal.SIGINT, None)  # the signal, mid-query
        except KeyboardInterrupt:
            pass  # ... caught by a library that goes on
        progress("normalising")
        steps.append("normalising")  # never reached
        raise AssertionError("the run went on after the signal")

    monkeypatch.setattr(pipeline, "run_study", run_that_swallows)
    out = tmp_path / "out"
    code = main(["run", str(study), "--json", str(out / "r.json"), "--out", str(out / "r.html")])
    assert code == 130
    assert steps == ["loading"]
    assert "interrupted (SIGINT)" in capsys.readouterr().err
    assert not out.exists() or list(out.rglob("*")) == []
    assert cli.Interrupts.active is None  # the handlers are put back


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_a_running_cli_exits_130_and_leaves_nothing(tmp_path: Path, big_study: Path, sig) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(Path(lr.__file__).parents[1]))
    before = _digest(big_study.parent)
    proc = subprocess.Popen([sys.executable, "-m", "linkrisk.cli", "run", str(big_study), "--json",
                             str(out / "r.json"), "--out", str(out / "r.html"), "--export", str(out / "exp")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            # a suite started in the background (`pytest &`) passes SIGINT on
                            # ignored, and the CLI rightly keeps an ignored signal ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # wait until the engine has made its spill folder: the run is in its DuckDB work
    deadline = time.monotonic() + 120
    while not any(tmp.glob("linkrisk-duckdb-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)
    assert proc.poll() is None, "the run ended before it could be interrupted: make the study larger"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"interrupted ({sig.name})" in err and "bug" not in err and "Traceback" not in err, err
    assert not out.exists() or list(out.rglob("*")) == [], list(out.rglob("*"))
    assert list(tmp.iterdir()) == [], "spill and temporary folders must be removed"
    assert _digest(big_study.parent) == before


def test_a_private_spill_folder_inside_a_users_temp_directory(tmp_path: Path) -> None:
    # [duckdb] temp_directory names a shared folder: the engine spills into a fresh folder
    # of its own there and removes only that one
    from linkrisk.engine import make_engine

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "other-program.tmp").write_text("not ours")
    engine = make_engine("duckdb", temp_directory=str(shared))
    temp = Path(engine.scalar("SELECT current_setting('temp_directory')"))
    assert temp.parent == shared and temp.name.startswith("linkrisk-duckdb-")
    engine.close()
    assert [p.name for p in shared.iterdir()] == ["other-program.tmp"]


# --- 5. plausible data that crashed --------------------------------------------------------

def test_columns_named_rowid_and_row_and_a_record_id_named_row(tmp_path: Path) -> None:
    people = ("_row,rowid,name,phone,birth_date\n"
              "p1,r1,Zhang Wei,13812345678,1990-02-01\n"
              "p2,r2,Li Na,13912345678,1985-07-15\n")
    toml = HEAD_TOML + PEOPLE_TOML.replace('record_id = "id"', 'record_id = "_row"').replace(
        'birth_date = "date_of_birth"', 'birth_date = "date_of_birth"\nrowid = "username"') + SHOP_TOML
    study = write_study(tmp_path, toml, files={"people.csv": people})
    code, _, err = _run(["run", study, "--export", tmp_path / "exp"])
    assert code == 0, err
    exported = pd.read_csv(tmp_path / "exp" / "entities-baseline.csv", dtype=str)
    # p1 and s1 share the phone 138 1234 5678: one entity; record ids come from `_row`
    assert exported["record_id"].tolist() == ["p1", "p2", "s1", "s2"]
    assert exported["entity_id"].tolist() == ["0", "1", "0", "2"]


def test_a_column_named_like_linkrisks_row_column_is_refused(tmp_path: Path) -> None:
    people = PEOPLE_CSV.replace("id,name", "__linkrisk_row,id,name").replace("\np", "\n1,p")
    code, _, err = _run(["validate", write_study(tmp_path, files={"people.csv": people})])
    assert code == 2 and "a name linkrisk keeps for its own row numbers" in err, err


def test_an_age_beyond_64_bits_is_invalid_not_a_crash(tmp_path: Path) -> None:
    people = ("id,name,phone,birth_date,age\n"
              "p1,Zhang Wei,13812345678,1990-02-01,99999999999999999999999\n"
              "p2,Li Na,13912345678,1985-07-15,1e400\n")
    toml = (HEAD_TOML + PEOPLE_TOML + 'age = "age"\n' + SHOP_TOML
            + '\n[[scenarios]]\nname = "bands"\n[scenarios.policy]\nage = { technique = "generalise", level = 10 }\n')
    study = write_study(tmp_path, toml, files={"people.csv": people})
    code, _, err = _run(["run", study, "--json", tmp_path / "r.json"])
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    age = [c for d in report["datasets"] for c in d["columns"] if c["kind"] == "age"][0]
    assert age["invalid_share"] == 1.0  # both values are out of range


def test_nested_parquet_columns_are_refused_not_stringified(tmp_path: Path) -> None:
    # 21 empty lists once linked as one national ID
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(21)], "ids": [[] for _ in range(21)],
                          "phone": [f"1381234{i:04d}" for i in range(21)]})
    frame.to_parquet(tmp_path / "nested.parquet")
    toml = HEAD_TOML.replace('quasi_identifier_sets = [["full_name", "date_of_birth"]]', "") + """
[[datasets]]
name = "nested"
path = "nested.parquet"
record_id = "id"
[datasets.columns]
ids = "national_id"
phone = "phone"
""" + SHOP_TOML
    study = write_study(tmp_path, toml)
    for cmd in ("validate", "run"):
        code, _, err = _run([cmd, study])
        assert code == 2, err
        assert "column 'ids': holds nested values" in err, err
    # the same in code, from a DataFrame
    s = lr.Study([lr.Dataset("nested", frame, {"ids": "national_id", "phone": "phone"}, record_id="id")])
    assert any("nested values" in p.message for p in s.validate())


def test_a_duplicated_header_of_a_mapped_column_is_refused(tmp_path: Path) -> None:
    people = PEOPLE_CSV.replace("id,name,phone,birth_date", "id,name,phone,phone")
    code, _, err = _run(["validate", write_study(tmp_path, files={"people.csv": people})])
    assert code == 2 and "column 'phone': appears more than once in the header" in err, err


# --- 6. every setting validated by one schema; validate and run agree ------------------------

BASE = HEAD_TOML + PEOPLE_TOML + SHOP_TOML + SCENARIO_TOML


@pytest.mark.parametrize("edit, where, fragment", [
    (('seed = 0', 'seed = 0\nweights = { phone = nan }'), "weights", "phone must be a finite number"),
    (('seed = 0', 'seed = -1'), "seed", "from 0 to"),
    (('seed = 0', 'seed = 0\n[duckdb]\nthreads = 100000\n'), "[duckdb] threads", "from 1 to 256"),
    (('linkers = ["identifiers", "quasi_identifiers"]', 'linkers = "identifiers"'), "[attacker] linkers",
     "must be a list"),
    (('linkers = [', 'hash_rate = nan\nlinkers = ['), "[attacker] hash_rate", "finite number"),
    (('linkers = [', 'match_threshold = inf\nlinkers = ['), "[attacker] match_threshold", "finite number"),
    (('phone = { technique = "keyed_hash", key_scope = "dataset" }',
      'phone = { technique = "generalise", level = "year" }'), "policy 'phone'", "applies to dates"),
    (('phone = { technique = "keyed_hash", key_scope = "dataset" }',
      'phone = { technique = "mask", keep_first = 1e9 }'), "policy 'phone' keep_first", "whole number"),
    (('quasi_identifier_sets = [["full_name", "date_of_birth"]]', 'quasi_identifier_sets = ["full_name"]'),
     "[attacker] quasi_identifier_sets", "item 1: must be a list"),
    (('record_id = "id"\n[datasets.columns]\nemail = "email"\nphone = "phone"\nname = "full_name"\n',
      'record_id = "id"\ncolumns = "email"\n'), "datasets #2 columns", "must be a table"),
    (("[[scenarios]]", '[recommendation]\ntarget = nan\n\n[[scenarios]]'), "[recommendation] target",
     "finite number"),
    (("[[scenarios]]", '[recommendation]\ntargit = 0.5\n\n[[scenarios]]'), "[recommendation] targit",
     "unknown setting"),
])
def test_each_bad_setting_is_one_problem_in_validate_and_run(tmp_path: Path, edit, where, fragment) -> None:
    toml = BASE.replace(*edit, 1)
    assert toml != BASE
    study = write_study(tmp_path, toml)
    results = []
    for cmd in ("validate", "run"):
        code, _, err = _run([cmd, study])
        assert code == 2, err
        assert where in err and fragment in err, err
        results.append(err)
    assert results[0] == results[1], "validate and run report the same problems"


def test_a_study_file_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    study = write_study(tmp_path)
    study.write_bytes(b"\xef\xbb\xbf" + study.read_bytes())
    code, _, err = _run(["validate", study])
    assert code == 0, err


# --- 8. CSV formula neutralisation; 9. Markdown escaping ------------------------------------

def test_exports_neutralise_formula_prefixes_and_markdown_escapes(tmp_path: Path) -> None:
    ids = ['=HYPERLINK("http://x.example","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-12"]
    people = "id,name,phone,birth_date\n" + "".join(
        f'"{i.replace(chr(34), chr(34) * 2)}",Name {n},1381234567{n},1990-02-0{n + 1}\n' for n, i in enumerate(ids))
    toml = BASE.replace('name = "tiny"', 'name = "<script>alert(1)</script> | *x*"')
    study = write_study(tmp_path, toml, files={"people.csv": people})
    code, _, err = _run(["run", study, "--export", tmp_path / "exp", "--out", tmp_path / "r.md"])
    assert code == 0, err
    exported = pd.read_csv(tmp_path / "exp" / "entities-baseline.csv", dtype=str)["record_id"].tolist()
    assert exported[:4] == ["'" + ids[0], "'" + ids[1], "'" + ids[2], "-12"]  # a plain number stays
    text = (tmp_path / "r.md").read_text()
    assert "<script>" not in text and "&lt;script&gt;alert\\(1\\)&lt;/script&gt; \\| \\*x\\*" in text


# --- 10. caps on entity drawing and per-entity work -----------------------------------------

def test_a_huge_entity_is_not_drawn_and_its_view_is_refused_with_its_size(tmp_path: Path) -> None:
    # 2,001 records sharing one phone number (the hub guard raised above them): one entity
    n = 2_001
    # (not 13812345678: a run such as 1234567 is a placeholder form, a hub at any limit; issue 19)
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "phone": ["13912000001"] * n})
    study = lr.Study([lr.Dataset("a", frame, {"phone": "phone"}, record_id="id")],
                     attacker=lr.Attacker(linkers=["identifiers"], max_value_frequency=10_000),
                     what_matters=False, assess_risk=False)
    from linkrisk import plots

    with study.run() as result:
        assert result.baseline.entities == 1
        assert plots.example_entity(result.baseline) is None
        t0 = time.perf_counter()
        result.write(tmp_path / "r.html")
        assert time.perf_counter() - t0 < 60
        # every pair of the 2,001 records shares the phone: 2,001 x 2,000 / 2 = 2,001,000 links
        with pytest.raises(lr.LinkriskError, match="entity 0 has 2,001 records and 2,001,000 links"):
            result.graph().entity(0)


# --- 11. smaller ones ----------------------------------------------------------------------

def test_profile_toml_cannot_be_injected_through_a_column_name(tmp_path: Path) -> None:
    import tomllib

    # header cells ending in a backslash or holding quotes: before, the backslash escaped
    # the closing quote and the file did not parse (or gained keys of its own)
    path = tmp_path / "t.csv"
    path.write_text('id,mail\\,"tel"" = ""x"" [evil] a = ""1"\n'
                    "1,a@example.com,13812345678\n2,b@example.com,13912345678\n", encoding="utf-8")
    code, out, err = _run(["profile", path, "--toml"])
    assert code == 0, err
    parsed = tomllib.loads(out)
    assert list(parsed) == ["datasets"] and len(parsed["datasets"]) == 1
    assert set(parsed["datasets"][0]) == {"name", "path", "record_id", "columns"}
    columns = parsed["datasets"][0]["columns"]
    assert columns["mail\\"] == "email" and columns['tel" = "x" [evil] a = "1'] == "phone"


def test_synth_refuses_a_population_too_small_for_a_valid_study(tmp_path: Path) -> None:
    code, _, err = _run(["synth", "--people", "1", "--out", tmp_path / "one"])
    assert code == 2 and "--people: must be at least 10" in err
    assert not (tmp_path / "one").exists()


def test_the_hub_value_column_is_not_called_redacted_under_show_values(tmp_path: Path) -> None:
    from linkrisk.report import to_html

    frame = pd.DataFrame({"id": [f"r{i}" for i in range(5)], "phone": ["13812345678"] * 5})
    study = lr.Study([lr.Dataset("a", frame, {"phone": "phone"}, record_id="id")],
                     attacker=lr.Attacker(linkers=["identifiers"], max_value_frequency=2),
                     what_matters=False, assess_risk=False)
    with study.run(show_values=True) as result:
        assert "value (redacted)" not in to_html(result, show_values=True)
        assert "value (redacted)" in to_html(result, show_values=False)


# --- the new SQL on every engine (Spark parity) ---------------------------------------------

def test_formula_neutralisation_and_out_of_range_integers_on_every_engine(any_engine, tmp_path: Path) -> None:
    from linkrisk.engine import quote
    from linkrisk.graph import neutralise_sql
    from linkrisk.normalise import rule_for

    values = ["=1+1", "+cmd|x", "@SUM(A1)", "-12", "\tx", "plain", "99999999999999999999999", "42"]
    any_engine.register_frame("v", pd.DataFrame({"i": range(len(values)), "x": values}))
    any_engine.write_csv(f"SELECT {neutralise_sql('x', any_engine.dialect)} AS x FROM v ORDER BY i", tmp_path / "n.csv")
    got = pd.read_csv(tmp_path / "n.csv", dtype=str, keep_default_na=False)["x"].tolist()
    # a leading ' before =, +, @ and a tab; -12 and the numbers are plain numbers
    assert got == ["'=1+1", "'+cmd|x", "'@SUM(A1)", "-12", "'\tx", "plain", "99999999999999999999999", "42"]
    rule = rule_for("integer", any_engine.dialect)
    x = quote("x")
    rows = any_engine.rows(f"SELECT {rule.value.replace('{x}', x)}, {rule.valid.replace('{x}', x)} "
                           "FROM v ORDER BY i")
    # beyond the 64-bit range: kept as written and invalid; 42 is valid
    assert rows[6] == ("99999999999999999999999", False) and rows[7] == ("42", True)
