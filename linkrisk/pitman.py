"""Pitman's estimator of population uniqueness: the Pitman sampling formula fitted to a sample.

See :func:`fit_pitman` for the model, its source and where ARX's code differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy import optimize, special

from linkrisk.population_sample import class_histogram

# Pitman --------------------------------------------------------------------------------
def _log_rising(x, k):
    """log Gamma(x + k) - log Gamma(x), accurate also when x is huge (Stirling's series)."""
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    big = np.maximum(x, 1e6)
    stirling = (big - 0.5) * np.log1p(k / big) + k * np.log(big + k) - k - k / (12 * big * (big + k))
    small = np.minimum(x, 1e6)
    return np.where(x >= 1e6, stirling, special.gammaln(small + k) - special.gammaln(small))


def _digamma_step(x, k):
    """digamma(x + k) - digamma(x), accurate also when x is huge (asymptotic series)."""
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    big = np.maximum(x, 1e6)
    series = np.log1p(k / big) + k / (2 * big * (big + k)) + (1 / big ** 2 - 1 / (big + k) ** 2) / 12
    small = np.minimum(x, 1e6)
    return np.where(x >= 1e6, series, special.digamma(small + k) - special.digamma(small))


def _pitman_loglik(theta: float, alpha: float, sizes: np.ndarray, counts: np.ndarray,
                   n: int) -> tuple[float, np.ndarray]:
    """Log-likelihood of the Pitman sampling formula (up to a constant) and its gradient.

    Valid wherever theta + i alpha > 0 for i = 1 .. u - 1 (u classes), which covers
    0 <= alpha < 1, theta > -alpha and alpha < 0, theta > (u - 1)|alpha|.
    """
    u = int(counts.sum())
    k = u - 1
    # a = sum_{i=1}^{u-1} log(theta + i alpha); s1, s2 its derivatives in theta, alpha, in
    # closed form (no sum over the u classes, which can be millions)
    if k == 0:
        a_sum, s1, s2 = 0.0, 0.0, 0.0
    elif alpha == 0:
        a_sum, s1, s2 = k * math.log(theta), k / theta, k * (k + 1) / (2 * theta)
    else:
        if alpha > 0:    # prod (theta + i alpha) = alpha^k Gamma(x + u) / Gamma(x + 1), x = theta/alpha
            x = theta / alpha
            a_sum = k * math.log(alpha) + float(_log_rising(x + 1, k))
            s1 = float(_digamma_step(x + 1, k)) / alpha
        else:            # = kappa^k Gamma(m) / Gamma(m - k), kappa = -alpha, m = theta/kappa
            kappa = -alpha
            m = theta / kappa
            a_sum = k * math.log(kappa) + float(_log_rising(m - k, k))
            s1 = float(_digamma_step(m - k, k)) / kappa
        x = theta / alpha
        if abs(x) > 1e6 * k:
            # s2 = (1/alpha) sum i / (x + i): the series in i/x, power sums in closed form
            p1, p2 = k * (k + 1) / 2, k * (k + 1) * (2 * k + 1) / 6
            p4 = p2 * (3 * k * k + 3 * k - 1) / 5
            s2 = (p1 - p2 / x + p1 * p1 / x ** 2 - p4 / x ** 3) / x / alpha
        else:
            s2 = (k - theta * s1) / alpha                  # sum i / (theta + i alpha)
    b_sum = float(_log_rising(theta + 1, n - 1))                   # sum_{i<n} log(theta + i)
    db_dtheta = float(_digamma_step(theta + 1, n - 1))
    c_sum = float((counts * _log_rising(1 - alpha, sizes - 1)).sum())  # log (1 - alpha)_{j-1}
    dc_dalpha = -float((counts * _digamma_step(1 - alpha, sizes - 1)).sum())
    value = a_sum - b_sum + c_sum
    return float(value), np.array([s1 - db_dtheta, s2 + dc_dalpha])


# The search box, in coordinates (s, t) that map onto the admissible parameters:
#   alpha = 1 - e^s, so s < 0 is 0 < alpha < 1 and s > 0 is alpha < 0;
#   theta = theta_min(alpha) + e^t, theta_min = -alpha (alpha >= 0), (u - 1)|alpha| (alpha < 0).
# theta_min has a kink at alpha = 0, so each sign of alpha is searched on its own box.
_S_NEAR_ONE = math.log(1e-12)        # alpha = 1 - 1e-12
_S_FAR_NEGATIVE = math.log(1 + 1e6)  # alpha = -1e6: classes of (nearly) equal size
_T_LOW, _T_HIGH = -40.0, 40.0        # theta - theta_min from 4e-18 to 2e17


def _pitman_from_box(s: float, t: float, u: int) -> tuple[float, float]:
    alpha = -math.expm1(s)
    theta = (-alpha if alpha >= 0 else (u - 1) * -alpha) + math.exp(t)
    return theta, alpha


def _pitman_to_box(theta: float, alpha: float, u: int) -> tuple[float, float] | None:
    floor = -alpha if alpha >= 0 else (u - 1) * -alpha
    if not (alpha < 1 and theta > floor):
        return None
    return math.log1p(-alpha), math.log(theta - floor)


def _ewens_theta(n: int, u: int) -> float:
    """Ewens' maximum-likelihood theta (alpha = 0): sum_{i<n} theta / (theta + i) = u - 1."""
    def score(log_theta: float) -> float:
        theta = math.exp(log_theta)
        return theta * (special.digamma(theta + n) - special.digamma(theta + 1)) - (u - 1)
    # e^30 = 1e13 keeps digamma's difference accurate; the root is about n^2 / (2 (n - u))
    # at most, beyond e^30 only for millions of records nearly all singletons: a start
    # there is good enough
    if score(30.0) <= 0:
        return float(n) ** 2
    return math.exp(optimize.brentq(score, -30.0, 30.0, xtol=1e-12))


def _pitman_fit(sizes: np.ndarray, counts: np.ndarray, n: int) -> tuple[float, float, str | None]:
    """Maximum-likelihood (theta, alpha) of the Pitman model over alpha < 1, theta > -alpha.

    Returns (theta, alpha, None) at an interior maximum, else (NaN, NaN, reason).
    """
    u = int(counts.sum())
    f1 = float(counts[sizes == 1].sum())
    if u == n:
        return (float("nan"), float("nan"),
                "every sample class is a singleton, so the Pitman likelihood rises towards "
                "theta -> infinity and has no finite maximum")
    # starts: Ewens' fit (alpha = 0), Hoshino's moment estimate (as ARX uses it), and a
    # spread of fixed points on both sides of alpha = 0
    ewens = _ewens_theta(n, u)
    f2 = float(counts[sizes == 2].sum()) or 1.0
    c = f1 * (f1 - 1) / f2
    den = 2 * f1 * u + f1 * c - n * c
    t0 = (n * u * c - f1 * (n - 1) * (2 * u + c)) / den if den else float("nan")
    a0 = (t0 * (f1 - n) + (n - 1) * f1) / (n * u) if np.isfinite(t0) else float("nan")
    candidates = [(ewens, 0.0), (ewens * 1.5 + 1.0, 0.3), (1.0, 0.5), (0.1, 0.9),
                  (2.0 * u, -1.0), (1.5 * u * 10.0, -10.0), (1.2 * u * 0.01, -0.01)]
    if np.isfinite(t0) and np.isfinite(a0):
        candidates.insert(0, (t0, a0))

    def negative(p: np.ndarray) -> tuple[float, np.ndarray]:
        s, t = float(p[0]), float(p[1])
        theta, alpha = _pitman_from_box(s, t, u)
        with np.errstate(all="ignore"):
            value, (d_theta, d_alpha) = _pitman_loglik(theta, alpha, sizes, counts, n)
            d_floor_dalpha = -1.0 if s <= 0 else -(u - 1.0)
            grad = np.array([(d_alpha + d_theta * d_floor_dalpha) * -math.exp(s),
                             d_theta * math.exp(t)])
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return math.inf, np.zeros(2)   # only where theta + i alpha underflows to 0
        return -value, -grad

    best = None
    for theta0, alpha0 in candidates:
        start = _pitman_to_box(theta0, alpha0, u)
        if start is None:
            continue
        s0 = min(max(start[0], _S_NEAR_ONE), _S_FAR_NEGATIVE)
        t0_ = min(max(start[1], _T_LOW), _T_HIGH)
        box = [(_S_NEAR_ONE, 0.0) if s0 <= 0 else (0.0, _S_FAR_NEGATIVE), (_T_LOW, _T_HIGH)]
        # TNC rather than L-BFGS-B: it does not call BLAS, whose threads made L-BFGS-B 50x
        # slower on a busy two-core machine
        res = optimize.minimize(negative, x0=[s0, t0_], jac=True, method="TNC", bounds=box,
                                options={"ftol": 1e-15, "xtol": 1e-12, "gtol": 1e-10,
                                         "maxfun": 2000})
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        return float("nan"), float("nan"), "the Pitman likelihood could not be evaluated"
    s, t = (float(v) for v in best.x)
    best_value = -float(best.fun)
    # As alpha -> -infinity with m = theta / |alpha| fixed, the model tends to m equally
    # likely classes and L to log[(m - 1) ... (m - u + 1)] - (n - 1) log m. That limit is
    # the only way L can approach a supremum it never reaches when some class has two or
    # more records (towards alpha -> 1, theta -> infinity or theta -> theta_min, L falls
    # to -infinity), so a fit must beat the limit's best.
    limit = -optimize.minimize_scalar(
        lambda x: -(special.gammaln(u - 1 + math.exp(x)) - special.gammaln(math.exp(x))
                    - (n - 1) * math.log(u - 1 + math.exp(x))),
        bounds=(-30.0, 30.0), method="bounded", options={"xatol": 1e-10}).fun
    edge = 1e-6
    if s >= _S_FAR_NEGATIVE - edge or not best_value > limit + 1e-9 * max(1.0, abs(limit)):
        reason = ("the Pitman likelihood rises towards alpha -> -infinity (classes of nearly "
                  "equal size) and has no finite maximum")
    elif s <= _S_NEAR_ONE + edge:
        reason = "the Pitman likelihood rises towards alpha -> 1 and has no finite maximum"
    elif t >= _T_HIGH - edge:
        reason = "the Pitman likelihood rises towards theta -> infinity and has no finite maximum"
    elif t <= _T_LOW + edge:
        reason = "the Pitman likelihood rises towards theta -> -alpha and has no finite maximum"
    else:
        # the score equations vanish at an interior maximum (ARX checks the same)
        _, grad = negative(best.x)
        if np.all(np.abs(grad) <= 1e-5 * (1.0 + abs(best_value))):
            theta, alpha = _pitman_from_box(s, t, u)
            return theta, alpha, None
        reason = "the Pitman likelihood's maximum was not found (the score equations do not vanish)"
    return float("nan"), float("nan"), reason


@dataclass(frozen=True)
class PitmanFit:
    """Pitman's model fitted to a sample, and the population uniques it implies.

    Attributes
    ----------
    theta, alpha : float
        The maximum-likelihood parameters (NaN when there is no finite maximum).
    share : float
        Estimated population uniques divided by N (NaN when there is no estimate).
    reason : str or None
        Why there is no estimate; None when ``share`` is one.
    """

    theta: float
    alpha: float
    share: float
    reason: str | None = None


def fit_pitman(frequencies: Mapping[int, int], n: int, pi: float) -> PitmanFit:
    """Fit Pitman's model to a sample and estimate population uniques (Hoshino 2001).

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
    PitmanFit
        ``theta``, ``alpha``, ``share`` (population uniques over N = n / pi) and, when
        there is no estimate, the ``reason``. With no sample uniques the share is 0 and
        nothing is fitted (theta and alpha NaN).

    Raises
    ------
    LinkriskError
        When the frequencies, n and pi do not fit together.

    Notes
    -----
    Hoshino, N. (2001), *Applying Pitman's sampling formula to microdata disclosure
    risk assessment*, Journal of Official Statistics 17(4):499-520; Pitman, J. (1995),
    *Exchangeable and partially exchangeable random partitions*, Probability Theory and
    Related Fields 102:145-158. The sample partition into u classes follows Pitman's
    sampling formula, whose log-likelihood up to a constant is

        L = sum_{i=1}^{u-1} log(theta + i alpha) - sum_{i=1}^{n-1} log(theta + i)
            + sum_j f_j sum_{k=1}^{j-1} log(k - alpha).

    The admissible parameters are alpha < 1 and theta > -alpha: 0 <= alpha < 1 with
    theta > -alpha (infinitely many population classes; alpha = 0 is Ewens' formula),
    or alpha < 0 with theta = m |alpha| (m classes, each with a symmetric
    Dirichlet(|alpha|) share). The likelihood of u observed classes needs m > u - 1;
    m is treated as a real number, as maximum likelihood does.

    L is maximised with scipy's bounded truncated Newton method (TNC) in coordinates
    that map a box onto the admissible set, alpha = 1 - e^s and theta = theta_min(alpha)
    + e^t (theta_min = -alpha for alpha >= 0, (u - 1)|alpha| for alpha < 0), one box for
    each sign of alpha, from several starts (Ewens' estimate, Hoshino's moment estimate
    as in ARX, and fixed points on both sides of alpha = 0). Confined to the box, the
    solver cannot wander off to false roots. The fit counts only when it is interior
    (not on the box's edge), the score equations vanish there, and it beats the
    likelihood's limit as alpha -> -infinity with m fixed (m equally likely classes:
    L -> log[(m - 1) ... (m - u + 1)] - (n - 1) log m, maximised over m). Otherwise L
    has no finite maximum and the share is NaN with the reason: when every sample class
    is a singleton (L then rises towards theta -> infinity), or when the classes are of
    such similar sizes that L keeps rising towards alpha -> -infinity.

    Population uniques are the expected number of singletons in a population of N under
    the fitted model, N (theta + alpha)_{N-1} / (theta + 1)_{N-1} ((x)_k the rising
    factorial; Pitman 1995), of which Hoshino's Gamma(theta + 1) / Gamma(theta + alpha)
    N^alpha is the large-N form. Both hold for alpha < 0 too, the large-N form only when
    N is large against theta: it is never below the exact value, and for alpha < 0 fits
    theta = m |alpha| is often as large as N, where the large-N form overshoots, even
    beyond N. So the exact form is used. An estimate outside [0, N] is no estimate
    (ARX's validity rule).

    Differences from ARX's ``ModelPitman``: ARX solves the score equations with
    Newton-Raphson from Hoshino's moment estimate, keeps theta >= 0, treats alpha = 0 as
    no estimate and uses the large-N form; its Newton step can leave the admissible set
    or run to false roots near alpha = 0. Here theta may be in (-alpha, 0), alpha = 0
    (Ewens) is an estimate, no root outside the admissible set can be returned, and the
    exact form gives shares lower than ARX's by a factor of about
    (1 + theta / N)^(alpha - 1) (2.5e-4 lower for eight quasi-identifiers of UCI Adult
    at pi = 0.01).

    Examples
    --------
    >>> fit = fit_pitman({1: 8, 2: 1, 5: 1}, n=15, pi=0.1)
    >>> round(fit.theta, 2), round(fit.alpha, 3), round(fit.share, 3)
    (2.2, 0.668, 0.257)
    >>> fit_pitman({1: 5}, n=5, pi=0.1).reason
    'every sample class is a singleton, so the Pitman likelihood rises towards theta -> infinity and has no finite maximum'
    """
    sizes, counts, population = class_histogram(frequencies, n, pi)
    if int(counts[sizes == 1].sum()) == 0:
        return PitmanFit(float("nan"), float("nan"), 0.0)
    theta, alpha, reason = _pitman_fit(sizes, counts, int(n))
    if reason is not None:
        return PitmanFit(theta, alpha, float("nan"), reason)
    # log of (theta + alpha)_{N-1} / (theta + 1)_{N-1}, the expected share of singletons,
    # as [log Gamma(theta + 1) - log Gamma(theta + alpha)]
    #    - [log Gamma(theta + N) - log Gamma(theta + alpha + N - 1)]
    log_share = float(_log_rising(theta + alpha, 1 - alpha)
                      - _log_rising(theta + alpha + population - 1, 1 - alpha))
    if not log_share <= 0:
        return PitmanFit(theta, alpha, float("nan"),
                         "Pitman's estimate of population uniques is outside [0, N]")
    return PitmanFit(theta, alpha, math.exp(log_share))


def pitman_ewens_average(frequencies: Mapping[int, int], n: int, pi: float,
                         fit: PitmanFit) -> tuple[float, float, float]:
    """Pitman's fit averaged with its Ewens special case (alpha = 0) by Schwarz weights.

    Returns ``(share, w, ewens_share)``: w = 1 / (1 + exp(-(LR - log n) / 2)), LR the
    likelihood-ratio statistic 2 (log L(theta, alpha) - log L(theta_0, 0)) of the
    two-parameter fit against Ewens' (one parameter, theta_0), and share =
    w * fit.share + (1 - w) * ewens_share (Buckland, Burnham & Augustin 1997, Biometrics
    53:603, model averaging with BIC weights; Schwarz 1978). Ewens' share of population
    uniques is (theta_0)_{N-1} / (theta_0 + 1)_{N-1} = theta_0 / (theta_0 + N - 1).

    Why: from a small sample alpha is poorly determined, and the share of population
    uniques scales about as N^alpha, so the noise in alpha-hat alone put the two-parameter
    estimate 0.18 to 2.75 times the truth on populations with alpha = 0 (benchmarks/ewens.py).
    The average keeps alpha near 0 unless the data show otherwise.

    Ten classes in 15 records, N = 150: Ewens' theta_0 = 11.9 solves
    sum_{i=1}^{14} theta / (theta + i) = 9, so its share is 11.9 / 160.9 = 0.074; the
    two-parameter fit (alpha = 0.668, share 0.257) gains LR = 0.89 < log 15 = 2.71, so
    w = 1 / (1 + exp(0.91)) = 0.287 and share = 0.287 * 0.257 + 0.713 * 0.074 = 0.127.

    >>> fit = fit_pitman({1: 8, 2: 1, 5: 1}, n=15, pi=0.1)
    >>> share, w, ewens = pitman_ewens_average({1: 8, 2: 1, 5: 1}, 15, 0.1, fit)
    >>> round(w, 3), round(ewens, 3), round(share, 3)
    (0.287, 0.074, 0.127)
    """
    sizes, counts, population = class_histogram(frequencies, n, pi)
    u = int(counts.sum())
    theta0 = _ewens_theta(int(n), u)
    ewens_share = theta0 / (theta0 + population - 1)
    lr = 2 * (_pitman_loglik(fit.theta, fit.alpha, sizes, counts, int(n))[0]
              - _pitman_loglik(theta0, 0.0, sizes, counts, int(n))[0])
    w = 1.0 / (1.0 + math.exp(min(700.0, -(max(lr, 0.0) - math.log(n)) / 2)))
    return w * fit.share + (1 - w) * ewens_share, w, ewens_share


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
        Estimated population uniques divided by N = n / pi. NaN when the model has no
        finite maximum-likelihood fit or its estimate is outside [0, N];
        :func:`fit_pitman` gives the reason and the fitted theta and alpha, and
        :func:`dankar` then falls back to Zayatz, as ARX does.

    Notes
    -----
    See :func:`fit_pitman` for the model (Hoshino 2001), its admissible parameters
    (alpha < 1, theta > -alpha, including alpha < 0) and the solver.

    Examples
    --------
    >>> round(pitman({1: 8, 2: 1, 5: 1}, n=15, pi=0.1), 3)
    0.257
    """
    return fit_pitman(frequencies, n, pi).share


__all__ = ["PitmanFit", "fit_pitman", "pitman", "pitman_ewens_average"]
