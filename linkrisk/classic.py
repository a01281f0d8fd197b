"""Stage 4, link (classic): the textbook Fellegi-Sunter attacker of the recordlinkage toolkit.

The released columns are pulled into one pandas DataFrame (every dataset together, so
pairs within a dataset count as well as pairs across), indexed with recordlinkage's
``Block`` and ``SortedNeighbourhood``, compared into binary agreement vectors and
classified without labels by the ECM algorithm. It is the in-memory baseline that the
probabilistic (Splink) linker is measured against, so it refuses studies larger than
``MAX_RECORDS`` records.

What is compared follows the probabilistic linker (:func:`linkrisk.probabilistic.features`):
the same kinds, values of different linkage domains never agree, and identifier
placeholders held by more than ``max_value_frequency`` records are blanked. Candidate
pairs come from the same hub-guarded blocking keys (``Block`` on each), plus a sorted
neighbourhood on the main name. Unlike Splink, ECM has no "missing" level: a missing
value counts as a disagreement, as in the classic formulation.

Notes
-----
Fellegi, I. P. and Sunter, A. B. (1969), "A theory for record linkage", JASA 64(328).
Winkler, W. E. (1988), "Using the EM algorithm for weight computation in the
Fellegi-Sunter model of record linkage", Proc. Section on Survey Research Methods, ASA.
de Bruin, J. (2019), Python Record Linkage Toolkit (recordlinkage), Zenodo.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.errors import LinkriskError, MissingDependencyError
from linkrisk.probabilistic import (PAIRS_PER_RECORD, MIN_PAIR_BUDGET, build_input, candidate_rules,
                                    features, key_columns)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import Study

MAX_RECORDS = 200_000  # more than this and the in-memory toolkit is the wrong tool
TABLE = "_cl_input"
NAME_WINDOW = 5  # sorted-neighbourhood window on the main name
STRING_THRESHOLD = 0.85  # similarity at which two strings agree


def _records(engine: "Engine", release: "Release") -> int:
    tables = {}
    for c in release.columns:
        tables.setdefault(c.dataset, c.table)
    return sum(engine.count(t) for t in tables.values())


def link_classic(engine: "Engine", study: "Study", release: "Release", edges: str,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Link records with recordlinkage (Block, SortedNeighbourhood, ECM); insert the links.

    Parameters
    ----------
    engine : Engine
    study : Study
        ``attacker.match_threshold`` is the link threshold on the ECM match probability.
    release : Release
    edges : str
        Engine table receiving ``(a, b, 'classic', rule, da, db, p)``.
    progress : callable, optional

    Returns
    -------
    dict
        Comparisons, candidate pairs, links and seconds (no values).

    Raises
    ------
    LinkriskError
        When the study holds more than ``MAX_RECORDS`` records (use the
        ``probabilistic`` linker instead).

    Examples
    --------
    >>> study.attacker = lr.Attacker(linkers=["classic"])     # doctest: +SKIP
    >>> study.run().baseline.links.probabilistic["classic"]    # doctest: +SKIP
    """
    t0 = time.perf_counter()
    n = _records(engine, release)
    if n > MAX_RECORDS:
        raise LinkriskError(
            f"The classic linker (recordlinkage) works in memory and takes at most {MAX_RECORDS:,} "
            f"records; this study has {n:,}. Use the 'probabilistic' linker instead (Splink on the "
            "engine, which scales to millions of records): linkers = [..., \"probabilistic\"].")
    try:
        import recordlinkage as rl
    except ImportError:  # pragma: no cover - recordlinkage is a dependency
        raise MissingDependencyError("the classic linker needs recordlinkage: pip install recordlinkage") from None

    def say(msg: str) -> None:
        if progress:
            progress(f"classic: {msg}")

    threshold = float(study.attacker.match_threshold)
    report = {"linker": "classic", "engine": f"recordlinkage {rl.__version__}", "threshold": threshold,
              "comparisons": [], "blocking_rules": [], "links": 0, "pairs_scored": 0}
    feats = features(study, release)
    if not feats:
        report.update(note="no identifier or quasi-identifier kind is released by two datasets",
                      seconds=round(time.perf_counter() - t0, 3))
        return report
    say("pulling the released columns into memory")
    records, hubs = build_input(engine, study, feats, TABLE)
    rules, _ = candidate_rules(feats)
    counts = key_columns(engine, rules, "_b", study.attacker.max_value_frequency, TABLE)
    budget = max(MIN_PAIR_BUDGET, PAIRS_PER_RECORD * records)
    blocks, used = [], 0
    for j, ((name, _), c) in enumerate(zip(rules, counts)):
        keep = 0 < c and used + c <= budget
        used += c if keep else 0
        report["blocking_rules"].append({"rule": name, "pairs": c, "used": keep})
        if keep:
            blocks.append(f"_b{j}")
    try:
        df = engine.df(f"SELECT * FROM {TABLE} ORDER BY _rid").set_index("_rid")
    finally:
        engine.drop(TABLE)
    report.update(records=records, hubs=hubs)

    say("indexing (Block, SortedNeighbourhood)")
    indexer = rl.Index()
    for col in blocks:
        indexer.block(left_on=col)
    name = next((f for f in feats if f.family == "name" and f.text), None)
    if name is not None:
        indexer.sortedneighbourhood(left_on=name.t, window=NAME_WINDOW)
        report["blocking_rules"].append({"rule": f"sorted neighbourhood on {name.kind}, window {NAME_WINDOW}",
                                         "pairs": None, "used": True})
    pairs = indexer.index(df)
    pairs = pairs[pairs.get_level_values(0) != pairs.get_level_values(1)]
    report["pairs_scored"] = int(len(pairs))
    if len(pairs) == 0:
        report["seconds"] = round(time.perf_counter() - t0, 3)
        return report

    say(f"comparing {len(pairs):,} candidate pairs")
    compare = rl.Compare()
    for f in feats:
        if f.key:
            compare.exact(f.k, f.k, label=f"{f.kind} exact")
        if not f.text:
            continue
        if f.family == "identifier":
            compare.string(f.t, f.t, method="levenshtein", threshold=STRING_THRESHOLD, label=f"{f.kind} typo")
        elif f.family == "name":
            compare.string(f.t, f.t, method="jarowinkler", threshold=STRING_THRESHOLD, label=f.kind)
        elif f.family == "date":
            df[f.dt] = pd.to_datetime(df[f.dt], errors="coerce").astype("datetime64[ns]")
            compare.date(f.dt, f.dt, swap_month_day=1.0, label=f.kind)  # a day/month swap agrees
        elif f.family in ("address", "postcode"):
            compare.string(f.t, f.t, method="levenshtein", threshold=STRING_THRESHOLD, label=f.kind)
        else:
            compare.exact(f.t, f.t, label=f.kind)
    with warnings.catch_warnings():  # recordlinkage's date comparison trips a pandas FutureWarning
        warnings.filterwarnings("ignore", category=FutureWarning, module="recordlinkage")
        vectors = compare.compute(pairs, df).fillna(0.0)
    vectors = (vectors >= 0.5).astype(np.int8)
    varying = [c for c in vectors.columns if vectors[c].nunique() > 1]
    report["comparisons"] = varying
    if not varying:
        report["seconds"] = round(time.perf_counter() - t0, 3)
        return report

    say("classifying with ECM")
    ecm = rl.ECMClassifier(binarize=None)
    ecm.fit(vectors[varying])
    prob = np.asarray(ecm.prob(vectors[varying]), dtype=float)
    hit = prob >= threshold
    a = pairs.get_level_values(0).to_numpy(np.int64)[hit]
    b = pairs.get_level_values(1).to_numpy(np.int64)[hit]
    ds = df["_ds"].to_numpy()
    pos = df.index.get_indexer
    links = pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b), "p": np.round(prob[hit], 10)})
    links["da"] = ds[pos(links["a"])].astype(np.int32)
    links["db"] = ds[pos(links["b"])].astype(np.int32)
    engine.register_frame("_cl_links", links)
    try:
        engine.execute(f"INSERT INTO {quote(edges)} SELECT DISTINCT a, b, 'classic', ?, da, db, p "
                       "FROM _cl_links", [f"ecm p>={threshold:g}"])
    finally:
        engine.drop("_cl_links")
    report["links"] = int(len(links.drop_duplicates(["a", "b"])))
    report["prior"] = float(ecm.p)
    report["m_u"] = {c: {"m": round(float(ecm.m_probs[c].get(1, 0.0)), 6),
                         "u": round(float(ecm.u_probs[c].get(1, 0.0)), 8)} for c in varying}
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


__all__ = ["link_classic", "MAX_RECORDS"]
