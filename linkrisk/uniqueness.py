"""Re-identification risk of one dataset, and of one dataset against another.

Everything here starts from the *equivalence classes* of a table on a set of
quasi-identifiers: the groups of records that share every quasi-identifier value.
From their sizes f_1, ..., f_J (J classes, n records) follow

- k-anonymity: k = min_j f_j;
- sample uniques: the records in classes of size 1, and their share;
- prosecutor risk max_j 1/f_j = 1/k and marketer risk J / n (El Emam 2013);
- population uniqueness estimated from the sample's frequency-of-frequencies
  (Pitman, Zayatz, SNB and Dankar et al.'s choice between them, as ARX does);
- journalist risk, with another loaded dataset standing in for the population;
- the uniqueness curve: how the share of unique records grows as quasi-identifiers
  are added greedily, most identifying first.

The heavy work is one or two GROUP BYs in the engine; only the histogram of class
sizes (a few hundred numbers at most) comes back to Python.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from linkrisk.engine import Engine, quote
from linkrisk.errors import LinkriskError

__all__ = [
    "ClassStats", "class_size_counts", "equivalence_classes", "pitman", "zayatz", "snb",
    "dankar", "journalist_matches", "uniqueness_curve", "curve_figure",
]

Estimator = Literal["pitman", "zayatz", "snb", "none"]


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


def _check_columns(engine: Engine, table: str, columns: Sequence[str]) -> list[str]:
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
    columns = _check_columns(engine, table, columns)
    if not columns:
        n = engine.count(table)
        return {n: 1} if n else {}
    keys = ", ".join(quote(c) for c in columns)
    rows = engine.rows(
        f"SELECT size, count(*) AS classes "
        f"FROM (SELECT count(*) AS size FROM {quote(table)} GROUP BY {keys}) AS eq "
        f"GROUP BY size ORDER BY size")
    return {int(size): int(count) for size, count in rows}


def _stats_from_histogram(columns: Sequence[str], histogram: Mapping[int, int]) -> ClassStats:
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
    columns = _check_columns(engine, table, columns)
    return _stats_from_histogram(columns, class_size_counts(engine, table, columns))


# --------------------------------------------------------------------------------------
# Population uniqueness from a sample
# --------------------------------------------------------------------------------------
def _histogram(frequencies: Mapping[int, int], n: int, pi: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate (frequencies, n, pi); return sizes, counts and the population size N."""
    sizes = np.array([int(s) for s in frequencies], dtype=np.int64)
    counts = np.array([int(frequencies[s]) for s in frequencies], dtype=np.int64)
    keep = counts > 0
    sizes, counts = sizes[keep], counts[keep]
    problems = []
    if (sizes < 1).any():
        problems.append("class sizes must be 1 or more")
    if (counts < 0).any():
        problems.append("numbers of classes must not be negative")
    if int((sizes * counts).sum()) != int(n):
        problems.append(f"n = {n} but the frequencies hold {int((sizes * counts).sum())} records "
                        "(n must equal the sum of size x number of classes)")
    if not 0 < pi <= 1:
        problems.append(f"the sampling fraction pi must be in (0, 1], got {pi}")
    if problems:
        raise LinkriskError("Population uniqueness: " + "; ".join(problems) + ".")
    order = np.argsort(sizes)
    return sizes[order], counts[order], n / pi


