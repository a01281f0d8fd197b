"""The stages of a run as objects: each ``run(ctx, artefact) -> artefact``, on typed artefacts.

A stage has a ``name`` (its key in the run's timings), a ``title`` (its progress
message) and ``run(ctx, artefact)``, which returns the next stage's artefact: frozen
dataclasses that name the engine tables a stage made. The runner
(:func:`linkrisk.scenario_run.run_stages`) times them, reports progress and passes each
artefact on; the stages' work is in their modules (load, normalise, release, link,
graph, enrichment).

Per study, :data:`STUDY_STAGES`: ``study`` -> :class:`~linkrisk.load.Loaded` (tables
``raw<i>``) -> :class:`Normalised` (tables ``norm<i>``). Per scenario,
:data:`SCENARIO_STAGES`: a scenario (or, for the baseline, its release) ->
:class:`~linkrisk.release.Release` (tables ``rel_<tag>_<i>``) -> :class:`Linked` (edges
and pairs) -> :class:`Entities` (``lab_<tag>``) -> :class:`Scored` (``score_<tag>`` and
the scenario's figures). What is measured across scenarios (prevented enrichment, risk,
what matters most) is an analysis, run by :mod:`linkrisk.pipeline` afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from linkrisk.attack import attack_and_link
from linkrisk.catalogue import Role
from linkrisk.engine import quote
from linkrisk.enrichment import decomposed_groups, entity_sum_groups, score, score_table
from linkrisk.errors import StudyError
from linkrisk.graph import entity_stats, entity_stats_of_sizes
from linkrisk.link import Links, run_linkers
from linkrisk.load import Loaded, load_study
from linkrisk.prepare import normalise_study
from linkrisk.pseudonymise import apply_policy as release_scenario
from linkrisk.quality import giant_entities
from linkrisk.release import Release

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.scenario_run import Run
    from linkrisk.study import StudyConfig


class Stage(Protocol):
    """One stage: ``run(ctx, artefact)`` returns the next stage's artefact."""

    name: str  # its key in the run's timings
    title: str  # its progress message

    def run(self, ctx, artefact):  # pragma: no cover - a protocol
        ...


# per study ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyContext:
    """What the study's stages read: the settings, the engine, the study file (for messages)."""

    study: "StudyConfig"
    engine: "Engine"
    source: str | None = None


@dataclass(frozen=True)
class Normalised:
    """The normalise stage's artefact: the tables ``norm<i>`` (:func:`linkrisk.tables.normalised_table`).

    ``study`` is the study to run (a copy carrying the inferred national-ID scheme when
    the study set none); ``quality`` the column quality table; ``assumptions`` what was
    inferred from the data (see :func:`linkrisk.prepare.normalise_study`).
    """

    study: "StudyConfig"
    loaded: Loaded
    quality: pd.DataFrame
    assumptions: dict


class LoadStage:
    """Stage 1: every dataset into the engine as text (tables ``raw<i>``)."""

    name, title = "load", "loading datasets"

    def run(self, ctx: StudyContext, study: "StudyConfig") -> Loaded:
        loaded, problems = load_study(study, ctx.engine)
        if problems:
            raise StudyError(problems, ctx.source)
        return loaded


class NormaliseStage:
    """Stage 2: one canonical text per value (tables ``norm<i>``), with what the data tell."""

    name, title = "normalise", "normalising"

    def run(self, ctx: StudyContext, loaded: Loaded) -> Normalised:
        study, quality, assumptions = normalise_study(ctx.engine, ctx.study, loaded)
        return Normalised(study, loaded, quality, assumptions)


STUDY_STAGES = (LoadStage(), NormaliseStage())


# per scenario ------------------------------------------------------------------------
@dataclass(frozen=True)
class ScenarioContext:
    """What a scenario's stages read and, for the baseline, record in ``run``.

    Attributes
    ----------
    run : Run
        What every scenario of the run shares (engine, loaded data, the baseline's links,
        entities and scores, which later scenarios reuse).
    n : int
        0 for the baseline.
    tag : str
        The suffix of the scenario's tables (``s<n>``, or ``w<i>`` for what matters most).
    study : StudyConfig
        The run's study, or a copy with other linkers.
    decompose : bool
        Whether to split what the scenario prevents into broken links and hidden values.
    """

    run: "Run"
    n: int
    tag: str
    study: "StudyConfig"
    decompose: bool = True

    @property
    def engine(self) -> "Engine":
        return self.run.engine

    @property
    def loaded(self) -> Loaded:
        return self.run.loaded


