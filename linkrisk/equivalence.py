"""Equivalence classes of a table on a set of quasi-identifiers, and what their sizes say.

The groups of records that share every quasi-identifier value, counted in the engine
(one GROUP BY; only the histogram of class sizes comes back): k-anonymity, sample
uniques, prosecutor and marketer risk (El Emam 2013), and population uniqueness by
Dankar et al.'s rule. :mod:`linkrisk.uniqueness` builds journalist risk and the
uniqueness curve on them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any, Mapping, Sequence


from linkrisk.engine import Engine, quote
from linkrisk.errors import LinkriskError

# --------------------------------------------------------------------------------------
# Equivalence classes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassStats:
    """Equivalence classes of a table on a set of quasi-identifiers.

    Attributes
    ----------
    quasi_identifiers : tuple of str
        The columns the classes were formed on.
    records : int
        n, the number of records.
    classes : int
        J, the number of equivalence classes.
    k : int
        Size of the smallest class: the table is k-anonymous (0 for an empty table).
    uniques : int
        Records alone in their class (classes of size 1), the *sample uniques*.
    unique_share : float
        ``uniques / records``.
    prosecutor_risk : float
        max_j 1/f_j = 1/k: the risk of the most exposed record when the attacker
        knows the target is in the table.
    marketer_risk : float
        J / n: the expected share of records an attacker re-identifies when
        matching every record (the mean of 1/f over records).
    histogram : dict of int to int
        Class size -> number of classes of that size (frequency of frequencies),
        ordered by size.
    """

    quasi_identifiers: tuple[str, ...]
    records: int
    classes: int
    k: int
    uniques: int
    unique_share: float
    prosecutor_risk: float
    marketer_risk: float
    histogram: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict (histogram keys become strings)."""
        out = asdict(self)
        out["quasi_identifiers"] = list(self.quasi_identifiers)
        out["histogram"] = {str(size): count for size, count in self.histogram.items()}
        return out


def check_columns(engine: Engine, table: str, columns: Sequence[str]) -> list[str]:
    columns = list(columns)
    try:
        present = engine.columns(table)
    except Exception:  # the engine's own "no such table" error
        raise LinkriskError(f"Table {table!r} does not exist in the engine; load it first "
                            "(engine.load_csv, engine.load_frame or engine.register_frame).") from None
    missing = [c for c in columns if c not in present]
    doubled = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"not columns of {table!r}: {', '.join(map(repr, missing))} "
                        f"(it has {', '.join(map(repr, present))})")
    if doubled:
        problems.append(f"named more than once: {', '.join(map(repr, doubled))}")
    if problems:
        raise LinkriskError("Quasi-identifiers " + "; ".join(problems) + ".")
    return columns


def class_size_counts(engine: Engine, table: str, columns: Sequence[str]) -> dict[int, int]:
    """Frequency of frequencies: class size -> number of equivalence classes of that size.

    Parameters
    ----------
    engine : Engine
        The engine holding ``table``.
    table : str
        A loaded table.
    columns : sequence of str
        The quasi-identifiers. An empty sequence puts every record in one class.

    Returns
    -------
    dict of int to int
        Ordered by class size. Empty for an empty table.

    Raises
    ------
    LinkriskError
        When the table does not exist or a column is not one of its columns.

    Notes
    -----
    One GROUP BY on the quasi-identifiers gives the class sizes, a second GROUP BY
    counts the sizes; only the second, small result leaves the engine. SQL's GROUP BY
    puts all NULLs of a column in one group, so a missing value is a value of its own,
    as in ``pandas.DataFrame.groupby(dropna=False)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> engine.register_frame("t", pd.DataFrame({"sex": ["F", "F", "M"]}))
    >>> class_size_counts(engine, "t", ["sex"])
    {1: 1, 2: 1}
    """
    columns = check_columns(engine, table, columns)
    if not columns:
        n = engine.count(table)
        return {n: 1} if n else {}
    return class_size_counts_many(engine, table, [columns])[0]


