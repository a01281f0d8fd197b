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
pairs come from the same hub-guarded blocking keys (``Block`` on each, within
``PAIRS_PER_RECORD``), plus a sorted neighbourhood on the names. Each kind gives one
binary agreement (equal, or similar: a typo, a day/month swap), since ECM starts from
Jaro's binary m = 0.9, u = 0.1. ECM has no "missing" level and assumes the agreements
independent given the class, so one model is fitted per pair of datasets, on the kinds
both hold; see :func:`_classify` for when no model is fitted. It is a weaker attacker
than the probabilistic one on heterogeneous leaks, which is the point of having both.

Notes
-----
Fellegi, I. P. and Sunter, A. B. (1969), "A theory for record linkage", JASA 64(328).
Winkler, W. E. (1988), "Using the EM algorithm for weight computation in the
Fellegi-Sunter model of record linkage", Proc. Section on Survey Research Methods, ASA.
de Bruin, J. (2019), Python Record Linkage Toolkit (recordlinkage), Zenodo.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.errors import LinkriskError, MissingDependencyError
from linkrisk.features import build_input, candidate_rules, features, key_columns, within_budget

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig

MAX_RECORDS = 200_000  # more than this and the in-memory toolkit is the wrong tool
PAIRS_PER_RECORD = 10  # blocked candidate pairs per record (comparisons run in Python)
NAME_WINDOW = 5  # sorted-neighbourhood window on the main name
STRING_THRESHOLD = 0.85  # similarity at which two strings agree
NAME_THRESHOLD = 0.8  # Levenshtein similarity at which two names agree (one typo in six letters)
MIN_OBSERVED = 0.1  # a comparison two datasets make for fewer of their pairs is left out
MIN_GROUP_PAIRS = 20  # fewer candidate pairs between two datasets: no model
MIN_KINDS = 3  # a two-class latent model of binary agreements needs three (identifiability)


def _records(engine: "Engine", release: "Release") -> int:
    tables = {}
    for c in release.columns:
        tables.setdefault(c.dataset, c.table)
    return sum(engine.count(t) for t in tables.values())