def zayatz(frequencies: Mapping[int, int], n: int, pi: float) -> float:
    """Share of records that are population uniques, by Zayatz's equivalence-class model.

    Parameters
    ----------
    frequencies : mapping of int to int
        The sample's frequency of frequencies: class size j -> f_j, the number of
        classes of that size (``ClassStats.histogram``).
    n : int
        Sample size, sum_j j * f_j.
    pi : float
        Sampling fraction n / N, in (0, 1].

    Returns
    -------
    float
        Estimated population uniques divided by the population size N = n / pi (the
        figure ARX reports as the share of population-unique records). Multiply by N
        for the number of population uniques, or by n for the expected number of
        sample records that are population uniques.

    Notes
    -----
    Zayatz, L. (1991), *Estimation of the percent of unique population elements on a
    microdata file using the sample*, Statistical Research Division Report Census/SRD/
    RR-91/08, US Bureau of the Census. Bayes' rule, with the population's distribution
    of class sizes approximated by the sample's (p_j = f_j / u):

        P(F=1 | f=1) = p_1 P(f=1 | F=1) / sum_j p_j P(f=1 | F=j),

    where P(f=1 | F=j) = j C(N-j, n-1) / C(N, n) is hypergeometric (P(f=1|F=1) = n/N).
    Population uniques S_1 = f_1 P(F=1|f=1) N / n (Dankar et al. 2012, appendix A), so
    the share is f_1 P(F=1|f=1) / n. Same as ARX's ``ModelZayatz``; N is rounded to a
    whole number for the hypergeometric law.

    Examples
    --------
    >>> round(zayatz({1: 1, 2: 2}, n=5, pi=0.5), 4)     # 9/145, worked out in the tests
    0.0621
    """
    sizes, counts, population = _histogram(frequencies, n, pi)
    f1 = int(counts[sizes == 1].sum())
    if f1 == 0:
        return 0.0
    big_n = max(int(round(population)), int(n))
    p_one = stats.hypergeom.pmf(1, big_n, sizes, int(n))       # P(f=1 | F=j), j = sizes
    conditional = f1 * (n / big_n) / float((counts * p_one).sum())
    return f1 * conditional / n


# Pitman --------------------------------------------------------------------------------
def _pitman_loglik(theta: float, alpha: float, sizes: np.ndarray, counts: np.ndarray,
                   n: int) -> tuple[float, np.ndarray]:
    """Log-likelihood of the Pitman sampling formula (up to a constant) and its gradient."""
    u = int(counts.sum())
    if alpha > 0 and theta / alpha < 1e8:
        x = theta / alpha
        a_sum = (u - 1) * math.log(alpha) + special.gammaln(x + u) - special.gammaln(x + 1)
        dpsi = special.digamma(x + u) - special.digamma(x + 1)
        da_dtheta = dpsi / alpha
        da_dalpha = (u - 1) / alpha - theta / alpha ** 2 * dpsi
    else:  # alpha (nearly) 0: sum the u - 1 terms directly
        i = np.arange(1, u, dtype=float)
        terms = theta + i * alpha
        a_sum = (u - 1) * math.log(theta) + float(np.log1p(i * alpha / theta).sum())
        da_dtheta = float((1.0 / terms).sum())
        da_dalpha = float((i / terms).sum())
    b_sum = special.gammaln(theta + n) - special.gammaln(theta + 1)
    db_dtheta = special.digamma(theta + n) - special.digamma(theta + 1)
    c_sum = float((counts * (special.gammaln(sizes - alpha) - special.gammaln(1 - alpha))).sum())
    dc_dalpha = float((counts * (special.digamma(1 - alpha) - special.digamma(sizes - alpha))).sum())
    value = a_sum - b_sum + c_sum
    return value, np.array([da_dtheta - db_dtheta, da_dalpha + dc_dalpha])


def _pitman_fit(sizes: np.ndarray, counts: np.ndarray, n: int) -> tuple[float, float]:
    """Maximum-likelihood (theta, alpha) of the Pitman model, theta >= 0, 0 <= alpha < 1."""
    f1 = float(counts[sizes == 1].sum())
    f2 = float(counts[sizes == 2].sum()) or 1.0
    u = float(counts.sum())
    # Hoshino's moment start, as ARX uses it
    c = f1 * (f1 - 1) / f2
    den = 2 * f1 * u + f1 * c - n * c
    t0 = (n * u * c - f1 * (n - 1) * (2 * u + c)) / den if den else float("nan")
    a0 = (t0 * (f1 - n) + (n - 1) * f1) / (n * u)
    starts = [(1.0, 0.5), (10.0, 0.2), (0.1, 0.9)]
    if np.isfinite(t0) and np.isfinite(a0) and t0 > 0 and 0 < a0 < 1:
        starts.insert(0, (t0, a0))

    def negative(p: np.ndarray) -> tuple[float, np.ndarray]:
        theta = math.exp(p[0])
        value, grad = _pitman_loglik(theta, p[1], sizes, counts, n)
        return -value, -np.array([grad[0] * theta, grad[1]])

    best = None
    for t, a in starts:
        res = optimize.minimize(negative, x0=[math.log(t), a], jac=True, method="L-BFGS-B",
                                bounds=[(-30.0, 30.0), (0.0, 1.0 - 1e-9)],
                                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000})
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        return float("nan"), float("nan")
    return math.exp(best.x[0]), float(best.x[1])