def class_size_counts_many(engine: Engine, table: str,
                           column_sets: Sequence[Sequence[str]]) -> list[dict[int, int]]:
    """:func:`class_size_counts` for several sets of quasi-identifiers of one table, in
    one statement.

    Each set is one GROUP BY, as alone; the histograms come back together, so an engine
    that pays a fixed cost per query (a Spark job is scheduled for each) pays it once.
    The uniqueness curve tries every remaining column at each step this way.

    Returns
    -------
    list of dict of int to int
        One histogram per set, in the order given (ordered by class size).

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> engine.register_frame("t", pd.DataFrame({"sex": ["F", "F", "M"], "zip": ["1", "2", "2"]}))
    >>> class_size_counts_many(engine, "t", [["sex"], ["zip"], ["sex", "zip"]])
    [{1: 1, 2: 1}, {1: 1, 2: 1}, {1: 3}]
    """
    sets = [check_columns(engine, table, cols) for cols in column_sets]
    out: list[dict[int, int]] = [{} for _ in sets]
    grouped = [(i, cols) for i, cols in enumerate(sets) if cols]
    for i, cols in enumerate(sets):
        if not cols:
            n = engine.count(table)
            out[i] = {n: 1} if n else {}
    if not grouped:
        return out
    union = " UNION ALL ".join(
        f"SELECT {i} AS q, count(*) AS size FROM {quote(table)} GROUP BY {', '.join(quote(c) for c in cols)}"
        for i, cols in grouped)
    rows = engine.rows(f"SELECT q, size, count(*) AS classes FROM ({union}) AS eq GROUP BY q, size ORDER BY q, size")
    for q, size, count in rows:
        out[int(q)][int(size)] = int(count)
    return out


def stats_from_histogram(columns: Sequence[str], histogram: Mapping[int, int]) -> ClassStats:
    records = sum(size * count for size, count in histogram.items())
    classes = sum(histogram.values())
    if records == 0:
        return ClassStats(tuple(columns), 0, 0, 0, 0, 0.0, 0.0, 0.0, {})
    k = min(histogram)
    uniques = histogram.get(1, 0)
    return ClassStats(
        quasi_identifiers=tuple(columns), records=records, classes=classes, k=k,
        uniques=uniques, unique_share=uniques / records, prosecutor_risk=1.0 / k,
        marketer_risk=classes / records, histogram=dict(sorted(histogram.items())))


def equivalence_classes(engine: Engine, table: str, columns: Sequence[str]) -> ClassStats:
    """k-anonymity, sample uniques, prosecutor and marketer risk of a table.

    Parameters
    ----------
    engine : Engine
        The engine holding ``table``.
    table : str
        A loaded table.
    columns : sequence of str
        The quasi-identifiers. A NULL is a value of its own: records missing the same
        quasi-identifier share a class (like ``pandas.DataFrame.groupby(dropna=False)``;
        pycanon and a default pandas groupby drop such records instead).

    Returns
    -------
    ClassStats
        Records, classes, k, uniques and their share, prosecutor risk (1/k), marketer
        risk (classes / records) and the histogram of class sizes. An empty table gives
        zeros throughout.

    Raises
    ------
    LinkriskError
        When the table does not exist or a column is not one of its columns.

    Notes
    -----
    Prosecutor risk max_j 1/f_j and marketer risk J/n are the measures of El Emam,
    *Guide to the De-Identification of Personal Health Information* (CRC Press, 2013),
    chapter on measuring risk, and of ARX's ``RiskModelSampleRisks`` and
    ``RiskModelSampleUniqueness``; k-anonymity is Sweeney's (2002, Int. J. Uncertainty,
    Fuzziness and Knowledge-Based Systems 10(5):557-570). The work is two GROUP BYs
    (see :func:`class_size_counts`); a million records on four columns take well under
    two seconds on DuckDB (``benchmarks/uniqueness.py``).

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> people = pd.DataFrame({"age": ["30", "30", "41", "52"], "sex": ["F", "F", "M", "M"]})
    >>> engine.register_frame("people", people)
    >>> stats = equivalence_classes(engine, "people", ["age", "sex"])
    >>> stats.k, stats.uniques, stats.marketer_risk
    (1, 2, 0.75)
    """
    columns = check_columns(engine, table, columns)
    return stats_from_histogram(columns, class_size_counts(engine, table, columns))


