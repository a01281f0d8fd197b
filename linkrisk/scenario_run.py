"""The runner of stages, and one scenario through them: release, link, graph, score.

:func:`run_stages` runs stages (:mod:`linkrisk.stages`) in order, each on the artefact
the one before returned, timing each (:class:`Timer`) and reporting it as a progress
step (:class:`Steps`). :class:`Run` holds what every scenario of one run shares (the
study, the engine, the loaded data, the baseline's links, entities and scores, which
later scenarios reuse) and runs one scenario (:meth:`Run.scenario`);
:mod:`linkrisk.pipeline` runs the study's scenarios through it, and
:func:`linkrisk.recommend.what_matters` its own variants.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Sequence

from linkrisk.graph import IdentityGraph
from linkrisk.result import ScenarioResult
from linkrisk.stages import SCENARIO_STAGES, ScenarioContext

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.stages import Stage

Progress = Callable[[str], None]

# Whether scenarios reuse the baseline's and earlier rounds' work where their policy
# leaves the inputs alone (docs/architecture.md, Incremental scenarios). An internal
# switch: the figures are the same either way, and tests run studies both ways to show it.
INCREMENTAL = True


class Timer:
    """Wall time per stage, added up over scenarios."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


class Steps:
    """Counts the run's steps so that a progress display can show a bar.

    The callback receives ``(message)``, or ``(message, done, total)`` when it accepts
    three arguments.
    """

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0
        try:
            import inspect

            self._full = progress is not None and len(inspect.signature(progress).parameters) >= 3
        except (TypeError, ValueError):
            self._full = False

    def __call__(self, message: str) -> None:
        """Report the start of the next step."""
        if self.progress is None:
            return
        self.done = min(self.done + 1, self.total)
        self.note(message)

    def note(self, message: str) -> None:
        """Report progress within the current step (the bar does not advance)."""
        if self.progress is None:
            return
        if self._full:
            self.progress(message, self.done, self.total)
        else:
            self.progress(message)


def say(progress, message: str) -> None:
    """Report a step to ``progress`` (None: nothing to report to)."""
    if progress is not None:
        progress(message)


def run_stages(stages: Sequence["Stage"], ctx, artefact, timer: Timer, progress, prefix: str = ""):
    """Run ``stages`` in order: each reported (``prefix`` + its title), timed under its
    name, and given the artefact the one before returned. Returns the last artefact."""
    for stage in stages:
        say(progress, prefix + stage.title)
        with timer.stage(stage.name):
            artefact = stage.run(ctx, artefact)
    return artefact


class Run:
    """What every scenario of one run shares; ``scenario()`` runs one through the stages."""

    def __init__(self, study, engine, loaded, bits, timer, progress, show_values):
        self.study, self.engine, self.loaded, self.bits = study, engine, loaded, bits
        self.timer = timer
        self.persons = None  # with a truth file, each record's true person: made when first scored
        self.progress, self.show_values = progress, show_values
        self.baseline_links = None  # set once the baseline is linked; scenarios reuse its unchanged rules
        self.baseline_scores = None  # the baseline's score table; the bootstrap groups by its entities
        self.person_totals = None  # true pairs and persons, counted once
        self.baseline_graph = None  # (links, labels table) of the baseline; equal links reuse its entities
        self.baseline_release = None  # the baseline's release: what is readable as leaked
        # scenarios reuse what the baseline computed where their policy leaves it alone
        # (edges, entities, scores); False recomputes everything, for tests comparing the two
        self.incremental = INCREMENTAL
        self.baseline_copies: set[str] = set()  # label tables that are copies of the baseline's

    def scenario(self, n: int, name: str, description: str, rel, tag: str | None = None,
                 linkers: list[str] | None = None) -> ScenarioResult:
        """Release, link (with the dictionary attacker), graph and score one scenario
        (:data:`linkrisk.stages.SCENARIO_STAGES`).

        ``n`` is 0 for the baseline (``rel`` is then its release), else ``rel`` is the
        scenario to release. The study's own scenarios (no ``tag``) also get the
        decomposition of what they prevent into broken links and hidden values.
        ``linkers``, when given, replaces the attacker's linkers for this scenario only
        (on a copy: the study is not changed)."""
        study = self.study
        if linkers is not None:
            study = copy.copy(study)
            study.attacker = dataclasses.replace(study.attacker, linkers=list(linkers))
        ctx = ScenarioContext(self, n, tag or f"s{n}", study, decompose=tag is None)
        started = time.perf_counter()
        scored = run_stages(SCENARIO_STAGES, ctx, rel, self.timer, self.progress, f"scenario {name}: ")
        graph = IdentityGraph(name, self.engine, study, self.loaded, scored.release, scored.links.edges,
                              scored.labels, scored.figures["entities"])
        return ScenarioResult(name=name, description=description, release=scored.release, links=scored.links,
                              graph=graph, seconds=time.perf_counter() - started, **scored.figures)

    def discard(self, s: ScenarioResult) -> None:
        """Drop a scenario's engine tables (for throw-away analyses)."""
        self.engine.drop(s.links.edges, s.links.pairs_table, s.graph.labels_table, s.enrichment.table,
                         *s.release.tables)
