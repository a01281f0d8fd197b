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


def test_help_loads_no_heavy_library():
    # `linkrisk --help` should answer at once: the public names load on first use, so the
    # command line's help imports none of pandas, NumPy, DuckDB, SciPy, Splink or matplotlib
    import subprocess
    import sys

    heavy = ("pandas", "numpy", "duckdb", "scipy", "splink", "matplotlib")
    code = ("import sys, contextlib, io\n"
            "from linkrisk.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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


def test_two_studies_cannot_share_one_engine(tmp_path):
    """The second study would overwrite the first result's tables (norm0, lab_s0 ...),
    and the first result's graphs and exports would then read the other study's data."""
    from linkrisk import synth
    from linkrisk.engine import make_engine

    synth.generate(60, seed=5, out=tmp_path)
    study = lr.Study.from_toml(tmp_path / "study.toml")
    study.scenarios, study.what_matters, study.assess_risk = [], False, False
    engine = make_engine("duckdb")
    with study.run(engine=engine) as first:
        before = first.baseline.links.pairs
        with pytest.raises(lr.LinkriskError, match="already holds the tables of study"):
            study.run(engine=engine)
        assert first.baseline.links.pairs == before
        assert len(first.graph().entity_table()) == first.loaded.total  # still reads its own tables
