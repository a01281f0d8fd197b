"""One scenario through the stages: release, link (with the dictionary attacker), graph, score.

:class:`Run` holds what every scenario of one run shares (the study, the engine, the
loaded data, the baseline's links, entities and scores, which later scenarios reuse) and
runs one scenario (:meth:`Run.scenario`); :mod:`linkrisk.pipeline` runs the study's
scenarios through it, and :func:`linkrisk.recommend.what_matters` its own variants. The
run's wall time per stage (:class:`Timer`) and its progress steps (:class:`Steps`) are
here too.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable

from linkrisk.attack import attack_and_link
from linkrisk.catalogue import Role
from linkrisk.engine import quote
from linkrisk.enrichment import decomposed_groups, entity_sum_groups, score, score_table
from linkrisk.graph import IdentityGraph, entity_stats, entity_stats_of_sizes
from linkrisk.link import run_linkers
from linkrisk.pseudonymise import apply_policy as release_scenario
from linkrisk.quality import giant_entities
from linkrisk.result import ScenarioResult

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig

Progress = Callable[[str], None]


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

    def scenario(self, n: int, name: str, description: str, rel, tag: str | None = None,
                 linkers: list[str] | None = None) -> ScenarioResult:
        """Release, link (with the dictionary attacker), graph and score one scenario.

        ``n`` is 0 for the baseline (``rel`` is then its release), else ``rel`` is the
        scenario to release. The study's own scenarios (no ``tag``) also get the
        decomposition of what they prevent into broken links and hidden values.
        ``linkers``, when given, replaces the attacker's linkers for this scenario only
        (on a copy: the study is not changed)."""
        decompose = tag is None
        study, engine, timer, progress = self.study, self.engine, self.timer, self.progress
        if linkers is not None:
            study = copy.copy(study)
            study.attacker = dataclasses.replace(study.attacker, linkers=list(linkers))
        tag = tag or f"s{n}"
        started = time.perf_counter()
        say(progress, f"scenario {name}: release")
        with timer.stage("release"):
            release = rel if n == 0 else release_scenario(study, self.loaded, engine, rel, tag)
        say(progress, f"scenario {name}: link")
        with timer.stage("link"):
            links, labels = self._link(study, n, release, tag)
        if n == 0:
            self.baseline_links = links
        say(progress, f"scenario {name}: graph")
        with timer.stage("graph"):
            if labels is None:  # the dictionary attacker may already have labelled the final links
                labels = _labels(engine, links, self.loaded.total, tag, self.baseline_graph)
            if n == 0:
                self.baseline_graph = (links, labels)
        say(progress, f"scenario {name}: score")
        with timer.stage("score"):
            found = self._score(study, n, release, links, labels, tag, decompose)
        return ScenarioResult(
            name=name, description=description, release=release, links=links,
            graph=IdentityGraph(name, engine, study, self.loaded, release, links.edges, labels,
                                found["entities"]),
            seconds=time.perf_counter() - started, **found)

    def _link(self, study: "StudyConfig", n: int, release: "Release", tag: str) -> tuple:
        """``(links, labels)``: the attacker's links of a release; ``labels`` (the entity
        table) when the dictionary attacker already made it, else None."""
        engine, loaded, progress = self.engine, self.loaded, self.progress
        note = getattr(progress, "note", progress)
        if n == 0:
            return run_linkers(engine, study, release, tag, show_values=self.show_values, progress=note), None
        return attack_and_link(
            engine, study, loaded, release,
            link=lambda r: run_linkers(engine, study, r, tag, show_values=self.show_values,
                                       progress=note, reuse=self.baseline_links),
            label=lambda lk: _labels(engine, lk, loaded.total, tag, self.baseline_graph))

    def _score(self, study: "StudyConfig", n: int, release: "Release", links, labels: str, tag: str,
               decompose: bool) -> dict:
        """The scenario's figures: enrichment, entities, ground truth, the dataset matrix,
        suspicious entities and ``extra`` (the bootstrap's groups, giant entities)."""
        engine, loaded = self.engine, self.loaded
        scores = score_table(engine, study, loaded, release, self.bits, labels, f"score_{tag}")
        enrichment = score(engine, scores, self.bits, loaded.datasets)
        truth = None
        if loaded.truth:  # the entity sizes come from the same pass
            truth, stats = self._truth(study, links, scores, enrichment.total)
        else:
            stats = entity_stats(engine, scores)
        matrix = engine.df(f"SELECT da, db, count(*) AS pairs FROM {quote(links.pairs_table)} "
                           "GROUP BY ALL ORDER BY da, db")
        suspicious, suspicious_ids = _suspicious(engine, study, release, scores)
        if n == 0:
            self.baseline_scores = scores
        extra = {} if n == 0 else {"_groups": entity_sum_groups(engine, self.baseline_scores, scores)}
        if n == 0:
            self.baseline_release = release
        elif decompose:
            # the scenario's entities with the baseline's readability: links broken alone
            links_only = score_table(engine, study, loaded, self.baseline_release, self.bits, labels,
                                     f"scorel_{tag}")
            extra["_groups_links"] = decomposed_groups(engine, self.baseline_scores, scores, links_only)
            engine.drop(links_only)
        extra["giant_entities"] = giant_entities(stats["entity_sizes"], loaded.total)
        return dict(enrichment=enrichment, entities=stats["entities"],
                    multi_dataset_entities=stats["multi_dataset_entities"], entity_sizes=stats["entity_sizes"],
                    suspicious_entities=suspicious, suspicious_ids=suspicious_ids, ground_truth=truth,
                    matrix=matrix, extra=extra)

    def _truth(self, study: "StudyConfig", links, scores: str, total: float) -> tuple[dict, dict]:
        """Ground truth of a scenario's entities, and their statistics from the same pass."""
        from linkrisk.load import TRUTH_TABLE
        from linkrisk.truth import evaluate, person_totals, persons_table

        engine = self.engine
        if self.persons is None:
            self.persons = persons_table(engine, study, self.loaded)
            engine.drop(TRUTH_TABLE)  # its text person ids are not needed any more
        self.person_totals = self.person_totals or person_totals(engine, self.persons)
        truth, sizes = evaluate(engine, scores, self.persons, self.bits, total, self.person_totals,
                                with_sizes=True)
        _threshold_curve(engine, study, links, self.persons, self.loaded.total, truth)
        return truth, entity_stats_of_sizes(sizes)

    def discard(self, s: ScenarioResult) -> None:
        """Drop a scenario's engine tables (for throw-away analyses)."""
        self.engine.drop(s.links.edges, s.links.pairs_table, s.graph.labels_table, s.enrichment.table,
                         *s.release.tables)


def _threshold_curve(engine: "Engine", study: "StudyConfig", links, persons: str, n_records: int, truth: dict) -> None:
    """With truth, add the probabilistic linker's F1 by threshold to ``truth`` (issue 18)."""
    from linkrisk.probabilistic import scored_table
    from linkrisk.truth import CURVE_THRESHOLDS, threshold_curve

    scored = scored_table(links.edges)
    if "probabilistic" not in links.probabilistic or scored not in engine.tables():
        return
    grid = sorted(set(CURVE_THRESHOLDS) | {float(study.attacker.match_threshold)})
    truth["threshold_curve"] = threshold_curve(engine, links.edges, scored, persons, n_records,
                                               truth["true_pairs"], grid)
    engine.drop(scored)


def _threshold_curve(engine: "Engine", study: "StudyConfig", links, persons: str, n_records: int, truth: dict) -> None:
    """With truth, add the probabilistic linker's F1 by threshold to ``truth`` (issue 18)."""
    from linkrisk.probabilistic import scored_table
    from linkrisk.truth import CURVE_THRESHOLDS, threshold_curve

    scored = scored_table(links.edges)
    if "probabilistic" not in links.probabilistic or scored not in engine.tables():
        return
    grid = sorted(set(CURVE_THRESHOLDS) | {float(study.attacker.match_threshold)})
    truth["threshold_curve"] = threshold_curve(engine, links.edges, scored, persons, n_records,
                                               truth["true_pairs"], grid)
    engine.drop(scored)


def _labels(engine: "Engine", links, n_records: int, tag: str, baseline: tuple | None = None) -> str:
    """The table ``lab_<tag>(_rid, e)`` of every record's entity, from a scenario's edges.

    ``baseline`` is ``(links, labels table)`` of the baseline: a scenario that links
    exactly the baseline's pairs (a keyed hash shared by every holder, say) has its
    entities, numbered alike, and they are copied instead of computed again.
    """
    table = f"lab_{tag}"
    if baseline is not None:
        base_links, base_labels = baseline
        if links.pairs == base_links.pairs and not engine.scalar(
                f"SELECT count(*) FROM (SELECT a, b FROM {quote(links.pairs_table)} "
                f"EXCEPT SELECT a, b FROM {quote(base_links.pairs_table)}) t"):
            engine.create(table, f"SELECT _rid, e FROM {quote(base_labels)}")
            return table
    return engine.components_table(links.pairs_table, n_records, table)


SUSPICIOUS_IDS = 1_000  # ids of suspicious entities kept for the report's explorer (the count is exact)


def _suspicious(engine: "Engine", study: "StudyConfig", release: "Release", scores: str) -> tuple[int, list[int]]:
    """Entities holding two records of one dataset with different values of one identifier
    kind: how many, and the first :data:`SUSPICIOUS_IDS` of their ids.

    Values are compared within a join domain: a hashed column and the plaintext the
    dictionary attacker recovered from it hold the same identifier in two spellings.
    """
    cat = study.catalogue
    cols = [c for c in release.columns if c.domain is not None and cat[c.kind].role is Role.IDENTIFIER]
    if not cols:
        return 0, []
    union = " UNION ALL ".join(
        f"SELECT _rid, _ds, ? AS k, {c.value} AS v FROM {quote(c.table)} WHERE {c.value} IS NOT NULL"
        for c in cols)
    # only records of entities holding two or more records of their dataset can disagree
    multi = (f"SELECT s._rid, s.e FROM {quote(scores)} s JOIN (SELECT e, _ds FROM {quote(scores)} "
             "GROUP BY e, _ds HAVING count(*) >= 2) d ON d.e = s.e AND d._ds = s._ds")
    ids = (f"SELECT DISTINCT l.e FROM ({union}) u JOIN ({multi}) l USING (_rid) "
           "GROUP BY l.e, u._ds, u.k HAVING min(u.v) < max(u.v)")
    params = [c.domain for c in cols]
    n = int(engine.scalar(f"SELECT count(*) FROM ({ids}) t", params) or 0)
    first = [int(r[0]) for r in engine.rows(f"SELECT e FROM ({ids}) t ORDER BY e LIMIT {SUSPICIOUS_IDS}",
                                            params)] if n else []
    return n, first