def pitman(frequencies: Mapping[int, int], n: int, pi: float) -> float:
    """Share of records that are population uniques, by Pitman's model (Hoshino 2001).

    Parameters
    ----------
    frequencies : mapping of int to int
        The sample's frequency of frequencies: class size j -> f_j.
    n : int
        Sample size, sum_j j * f_j.
    pi : float
        Sampling fraction n / N, in (0, 1].

    Returns
    -------
    float
        Estimated population uniques divided by N = n / pi. NaN when the model cannot
        be fitted: no maximum with alpha > 0, or an estimate outside [0, N] (ARX's
        validity rule); :func:`dankar` then falls back to Zayatz, as ARX does.

    Notes
    -----
    Hoshino, N. (2001), *Applying Pitman's sampling formula to microdata disclosure
    risk assessment*, Journal of Official Statistics 17(4):499-520. The sample
    partition follows Pitman's sampling formula with theta > -alpha, 0 <= alpha < 1;
    its log-likelihood, up to a constant, for u classes is

        L = sum_{i=1}^{u-1} log(theta + i alpha) - sum_{i=1}^{n-1} log(theta + i)
            + sum_j f_j sum_{k=1}^{j-1} log(k - alpha),

    maximised here with scipy's L-BFGS-B (closed forms via log-gamma and digamma,
    Hoshino's moment estimate as the first start, as in ARX). The expected number of
    population uniques is then Gamma(theta + 1) / Gamma(theta + alpha) * N^alpha.
    ARX's ``ModelPitman`` solves the same score equations with Newton-Raphson, keeps
    theta >= 0 (so does this) and treats alpha = 0 or an estimate outside [0, N] as
    no estimate (so does this).

    Examples
    --------
    >>> round(pitman({1: 8, 2: 1, 5: 1}, n=15, pi=0.1), 3)
    0.258
    """
    sizes, counts, population = _histogram(frequencies, n, pi)
    if int(counts[sizes == 1].sum()) == 0:
        return 0.0
    theta, alpha = _pitman_fit(sizes, counts, int(n))
    if not (np.isfinite(theta) and np.isfinite(alpha)) or alpha <= 1e-9:
        return float("nan")
    uniques = math.exp(special.gammaln(theta + 1) - special.gammaln(theta + alpha)
                       + alpha * math.log(population))
    return uniques / population if 0 <= uniques <= population else float("nan")


