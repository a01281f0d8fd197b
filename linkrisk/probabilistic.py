"""Stage 4, link (probabilistic): a Fellegi-Sunter model trained and run by Splink.

The attacker gathers the released, normalised columns of every dataset into one table on
the engine's own connection (DuckDB's, or Spark's session through Splink's SparkAPI), lets Splink learn how much each kind of agreement
says (u by random sampling, m by expectation maximisation) and links every pair whose
match probability reaches ``study.attacker.match_threshold``. Pairs within one dataset
count too (duplicates of one person), so the model is Splink's ``dedupe_only`` over the
union of the datasets: the same pairs as ``link_and_dedupe`` over separate tables, with
integer record ids instead of composite ones.

What is compared
    Every identifier or quasi-identifier kind that two records both hold, within a
    dataset (duplicates) as well as across datasets: a kind that one dataset alone holds
    still tells that dataset's duplicates from strangers. Values of different
    linkage domains are never compared: such a pair counts as "no information" (Splink's
    null level), not as a disagreement; an identifier keyed per holder thus compares
    only within its holder. Full, given and family names make one comparison (the name
    model: :func:`linkrisk.features.features`, levels in :func:`person_name_levels`).
    Identifiers compare as ``domain|value`` (exact, so only within a domain), plus one
    and two typos on plaintext values. Readable quasi-identifiers compare by their
    normaliser: names by exact match (with term-frequency adjustment), same tokens in
    any order, Jaro-Winkler >= 0.92 / 0.88 / 0.7; dates by exact match (term-frequency
    adjusted, so a placeholder such as 1900-01-01 says little), one digit changed or two
    swapped, 31 days, one year, the same year (how a date generalised to its year still
    agrees with a full date), ten years; addresses by exact match, Levenshtein <= 1 and
    <= 3 and Jaro-Winkler >= 0.9; postcodes by exact match, one and two typos, then the same
    first half (district); every
    other kind exactly. A pseudonymised (unreadable) quasi-identifier compares exactly
    within its domain. Typos are tested with Hamming distance on equal lengths and
    Levenshtein otherwise: DuckDB's Damerau-Levenshtein is too slow for the millions of
    random pairs that u is estimated on.

How candidates are found (blocking)
    Rules generated from the same kinds, most specific first: each identifier alone,
    name with date of birth, given and family name in either order, date of birth with
    postcode, name with postcode, address, name token with birth year, then single broad
    kinds. A key shared by more than ``max_value_frequency`` records generates no pairs
    (the hub guard of the exact linkers; identifier hubs are not compared at all), and
    rules are kept while the candidate pairs stay within ``PAIRS_PER_RECORD`` per record.

Notes
-----
Fellegi, I. P. and Sunter, A. B. (1969), "A theory for record linkage", JASA 64(328).
Linacre, R. et al. (2022), "Splink: free software for probabilistic record linkage at
scale", IJPDS 7(3). The prior probability that two records match starts as
Splink's ``estimate_probability_two_random_records_match`` does (pairs found by strict
deterministic rules divided by an assumed recall, counted here with the hub guard) and
is then learnt by EM over all scored pairs with m and u fixed (:func:`em_prior`;
Dempster, Laird and Rubin 1977, JRSS B 39(1); Winkler 1988). docs/method.md explains why.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable

from linkrisk.comparisons import comparison, person_name_levels  # noqa: F401 (person_name_levels: its old home)
from linkrisk.engine import quote
from linkrisk.errors import MissingDependencyError
from linkrisk.engine.workspace import Workspace, scratch
from linkrisk.features import Feature, build_input, candidate_rules, features, key_columns, within_budget

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig

PAIRS_PER_RECORD = 20  # candidate pairs scored, at most, per record (all rules together)
MIN_PAIR_BUDGET = 1_000_000
U_PAIRS = (1.2e6, 1e7)  # random pairs for u: 2 per record, within these bounds
EM_MAX_PAIRS = 2e6  # blocked pairs per EM session (a deterministic hash sample beyond)
MIN_EM_PAIRS = 20
EM_ITERATIONS = (25, 10, 4)  # EM iteration caps, tried in turn (see _em_session)
PRIOR_RECALL = 0.7  # assumed share of true pairs the strict rules find (the prior's starting value)
CURVE_FLOOR = 0.5  # with a truth file, scored pairs from this probability up are kept for the F1 curve


def scored_table(edges: str) -> str:
    """The table of scored pairs ``(a, b, p)`` kept beside ``edges`` for the F1 curve."""
    return f"{edges}_scored"

# blocking -------------------------------------------------------------------------------
def _prior(engine: "Engine", prior_counts: list[int], n_records: int, table: str) -> tuple[float, int]:
    """Probability that two random records match, from the strict rules' distinct pairs
    (their keys ``_p<j>`` in the input ``table``)."""
    total = n_records * (n_records - 1) / 2
    parts = [f"SELECT l._rid AS a, r._rid AS b FROM {table} l JOIN {table} r ON l._p{j} = r._p{j} "
             "AND l._rid < r._rid" for j, n in enumerate(prior_counts) if n]
    found = int(engine.scalar(f"SELECT count(*) FROM (SELECT DISTINCT a, b FROM ({' UNION ALL '.join(parts)}))")) \
        if parts else 0
    if found == 0 or total == 0:
        return (1.0 / max(n_records, 2)), 0
    return min(0.5, max(found / PRIOR_RECALL / total, 1.0 / total)), found


def em_prior(histogram: list[tuple[float, int]], total_pairs: float, start: float,
             max_iterations: int = 500) -> tuple[float, int]:
    """The probability that two random records match, learnt by EM with m and u fixed.

    Parameters
    ----------
    histogram : list of (log2 Bayes factor, pairs)
        The scored candidate pairs, binned by their Bayes factor (m/u product, term
        frequencies included); pairs that no blocking rule generated count as clear
        non-matches.
    total_pairs : float
        All pairs of records, n (n - 1) / 2.
    start : float
        The starting value (the deterministic-rule estimate).

    Returns
    -------
    (float, int)
        λ and the iterations run.

    Notes
    -----
    The EM update of the mixing weight of a two-class mixture with known class
    likelihoods (Dempster, Laird and Rubin 1977; Winkler 1988 for record linkage):
    λ ← Σ_pairs P(match | γ, λ) / N, where P(match | γ, λ) = λ BF / (λ BF + 1 - λ).
    Its fixed point is the maximum-likelihood λ given m and u. Unlike Splink's
    ``estimate_probability_two_random_records_match``, it assumes no recall for a set
    of deterministic rules (which a dataset without one of their kinds can never
    satisfy), and unlike Splink's EM on one blocking rule it counts the pairs of every
    rule, so the prior is not that of a blocked subset.

    Examples
    --------
    >>> # 10 pairs with Bayes factor 2^20 (almost surely matches) among 10,000 pairs:
    >>> # λ = 10 P(match) / 10,000 (the others add 1e-7), P(match) = λBF / (λBF + 1 - λ)
    >>> # = 1048.6 / 1049.6 = 0.99905 at λ near 0.001, so λ = 0.000999
    >>> round(em_prior([(20.0, 10), (-10.0, 990)], 10_000, 1e-6)[0], 6)
    0.000999
    """
    import numpy as np

    if not histogram or total_pairs <= 0:
        return start, 0
    lbf = np.array([float(w) for w, _ in histogram])
    count = np.array([float(c) for _, c in histogram])
    bf = np.exp2(np.clip(lbf, -1000, 1000))
    lam, floor = float(start), 1.0 / total_pairs
    for i in range(1, max_iterations + 1):
        new = float((count * lam * bf / (lam * bf + 1 - lam)).sum() / total_pairs)
        new = min(0.5, max(new, floor))
        if abs(new - lam) <= 1e-6 * lam:
            return new, i
        lam = new
    return lam, max_iterations


def _em_rules(engine: "Engine", feats: list[Feature], table: str) -> list[tuple[str, str, set, int]]:
    """Training rules (exact agreement on one kind) until every comparison is trained once."""
    pref = {"date": 0, "name": 1, "person_name": 1, "postcode": 2, "address": 3, "identifier": 4}
    cands = []
    for f in sorted(feats, key=lambda f: (pref.get(f.family, 5), feats.index(f))):
        col = f.t if f.text else f.k
        n = engine.scalar(f"SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (SELECT count(*) AS n FROM {table} "
                          f"WHERE {col} IS NOT NULL GROUP BY {col})")
        if n >= MIN_EM_PAIRS:
            cands.append((f.kind, f"l.{col} = r.{col}", {f.kind}, int(n)))
    everything = {f.kind for f in feats}
    trained: set = set()
    chosen = []
    for name, sql, used, n in cands:
        if not (everything - used) - trained:
            continue
        chosen.append((name, sql, used, n))
        trained |= everything - used
        if trained == everything:
            break
    return chosen


# the linker -----------------------------------------------------------------------------
@scratch("splink")
def link_probabilistic(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                       progress: Callable[[str], None] | None = None, *, ws: Workspace) -> dict:
    """Link records with a Splink model trained on the released data; insert the links.

    Parameters
    ----------
    engine : Engine
        Splink runs on its connection or session (``engine.splink_api()``): DuckDB's
        or Spark's (with the similarity functions of Splink's jar).
    study : Study
        ``seed`` seeds the random sampling; ``attacker.match_threshold`` is the link
        threshold; ``attacker.max_value_frequency`` the hub guard.
    release : Release
        The released columns of one scenario.
    edges : str
        Engine table receiving ``(a, b, 'probabilistic', rule, da, db, p)``.
    progress : callable, optional
        Receives status messages while the model trains.

    Returns
    -------
    dict
        What was compared and how (no values): comparisons, blocking rules with their
        candidate pairs, training rules, prior, pairs scored, links, seconds, and the
        trained m and u per comparison level.

    Raises
    ------
    MissingDependencyError
        When Splink is not installed.

    Examples
    --------
    >>> import linkrisk as lr                                          # doctest: +SKIP
    >>> study.attacker = lr.Attacker(linkers=["probabilistic"])        # doctest: +SKIP
    >>> study.run().baseline.links.probabilistic["probabilistic"]      # doctest: +SKIP
    """
    try:
        import splink
        from splink import Linker, SettingsCreator
    except ImportError:  # pragma: no cover - splink is a dependency
        raise MissingDependencyError("the probabilistic linker needs Splink: pip install splink") from None

    def say(msg: str) -> None:
        if progress:
            progress(f"probabilistic: {msg}")

    t0 = time.perf_counter()
    threshold = float(study.attacker.match_threshold)
    report = {"linker": "probabilistic", "engine": f"splink {splink.__version__}", "threshold": threshold,
              "comparisons": [], "blocking_rules": [], "links": 0, "pairs_scored": 0}
    feats = features(study, release)
    if not feats:
        report.update(note="no identifier or quasi-identifier kind is released by two datasets",
                      seconds=round(time.perf_counter() - t0, 3))
        return report
    say("gathering the released columns")
    table = ws.table("_pl_input")  # the records, one row each, with their comparison columns
    n, kept, used = _blocking(engine, study, feats, table, report)
    if not kept or n < 2:
        report.update(seconds=round(time.perf_counter() - t0, 3))
        return report

    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="_rid",
        comparisons=[comparison(f, engine.dialect, engine.dialect_expr) for f in feats],
        blocking_rules_to_generate_predictions=kept,
        probability_two_random_records_match=report["prior"], additional_columns_to_retain=["_ds"],
        retain_matching_columns=False, retain_intermediate_calculation_columns=False,
        max_iterations=EM_ITERATIONS[0])
    db_api = engine.splink_api()
    with _quiet_splink():
        try:
            linker = Linker(db_api.register(engine.splink_table(table)), settings, log_level=None)
            linker = _train(engine, study, feats, table, linker, db_api, n, report, say)
            say(f"predicting ({used:,} candidate pairs at most)")
            _predict(engine, study, edges, linker, n, report)
            report["m_u"] = _m_u(linker.misc.save_model_to_json(), {f.col: f.kind for f in feats})
        finally:
            db_api.delete_tables_created_by_splink_from_db()
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


def _blocking(engine: "Engine", study: "StudyConfig", feats: list[Feature], table: str,
              report: dict) -> tuple[int, list[str], int]:
    """Build the input ``table``, its blocking keys and the prior; return the records,
    the blocking rules kept within the pair budget, and their candidate pairs."""
    n, hubs = build_input(engine, study, feats, table)
    limit = study.attacker.max_value_frequency
    rules, prior_rules = candidate_rules(feats)
    counts = key_columns(engine, rules, "_b", limit, table)
    prior_counts = key_columns(engine, prior_rules, "_p", limit, table)
    keep, report["blocking_rules"], used = within_budget(rules, counts, max(MIN_PAIR_BUDGET, PAIRS_PER_RECORD * n))
    prior, found = _prior(engine, prior_counts, n, table)
    report.update(records=n, hubs=hubs, prior=prior, prior_pairs=found, prior_recall=PRIOR_RECALL,
                  comparisons=[{"kind": f.kind, "levels": f.family} for f in feats])
    return n, [f"l._b{j} = r._b{j}" for j in keep], used


def _train(engine: "Engine", study: "StudyConfig", feats: list[Feature], table: str, linker, db_api, n: int,
           report: dict, say):
    """u by random sampling, then m by EM, one session per training rule; returns the linker."""
    from splink import Linker

    u_pairs = float(min(U_PAIRS[1], max(U_PAIRS[0], 2 * n)))
    say(f"training u by random sampling ({u_pairs:,.0f} pairs)")
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=int(study.seed), num_chunks=1)
    em = _em_rules(engine, feats, table)
    report["training_rules"] = []
    for i, (name, sql, _, pairs) in enumerate(em, 1):
        say(f"EM on blocking rule {i}/{len(em)} ({name})")
        linker, iterations = _em_session(linker, lambda model: Linker(db_api.register(engine.splink_table(table)), model,
                                                                      log_level=None),
                                         sql, EM_MAX_PAIRS if pairs > EM_MAX_PAIRS else None)
        if iterations:
            report["training_rules"].append({"rule": name, "max_iterations": iterations})
    return linker


def _predict(engine: "Engine", study: "StudyConfig", edges: str, linker, n: int, report: dict) -> None:
    """Score the blocked pairs, learn the prior by EM over their Bayes factors, and insert
    the pairs at or above the threshold into ``edges`` (and, with a truth file, keep the
    pairs from CURVE_FLOOR up for the F1 curve)."""
    threshold, prior = float(study.attacker.match_threshold), report["prior"]
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    report["pairs_scored"] = int(engine.scalar(f"SELECT count(*) FROM {blocked.physical_name}"))
    predictions = linker.inference.predict(warning_mode="never")
    # the Bayes factor of each pair (log2): its match weight less the prior's log odds
    scored = f"(SELECT *, match_weight - ? AS _lbf FROM {predictions.physical_name})"
    start = [math.log2(prior / (1 - prior))]
    hist = engine.rows(f"SELECT round(_lbf, 2), count(*) FROM {scored} GROUP BY 1", start)
    prior, iterations = em_prior(hist, n * (n - 1) / 2, prior)
    report.update(prior=prior, prior_start=report["prior"], prior_em_iterations=iterations)
    # p = 1 / (1 + 2^-(lbf + log2 odds)), at the prior learnt
    p_sql = "round(1 / (1 + pow(2, -(_lbf + ?))), 10)"
    odds = math.log2(prior / (1 - prior))
    engine.execute(
        f"INSERT INTO {quote(edges)} SELECT least(_rid_l, _rid_r), greatest(_rid_l, _rid_r), "
        "'probabilistic', ?, CASE WHEN _rid_l < _rid_r THEN _ds_l ELSE _ds_r END, "
        f"CASE WHEN _rid_l < _rid_r THEN _ds_r ELSE _ds_l END, {p_sql} "
        f"FROM {scored} WHERE {p_sql} >= ?",
        [f"splink p>={threshold:g}", odds] + start + [odds, threshold])
    report["links"] = int(engine.scalar(f"SELECT count(*) FROM {scored} WHERE {p_sql} >= ?",
                                        start + [odds, threshold]))
    if study.truth is not None:  # for the F1 curve by threshold (linkrisk.truth.threshold_curve)
        floor = min(threshold, CURVE_FLOOR)
        engine.create(scored_table(edges), f"SELECT least(_rid_l, _rid_r) AS a, greatest(_rid_l, _rid_r) AS b, "
                                           f"{p_sql} AS p FROM {scored} WHERE {p_sql} >= ?",
                      [odds] + start + [odds, floor])


def _em_session(linker, rebuild, rule: str, max_pairs: float | None):
    """One EM session; return the linker and the iteration cap used (0: not trained).

    Splink refuses an m probability below 1e-300, which EM reaches when a level is only
    ever seen among clear non-matches (long addresses of one district agreeing by
    Jaro-Winkler, say): the m of such a level shrinks towards 0 at every iteration.
    The session is then rerun from the model as it was before it, with the next lower
    cap of :data:`EM_ITERATIONS`. A session from the same model on the same pairs takes
    the same steps, so a cap at or above the iteration that failed would fail again:
    those caps are skipped (each skipped session cost a Spark job per iteration).
    """
    before = linker.misc.save_model_to_json()
    failed_at = None  # the iteration whose m fell below Splink's minimum, when known
    for iterations in EM_ITERATIONS:
        if failed_at is not None and iterations >= failed_at:
            continue
        if iterations != before.get("max_iterations"):
            linker = rebuild({**before, "max_iterations": iterations})
        with _em_iterations() as done:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, max_pairs=max_pairs)
                return linker, iterations
            except ValueError as exc:
                if "below the minimum allowed" not in str(exc):
                    raise
            except Exception as exc:
                # Splink's EMTrainingException (no public import path: matched by name, so
                # that linkrisk uses Splink's public API only)
                if type(exc).__name__ != "EMTrainingException":
                    raise
                return linker, 0
        # no iteration logged: the first failed, or Splink's log changed (each cap is tried)
        failed_at = done[0] + 1 if done[0] else None
    return rebuild(before), 0


EM_LOGGER = "splink.internals.expectation_maximisation"


@contextmanager
def _em_iterations():
    """Count the EM iterations Splink completes (it logs ``Iteration i: ...`` after each,
    at INFO): yields a one-item list holding the count.

    The logger is lowered to INFO for the session if it was above, and a filter on it
    passes on only what it would have passed before, so an application's logging sees
    exactly what it saw without this.
    """
    log = logging.getLogger(EM_LOGGER)
    level, shown = log.level, log.getEffectiveLevel()
    done = [0]

    def count(record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith("Iteration "):
            done[0] += 1
        return record.levelno >= shown

    log.addFilter(count)
    if shown > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield done
    finally:
        log.setLevel(level)
        log.removeFilter(count)


@contextmanager
def _quiet_splink():
    """Keep Splink's training warnings off stderr when the application configured no logging.

    With no handler anywhere, Python prints warnings through its last-resort handler;
    a NullHandler on the ``splink`` logger, removed afterwards, prevents only that.
    An application that configured logging still receives every Splink message.
    """
    log = logging.getLogger("splink")
    quiet = not log.handlers and not logging.getLogger().handlers
    handler = logging.NullHandler()
    if quiet:
        log.addHandler(handler)
    try:
        yield
    finally:
        if quiet:
            log.removeHandler(handler)


def _m_u(model: dict, kinds: dict[str, str]) -> dict:
    """Trained m and u per comparison level (labels and numbers only)."""
    out = {}
    for c in model.get("comparisons", []):
        levels = []
        for lvl in c.get("comparison_levels", []):
            if lvl.get("is_null_level"):
                continue
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            levels.append({"level": lvl.get("label_for_charts", ""),
                           "m": round(m, 6) if isinstance(m, float) else m,
                           "u": round(u, 8) if isinstance(u, float) else u})
        out[kinds.get(c.get("output_column_name"), c.get("output_column_name"))] = levels
    return out


__all__ = ["link_probabilistic", "em_prior", "person_name_levels", "features", "build_input", "candidate_rules", "key_columns", "within_budget"]
