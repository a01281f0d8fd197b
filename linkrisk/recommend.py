"""What matters most, and which evaluated scenario to recommend.

*What matters most* evaluates, for each identifier kind, the scenario in which only that
kind is keyed per holder (HMAC-SHA256 with one key per dataset), and the scenario in
which every identifier kind is: the enrichment the latter leaves is what
quasi-identifiers still carry, i.e. what pseudonymising identifiers cannot prevent.

The *recommendation* is, among the study's own scenarios, the one that changes the
fewest columns while preventing at least the study's target share of enrichment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkrisk.catalogue import Role
from linkrisk.enrichment import bootstrap_prevented
from linkrisk.study import Policy, Scenario

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.result import Result, ScenarioResult


def _keyed(kinds: list[str]) -> dict[str, Policy]:
    return {k: Policy("keyed_hash", key_scope="dataset") for k in kinds}


def what_matters(run, baseline: "ScenarioResult") -> dict:
    """Prevented enrichment when only one identifier kind is keyed per holder, and when all are.

    Parameters
    ----------
    run : linkrisk.scenario_run.Run
        The running study (engine, data and stages).
    baseline : ScenarioResult

    Returns
    -------
    dict with ``by_kind`` (one entry per identifier kind, most preventive first) and
    ``all_identifiers_keyed`` (prevented share, residual enrichment and the links that
    remain, by linker).
    """
    cat = run.study.catalogue
    kinds = sorted({c.kind for c in run.loaded.columns if cat[c.kind].role is Role.IDENTIFIER})
    if not kinds:
        return {"by_kind": [], "all_identifiers_keyed": None}
    # the exact linkers only: retraining a probabilistic model for every variant would
    # multiply the run time; the study's own scenarios show the probabilistic attacker
    exact = [lk for lk in run.study.attacker.linkers if lk in ("identifiers", "quasi_identifiers")]
    return _what_matters(run, baseline, kinds, exact)


def _what_matters(run, baseline: "ScenarioResult", kinds: list[str], linkers: list[str]) -> dict:
    scenarios = [(k, Scenario(f"only {k} keyed per holder", _keyed([k]))) for k in kinds]
    scenarios.append(("*", Scenario("every identifier keyed per holder", _keyed(kinds))))
    groups, summaries = {}, {}
    for i, (kind, sc) in enumerate(scenarios):
        s = run.scenario(1, sc.name, "", sc, tag=f"w{i}", linkers=linkers)
        groups[kind] = s.extra.pop("_groups")
        by_linker = s.links.by_rule.groupby("linker")["pairs"].sum().to_dict() if len(s.links.by_rule) else {}
        summaries[kind] = {"enrichment": s.enrichment.total, "links": s.links.pairs,
                           "links_by_linker": {k: int(v) for k, v in by_linker.items()},
                           "multi_dataset_entities": s.multi_dataset_entities}
        run.discard(s)
    prevented = bootstrap_prevented(groups, run.study.seed)
    by_kind = sorted(({"kind": k, **prevented[k], **summaries[k]} for k in kinds),
                     key=lambda r: -(r["value"] or 0))
    base = baseline.enrichment.total
    every = {**prevented["*"], **summaries["*"], "kinds": kinds,
             "residual_share": (summaries["*"]["enrichment"] / base) if base else None}
    return {"by_kind": by_kind, "all_identifiers_keyed": every, "linkers": linkers}


def changed_columns(s: "ScenarioResult") -> int:
    """Columns a scenario releases other than as leaked."""
    return sum(1 for c in s.release.columns if c.value_column is None and c.technique != "keep")


def recommend(result: "Result") -> dict:
    """The evaluated scenario with the fewest changed columns that prevents >= the target.

    Returns
    -------
    dict with ``scenario`` (None when none qualifies), ``target`` and a plain ``text``.
    """
    target = result.study.recommend_target
    candidates = [s for s in result.scenarios[1:] if s.prevented and s.prevented["value"] is not None]
    if not candidates:
        return {"scenario": None, "target": target,
                "text": "No scenario was evaluated; add [[scenarios]] to the study to compare policies."}
    ok = [s for s in candidates if s.prevented["value"] >= target]
    if ok:
        best = min(ok, key=lambda s: (changed_columns(s), -s.prevented["value"]))
        p = best.prevented
        return {"scenario": best.name, "target": target, "changed_columns": changed_columns(best),
                "text": (f"'{best.name}' changes {changed_columns(best)} column(s) and prevents "
                         f"{100 * p['value']:.1f}% of the enrichment (95% interval {100 * p['ci_low']:.1f}% "
                         f"to {100 * p['ci_high']:.1f}%), at least the target of {100 * target:.0f}%.")}
    best = max(candidates, key=lambda s: s.prevented["value"])
    why = ""
    wm = result.extra.get("what_matters") or {}
    every = wm.get("all_identifiers_keyed")
    if every and every.get("residual_share") is not None:
        q = every.get("links_by_linker", {}).get("quasi_identifiers", 0)
        why = (f" Even with every identifier kind keyed per holder, {100 * every['residual_share']:.1f}% of the "
               f"enrichment remains: quasi-identifiers still link {q:,} record pairs. Pseudonymising "
               "identifiers cannot prevent that; generalising or dropping quasi-identifiers can.")
    return {"scenario": None, "target": target, "best": best.name,
            "text": (f"No evaluated scenario prevents {100 * target:.0f}% of the enrichment; the best, "
                     f"'{best.name}', prevents {100 * best.prevented['value']:.1f}%.{why}")}
