"""Re-identification risk of each dataset, of linked profiles, and of one breach against another.

This stage runs the equivalence-class measures of :mod:`linkrisk.uniqueness` over the
normalised datasets of a study (and over the baseline's linked profiles), for the
study's ``[[risk]]`` questions or, without any, for sensible quasi-identifier sets drawn
from the kinds present.

Linked profiles beyond ``[risk_sampling] exact_up_to`` (when set; by default every
profile is counted) are not counted in full: their figures are estimated from a seeded uniform random sample of
profiles, each with a confidence interval, and the entry says so (``sampled``,
``sample``; see :func:`linkrisk.equivalence.sampled_class_stats`).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from linkrisk.catalogue import Role
from linkrisk.engine import quote
from linkrisk.engine.workspace import Workspace, scratch
from linkrisk.population import dankar_estimate
from linkrisk.equivalence import sampled_class_stats
from linkrisk.uniqueness import (stats_from_histogram, class_size_counts_many, equivalence_classes,
                                 journalist_matches, journalist_matches_any_form,
                                 sampled_uniqueness_curve, uniqueness_curve)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.dialect import Dialect
    from linkrisk.load import Loaded
    from linkrisk.release import Release, ReleasedColumn
    from linkrisk.result import ScenarioResult
    from linkrisk.study import StudyConfig

PROFILES = "linked profiles (baseline)"
SWEENEY = ("date_of_birth", "sex", "postcode")  # Sweeney 2000: 87% of Americans unique on these


def quasi_kinds(study: "StudyConfig", dataset: str) -> list[str]:
    """The quasi-identifier kinds a dataset holds, in the order its columns are mapped."""
    cat = study.catalogue
    return list(dict.fromkeys(k for k in study.dataset(dataset).columns.values()
                              if cat[k].role is Role.QUASI))


def default_questions(study: "StudyConfig", loaded: "Loaded") -> list[tuple[str, list[str], float | None]]:
    """Risk questions when the study has none: every dataset's quasi-identifiers together,
    and Sweeney's date of birth + sex + postcode where at least two of them are present."""
    out = []
    for name in loaded.datasets:
        kinds = quasi_kinds(study, name)
        if not kinds:
            continue
        fraction = study.dataset(name).sampling_fraction
        out.append((name, kinds, fraction))
        sweeney = [k for k in SWEENEY if k in kinds]
        if len(sweeney) >= 2 and sweeney != kinds:
            out.append((name, sweeney, fraction))
    return out


def _profiles_table(engine: "Engine", study: "StudyConfig", loaded: "Loaded", baseline: "ScenarioResult",
                    kinds: list[str], ws: "Workspace") -> str:
    """The workspace's table ``_profiles``: one row per baseline entity, the smallest value of each kind (coded).

    One pass: each dataset's records with one column per kind (the smallest of the
    dataset's columns of that kind), joined once to the entities and grouped by entity.
    """
    from linkrisk.normalise import normalised_table

    lab = quote(baseline.graph.labels_table)
    parts = []
    for name in loaded.datasets:
        cols = [c for c in baseline.release.of_dataset(name)
                if c.kind in kinds and c.domain is not None and c.readable]
        tables = list(dict.fromkeys(c.table for c in cols)) or [normalised_table(study.datasets.index(study.dataset(name)))]
        for table in tables:  # every record, so that every entity gets a row
            def value(kind):
                here = [c.value for c in cols if c.kind == kind and c.table == table]
                return (here[0] if len(here) == 1 else f"least({', '.join(here)})") if here else \
                    "CAST(NULL AS VARCHAR)"
            parts.append(f"SELECT _rid, {', '.join(f'{value(k)} AS k{j}' for j, k in enumerate(kinds))} "
                         f"FROM {quote(table)}")
    # the smallest value as text (binary order, the same in every engine), then coded
    aggs = ", ".join(f"{engine.dialect.hash_key(f'min(u.k{j})')} AS {quote(k)}" for j, k in enumerate(kinds))
    return ws.create("_profiles", f"SELECT l.e, {aggs} FROM ({' UNION ALL '.join(parts)}) u "
                                  f"JOIN {lab} l USING (_rid) GROUP BY l.e")


def quasi_columns(study: "StudyConfig", release: "Release", dataset: str) -> dict[str, list["ReleasedColumn"]]:
    """Every released column of each quasi-identifier kind a dataset holds: kind -> its
    columns in the order they are mapped (kinds in mapping order; a kind whose columns
    were all dropped is left out)."""
    out = {k: release.of_kind(dataset, k) for k in quasi_kinds(study, dataset)}
    return {k: v for k, v in out.items() if v}