@dataclass(frozen=True)
class Linked:
    """The link stage's artefact: the edges and pairs tables (``links.edges``,
    ``links.pairs_table``); ``labels`` is the entity table when the dictionary attacker
    already made it, else None."""

    release: Release
    links: Links
    labels: str | None = None


@dataclass(frozen=True)
class Entities:
    """The graph stage's artefact: ``labels``, the table ``lab_<tag>(_rid, e)`` of every
    record's entity."""

    release: Release
    links: Links
    labels: str


@dataclass(frozen=True)
class Scored:
    """The score stage's artefact: ``scores``, the table ``score_<tag>``, and
    ``figures``, the scenario's figures (the fields of a
    :class:`~linkrisk.result.ScenarioResult` they fill)."""

    release: Release
    links: Links
    labels: str
    scores: str
    figures: dict[str, Any]


class ReleaseStage:
    """Stage 3: the datasets as the scenario would have published them."""

    name, title = "release", "release"

    def run(self, ctx: ScenarioContext, rel) -> Release:
        return rel if ctx.n == 0 else release_scenario(ctx.study, ctx.loaded, ctx.engine, rel, ctx.tag)


class LinkStage:
    """Stage 4: the attacker's linkers, and after the baseline the dictionary attacker."""

    name, title = "link", "link"

    def run(self, ctx: ScenarioContext, release: Release) -> Linked:
        run, engine, study, tag = ctx.run, ctx.engine, ctx.study, ctx.tag
        note = getattr(run.progress, "note", run.progress)
        if ctx.n == 0:
            links = run_linkers(engine, study, release, tag, show_values=run.show_values, progress=note)
            run.baseline_links = links
            return Linked(release, links)
        reuse, base = (run.baseline_links, run.baseline_graph) if run.incremental else (None, None)
        links, labels = attack_and_link(
            engine, study, ctx.loaded, release,
            link=lambda r, carry: run_linkers(engine, study, r, tag, show_values=run.show_values,
                                              progress=note, reuse=reuse, carry=carry),
            label=lambda lk: _labels(engine, lk, ctx.loaded.total, tag, base, run.baseline_copies),
            incremental=run.incremental)
        return Linked(release, links, labels)


class GraphStage:
    """Stage 5: entities, the connected components of the links."""

    name, title = "graph", "graph"

    def run(self, ctx: ScenarioContext, linked: Linked) -> Entities:
        labels = linked.labels
        if labels is None:  # the dictionary attacker may already have labelled the final links
            labels = _labels(ctx.engine, linked.links, ctx.loaded.total, ctx.tag,
                             ctx.run.baseline_graph if ctx.run.incremental else None, ctx.run.baseline_copies)
        if ctx.n == 0:
            ctx.run.baseline_graph = (linked.links, labels)
        return Entities(linked.release, linked.links, labels)


class ScoreStage:
    """Stage 6: enrichment, entities' statistics, ground truth, suspicious entities."""

    name, title = "score", "score"

    def run(self, ctx: ScenarioContext, ent: Entities) -> Scored:
        run, engine, loaded, study, release = ctx.run, ctx.engine, ctx.loaded, ctx.study, ent.release
        # incrementally, the decomposition's links-only gain comes from the same grouping
        fused = run.incremental and ctx.n > 0 and ctx.decompose and ent.labels not in run.baseline_copies
        scores = score_table(engine, study, loaded, release, run.bits, ent.labels, f"score_{ctx.tag}",
                             links_only=run.baseline_scores if fused else None)
        enrichment = score(engine, scores, run.bits, loaded.datasets)
        truth = None
        if loaded.truth:  # the entity sizes come from the same pass
            truth, stats = _truth(ctx, ent.links, scores, enrichment.total)
        else:
            stats = entity_stats(engine, scores)
        matrix = engine.df(f"SELECT da, db, count(*) AS pairs FROM {quote(ent.links.pairs_table)} "
                           "GROUP BY ALL ORDER BY da, db")
        suspicious, suspicious_ids = _suspicious(engine, study, release, scores)
        extra: dict[str, Any] = {}
        if ctx.n == 0:
            run.baseline_scores, run.baseline_release = scores, release
        else:
            extra.update(_groups(ctx, ent.labels, scores, fused))
        extra["giant_entities"] = giant_entities(stats["entity_sizes"], loaded.total)
        figures = dict(enrichment=enrichment, entities=stats["entities"],
                       multi_dataset_entities=stats["multi_dataset_entities"], entity_sizes=stats["entity_sizes"],
                       suspicious_entities=suspicious, suspicious_ids=suspicious_ids, ground_truth=truth,
                       matrix=matrix, extra=extra)
        return Scored(release, ent.links, ent.labels, scores, figures)


