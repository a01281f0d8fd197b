"""The public front door: every name in linkrisk.__all__ resolves."""

import pytest

import linkrisk as lr


def test_every_public_name_resolves():
    missing = [name for name in lr.__all__ if not hasattr(lr, name)]
    assert missing == []


def test_importing_linkrisk_does_not_import_spark_or_pyplot():
    # in a fresh interpreter: this test run itself has started Spark for the Spark tests
    import subprocess
    import sys

    code = ("import sys, linkrisk, linkrisk.engine, linkrisk.pipeline, linkrisk.cli; "
            "print(sorted(m for m in ('pyspark', 'matplotlib.pyplot') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["info"]])
def test_help_and_info_load_no_heavy_library(args):
    # `linkrisk --help` and `linkrisk info` should answer at once: the public names load on
    # first use and info reads versions from the installed distributions, so neither
    # imports pandas, NumPy, DuckDB, SciPy, Splink or matplotlib
    import subprocess
    import sys

    heavy = ("pandas", "numpy", "duckdb", "scipy", "splink", "matplotlib")
    code = ("import sys, contextlib, io\n"
            "from linkrisk.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    main({args!r})\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


NOT_FOR_VALIDATE = ("splink", "matplotlib", "scipy", "networkx", "recordlinkage", "pyspark", "sklearn")


@pytest.mark.parametrize("command", ["validate", "profile", "validate-all-linkers"])
def test_validate_and_profile_load_no_linker_or_plotting_library(command, tmp_path):
    # issue 24: validate and profile load only what they use. They read the files through
    # DuckDB and pandas (profile's table is a DataFrame; validate normalises the data for
    # its warnings, with pypinyin and phonenumbers), but link nothing and draw nothing: no
    # Splink, recordlinkage, scikit-learn, SciPy, networkx, matplotlib or PySpark. The
    # study with the probabilistic and classic linkers is where their settings are checked
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if command == "validate-all-linkers":
        from linkrisk import synth

        study = synth.generate(60, seed=3, out=tmp_path)
        text = Path(study).read_text(encoding="utf-8")
        text = text.replace('linkers = ["identifiers", "quasi_identifiers"]',
                            'linkers = ["identifiers", "quasi_identifiers", "probabilistic", "classic"]', 1)
        assert "probabilistic" in text
        Path(study).write_text(text, encoding="utf-8")
        args = ["validate", str(study)]
    else:
        args = ["validate", str(root / "sample_data" / "study.toml")] if command == "validate" else \
            ["profile", str(root / "sample_data" / "telecom.csv")]
    code = ("import sys, contextlib, io\n"
            "from linkrisk.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    rc = main({args!r})\n"
            f"print(rc, sorted({{m.split('.')[0] for m in sys.modules}} & set({NOT_FOR_VALIDATE!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 []"  # the command succeeded (0), having loaded none of them


def test_a_reader_closing_the_pipe_ends_the_command_quietly():
    # `linkrisk info --kinds | head -1`: the reader has gone; linkrisk stops with the
    # shell's SIGPIPE status (141) and no "this is a bug" message. Here standard output is
    # a pipe whose reading end is already closed, unbuffered (-u), so the first line fails
    import subprocess
    import sys

    code = ("import os\n"
            "r, w = os.pipe()\n"
            "os.close(r)\n"
            "os.dup2(w, 1)\n"
            "from linkrisk.cli import main\n"
            "os.write(2, b'exit %d' % main(['info', '--kinds']))\n")
    out = subprocess.run([sys.executable, "-u", "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stderr == "exit 141"


def test_public_names_are_listed_by_dir():
    assert {"Study", "Result", "dankar"} <= set(dir(lr))


def test_a_run_never_changes_the_users_study(tmp_path):
    """What-matters reruns scenarios with the exact linkers only; it does so on a copy.
    (It used to swap the user's attacker.linkers for the run's duration.)"""
    from linkrisk import synth

    synth.generate(120, seed=4, out=tmp_path)
    study = lr.Study.from_toml(tmp_path / "study.toml")
    study.attacker.linkers = ["identifiers", "quasi_identifiers", "classic"]
    seen = set()
    with study.run(progress=lambda *a: seen.add(tuple(study.attacker.linkers))) as result:
        assert result.to_dict()["what_matters"]["linkers"] == ["identifiers", "quasi_identifiers"]
    assert seen == {("identifiers", "quasi_identifiers", "classic")}
    assert study.attacker.linkers == ["identifiers", "quasi_identifiers", "classic"]


def _timeless(o):
    """A result's dict without what depends on the clock (seconds, timings)."""
    if isinstance(o, dict):
        return {k: _timeless(v) for k, v in o.items()
                if not any(t in k for t in ("seconds", "time", "elapsed", "generated", "peak", "memory"))}
    if isinstance(o, list):
        return [_timeless(x) for x in o]
    return o


def test_two_studies_on_one_engine_give_what_each_gives_alone(tmp_path):
    """Each study's tables live in a namespace of its own (a DuckDB schema,
    linkrisk/engine/namespace.py): a second study on the engine does not overwrite the
    first result's tables (norm0, each scenario's entities ...), which its graphs and
    exports read after the run."""
    from linkrisk import synth
    from linkrisk.engine import make_engine

    studies = []
    for seed, n in ((5, 60), (6, 80)):  # two different populations: same table names, other rows
        synth.generate(n, seed=seed, out=tmp_path / f"s{seed}")
        study = lr.Study.from_toml(tmp_path / f"s{seed}" / "study.toml")
        study.scenarios, study.what_matters = study.scenarios[:2], False
        studies.append(study)
    alone = []
    for study in studies:
        with study.run() as r:
            alone.append((_timeless(r.to_dict()), r.graph().entity_table(), r.graph("baseline").entity(0).records))
    engine = make_engine("duckdb")
    first = studies[0].run(engine=engine)
    second = studies[1].run(engine=engine)  # the second study: its own namespace
    try:
        for r, (d, entities, records) in zip((first, second), alone):
            assert _timeless(r.to_dict()) == d
            assert r.graph().entity_table().equals(entities)  # read after both runs
            assert r.graph("baseline").entity(0).records.equals(records)
        first.close()  # the first study's tables go; the engine stays open for the second
        assert second.graph().entity_table().equals(alone[1][1])
    finally:
        second.close()
    with pytest.raises(Exception):
        engine.tables()  # the last result closed the engine


def test_an_engine_without_namespaces_runs_one_study_at_a_time(tmp_path):
    """Spark's temporary views have no namespaces: a second study is refused with a
    message, rather than overwriting the first result's tables."""
    from linkrisk import synth
    from linkrisk.engine.duckdb import DuckDBEngine

    class OneStudyEngine(DuckDBEngine):
        namespaces = False

    synth.generate(60, seed=5, out=tmp_path)
    study = lr.Study.from_toml(tmp_path / "study.toml")
    study.scenarios, study.what_matters, study.assess_risk = [], False, False
    engine = OneStudyEngine()
    with study.run(engine=engine) as first:
        before = first.baseline.links.pairs
        with pytest.raises(lr.LinkriskError, match="already holds the tables of study"):
            study.run(engine=engine)
        assert first.baseline.links.pairs == before
        assert len(first.graph().entity_table()) == first.loaded.total  # still reads its own tables