# --------------------------------------------------------------------------------------
# Estimates from a sample, for tables too large to count in full
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampledStats:
    """Equivalence-class figures of a table estimated from a uniform random sample of
    its records, each with a confidence interval.

    Each sampled record's class size is counted exactly, against the *whole* table (not
    against the sample), so the shares below are unbiased; only which records are
    looked at is random.

    Attributes
    ----------
    quasi_identifiers : tuple of str
    records : int
        n, every record of the table (a count, not an estimate).
    sample_size : int
        m, the records sampled (without replacement).
    seed : int
        The seed that chose them (the same seed, the same sample).
    confidence : float
        Level of every interval, such as 0.95.
    unique_share, unique_share_ci : float, (float, float)
        Share of records alone in their class; Wilson score interval.
    marketer_risk, marketer_risk_ci : float, (float, float)
        J / n, the mean of 1/f over records; normal interval, clipped to [0, 1].
    smallest_sampled_class : int
        The smallest class size among the sampled records. The table's k is at most
        this (exactly 1 when it is 1): a sample can miss the smallest class, never
        invent a smaller one.
    """

    quasi_identifiers: tuple[str, ...]
    records: int
    sample_size: int
    seed: int
    confidence: float
    unique_share: float
    unique_share_ci: tuple[float, float]
    marketer_risk: float
    marketer_risk_ci: tuple[float, float]
    smallest_sampled_class: int

    @property
    def k_is_exact(self) -> bool:
        """True when a sampled record is unique: then k is 1 for certain."""
        return self.smallest_sampled_class == 1

    def to_dict(self) -> dict[str, Any]:
        """The keys of :meth:`ClassStats.to_dict`, estimated and scaled to the whole
        table, plus ``sampled`` (True) and ``sample``: how, and the intervals.

        ``k`` is the smallest sampled class size (an upper bound of the true k, exact
        when 1) and ``prosecutor_risk`` is 1/k (a lower bound, exact when 1): the side
        that errs toward the attacker is stated in ``sample["k"]``.
        """
        n = self.records
        lo, hi = self.unique_share_ci
        mlo, mhi = self.marketer_risk_ci
        k = self.smallest_sampled_class
        return {
            "quasi_identifiers": list(self.quasi_identifiers), "records": n,
            "classes": round(self.marketer_risk * n), "k": k,
            "uniques": round(self.unique_share * n), "unique_share": self.unique_share,
            "prosecutor_risk": 1.0 / k if k else 0.0, "marketer_risk": self.marketer_risk,
            "histogram": {}, "sampled": True,
            "sample": {
                "method": "uniform random sample of records without replacement, each sampled record's "
                          "class size counted against every record",
                "sample_size": self.sample_size, "records": n, "seed": self.seed, "confidence": self.confidence,
                "unique_share_ci": [lo, hi], "uniques_ci": [math.floor(lo * n), math.ceil(hi * n)],
                "marketer_risk_ci": [mlo, mhi], "classes_ci": [math.floor(mlo * n), math.ceil(mhi * n)],
                "k": "exact: a sampled record is unique" if self.k_is_exact else
                     f"at most {k} (the smallest class among sampled records; the table may hold smaller "
                     f"ones, so prosecutor risk is at least {1.0 / k:.3f})" if k else "no record sampled",
            },
        }


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n (Wilson 1927, JASA 22(158):209-212).

    Examples
    --------
    >>> [round(x, 4) for x in wilson_interval(50, 100)]
    [0.4038, 0.5962]
    """
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    # exactly 0 (1) when none (all) are counted, not a rounding error away from it
    return (0.0 if k == 0 else max(0.0, c - h)), (1.0 if k == n else min(1.0, c + h))


def sampled_class_stats(engine: Engine, table: str, column_sets: Sequence[Sequence[str]], row_id: str,
                        sample_size: int, seed: int = 0, confidence: float = 0.95) -> list[SampledStats]:
    """Equivalence-class figures of a large table, estimated from a sample of its records.

    Parameters
    ----------
    engine : Engine
        The engine holding ``table``.
    table : str
        A loaded table.
    column_sets : sequence of sequences of str
        Sets of quasi-identifiers, each estimated as alone (one statement for all).
    row_id : str
        A column naming each record uniquely: the sample is the ``sample_size`` records
        whose seeded 64-bit hash of it is smallest (the same seed, the same sample, on
        every engine run).
    sample_size : int
        Records to sample (all of them when the table is smaller).
    seed : int
        The study seed.
    confidence : float
        Level of the intervals.

    Returns
    -------
    list of SampledStats
        One per set, in the order given.

    Notes
    -----
    For each sampled record r the class size f_r is counted against every record of
    the table (a join of the table to the sample's distinct combinations, then a
    GROUP BY of the matching records only), so that 1[f_r = 1] and 1/f_r are unbiased
    per-record draws of the sample-unique share and of marketer risk J/n (El Emam 2013:
    J/n is the mean of 1/f over records). The unique share gets a Wilson score
    interval; marketer risk a normal (central limit) interval on the mean of 1/f_r.
    Without the finite-population correction the intervals are slightly wide. The
    smallest class (k) cannot be estimated from a sample; it is bounded (see
    :class:`SampledStats`). As elsewhere, a missing value is a value of its own.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> engine.register_frame("t", pd.DataFrame({"id": range(6), "sex": list("FFFMMM"),
    ...                                          "zip": ["1", "1", "2", "3", "3", "3"]}))
    >>> s = sampled_class_stats(engine, "t", [["sex", "zip"]], "id", sample_size=6)[0]
    >>> round(s.unique_share, 4), s.marketer_risk  # one of 6 records unique; 3 classes / 6
    (0.1667, 0.5)
    """
    sets = [check_columns(engine, table, cols) for cols in column_sets]
    with engine.workspace("sampled_classes") as ws:
        sample, n, m = draw_sample(engine, table, row_id, sample_size, seed, ws)
        return sampled_stats_of(engine, table, sample, n, sets, seed, confidence)


def draw_sample(engine: Engine, table: str, row_id: str, sample_size: int, seed: int, ws) -> tuple[str, int, int]:
    """The workspace's table ``_class_sample``: the ``sample_size`` records of ``table``
    whose seeded 64-bit hash of ``row_id`` is smallest (a uniform sample without
    replacement, the same for the same seed). Returns (table, records, sampled)."""
    key = quote(row_id)
    sample = ws.create("_class_sample", f"SELECT * FROM {quote(table)} ORDER BY "
                                        f"{engine.dialect.hash64(str(int(seed)), key)}, {key} LIMIT {int(sample_size)}")
    n = int(engine.scalar(f"SELECT count(*) FROM {quote(table)}"))
    return sample, n, int(engine.scalar(f"SELECT count(*) FROM {quote(sample)}"))


def sampled_stats_of(engine: Engine, table: str, sample: str, n: int, sets: Sequence[Sequence[str]],
                     seed: int, confidence: float) -> list[SampledStats]:
    """:func:`sampled_class_stats` on a sample already drawn (:func:`draw_sample`)."""
    t, smp = quote(table), quote(sample)
    parts = []
    for i, cols in enumerate(sets):
        if not cols:  # one class of every record
            parts.append(f"SELECT {i} AS q, count(*) AS m, count(*) FILTER (WHERE {n} = 1) AS u, "
                         f"sum(1.0 / {max(n, 1)}) AS s1, sum(1.0 / {max(n, 1) ** 2}) AS s2, "
                         f"CASE WHEN count(*) > 0 THEN {n} END AS fmin FROM {smp}")
            continue
        c = ", ".join(quote(x) for x in cols)
        tc = ", ".join(f"t.{quote(x)}" for x in cols)

        def on(a: str, b: str) -> str:
            return " AND ".join(f"{a}.{quote(x)} IS NOT DISTINCT FROM {b}.{quote(x)}" for x in cols)
        parts.append(
            f"SELECT {i} AS q, count(*) AS m, count(*) FILTER (WHERE f.f = 1) AS u, sum(1.0 / f.f) AS s1, "
            f"sum(1.0 / (f.f * f.f)) AS s2, min(f.f) AS fmin FROM {smp} s JOIN "
            f"(SELECT {tc}, count(*) AS f FROM {t} t JOIN (SELECT DISTINCT {c} FROM {smp}) k ON {on('t', 'k')} "
            f"GROUP BY {tc}) f ON {on('s', 'f')}")
    rows = {int(r[0]): r[1:] for r in engine.rows(" UNION ALL ".join(parts))} if parts else {}
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    m_all = int(engine.scalar(f"SELECT count(*) FROM {smp}"))
    out = []
    for i, cols in enumerate(sets):
        mm, u, s1, s2, fmin = rows.get(i, (0, 0, 0, 0, None))
        mm, u, s1, s2 = int(mm), int(u), float(s1 or 0), float(s2 or 0)
        share = u / mm if mm else 0.0
        mean = s1 / mm if mm else 0.0
        sd = math.sqrt(max(s2 / mm - mean * mean, 0.0) * mm / (mm - 1)) if mm > 1 else 0.0
        half = z * sd / math.sqrt(mm) if mm else 1.0
        out.append(SampledStats(tuple(cols), n, m_all, int(seed), confidence, share,
                                wilson_interval(u, mm, confidence), mean,
                                (max(0.0, mean - half), min(1.0, mean + half)), int(fmin or 0)))
    return out


__all__ = ["ClassStats", "SampledStats", "check_columns", "class_size_counts", "class_size_counts_many",
           "draw_sample", "equivalence_classes", "sampled_class_stats", "sampled_stats_of", "stats_from_histogram",
           "wilson_interval"]
