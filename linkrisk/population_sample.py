"""A sample's equivalence classes as the population estimators read them, and Zayatz's estimator.

The estimators of population uniqueness (:mod:`linkrisk.population`) take a sample's
frequency-of-frequencies (f_1, f_2, ...: the number of equivalence classes of size 1,
2, ...), its size n and the sampling fraction pi; :func:`class_histogram` checks them
once for all.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import stats

from linkrisk.errors import LinkriskError


def class_histogram(frequencies: Mapping[int, int], n: int, pi: float) -> tuple[np.ndarray, np.ndarray, float]:
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
    sizes, counts, population = class_histogram(frequencies, n, pi)
    f1 = int(counts[sizes == 1].sum())
    if f1 == 0:
        return 0.0
    big_n = max(int(round(population)), int(n))
    p_one = stats.hypergeom.pmf(1, big_n, sizes, int(n))       # P(f=1 | F=j), j = sizes
    conditional = f1 * (n / big_n) / float((counts * p_one).sum())
    return f1 * conditional / n


__all__ = ["class_histogram", "zayatz"]