def link_classic(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
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
    with engine.workspace("classic") as ws:  # the input table, in memory once read
        table = ws.table("_cl_input")
        records, hubs = build_input(engine, study, feats, table)
        rules, _ = candidate_rules(feats)
        counts = key_columns(engine, rules, "_b", study.attacker.max_value_frequency, table)
        df = engine.df(f"SELECT * FROM {table} ORDER BY _rid").set_index("_rid")
    keep, report["blocking_rules"], _ = within_budget(rules, counts, PAIRS_PER_RECORD * records)
    blocks = [f"_b{j}" for j in keep]
    report.update(records=records, hubs=hubs)

    say("indexing (Block, SortedNeighbourhood)")
    pairs = _index(rl, feats, df, blocks, report)
    report["pairs_scored"] = int(len(pairs))
    if len(pairs):
        say(f"comparing {len(pairs):,} candidate pairs")
        vectors = _compare(rl, feats, pairs, df)
        say("classifying with ECM, one model per pair of datasets")
        prob = _classify(rl, vectors, pairs, df, [d.name for d in study.datasets], report)
        hit = prob >= threshold
        ds = df["_ds"]
        links = pd.DataFrame({"a": pairs.get_level_values(0)[hit], "b": pairs.get_level_values(1)[hit],
                              "p": np.round(prob[hit], 10)})
        links["da"] = ds.loc[links["a"]].to_numpy(np.int32)
        links["db"] = ds.loc[links["b"]].to_numpy(np.int32)
        with engine.workspace("classic") as ws:
            found = ws.register_frame("_cl_links", links)
            engine.execute(f"INSERT INTO {quote(edges)} SELECT a, b, 'classic', ?, da, db, p FROM {found}",
                           [f"ecm p>={threshold:g}"])
        report["links"] = int(len(links))
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


def _index(rl, feats: list, df: pd.DataFrame, blocks: list[str], report: dict) -> pd.MultiIndex:
    """Candidate pairs ``(a, b)``, ``a < b``: a Block per kept key, one sorted neighbourhood."""
    indexer = rl.Index()
    for col in blocks:
        indexer.block(left_on=col)
    # sorted neighbourhood on the names (or a name and the date of birth): neighbours in
    # that order are typically one person with a typo past the first letters
    sort = [f for f in feats if f.text and f.family in ("name", "person_name", "date")][:2]
    if sort:
        df["_sn"] = df[sort[0].t].str.cat([df[f.t] for f in sort[1:]], sep=" ", na_rep="")
        indexer.sortedneighbourhood(left_on="_sn", window=NAME_WINDOW)
        report["blocking_rules"].append({"rule": "sorted neighbourhood on " + "+".join(f.kind for f in sort)
                                         + f", window {NAME_WINDOW}", "pairs": None, "used": True})
    found = indexer.index(df)
    a, b = found.get_level_values(0).to_numpy(np.int64), found.get_level_values(1).to_numpy(np.int64)
    keep = a != b
    ab = np.unique(np.stack([np.minimum(a, b)[keep], np.maximum(a, b)[keep]], axis=1), axis=0)
    return pd.MultiIndex.from_arrays([ab[:, 0], ab[:, 1]], names=["a", "b"])


def _classify(rl, vectors: pd.DataFrame, pairs: pd.MultiIndex, df: pd.DataFrame, names: list[str],
              report: dict) -> np.ndarray:
    """Match probability of every pair: one ECM model per pair of datasets (0 if none fits).

    Per pair of datasets, a kind compared for fewer than ``MIN_OBSERVED`` of the pairs
    (one of the two lacks it) is left out; the rest of the missing values disagree, as in
    the classic formulation. A model needs ``MIN_KINDS`` kinds, and is rejected when in
    its "match" class some kind agrees less often than among non-matches (ECM then
    settled on another split of the pairs, such as same sex and date of birth).
    """
    ds = df["_ds"]
    da = ds.loc[pairs.get_level_values(0)].to_numpy()
    db = ds.loc[pairs.get_level_values(1)].to_numpy()
    prob = np.zeros(len(pairs))
    report["models"] = []
    for i, j in sorted({(min(x, y), max(x, y)) for x, y in zip(da, db)}):
        rows = (np.minimum(da, db) == i) & (np.maximum(da, db) == j)
        model = {"datasets": [names[i], names[j]], "pairs": int(rows.sum())}
        x = vectors[rows]
        usable = [c for c in x.columns if x[c].notna().mean() >= MIN_OBSERVED]
        x = x[usable].fillna(0).astype(np.int8)
        usable = [c for c in usable if x[c].nunique() > 1]
        model["comparisons"] = usable
        if rows.sum() < MIN_GROUP_PAIRS or len(usable) < MIN_KINDS:
            report["models"].append({**model, "note": f"fewer than {MIN_GROUP_PAIRS} pairs or {MIN_KINDS} "
                                                      "kinds: not classified"})
            continue
        p, ecm = _ecm(rl, x[usable])
        if p is None or any(ecm.m_probs[c].get(1, 0.0) <= ecm.u_probs[c].get(1, 0.0) for c in usable):
            report["models"].append({**model, "note": "ECM found no match class: no links"})
            continue
        prob[rows] = p
        report["models"].append({**model, "prior": round(float(ecm.p), 6),
                                 "m_u": {c: {"m": round(float(ecm.m_probs[c].get(1, 0.0)), 6),
                                             "u": round(float(ecm.u_probs[c].get(1, 0.0)), 8)} for c in usable}})
    report["comparisons"] = sorted({c for m in report["models"] for c in m["comparisons"]})
    return prob


def _compare(rl, feats: list, pairs: pd.MultiIndex, df: pd.DataFrame) -> pd.DataFrame:
    """Binary agreement per kind (equal or similar); NaN where a value is missing.

    Similar is Jaro-Winkler >= 0.85 for names, Levenshtein similarity >= 0.85 for
    plaintext identifiers, addresses, postcodes and dates (one or two typos), and a
    day/month swap for dates. A pseudonymised value is only equal or different.
    """
    compare = rl.Compare()
    for f in feats:
        if f.key:
            compare.exact(f.k, f.k, missing_value=np.nan, label=f"{f.kind}|key")
        if not f.text:
            continue
        compare.exact(f.t, f.t, missing_value=np.nan, label=f"{f.kind}|equal")
        if f.family in ("name", "person_name"):  # Jaro-Winkler rewards the shared surname of pinyin names too much
            compare.string(f.t, f.t, method="levenshtein", threshold=NAME_THRESHOLD, missing_value=np.nan,
                           label=f"{f.kind}|similar")
        elif f.family in ("identifier", "address", "postcode", "date"):
            compare.string(f.t, f.t, method="levenshtein", threshold=STRING_THRESHOLD, missing_value=np.nan,
                           label=f"{f.kind}|similar")
        if f.family == "date":
            df[f.dt] = df[f.t].where(df[f.dt].notna())  # ISO text: no timestamp range to fall out of
            compare.add(_day_swap_feature(f.dt, f.dt, label=f"{f.kind}|swap"))
    raw = compare.compute(pairs, df).reset_index(drop=True)
    out = {}
    for f in feats:  # one binary agreement per kind (ECM's Jaro start needs binary data)
        x = raw[[c for c in raw.columns if c.split("|")[0] == f.kind]]
        agree = ((x.filter(like="|key") == 1).any(axis=1) | (x.filter(like="|equal") == 1).any(axis=1)
                 | (x.filter(like="|similar") >= 1).any(axis=1) | (x.filter(like="|swap") == 0.5).any(axis=1))
        out[f.kind] = np.where(x.isna().all(axis=1), np.nan, agree.to_numpy())
    return pd.DataFrame(out)


def _day_month_swap(left: pd.Series, right: pd.Series) -> pd.Series:
    """0.5 where two ISO dates (``YYYY-MM-DD`` text) are one date with day and month
    swapped, 0 where both are dates otherwise, NaN where either is missing.

    Compared as text, not as pandas timestamps: ``datetime64[ns]`` ends at the years
    1677 and 2262, and a person's date of birth in a historical record (or a typo such
    as 1086 for 1986) is a valid date all the same.
    """
    left, right = left.astype("string"), right.astype("string")
    swap = ((left.str[:4] == right.str[:4]) & (left.str[5:7] == right.str[8:10])
            & (left.str[8:10] == right.str[5:7]) & (left != right))
    out = swap.astype("Float64") * 0.5
    return out.where(left.notna() & right.notna()).astype(float)


def _day_swap_feature(left_on: str, right_on: str, label: str):
    """A recordlinkage comparison feature computing :func:`_day_month_swap`."""
    from recordlinkage.base import BaseCompareFeature

    class DaySwap(BaseCompareFeature):
        def _compute_vectorized(self, left, right):
            return _day_month_swap(left, right)

    return DaySwap(left_on, right_on, label=label)


def _ecm(rl, x: pd.DataFrame):
    """Fit ECM; return the match probabilities (None when the fit degenerates) and the model.

    A degenerate fit makes recordlinkage call ``logging.warning``, which would configure
    the root logger of an application that configured none; a NullHandler on the root
    logger, only for the fit and only when it has no handler, keeps that from happening.
    """
    ecm = rl.ECMClassifier(binarize=None)
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard:
        root.addHandler(guard)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            ecm.fit(x)
            p = np.asarray(ecm.prob(x), dtype=float)
    finally:
        if guard:
            root.removeHandler(guard)
    if not np.isfinite(p).all():
        return None, ecm
    return p, ecm


__all__ = ["link_classic", "MAX_RECORDS"]