# SNB -----------------------------------------------------------------------------------
def _shlosser_classes(sizes: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Haas & Stokes' modified Shlosser estimate (Sh3) of the non-empty population classes."""
    u = float(counts.sum())
    f1 = float(counts[sizes == 1].sum())
    if q >= 1 or f1 == 0:
        return u
    s = sizes.astype(float)
    var1 = float((s * q ** 2 * (1 - q ** 2) ** (s - 1) * counts).sum())
    # (1 - q)^j ((1 + q)^j - 1) written as (1 - q^2)^j - (1 - q)^j: no overflow for big j
    var2 = float((((1 - q ** 2) ** s - (1 - q) ** s) * counts).sum())
    var3 = float(((1 - q) ** s * counts).sum())
    var4 = float((s * q * (1 - q) ** (s - 1) * counts).sum())
    return u + f1 * (var1 / var2) * (var3 / var4) ** 2


def _snb_moments(alpha: float, beta: float, classes: float, f: float) -> tuple[float, float]:
    """Expected classes of size 1 and 2 in a Bernoulli(f) sample under the SNB model."""
    d = (1 - f) * (1 - beta)
    e1 = classes * f * (beta / (1 - d)) ** alpha * (1 + alpha * d / (1 - d))
    e2 = (classes * alpha * beta ** alpha * f ** 2 * (1 - beta) / 2
          * (1 - d) ** -(alpha + 2) * (2 - (1 - alpha) * d))
    return e1, e2


def _snb_fit(f1: float, f2: float, classes: float, f: float) -> tuple[float, float]:
    """Solve E[f_1] = f1, E[f_2] = f2 for (alpha, beta); NaN when there is no solution."""
    if f1 <= 0 or f2 <= 0 or classes <= 0:
        return float("nan"), float("nan")

    def residual(p: np.ndarray) -> np.ndarray:
        # the two moment equations of _snb_moments on the log scale, over
        # (log alpha, logit beta): finite everywhere, no overflow
        alpha = math.exp(p[0])
        log_beta, log_1_beta = special.log_expit(p[1]), special.log_expit(-p[1])
        d = (1 - f) * math.exp(log_1_beta)
        log_1_d = math.log(f + (1 - f) * math.exp(log_beta))
        log_e1 = (math.log(classes * f) + alpha * (log_beta - log_1_d)
                  + math.log1p(alpha * d / (1 - d)))
        log_e2 = (math.log(classes * alpha * f * f / 2) + alpha * log_beta + log_1_beta
                  - (alpha + 2) * log_1_d + math.log(2 - (1 - alpha) * d))
        return np.array([log_e1 - math.log(f1), log_e2 - math.log(f2)])

    for alpha0, beta0 in [(1.0, 0.5), (0.1, 0.1), (10.0, 0.9), (0.01, 0.5), (1.0, 0.01)]:
        res = optimize.least_squares(residual, [math.log(alpha0), special.logit(beta0)],
                                     bounds=([-30.0, -40.0], [30.0, 40.0]),
                                     xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000)
        if np.all(np.abs(res.fun) < 1e-9):
            return math.exp(res.x[0]), float(special.expit(res.x[1]))
    return float("nan"), float("nan")


def snb(frequencies: Mapping[int, int], n: int, pi: float,
        population_classes: float | None = None) -> float:
    """Share of records that are population uniques, by the shifted negative binomial model.

    Parameters
    ----------
    frequencies : mapping of int to int
        The sample's frequency of frequencies: class size j -> f_j.
    n : int
        Sample size, sum_j j * f_j.
    pi : float
        Sampling fraction n / N, in (0, 1].
    population_classes : float, optional
        K, the number of non-empty classes in the population, when it is known (for
        instance from a census table). By default it is estimated from the sample with
        Haas & Stokes' modified Shlosser estimator, as ARX and Dankar et al. do.

    Returns
    -------
    float
        Estimated population uniques K * beta^alpha divided by N = n / pi. NaN when
        the moment equations have no solution (for instance when f_2 = 0).

    Notes
    -----
    Chen, G. and Keller-McNulty, S. (1998), *Estimation of identification disclosure
    risk in microdata*, Journal of Official Statistics 14(1):79-95. Each of the K
    non-empty population classes has size F = 1 + Y with Y negative binomial,
    P(Y = y) = Gamma(y + alpha) / (Gamma(alpha) y!) beta^alpha (1 - beta)^y, so
    P(F = 1) = beta^alpha. A Bernoulli(pi) sample of F records has probability
    generating function G(1 - pi + pi s); differentiating it once and twice at 0,
    with d = (1 - pi)(1 - beta), gives

        E[f_1] = K pi (beta / (1 - d))^alpha (1 + alpha d / (1 - d))
        E[f_2] = K alpha beta^alpha pi^2 (1 - beta) / 2 * (1 - d)^-(alpha + 2)
                 * (2 - (1 - alpha) d),

    which are set equal to the observed f_1, f_2 and solved (scipy ``least_squares``).
    K is estimated by Shlosser's estimator as modified by Haas, P. J. and Stokes, L.
    (1998), *Estimating the number of classes in a finite population*, JASA
    93(444):1475-1487 (their D_Sh3), with q = pi:

        K = u + f_1 * [sum_j j q^2 (1 - q^2)^(j-1) f_j]
                    / [sum_j (1 - q)^j ((1 + q)^j - 1) f_j]
                    * ([sum_j (1 - q)^j f_j] / [sum_j j q (1 - q)^(j-1) f_j])^2.

    Differences from ARX's current ``ModelSNB`` (which otherwise follows the same
    steps): ARX's second moment equation multiplies by (1 - d)^(alpha + 2) where the
    derivation above (and ARX's own Jacobian, and its earlier ``NewtonSNB``) divides,
    and ARX's Shlosser denominator sums (1 - q^2)^j f_j - 1 per class size instead of
    (1 - q)^j ((1 + q)^j - 1) f_j (an operator-precedence slip; its earlier
    ``SNBModel`` had the formula above). This module follows the formulas above, so its
    SNB estimates can differ from ARX's.

    Examples
    --------
    >>> round(snb({1: 12, 2: 4, 5: 4}, n=40, pi=0.5, population_classes=27), 5)  # 13.5 / 80
    0.16875
    """
    sizes, counts, population = _histogram(frequencies, n, pi)
    f1 = float(counts[sizes == 1].sum())
    if f1 == 0:
        return 0.0
    f2 = float(counts[sizes == 2].sum())
    classes = (_shlosser_classes(sizes, counts, pi) if population_classes is None
               else float(population_classes))
    alpha, beta = _snb_fit(f1, f2, classes, pi)
    if not (np.isfinite(alpha) and np.isfinite(beta)):
        return float("nan")
    uniques = classes * beta ** alpha
    return uniques / population if 0 <= uniques <= population else float("nan")


def dankar(frequencies: Mapping[int, int], n: int, pi: float) -> tuple[float, Estimator]:
    """Share of population uniques by Dankar et al.'s choice of estimator, as ARX makes it.

    Parameters
    ----------
    frequencies : mapping of int to int
        The sample's frequency of frequencies: class size j -> f_j.
    n : int
        Sample size, sum_j j * f_j.
    pi : float
        Sampling fraction n / N, in (0, 1].

    Returns
    -------
    share : float
        Estimated population uniques divided by N = n / pi.
    estimator : {"pitman", "zayatz", "snb", "none"}
        The estimator chosen; ``"none"`` when the sample has no uniques (share 0).

    Notes
    -----
    Dankar, F. K., El Emam, K., Neisa, A. and Roffey, T. (2012), *Estimating the
    re-identification risk of clinical data sets*, BMC Medical Informatics and Decision
    Making 12:66, compared the estimators by simulation and chose between them by the
    sampling fraction and the difference between estimates. The rule here is ARX's
    implementation of it (``RiskModelPopulationUniqueness.getNumUniqueTuplesDankar``):

    - no sample uniques: 0;
    - pi <= 0.1: Pitman; if Pitman gives no valid estimate (NaN or 0), Zayatz;
    - pi > 0.1: the smaller of Zayatz and SNB; Zayatz if SNB is not valid.

    The estimators are :func:`pitman`, :func:`zayatz` and :func:`snb` of this module;
    see :func:`snb` for where its formulas differ from ARX's code.

    Examples
    --------
    >>> share, chosen = dankar({1: 1, 2: 2}, n=5, pi=0.5)
    >>> chosen
    'zayatz'
    """
    sizes, counts, _ = _histogram(frequencies, n, pi)
    if int(counts[sizes == 1].sum()) == 0:
        return 0.0, "none"

    def valid(x: float) -> bool:
        return bool(np.isfinite(x)) and x != 0

    if pi <= 0.1:
        share = pitman(frequencies, n, pi)
        if valid(share):
            return share, "pitman"
        return zayatz(frequencies, n, pi), "zayatz"
    by_zayatz = zayatz(frequencies, n, pi)
    by_snb = snb(frequencies, n, pi)
    if valid(by_snb) and not by_zayatz < by_snb:
        return by_snb, "snb"
    return by_zayatz, "zayatz"


# --------------------------------------------------------------------------------------
# Journalist risk against another dataset
# --------------------------------------------------------------------------------------
def journalist_matches(engine: Engine, table_a: str, cols_a: Sequence[str],
                       table_b: str, cols_b: Sequence[str]) -> dict[str, float | int]:
    """How many records of A match exactly one record of B on the quasi-identifiers.

    B plays the population (another breach, a register): a record of A that matches
    exactly one record of B is re-identified by that record.

    Parameters
    ----------
    engine : Engine
        The engine holding both tables.
    table_a, table_b : str
        The released table and the one standing in for the population.
    cols_a, cols_b : sequence of str
        The quasi-identifiers, paired by position (``cols_a[i]`` is compared with
        ``cols_b[i]``), as stored (linkrisk loads every column as text).

    Returns
    -------
    dict
        ``records`` (records of A with every quasi-identifier non-null; the others
        cannot be matched), ``matching_exactly_one``, ``matching_any``, their shares
        ``share_exactly_one`` and ``share_any`` of ``records``, and ``mean_risk``: the
        mean over those records of 1/F, F the number of matching records of B (0 without
        a match).

    Raises
    ------
    LinkriskError
        When a table or column is missing, or the column lists differ in length.

    Notes
    -----
    Journalist risk: the attacker does not know whether the target is in A, and
    matches A against an identified population register; a record is re-identified
    with probability 1/F_j, F_j its class size in the population (El Emam and Dankar
    2008, *Protecting privacy using k-anonymity*, JAMIA 15(5):627-637; El Emam 2013).
    Using another loaded dataset as the population measures what a real second breach
    gives. One GROUP BY of B and one join, in the engine.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> engine.register_frame("a", pd.DataFrame({"dob": ["1990", "1991"]}))
    >>> engine.register_frame("b", pd.DataFrame({"dob": ["1990", "1991", "1991"]}))
    >>> journalist_matches(engine, "a", ["dob"], "b", ["dob"])["matching_exactly_one"]
    1
    """
    cols_a = _check_columns(engine, table_a, cols_a)
    cols_b = _check_columns(engine, table_b, cols_b)
    if len(cols_a) != len(cols_b) or not cols_a:
        raise LinkriskError(f"journalist_matches pairs quasi-identifiers by position: got "
                            f"{len(cols_a)} columns of {table_a!r} and {len(cols_b)} of "
                            f"{table_b!r}; give the same, non-zero number.")
    keys = [f"k{i}" for i in range(len(cols_a))]
    a_select = ", ".join(f"{quote(c)} AS {k}" for c, k in zip(cols_a, keys))
    a_where = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols_a)
    b_select = ", ".join(f"{quote(c)} AS {k}" for c, k in zip(cols_b, keys))
    b_where = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols_b)
    b_group = ", ".join(quote(c) for c in cols_b)
    on = " AND ".join(f"a.{k} = b.{k}" for k in keys)
    records, exactly_one, any_match, risk = engine.rows(
        f"WITH a AS (SELECT {a_select} FROM {quote(table_a)} WHERE {a_where}), "
        f"b AS (SELECT {b_select}, count(*) AS m FROM {quote(table_b)} WHERE {b_where} "
        f"GROUP BY {b_group}) "
        f"SELECT count(*), count(*) FILTER (WHERE b.m = 1), count(b.m), "
        f"coalesce(sum(1.0 / b.m), 0) FROM a LEFT JOIN b ON {on}")[0]
    records, exactly_one, any_match = int(records), int(exactly_one), int(any_match)
    share = (lambda x: x / records if records else 0.0)
    return {"records": records, "matching_exactly_one": exactly_one, "matching_any": any_match,
            "share_exactly_one": share(exactly_one), "share_any": share(any_match),
            "mean_risk": share(float(risk))}


