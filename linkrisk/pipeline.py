"""The study run: load -> normalise -> release -> link -> graph -> score, per scenario.

Each stage lives in its own module; this one only sequences them, times them and
collects what they return into a :class:`linkrisk.result.Result`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable

import pandas as pd

from linkrisk.attack import attack_and_link
from linkrisk.catalogue import Role
from linkrisk.engine import make_engine, quote
from linkrisk.engine.namespace import StudyEngine
from linkrisk.enrichment import (KindBits, bootstrap_decomposition, bootstrap_prevented, decomposed_groups,
                                 entity_sum_groups, score, score_table)
from linkrisk.errors import StudyError
from linkrisk.graph import IdentityGraph, entity_stats, entity_stats_of_sizes
from linkrisk.link import run_linkers
from linkrisk.load import load_study, raw_table
from linkrisk.normalise import (build_mappings, date_readings, infer_national_id_scheme, normalise_dataset,
                                normalised_table)
from linkrisk.quality import giant_entities, quality_warnings
from linkrisk.pseudonymise import apply_policy as release_scenario
from linkrisk.release import baseline_release
from linkrisk.result import Result, ScenarioResult
from linkrisk.validate import config_problems

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig

Progress = Callable[[str], None]
KEEP_TABLES_UP_TO = 1_000_000  # records; above, scenario tables are dropped once scored


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


def _say(progress, message: str) -> None:
    if progress is not None:
        progress(message)


def run_study(study: "StudyConfig", progress: Progress | None = None, engine: "Engine | None" = None,
              show_values: bool = False) -> Result:
    """Run a study end to end (see :meth:`linkrisk.Study.run`)."""
    source = str(study.source) if study.source else None
    problems = config_problems(study) + list(study.parse_problems)
    if problems:
        raise StudyError(problems, source)
    own_engine = engine is None
    engine = engine or make_engine(study.engine, **study.engine_options())
    # the stages name their tables by convention (linkrisk/tables.py): a study on an engine
    # that holds another study's tables gets a namespace of its own, so that neither
    # overwrites the other's (refused on an engine that keeps no namespaces)
    scoped = StudyEngine.open(engine, study.name)
    try:
        return _run(study, scoped, progress, show_values, source)
    except BaseException:
        if own_engine:
            scoped.close()  # a failed run leaves nothing open
        else:
            scoped.release()  # the caller's engine stays open, this study's tables go
        raise


def _run(study: "StudyConfig", engine: "Engine", progress, show_values: bool, source: str | None) -> Result:
    timer = Timer()
    n_ids = len({k for d in study.datasets for k in d.columns.values()
                 if k in study.catalogue and study.catalogue[k].role is Role.IDENTIFIER})
    progress = Steps(progress, 2 + 4 * (1 + len(study.scenarios)) + int(study.assess_risk)
                     + (4 * (n_ids + 1) + 1 if study.what_matters else 0))
    with timer.stage("load"):
        _say(progress, "loading datasets")
        loaded, problems = load_study(study, engine)
    if problems:
        raise StudyError(problems, source)

    with timer.stage("normalise"):
        _say(progress, "normalising")
        study, quality, assumptions = normalise_study(engine, study, loaded)
    warnings = quality_warnings(study, quality, assumptions["dates"])

    bits = KindBits.of(study, loaded)

    releases: list[tuple[str, str, "Release"]] = [("baseline", "as leaked", baseline_release(study, loaded))]
    for s in study.scenarios:
        releases.append((s.name, s.description, s))

    ctx = Run(study, engine, loaded, bits, timer, progress, show_values)
    results = []
    for n, (name, description, rel) in enumerate(releases):
        results.append(ctx.scenario(n, name, description, rel))
        if n and loaded.total > KEEP_TABLES_UP_TO:
            # large studies: a scenario's released copies and edges go once it is scored;
            # its figures, entity table and export stay, its neighbourhood views do not
            results[-1].graph.release_tables()

    with timer.stage("score"):
        if len(results) > 1:
            prevented = bootstrap_prevented({r.name: r.extra.pop("_groups") for r in results[1:]}, study.seed)
            for r in results[1:]:
                r.prevented = prevented[r.name]
                parts = r.extra.pop("_groups_links", None)
                if parts is not None and r.prevented.get("value") is not None:
                    r.prevented.update(bootstrap_decomposition(parts, study.seed))
    result = Result(study=study, loaded=loaded, quality=quality, scenarios=results, engine=engine,
                    timings=timer.seconds, bits=bits)
    result.extra["warnings"] = warnings + giant_entity_warnings(results)
    result.extra["assumptions"] = {"national_id_scheme": assumptions["national_id_scheme"],
                                   "dates": [{"column": k, **v} for k, v in assumptions["dates"].items()]}
    if study.assess_risk and results:
        from linkrisk.risk import assess

        _say(progress, "re-identification risk: equivalence classes")
        with timer.stage("risk"):
            risk = assess(engine, study, loaded, results[0])
        result.extra["uniqueness"] = risk["uniqueness"]
        result.extra["journalist"] = risk["journalist"]
        result.extra["uniqueness_curves"] = {
            name: curve[["step", "added", "unique_share", "k"]].to_dict(orient="records")
            for name, curve in risk["curves"].items()}
        result.extra["_uniqueness_curves"] = risk["curves"]
    if study.what_matters and len(results):
        from linkrisk.recommend import what_matters

        _say(progress, "what matters most: one identifier kind at a time")
        with timer.stage("what_matters"):
            result.extra["what_matters"] = what_matters(ctx, results[0])
    from linkrisk.trace_risk import assess_traces, has_traces

    if has_traces(study) and results:
        _say(progress, "trajectories: unicity")
        with timer.stage("traces"):
            result.extra["traces"] = assess_traces(engine, study, releases[0][2], results)
    from linkrisk.face_link import has_faces

    if has_faces(study) and "faces" in study.attacker.linkers and results:
        from linkrisk.face_risk import assess_faces

        _say(progress, "face templates: searches and what faces keep linkable")
        with timer.stage("faces"):
            result.extra["faces"] = assess_faces(engine, study, loaded, results, ctx.persons, ctx)
        result.extra["warnings"] += [{"dataset": None, "column": None, "kind": "face_template",
                                      "problem": "face_ann_recall", "scenario": "baseline", "share": None,
                                      "message": w} for w in result.extra["faces"]["warnings"]]
    from linkrisk.recommend import recommend

    result.extra["recommendation"] = recommend(result)
    return result


def normalise_study(engine: "Engine", study: "StudyConfig", loaded, drop_raw: bool = True):
    """The normalise stage of every dataset, with the settings it infers from the data.

    Returns
    -------
    (study, quality, assumptions)
        The study to run (a copy carrying the inferred national-ID scheme when the
        study set none), the quality table, and ``assumptions``: ``national_id_scheme``
        (see :func:`linkrisk.normalise.infer_national_id_scheme`) and ``dates``
        (``dataset.column`` -> reading, see :func:`linkrisk.normalise.date_readings`).
    """
    import copy
    import dataclasses

    cat = study.catalogue
    scheme = infer_national_id_scheme(engine, study, loaded.columns, raw_table)
    if study.normalisation.national_id_scheme != scheme["scheme"]:
        study = copy.copy(study)  # the user's study is left as given
        study.normalisation = dataclasses.replace(study.normalisation, national_id_scheme=scheme["scheme"])
    index = {d.name: i for i, d in enumerate(study.datasets)}
    raw_slots = _raw_slots(study, loaded)
    compared = compared_kinds(study)
    skip = {c.slot for c in loaded.columns if c.kind not in compared}
    dates = date_readings(engine, [c for c in loaded.columns if c.slot not in skip
                                   and cat[c.kind].normaliser == "date"],
                          raw_table, study.normalisation.date_formats)
    build_mappings(engine, study, loaded.columns, raw_table, skip)
    quality = []
    for name in loaded.datasets:
        i = index[name]
        ds = study.datasets[i]
        quality.append(normalise_dataset(engine, study, i, raw_table(i), loaded.columns_of(name),
                                         ds.record_id, loaded.offsets[name], raw_slots, skip, dates))
        if drop_raw:
            engine.drop(raw_table(i))
    # all-NA columns (a kind no row of a dataset holds) would decide the column types from
    # pandas 3 on (a FutureWarning now): leave them out and restore the columns after
    columns = list(dict.fromkeys(c for q in quality for c in q.columns))
    quality = pd.concat([q.dropna(axis=1, how="all") for q in quality], ignore_index=True).reindex(columns=columns)
    labels = {c.slot: c.label for c in loaded.columns}
    return study, quality, {"national_id_scheme": scheme,
                            "dates": {labels[slot]: d for slot, d in sorted(dates.items())}}


def giant_entity_warnings(results: list[ScenarioResult]) -> list[dict]:
    """Warnings for scenarios whose entities include a giant one (see ``graph.giant_entities``)."""
    out = []
    for r in results:
        g = r.extra.get("giant_entities") or {}
        if g.get("entities"):
            out.append({"dataset": None, "column": None, "kind": None, "problem": "giant_entity",
                        "scenario": r.name, "share": g["records"] / max(g["total_records"], 1),
                        "message": g["message"]})
    return out


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

        The study's own scenarios (no ``tag``) also get the decomposition of what they
        prevent into broken links and hidden values. ``linkers``, when given, replaces
        the attacker's linkers for this scenario only (on a copy: the study is not
        changed)."""
        decompose = tag is None
        study, engine, loaded, timer, progress = self.study, self.engine, self.loaded, self.timer, self.progress
        if linkers is not None:
            study = copy.copy(study)
            study.attacker = dataclasses.replace(study.attacker, linkers=list(linkers))
        tag = tag or f"s{n}"
        started = time.perf_counter()
        _say(progress, f"scenario {name}: release")
        with timer.stage("release"):
            release = rel if n == 0 else release_scenario(study, loaded, engine, rel, tag)
        _say(progress, f"scenario {name}: link")
        with timer.stage("link"):
            labels = None
            if n == 0:
                links = run_linkers(engine, study, release, tag, show_values=self.show_values,
                                    progress=getattr(progress, "note", progress))
            else:
                links, labels = attack_and_link(
                    engine, study, loaded, release,
                    link=lambda r: run_linkers(engine, study, r, tag, show_values=self.show_values,
                                               progress=getattr(progress, "note", progress),
                                               reuse=self.baseline_links),
                    label=lambda lk: _labels(engine, lk, loaded.total, tag, self.baseline_graph))
        if n == 0:
            self.baseline_links = links
        _say(progress, f"scenario {name}: graph")
        with timer.stage("graph"):
            if labels is None:  # the dictionary attacker may already have labelled the final links
                labels = _labels(engine, links, loaded.total, tag, self.baseline_graph)
            if n == 0:
                self.baseline_graph = (links, labels)
        _say(progress, f"scenario {name}: score")
        with timer.stage("score"):
            scores = score_table(engine, study, loaded, release, self.bits, labels, f"score_{tag}")
            enrichment = score(engine, scores, self.bits, loaded.datasets)
            truth = None
            if loaded.truth:  # the entity sizes come from the same pass
                from linkrisk.load import TRUTH_TABLE
                from linkrisk.truth import evaluate, person_totals, persons_table

                if self.persons is None:
                    self.persons = persons_table(engine, study, loaded)
                    engine.drop(TRUTH_TABLE)  # its text person ids are not needed any more
                self.person_totals = self.person_totals or person_totals(engine, self.persons)
                truth, sizes = evaluate(engine, scores, self.persons, self.bits, enrichment.total,
                                        self.person_totals, with_sizes=True)
                _threshold_curve(engine, study, links, self.persons, loaded.total, truth)
                stats = entity_stats_of_sizes(sizes)
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
        return ScenarioResult(
            name=name, description=description, release=release, links=links,
            enrichment=enrichment, entities=stats["entities"],
            multi_dataset_entities=stats["multi_dataset_entities"], entity_sizes=stats["entity_sizes"],
            suspicious_entities=suspicious, suspicious_ids=suspicious_ids, ground_truth=truth, matrix=matrix,
            graph=IdentityGraph(name, engine, study, loaded, release, links.edges, labels, stats["entities"]),
            seconds=time.perf_counter() - started, extra=extra)

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


