"""Scratch tables live in a workspace: under a prefix of their own, dropped when it ends.

linkrisk/engine/workspace.py. Every expected value here is read off the code by hand.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

import linkrisk as lr
from linkrisk.engine.workspace import Workspace, scratch


def test_two_workspaces_on_one_engine_do_not_collide(any_engine):
    # both call their table "_cand"; each sees its own rows (1 and 2)
    with Workspace(any_engine, "a") as a, Workspace(any_engine, "b") as b:
        ta = a.create("_cand", "SELECT 1 AS x")
        tb = b.create("_cand", "SELECT 2 AS x")
        assert ta != tb and ta.startswith("_a") and tb.startswith("_b")
        assert any_engine.scalar(f"SELECT x FROM {ta}") == 1
        assert any_engine.scalar(f"SELECT x FROM {tb}") == 2
        # naming a table twice gives the same table
        assert a.table("_cand") == ta and a["_cand"] == ta
    assert ta not in any_engine.tables() and tb not in any_engine.tables()


def test_a_workspace_drops_its_tables_when_the_work_fails(any_engine):
    made = []
    with pytest.raises(ZeroDivisionError):
        with Workspace(any_engine, "w") as ws:
            made.append(ws.create("_one", "SELECT 1 AS x"))
            made.append(ws.register_frame("_frame", pd.DataFrame({"x": [1, 2]})))
            1 / 0
    left = set(any_engine.tables())
    assert not any(t in left for t in made)


def test_drop_now_and_tables_only_named(any_engine):
    with Workspace(any_engine, "w") as ws:
        t = ws.create("_one", "SELECT 1 AS x")
        ws.drop("_one", "_never_named")  # a name the workspace never gave is ignored
        assert t not in any_engine.tables()
        # a table the workspace named but another call created is still the workspace's
        other = ws.table("_two")
        any_engine.create(other, "SELECT 2 AS x")
    assert other not in any_engine.tables()


def test_the_scratch_decorator_gives_each_call_its_own_workspace(any_engine):
    seen = []

    @scratch("step")
    def step(engine, n, *, ws):
        t = ws.create("_t", f"SELECT {int(n)} AS x")
        seen.append(t)
        return engine.scalar(f"SELECT x FROM {t}")

    assert (step(any_engine, 1), step(any_engine, 2)) == (1, 2)
    assert seen[0] != seen[1] and not set(seen) & set(any_engine.tables())


def test_a_run_leaves_no_scratch_table(tmp_path):
    # every table left after a run is one the result reads (raw, normalised, released
    # copies, edges, labels, scores, mapping tables), none of a workspace's
    from linkrisk import synth
    from linkrisk.engine.duckdb import DuckDBEngine

    synth.generate(120, seed=4, out=tmp_path)
    study = lr.Study.from_toml(tmp_path / "study.toml")
    study.attacker.linkers = ["identifiers", "quasi_identifiers", "classic"]
    study.scenarios = [lr.Scenario("hash", {"national_id": {"technique": "hash"}, "phone": {"technique": "hash"}})]
    engine = DuckDBEngine()
    with study.run(engine=engine) as result:
        left = [t for t in engine.tables() if re.match(r"_[a-z]+[0-9]+_", t)]  # a workspace's name
        assert left == []
        assert result.summary().shape[0] == 2
