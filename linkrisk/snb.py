"""The SNB estimator of population uniqueness (Chen and McNulty's slide negative binomial).

See :func:`snb` for its source and where ARX's code differs.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from scipy import optimize, special

from linkrisk.population_sample import class_histogram

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
    sizes, counts, population = class_histogram(frequencies, n, pi)
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


__all__ = ["snb"]