# --------------------------------------------------------------------------------------
# Uniqueness curve
# --------------------------------------------------------------------------------------
def uniqueness_curve(engine: Engine, table: str, columns: Sequence[str],
                     labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of unique records as quasi-identifiers are added, most identifying first.

    Parameters
    ----------
    engine : Engine
        The engine holding ``table``.
    table : str
        A loaded table.
    columns : sequence of str
        The candidate quasi-identifiers.
    labels : sequence of str, optional
        Display names for ``columns`` (same length, same order); default the names.

    Returns
    -------
    DataFrame
        One row per step, step 0 being no quasi-identifier at all: ``step``, ``added``
        (label of the column added, None at step 0), ``added_column`` (its name),
        ``quasi_identifiers`` (list of labels so far), ``unique_share``, ``uniques``,
        ``k`` and ``classes``.

    Raises
    ------
    LinkriskError
        When the table or a column is missing, or ``labels`` has the wrong length.

    Notes
    -----
    Greedy forward selection: at each step every remaining column is tried with the
    ones already chosen and the one giving the largest share of sample uniques is
    kept; ties go to the one giving more classes, then to the earlier column. This is
    the cumulative view of Sweeney's (2000, *Simple demographics often identify people
    uniquely*, Carnegie Mellon Data Privacy Working Paper 3) and Rocher, Hendrickx and
    de Montjoye's (2019, Nature Communications 10:3069) uniqueness-by-attributes
    curves. It costs m(m+1)/2 GROUP BYs for m columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from linkrisk.engine import make_engine
    >>> engine = make_engine("duckdb")
    >>> t = pd.DataFrame({"sex": ["F", "F", "M", "M"], "zip": ["1", "2", "3", "3"]})
    >>> engine.register_frame("t", t)
    >>> list(uniqueness_curve(engine, "t", ["sex", "zip"])["added"])
    [None, 'zip', 'sex']
    """
    columns = _check_columns(engine, table, columns)
    labels = list(labels) if labels is not None else list(columns)
    if len(labels) != len(columns):
        raise LinkriskError(f"uniqueness_curve: {len(labels)} labels for {len(columns)} "
                            "columns; give one label per column or none.")
    label_of = dict(zip(columns, labels))
    chosen: list[str] = []
    current = equivalence_classes(engine, table, [])
    rows = [{"step": 0, "added": None, "added_column": None, "quasi_identifiers": [],
             "unique_share": current.unique_share, "uniques": current.uniques,
             "k": current.k, "classes": current.classes}]
    remaining = list(columns)
    while remaining:
        best, best_stats = None, None
        for column in remaining:
            trial = equivalence_classes(engine, table, chosen + [column])
            if best_stats is None or ((trial.unique_share, trial.classes)
                                      > (best_stats.unique_share, best_stats.classes)):
                best, best_stats = column, trial
        chosen.append(best)
        remaining.remove(best)
        rows.append({"step": len(chosen), "added": label_of[best], "added_column": best,
                     "quasi_identifiers": [label_of[c] for c in chosen],
                     "unique_share": best_stats.unique_share, "uniques": best_stats.uniques,
                     "k": best_stats.k, "classes": best_stats.classes})
    return pd.DataFrame(rows)


def curve_figure(curve_or_curves: pd.DataFrame | Mapping[str, pd.DataFrame],
                 title: str | None = None):
    """Draw one or several uniqueness curves (:func:`uniqueness_curve`) on one axis.

    Parameters
    ----------
    curve_or_curves : DataFrame or mapping of str to DataFrame
        One curve, or dataset name -> curve to compare datasets.
    title : str, optional
        Figure title; a descriptive default otherwise.

    Returns
    -------
    matplotlib.figure.Figure
        x: number of quasi-identifiers (with one curve, each tick names the column
        added at that step); y: percentage of unique records, 0-100 %.

    Notes
    -----
    Built on ``matplotlib.figure.Figure`` without pyplot, so it neither needs a
    display nor touches global state; save it with ``fig.savefig(path)``.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"step": [0, 1], "added": [None, "age"],
    ...                       "unique_share": [0.0, 0.25]})
    >>> fig = curve_figure(curve)
    >>> fig.axes[0].get_ylabel()
    'unique records'
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    curves = ({"": curve_or_curves} if isinstance(curve_or_curves, pd.DataFrame)
              else dict(curve_or_curves))
    single = len(curves) == 1
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for name, curve in curves.items():
        x = curve["step"].to_numpy()
        y = 100 * curve["unique_share"].to_numpy(dtype=float)
        line, = ax.plot(x, y, marker="o", linewidth=2, markersize=6, label=name or None)
        if single:
            for xi, yi in zip(x, y):
                text = "<0.1%" if 0 < yi < 0.05 else f"{yi:.1f}%"
                ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(0, 8),
                            ha="center", fontsize=8, color=line.get_color())
    if single:
        curve = next(iter(curves.values()))
        ticks = curve["step"].to_numpy()
        names = ["none" if a is None or (isinstance(a, float) and math.isnan(a))
                 else f"+ {a}" for a in curve["added"]]
        ax.set_xticks(ticks, names, rotation=30, ha="right")
        ax.set_xlabel("quasi-identifiers, added greedily (most identifying first)")
    else:
        ax.set_xlabel("number of quasi-identifiers (added greedily, most identifying first)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(title="dataset", frameon=False)
    ax.set_ylim(0, 105)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.set_major_formatter(PercentFormatter(100))
    ax.set_ylabel("unique records")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or "How quickly records become unique")
    return fig
