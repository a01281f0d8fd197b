"""The stages as objects on typed artefacts, and their runner (issue 20).

The hand-made study of test_linkage_handmade: six records; baseline links a1-b1
(national_id), b2-c1 (phone), a2-c1 (name + dob): 3 pairs, entities {a1, b1},
{a2, b2, c1}, {c2}; E = 29 (worked out there).
"""

from __future__ import annotations

import dataclasses

import pytest

import linkrisk as lr
from linkrisk.engine import make_engine
from linkrisk.enrichment import KindBits
from linkrisk.release import Release, baseline_release
from linkrisk.scenario_run import Run, Timer, run_stages
from linkrisk.stages import (SCENARIO_STAGES, STUDY_STAGES, Entities, Linked, Normalised, ScenarioContext,
                             Scored, StudyContext)
from test_linkage_handmade import tiny_study


class Recorder:
    """A stage that appends its name to the artefact (a tuple), so the order shows."""

    def __init__(self, name):
        self.name, self.title = name, f"doing {name}"

    def run(self, ctx, artefact):
        assert ctx == "ctx"
        return artefact + (self.name,)


def test_the_runner_passes_each_artefact_on_reports_and_times_each_stage():
    messages, timer = [], Timer()
    out = run_stages([Recorder("a"), Recorder("b"), Recorder("a")], "ctx", (), timer, messages.append, "s: ")
    assert out == ("a", "b", "a")  # each stage got the artefact of the one before
    assert messages == ["s: doing a", "s: doing b", "s: doing a"]
    assert set(timer.seconds) == {"a", "b"}  # a stage run twice adds up under its name


def test_a_failing_stage_stops_the_run_and_is_still_timed():
    class Fails(Recorder):
        def run(self, ctx, artefact):
            raise ValueError("no")

    timer, messages = Timer(), []
    with pytest.raises(ValueError):
        run_stages([Recorder("a"), Fails("b"), Recorder("c")], "ctx", (), timer, messages.append)
    assert messages == ["doing a", "doing b"] and set(timer.seconds) == {"a", "b"}


@pytest.fixture()
def engine():
    e = make_engine("duckdb")
    yield e
    e.close()


def test_the_stages_name_the_tables_they_make(engine):
    study = tiny_study([lr.Scenario("per-holder", {k: {"technique": "keyed_hash", "key_scope": "dataset"}
                                                   for k in ("national_id", "phone")})])
    timer = Timer()
    normalised = run_stages(STUDY_STAGES, StudyContext(study, engine), study, timer, None)
    assert isinstance(normalised, Normalised)
    assert normalised.loaded.datasets == ["A", "B", "C"] and normalised.loaded.total == 6
    assert {"norm0", "norm1", "norm2"} <= set(engine.tables())
    assert list(timer.seconds) == ["load", "normalise"]

    loaded = normalised.loaded
    run = Run(normalised.study, engine, loaded, KindBits.of(normalised.study, loaded), timer, None, False)
    base = ScenarioContext(run, 0, "s0", normalised.study)
    released, link, graph, score = SCENARIO_STAGES
    rel = released.run(base, baseline_release(normalised.study, loaded))
    linked = link.run(base, rel)
    assert isinstance(linked, Linked) and linked.labels is None
    assert (linked.links.edges, linked.links.pairs_table, linked.links.pairs) == ("edges_s0", "pairs_s0", 3)
    entities = graph.run(base, linked)
    assert isinstance(entities, Entities) and entities.labels == "lab_s0"
    assert run.baseline_graph == (linked.links, "lab_s0")  # later scenarios reuse the baseline's
    scored = score.run(base, entities)
    assert isinstance(scored, Scored) and scored.scores == "score_s0"
    # {a1, b1}, {a2, b2, c1}, {c2}: 3 entities
    assert scored.figures["entities"] == 3 and scored.figures["enrichment"].total == 29

    # a scenario: released in rel_s1_<i>, per-holder keys cut both identifier links, so
    # only name + dob (a2-c1) is left
    s1 = ScenarioContext(run, 1, "s1", normalised.study)
    out = run_stages(SCENARIO_STAGES, s1, normalised.study.scenarios[0], timer, None)
    assert isinstance(out, Scored) and isinstance(out.release, Release)
    assert out.links.pairs == 1 and out.labels == "lab_s1" and out.scores == "score_s1"
    assert "_groups" in out.figures["extra"]  # what the bootstrap of prevented enrichment needs


def test_artefacts_are_frozen(engine):
    study = tiny_study()
    normalised = run_stages(STUDY_STAGES, StudyContext(study, engine), study, Timer(), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        normalised.quality = None


def test_load_problems_stop_the_study_stages(engine, tmp_path):
    study = lr.Study([lr.Dataset("A", str(tmp_path / "missing.csv"), {"x": "phone"})], name="m")
    with pytest.raises(lr.StudyError) as err:
        run_stages(STUDY_STAGES, StudyContext(study, engine, "m.toml"), study, Timer(), None)
    assert "missing.csv" in str(err.value)