SCENARIO_STAGES = (ReleaseStage(), LinkStage(), GraphStage(), ScoreStage())


def _groups(ctx: ScenarioContext, labels: str, scores: str, fused: bool) -> dict[str, pd.DataFrame]:
    """What the bootstrap of a scenario's prevented enrichment reads: ``_groups``
    (:func:`~linkrisk.enrichment.entity_sum_groups`) and, when the scenario is
    decomposed, ``_groups_links`` (:func:`~linkrisk.enrichment.decomposed_groups`).

    The decomposition scores the scenario's entities with the baseline's readability
    (the links it breaks, alone). Incrementally, that score is the column ``gl`` of the
    scenario's score table (``fused``: made in the same grouping by entity), or, when
    the entities are copies of the baseline's, the baseline's own score table; and
    ``_groups`` is ``_groups_links`` summed over its third column (the same baseline
    entities, grouped more coarsely) instead of another join over every record.
    """
    run, engine = ctx.run, ctx.engine
    if not ctx.decompose:
        return {"_groups": entity_sum_groups(engine, run.baseline_scores, scores)}
    same = run.incremental and labels in run.baseline_copies
    if fused:
        parts = decomposed_groups(engine, run.baseline_scores, scores)
    else:
        links_only = run.baseline_scores if same else score_table(
            engine, ctx.study, ctx.loaded, run.baseline_release, run.bits, labels, f"scorel_{ctx.tag}")
        parts = decomposed_groups(engine, run.baseline_scores, scores, links_only)
        if not same:
            engine.drop(links_only)
    if run.incremental:
        sums = parts.groupby(["b", "s"], sort=True, as_index=False)["n"].sum()
        sums["n"] = sums["n"].astype("int64")
    else:
        sums = entity_sum_groups(engine, run.baseline_scores, scores)
    return {"_groups": sums, "_groups_links": parts}


def _truth(ctx: ScenarioContext, links: Links, scores: str, total: float) -> tuple[dict, dict]:
    """Ground truth of a scenario's entities, and their statistics from the same pass."""
    from linkrisk.load import TRUTH_TABLE
    from linkrisk.truth import evaluate, person_totals, persons_table

    run, engine = ctx.run, ctx.engine
    if run.persons is None:
        run.persons = persons_table(engine, ctx.study, ctx.loaded)
        engine.drop(TRUTH_TABLE)  # its text person ids are not needed any more
    run.person_totals = run.person_totals or person_totals(engine, run.persons)
    truth, sizes = evaluate(engine, scores, run.persons, run.bits, total, run.person_totals, with_sizes=True)
    _threshold_curve(engine, ctx.study, links, run.persons, ctx.loaded.total, truth)
    return truth, entity_stats_of_sizes(sizes)


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


def _labels(engine: "Engine", links, n_records: int, tag: str, baseline: tuple | None = None,
            copies: set | None = None) -> str:
    """The table ``lab_<tag>(_rid, e)`` of every record's entity, from a scenario's edges.

    ``baseline`` is ``(links, labels table)`` of the baseline: a scenario that links
    exactly the baseline's pairs (a keyed hash shared by every holder, say) has its
    entities, numbered alike, and they are copied instead of computed again. ``copies``
    (the run's :attr:`~linkrisk.scenario_run.Run.baseline_copies`) then holds the
    table's name, so that scoring can reuse what depends on the entities alone.
    """
    table = f"lab_{tag}"
    if copies is not None:
        copies.discard(table)  # an earlier round's table of this name is replaced
    if baseline is not None:
        base_links, base_labels = baseline
        if links.pairs == base_links.pairs and not engine.scalar(
                f"SELECT count(*) FROM (SELECT a, b FROM {quote(links.pairs_table)} "
                f"EXCEPT SELECT a, b FROM {quote(base_links.pairs_table)}) t"):
            engine.create(table, f"SELECT _rid, e FROM {quote(base_labels)}")
            if copies is not None:
                copies.add(table)
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
    # one pass: the count of all of them rides along with the first ids
    rows = engine.rows(f"SELECT e, count(*) OVER () AS n FROM ({ids}) t ORDER BY e LIMIT {SUSPICIOUS_IDS}", params)
    return (int(rows[0][1]), [int(r[0]) for r in rows]) if rows else (0, [])
