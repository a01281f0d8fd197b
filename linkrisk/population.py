"""Population uniqueness estimated from a sample: Pitman, Zayatz, SNB and Dankar's rule.

Each estimator is a plain function of a sample's frequency-of-frequencies (f_1, f_2, ...:
the number of equivalence classes of size 1, 2, ...), its size n and the sampling
fraction pi, and returns the estimated share of the population that is unique, as ARX
reports it. See each function for its source and for where ARX's code differs.
"""

from __future__ import annotations

import math
from typing import Literal, Mapping

import numpy as np
from scipy import optimize, special, stats

from linkrisk.errors import LinkriskError

__all__ = ["pitman", "zayatz", "snb", "dankar", "Estimator"]

Estimator = Literal["pitman", "zayatz", "snb", "none"]

# --------------------------------------------------------------------------------------
# Population uniqueness from a sample
# --------------------------------------------------------------------------------------
def _histogram(frequencies: Mapping[int, int], n: int, pi: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate (frequencies, n, pi); return sizes, counts and the population size N."""
    problems = []
    if any(int(s) != s or s < 1 for s in frequencies):
        problems.append("class sizes must be whole numbers of 1 or more")
    if any(int(c) != c or c < 0 for c in frequencies.values()):
        problems.append("numbers of classes must be whole numbers, not negative")
    if problems:
        raise LinkriskError("Population uniqueness: " + "; ".join(problems) + ".")
    sizes = np.array([int(s) for s in frequencies], dtype=np.int64)
    counts = np.array([int(frequencies[s]) for s in frequencies], dtype=np.int64)
    keep = counts > 0
    sizes, counts = sizes[keep], counts[keep]
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
        # TNC rather than L-BFGS-B: same answers here, and it does not call BLAS, whose
        # threads made L-BFGS-B 50x slower on a busy two-core machine
        res = optimize.minimize(negative, x0=[math.log(t), a], jac=True, method="TNC",
                                bounds=[(-30.0, 30.0), (0.0, 1.0 - 1e-9)],
                                options={"ftol": 1e-15, "xtol": 1e-12, "gtol": 1e-10,
                                         "maxfun": 2000})
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

    maximised here with scipy's truncated Newton method (TNC), in closed form via
    log-gamma and digamma, from several starts, the first being Hoshino's moment
    estimate as in ARX. The expected number of population uniques is then Hoshino's
    Gamma(theta + 1) / Gamma(theta + alpha) * N^alpha (asymptotic in N, as in ARX).
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
    K is estimated by Shlosser's estimator (Shlosser, A. 1981, *On estimation of the
    size of the dictionary of a long text on the basis of a sample*, Engineering
    Cybernetics 19:97-102) in the modified form (D_Sh3) of Haas, P. J. and Stokes, L.
    (1998), *Estimating the number of classes in a finite population*, JASA
    93(444):1475-1487, which ARX cites, with q = pi:

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


