"""The study run: load -> normalise -> release -> link -> graph -> score, per scenario.

Each stage lives in its own module; this one only sequences them, times them and
collects what they return into a :class:`linkrisk.result.Result`: the study's stages
(load, normalise: :data:`linkrisk.stages.STUDY_STAGES`), then each scenario's (release,
link, graph, score: :class:`linkrisk.scenario_run.Run`), both through the runner
:func:`linkrisk.scenario_run.run_stages`; then what is measured across scenarios
(prevented enrichment, risk, what matters most, traces, faces) and the recommendation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkrisk.catalogue import Role
from linkrisk.engine import make_engine
from linkrisk.engine.namespace import StudyEngine
from linkrisk.enrichment import KindBits, bootstrap_decomposition, bootstrap_prevented
from linkrisk.errors import StudyError
from linkrisk.features import uncompared_columns
from linkrisk.normalise import normalised_table
from linkrisk.prepare import compared_kinds, normalise_study  # noqa: F401 (re-exported)
from linkrisk.quality import quality_warnings
from linkrisk.release import baseline_release
from linkrisk.result import Result, ScenarioResult
from linkrisk.scenario_run import Progress, Run, Steps, Timer, run_stages, say  # noqa: F401 (re-exported)
from linkrisk.stages import STUDY_STAGES, StudyContext
from linkrisk.validate import config_problems

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.study import StudyConfig

KEEP_TABLES_UP_TO = 1_000_000  # records; above, scenario tables are dropped once scored


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
    normalised = run_stages(STUDY_STAGES, StudyContext(study, engine, source), study, timer, progress)
    study, loaded, quality, assumptions = (normalised.study, normalised.loaded, normalised.quality,
                                           normalised.assumptions)
    warnings = quality_warnings(study, quality, assumptions["dates"])

    bits = KindBits.of(study, loaded)
    releases = [("baseline", "as leaked", baseline_release(study, loaded))]
    releases += [(s.name, s.description, s) for s in study.scenarios]
    ctx = Run(study, engine, loaded, bits, timer, progress, show_values)
    results = []
    for n, (name, description, rel) in enumerate(releases):
        results.append(ctx.scenario(n, name, description, rel))
        if n and loaded.total > KEEP_TABLES_UP_TO:
            # large studies: a scenario's released copies and edges go once it is scored;
            # its figures, entity table and export stay, its neighbourhood views do not
            results[-1].graph.release_tables()

    with timer.stage("score"):
        _prevented(results, study.seed)
    result = Result(study=study, loaded=loaded, quality=quality, scenarios=results, engine=engine,
                    timings=timer.seconds, bits=bits)
    result.extra["warnings"] = warnings + uncompared_columns(study) + giant_entity_warnings(results)
    result.extra["assumptions"] = {"national_id_scheme": assumptions["national_id_scheme"],
                                   "dates": [{"column": k, **v} for k, v in assumptions["dates"].items()]}
    _across_scenarios(ctx, result, results, releases[0][2])
    from linkrisk.recommend import recommend

    result.extra["recommendation"] = recommend(result)
    return result


def _prevented(results: list[ScenarioResult], seed: int) -> None:
    """Prevented enrichment of each scenario, with its bootstrap interval and, for the
    study's own scenarios, its decomposition (links broken, values hidden)."""
    if len(results) <= 1:
        return
    prevented = bootstrap_prevented({r.name: r.extra.pop("_groups") for r in results[1:]}, seed)
    for r in results[1:]:
        r.prevented = prevented[r.name]
        parts = r.extra.pop("_groups_links", None)
        if parts is not None and r.prevented.get("value") is not None:
            r.prevented.update(bootstrap_decomposition(parts, seed))


def _across_scenarios(ctx: Run, result: Result, results: list[ScenarioResult], baseline) -> None:
    """What is measured across scenarios, into ``result.extra``: re-identification risk,
    what matters most, trajectories and face templates, each when the study asks."""
    study, engine, loaded, timer, progress = ctx.study, ctx.engine, ctx.loaded, ctx.timer, ctx.progress
    if study.assess_risk and results:
        from linkrisk.risk import assess

        say(progress, "re-identification risk: equivalence classes")
        with timer.stage("risk"):
            risk = assess(engine, study, loaded, results[0])
        result.extra["uniqueness"] = risk["uniqueness"]
        result.extra["journalist"] = risk["journalist"]
        result.extra["uniqueness_curves"] = {
            name: curve[["step", "added", "unique_share", "k"]].to_dict(orient="records")
            for name, curve in risk["curves"].items()}
        result.extra["_uniqueness_curves"] = risk["curves"]
        result.extra["warnings"] += [  # an estimate where a count was: said loudly
            {"dataset": u["dataset"], "column": None, "kind": None, "problem": "risk_sampled", "share": None,
             "message": f"re-identification risk of {u['dataset']} ({u['records']:,} records, more than "
                        f"[risk_sampling] exact_up_to) is estimated from a uniform random sample of "
                        f"{u['sample']['sample_size']:,}: sample uniques {u['unique_share']:.2%} "
                        f"({u['sample']['confidence']:.0%} interval {u['sample']['unique_share_ci'][0]:.2%} to "
                        f"{u['sample']['unique_share_ci'][1]:.2%}); k {u['sample']['k']}. Raise or remove exact_up_to "
                        "for exact counts."}
            for u in risk["uniqueness"] if u.get("sampled")]
    if study.what_matters and len(results):
        from linkrisk.recommend import what_matters

        say(progress, "what matters most: one identifier kind at a time")
        with timer.stage("what_matters"):
            result.extra["what_matters"] = what_matters(ctx, results[0])
    from linkrisk.trace_risk import assess_traces, has_traces

    if has_traces(study) and results:
        say(progress, "trajectories: unicity")
        with timer.stage("traces"):
            result.extra["traces"] = assess_traces(engine, study, baseline, results)
    from linkrisk.face_link import has_faces

    if has_faces(study) and "faces" in study.attacker.linkers and results:
        from linkrisk.face_risk import assess_faces

        say(progress, "face templates: searches and what faces keep linkable")
        with timer.stage("faces"):
            result.extra["faces"] = assess_faces(engine, study, loaded, results, ctx.persons, ctx)
        result.extra["warnings"] += [{"dataset": None, "column": None, "kind": "face_template",
                                      "problem": "face_ann_recall", "scenario": "baseline", "share": None,
                                      "message": w} for w in result.extra["faces"]["warnings"]]


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


__all__ = ["run_study", "normalised_table"]