def class_key(dialect: "Dialect", cols: list["ReleasedColumn"]) -> str:
    """SQL of one kind's attribute of the equivalence-class key: the coded value of its
    one column, or of every column of the kind together, in column order.

    Two records are in one class on a kind only when they agree on each of its columns;
    a missing value is a value of its own (as SQL's GROUP BY treats a NULL of one
    column), so a record without a second address is grouped with the records whose
    first address is the same and who have no second address either. Each value is
    written as its length, ``:`` and the value (``n`` when missing) before the tuple is
    coded, so that no two tuples are spelled alike.
    """
    if len(cols) == 1:
        return dialect.hash_key(cols[0].value)
    parts = [f"CASE WHEN {quote(c.value)} IS NULL THEN 'n' "
             f"ELSE 'v' || CAST(length({quote(c.value)}) AS VARCHAR) || ':' || {quote(c.value)} END" for c in cols]
    return dialect.hash_key(" || ".join(parts))


def form_columns(kind: str, n: int) -> list[str]:
    """Names of a kind's per-column codes in a ``_risk<i>`` table: the kind itself for
    one column (its class-key attribute is that code), ``"<kind> 1"``, ``"<kind> 2"``...
    for more (a kind name has no space, so these never meet a kind)."""
    return [kind] if n == 1 else [f"{kind} {j}" for j in range(1, n + 1)]


def _coded(engine: "Engine", study: "StudyConfig", baseline: "ScenarioResult", loaded: "Loaded",
           ws: "Workspace") -> tuple[dict[str, str], dict[str, dict[str, list["ReleasedColumn"]]]]:
    """Per dataset, a table ``_risk<i>`` holding a 128-bit MD5 number of each
    quasi-identifier kind (named by its kind; :func:`class_key`): grouping on integers
    is several times faster than on text. (DuckDB's 64-bit ``hash()`` collided on
    real-looking data.) A dataset releasing two columns of a kind also gets each
    column's code (:func:`form_columns`), for journalist risk, and then every table has
    the record's ``_rid``, which journalist risk counts matches by.

    Returns the tables and, per dataset, the columns of each kind that were coded."""
    tables, layout = {}, {}
    kinds = {name: quasi_columns(study, baseline.release, name) for name in loaded.datasets}
    # journalist risk through forms needs the records' ids on both sides; a study with
    # one column per kind everywhere runs the same SQL as before
    rid = ["_rid"] if any(len(cols) > 1 for by_kind in kinds.values() for cols in by_kind.values()) else []
    for i, name in enumerate(loaded.datasets):
        by_kind = kinds[name]
        if not by_kind:
            continue
        sel = [f"{class_key(engine.dialect, cols)} AS {quote(k)}" for k, cols in by_kind.items()]
        multi = {k: cols for k, cols in by_kind.items() if len(cols) > 1}
        for k, cols in multi.items():
            sel += [f"{engine.dialect.hash_key(quote(c.value))} AS {quote(f)}"
                    for c, f in zip(cols, form_columns(k, len(cols)))]
        table = {c.table for cols in by_kind.values() for c in cols}
        assert len(table) == 1, "the baseline releases a dataset's columns in one table"
        tables[name] = ws.create(f"_risk{i}", f"SELECT {', '.join(sel + rid)} "
                                              f"FROM {quote(table.pop())}")
        layout[name] = by_kind
    return tables, layout


def _forms(layout: dict[str, list["ReleasedColumn"]], kinds: list[str]) -> list[list[str]]:
    """Every way of reading a record on ``kinds``: one coded column per kind, every
    combination of a kind's columns (one form when each kind has one column)."""
    return [list(f) for f in itertools.product(*(form_columns(k, len(layout[k])) for k in kinds))]


def _names(layout: dict[str, list["ReleasedColumn"]], kinds: list[str]) -> dict[str, list[str]]:
    """The source columns counted for each kind, for the report (kind -> column names)."""
    return {k: [c.ref.column for c in layout[k]] for k in kinds}


def _columns(coded: dict[str, str], dataset: str, kinds: list[str]):
    if dataset not in coded or not kinds:
        return None, None
    return coded[dataset], list(kinds)


