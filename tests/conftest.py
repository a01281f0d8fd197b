"""One test suite, two engines.

Tests that take the ``engine_name`` fixture (or a fixture built on it) run once per
engine: DuckDB always, Spark in local mode (the ``test`` extra installs PySpark; a Java
17+ runtime must be on the machine). ``LINKRISK_TEST_ENGINES=duckdb`` runs only DuckDB
(for a quick local loop); CI runs both.

Every test that needs Spark carries the ``spark`` marker (added here, from the test's
engine parameter, its fixtures or its file), so ``pytest -m "not spark"`` skips them all
without starting a Spark session; ``slow`` marks the few tests that take tens of seconds.

One Spark session serves the whole run: starting one costs several seconds.
"""

from __future__ import annotations

import os

import pytest

from helpers import new_engine

ENGINES = [e.strip() for e in os.environ.get("LINKRISK_TEST_ENGINES", "duckdb,spark").split(",") if e.strip()]
# tiny tables: one shuffle partition, no adaptive re-planning, no waiting for locality
SPARK_TEST_CONFIG = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false",
                     "spark.locality.wait": "0", "spark.driver.memory": "2g"}
__all__ = ["new_engine"]


def _spark_missing() -> str | None:
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install '.[test]' installs it)"
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        return "Spark needs a Java 17+ runtime (java on PATH or JAVA_HOME)"
    return None


@pytest.fixture(scope="session")
def spark_session():
    """The run's shared local Spark session (two cores, small shuffles).

    Without PySpark or Java the Spark tests are skipped with the reason, unless
    ``LINKRISK_REQUIRE_SPARK=1`` (as in CI), where that is a failure.
    """
    missing = _spark_missing()
    if missing:
        if os.environ.get("LINKRISK_REQUIRE_SPARK") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    from linkrisk.engine.spark import SparkEngine

    session = SparkEngine.start_session({"master": "local[2]", **SPARK_TEST_CONFIG})
    yield session
    session.stop()


@pytest.fixture(scope="module", params=ENGINES)
def engine_name(request) -> str:
    """Each engine in turn (module scope: a module's expensive fixtures run once per engine)."""
    return request.param


@pytest.fixture
def any_engine(engine_name, request):
    """A fresh engine of each kind in turn, closed after the test."""
    e = new_engine(engine_name, request)
    yield e
    e.close()


SPARK_FILES = {"test_spark.py", "test_spark_parity.py", "test_spark_probabilistic.py"}
# pytest-xdist's --dist loadfile hands each worker whole files in collection order (with
# --no-loadscope-reorder, in pyproject.toml's addopts: by default xdist hands out the files
# with most tests first, which put these, of one or two tests each, last, each running
# alone while the other worker waited); the longest files go first, so that none of them
# starts last (longest processing time first). The two longest start one on each worker:
# a worker is given its next file when two or fewer of its tests are left, so the
# first (one test) takes the third file too, and the second (two tests) the fourth.
# Measured with --durations; the rest keep their alphabetical order behind these.
LONGEST_FIRST = ["test_spark_probabilistic.py", "test_spark_parity.py", "test_linkage_handmade.py",
                 "test_spark.py", "test_pessimism.py", "test_probabilistic.py", "test_notebooks.py",
                 "test_encodings.py", "test_redaction.py", "test_attacker_realism.py", "test_portable_sql.py",
                 "test_hostile.py", "test_cli.py"]


# The DuckDB tests that take longest (whole studies run several times, CLI subprocesses,
# FEBRL benchmarks): marked ``slow`` here so that ``-m "not spark and not slow"`` is a
# loop of a few minutes. A file name alone marks the whole file; a module fixture's tests
# are marked together, or the fixture would still run. CI runs them all.
SLOW = {"test_probabilistic.py": {"test_sample_study_with_identifiers_keyed_per_holder",
                                  "test_same_seed_gives_identical_links", "test_febrl4_f1"},
        "test_encodings.py": {"test_encodings_sample_figures", "test_the_report_has_the_frontier"},
        "test_redaction.py": {"test_reports_hold_no_raw_value", "test_the_scan_can_fail",
                              "test_html_report_parses_and_has_its_sections",
                              "test_terminal_output_holds_no_raw_value"},
        "test_attacker_realism.py": {"test_prior_on_a_synthetic_study"},
        "test_hostile.py": {"test_a_signal_to_a_running_cli_exits_130_and_leaves_nothing"},
        "test_front_door.py": {"test_a_run_never_changes_the_users_study"},
        "test_portable_sql.py": None, "test_benchmark.py": None}


def is_slow(file: str, test: str) -> bool:
    """Whether a test is in :data:`SLOW`."""
    return file in SLOW and (SLOW[file] is None or test in SLOW[file])


def longest_first(name: str) -> int:
    """A test file's place in the hand-out order."""
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config, items) -> None:
    """Mark every Spark test ``spark``: those run on the Spark engine parameter, those
    that take the Spark session (directly or through a fixture) and the Spark files; mark
    the tests in :data:`SLOW` ``slow``; and put the longest files first
    (:data:`LONGEST_FIRST`)."""
    items.sort(key=lambda item: longest_first(item.path.name))  # stable: each file's own order kept
    for item in items:
        if is_slow(item.path.name, getattr(item, "originalname", item.name)):
            item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        on_spark = callspec is not None and callspec.params.get("engine_name") == "spark"
        if on_spark or "spark_session" in getattr(item, "fixturenames", ()) or item.path.name in SPARK_FILES:
            item.add_marker(pytest.mark.spark)
