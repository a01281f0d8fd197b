"""Starting a Spark session with linkrisk's defaults (``linkrisk[spark]``).

Settings come from the study file (``[spark]`` table: ``master`` and any ``spark.*``
option), then from the environment (``LINKRISK_SPARK_MASTER``, ``SPARK_MASTER``), and
default to local mode on every core (docs/spark.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from linkrisk.engine.base import first_line as _first_line
from linkrisk.errors import LinkriskError, MissingDependencyError

DEFAULTS = {
    # the stages produce many small results; Spark's 200 shuffle partitions are for big ones
    # (adaptive execution coalesces them anyway, but planning 200 tasks costs time)
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # the stages parse dates with java.time patterns; no legacy parser fallback
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.ui.showConsoleProgress": "false",
}
RUNTIME = ("spark.sql.legacy.timeParserPolicy", "spark.sql.execution.arrow.pyspark.enabled")
# Local mode: one machine, small to moderate data. Adaptive execution runs each shuffle
# stage as a job of its own; with many small statements that fixed cost was most of the
# run (the sample study: 1,621 jobs and 184 s with it, 541 jobs and 134 s without, on two
# cores). One shuffle partition per core keeps every core busy.
LOCAL_DEFAULTS = {"spark.ui.enabled": "false", "spark.driver.memory": "4g", "spark.sql.adaptive.enabled": "false",
                  # the probabilistic linker checkpoints Splink's tables (SparkEngine.splink_api):
                  # their files go when the tables do, not only when Python exits
                  "spark.cleaner.referenceTracking.cleanCheckpoints": "true"}


def local_cores(master: str) -> int:
    """The cores a local master uses: ``local`` 1, ``local[4]`` (or ``local[4,2]``) 4,
    ``local[*]`` every core of the machine.

    >>> local_cores("local"), local_cores("local[3]"), local_cores("local[2, 4]")
    (1, 3, 2)
    """
    inside = master[master.find("[") + 1:master.rfind("]")].split(",")[0].strip() if "[" in master else "1"
    return max(1, os.cpu_count() or 1) if inside == "*" else max(1, int(inside))


def _master(settings: dict[str, Any]) -> str:
    return str(settings.get("master") or os.environ.get("LINKRISK_SPARK_MASTER")
               or os.environ.get("SPARK_MASTER") or "local[*]")


def _similarity_jar() -> str | None:
    """Splink's bundled jar of string-similarity functions (for the probabilistic linker)."""
    try:
        from splink.backends.spark import similarity_jar_location

        return similarity_jar_location()
    except Exception:  # pragma: no cover - an older Splink without the jar
        return None


def start_session(settings: dict[str, Any]):
    """Start a Spark session with linkrisk's defaults under ``settings`` (``master``,
    ``app_name`` and any ``spark.*`` option)."""
    master = _master(settings)
    if master.startswith("local"):
        # Spark binds its driver to the host's address; on machines whose host name
        # does not resolve (containers, CI) loopback is the one that works
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(str(settings.get("app_name", "linkrisk")))
    options = dict(DEFAULTS)
    if master.startswith("local"):
        options.update(LOCAL_DEFAULTS)
        options["spark.sql.shuffle.partitions"] = str(local_cores(master))
        # the JVM's own start-up chatter (log4j profile, native libraries) off the
        # terminal; errors still show. A cluster keeps its administrators' logging.
        config = Path(__file__).resolve().parents[1] / "data" / "log4j2-spark.properties"
        options["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{config}"
        # linkrisk keeps only temporary views; without this Spark makes an empty
        # spark-warehouse folder in whatever directory the user runs from
        from linkrisk.files import scratch_dir

        options["spark.sql.warehouse.dir"] = scratch_dir("linkrisk-spark-warehouse-")
    jar = _similarity_jar()
    if jar:
        options["spark.jars"] = jar
    options.update({k: str(v) for k, v in settings.items() if k.startswith("spark.")})
    for k, v in options.items():
        builder = builder.config(k, v)
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise MissingDependencyError(
            "the Spark engine needs a Java 17+ runtime: install one (java on PATH or "
            "JAVA_HOME set), or use engine = \"duckdb\"")
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, the master is unreachable, ...
        raise LinkriskError(f"Spark did not start (master {master}): {_first_line(str(exc))}. "
                            "Check the master URL and the Java runtime, or use engine = "
                            "\"duckdb\"") from None


__all__ = ["DEFAULTS", "LOCAL_DEFAULTS", "RUNTIME", "local_cores", "start_session"]