@scratch("risk")
def assess(engine: "Engine", study: "StudyConfig", loaded: "Loaded", baseline: "ScenarioResult", *,
           ws: "Workspace") -> dict:
    """Uniqueness entries, journalist matches and uniqueness curves for a study.

    Returns
    -------
    dict with ``uniqueness`` (list of dicts, one per dataset and quasi-identifier set),
    ``journalist`` (list, one per ordered pair of datasets sharing quasi-identifiers) and
    ``curves`` (dataset name -> DataFrame of the greedy uniqueness curve).
    """
    questions = ([(r.dataset, list(r.quasi_identifiers),
                   r.sampling_fraction if r.sampling_fraction is not None else study.dataset(r.dataset).sampling_fraction)
                  for r in study.risk] if study.risk else default_questions(study, loaded))
    coded, layout = _coded(engine, study, baseline, loaded, ws)
    asked = []  # (dataset, kinds, fraction, table, columns) of the questions that can be answered
    for dataset, kinds, fraction in questions:
        if dataset not in loaded.rows:
            continue
        table, cols = _columns(coded, dataset, kinds)
        if table is None or any(k not in quasi_kinds(study, dataset) for k in kinds):
            continue
        asked.append((dataset, kinds, fraction, table, cols))
    # one GROUP BY per question for both measures, one statement per table
    histograms = {}
    for table in dict.fromkeys(q[3] for q in asked):
        mine = [i for i, q in enumerate(asked) if q[3] == table]
        histograms.update(zip(mine, class_size_counts_many(engine, table, [asked[i][4] for i in mine])))
    entries = []
    for i, (dataset, kinds, fraction, table, cols) in enumerate(asked):
        histogram = histograms[i]
        stats = stats_from_histogram(cols, histogram)
        entry = {"dataset": dataset, "quasi_identifiers": list(kinds),
                 "columns": _names(layout[dataset], kinds), **_stats(stats)}
        if fraction:
            est = dankar_estimate(histogram, stats.records, fraction)
            entry.update({"sampling_fraction": fraction, "population_uniques": est.share,
                          "estimator": est.estimator, "estimator_note": est.note})
            if est.pitman is not None:  # Pitman was tried: its fit, or NaN and why not
                fit = est.pitman
                entry["pitman"] = {"theta": None if math.isnan(fit.theta) else fit.theta,
                                   "alpha": None if math.isnan(fit.alpha) else fit.alpha,
                                   "reason": fit.reason,
                                   "fit_share": None if math.isnan(fit.share) else fit.share,
                                   "weight": est.pitman_weight, "ewens_share": est.ewens_share}
        entries.append(entry)

    all_kinds = list(dict.fromkeys(k for _, kinds, _ in questions for k in kinds))
    curves = {}
    for name in loaded.datasets:
        kinds = quasi_kinds(study, name)
        table, cols = _columns(coded, name, kinds)
        if table is not None:
            curves[name] = uniqueness_curve(engine, table, cols, labels=kinds)
    if all_kinds and baseline.links.pairs:  # without links a profile is just a record
        prof = _profiles_table(engine, study, loaded, baseline, all_kinds, ws)
        cols = [quote(k)[1:-1] for k in all_kinds]
        rs = study.risk_sampling
        if rs.exact_up_to is not None and int(engine.scalar(f"SELECT count(*) FROM {quote(prof)}")) > rs.exact_up_to:
            # too many to count in full: estimated from a stated sample, with intervals
            stats = sampled_class_stats(engine, prof, [cols], "e", rs.sample_size, study.seed, rs.confidence)[0]
            curves[PROFILES] = sampled_uniqueness_curve(engine, prof, cols, "e", rs.sample_size, study.seed,
                                                        rs.confidence, labels=all_kinds)
        else:
            stats = equivalence_classes(engine, prof, cols)
            curves[PROFILES] = uniqueness_curve(engine, prof, cols, labels=all_kinds)
        entries.append({"dataset": PROFILES, "quasi_identifiers": all_kinds, **_stats(stats)})

    journalist = []
    for a in loaded.datasets:
        for b in loaded.datasets:
            if a == b:
                continue
            shared = [k for k in quasi_kinds(study, a) if k in quasi_kinds(study, b)]
            if len(shared) < 2:
                continue
            ta, ca = _columns(coded, a, shared)
            tb, cb = _columns(coded, b, shared)
            if ta is None or tb is None:
                continue
            fa, fb = _forms(layout[a], shared), _forms(layout[b], shared)
            m = (journalist_matches(engine, ta, ca, tb, cb) if len(fa) == len(fb) == 1 else
                 journalist_matches_any_form(engine, ta, fa, tb, fb, row_id="_rid"))
            journalist.append({"dataset": a, "population": b, "quasi_identifiers": shared,
                               "columns": _names(layout[a], shared),
                               "population_columns": _names(layout[b], shared), **m})
    return {"uniqueness": entries, "journalist": journalist, "curves": curves}


def _stats(stats) -> dict:
    d = stats.to_dict()
    d.pop("quasi_identifiers", None)
    return d
