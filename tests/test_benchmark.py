"""The scale benchmark (benchmarks/scale.py) end to end, at a size a test can afford.

It measures speed; what a test can check is that it runs, writes the JSON fields the
README and the issue name, and that its two comparators, written independently (Splink's
deterministic_link and a hand-written query with scipy), find the same entities.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


def _scale():
    spec = importlib.util.spec_from_file_location("linkrisk_bench_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_and_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert _scale().main(["--people", "300", "--cache", str(tmp_path / "cache"), "--json", str(out),
                          "--threads", "1"]) == 0
    got = json.loads(out.read_text())
    assert "splink_error" not in got
    # the breaches are generated once, under the cache, by size and seed
    data = tmp_path / "cache" / "people300-seed1"
    records = sum(len(pd.read_parquet(p)) for p in data.glob("*.parquet"))
    assert got["people"] == 300 and got["records"] == records > 300
    assert got["threads"] == 1
    assert set(got["stages"]) == {"load", "normalise", "release", "link", "graph", "score", "risk"}
    assert abs(got["total_seconds"] - sum(got["stages"].values())) < 0.05 * got["total_seconds"] + 0.5
    for key in ("baseline_seconds", "splink_seconds", "floor_seconds", "peak_rss_mb"):
        assert got[key] > 0, key
    # the same identifier rules through two independent implementations: the same entities
    assert got["splink_entities"] == got["floor_entities"]
    assert 0 < got["floor_entities"] < records
    # --threads reaches the comparators' DuckDB (linkrisk's goes through the [duckdb] table)
    assert _scale()._connect(1).execute("SELECT current_setting('threads')").fetchone()[0] == 1
    printed = capsys.readouterr().out
    assert "linkrisk/Splink = " in printed and "linkrisk/floor = " in printed and "1 DuckDB thread" in printed