def compared_kinds(study: "StudyConfig") -> set[str]:
    """Kinds whose values some stage compares, and so must normalise; the others (photos,
    location traces, ... and anything no linker, scenario or risk question uses) only
    need to be present or absent, and are only trimmed."""
    cat = study.catalogue
    a = study.attacker
    kinds = {k for d in study.datasets for k in d.columns.values() if k in cat}
    ids = {k for k in kinds if cat[k].role is Role.IDENTIFIER}
    quasi = {k for k in kinds if cat[k].role is Role.QUASI}
    out: set[str] = set()
    if "identifiers" in a.linkers or study.what_matters:
        out |= ids
    if "quasi_identifiers" in a.linkers:
        out |= {k for qset in a.quasi_identifier_sets for k in qset}
    if {"probabilistic", "classic"} & set(a.linkers):
        out |= ids | quasi
    if study.assess_risk:
        out |= quasi
    for s in study.scenarios:
        out |= {t.split(".")[0] if t in kinds else study.dataset(t.split(".")[0]).columns.get(t.split(".", 1)[1], "")
                for t in s.policy}
        out |= {"date_of_birth", "address", "sex"} & kinds  # what the dictionary attacker reads
    return out & kinds


def _raw_slots(study: "StudyConfig", loaded) -> set[int]:
    """Columns some scenario transforms without normalising first: their raw text is kept."""
    from linkrisk.pseudonymise import policy_for

    raw = {c.slot for c in loaded.columns for s in study.scenarios
           if (p := policy_for(s, c)) is not None and not p.normalise}
    # the dictionary attacker learns how values of those kinds are written from every column
    kinds = {c.kind for c in loaded.columns if c.slot in raw}
    return raw | {c.slot for c in loaded.columns if c.kind in kinds}


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


__all__ = ["run_study", "normalised_table"]
