"""Population uniqueness estimated from a sample: Pitman, Zayatz, SNB and Dankar's rule.

Each estimator is a plain function of a sample's frequency-of-frequencies (f_1, f_2, ...:
the number of equivalence classes of size 1, 2, ...), its size n and the sampling
fraction pi, and returns the estimated share of the population that is unique, as ARX
reports it. See each function for its source and for where ARX's code differs. The
estimators live in :mod:`linkrisk.pitman`, :mod:`linkrisk.snb` and
:mod:`linkrisk.population_sample` (Zayatz); this module holds Dankar's rule, which
chooses among them, and names them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import numpy as np

from linkrisk.pitman import PitmanFit, fit_pitman, pitman, pitman_ewens_average
from linkrisk.population_sample import class_histogram, zayatz
from linkrisk.snb import snb

__all__ = ["pitman", "fit_pitman", "PitmanFit", "pitman_ewens_average", "zayatz", "snb", "dankar", "dankar_estimate",
           "DankarEstimate", "Estimator", "class_histogram"]

Estimator = Literal["pitman", "zayatz", "snb", "dankar"]


@dataclass(frozen=True)
class DankarEstimate:
    """The share of population uniques by Dankar et al.'s rule, with what ran and why.

    Attributes
    ----------
    share : float
        Estimated population uniques divided by N.
    estimator : {"pitman", "zayatz", "snb", "dankar"}
        The estimator whose figure is ``share``; ``"dankar"`` when the sample has no
        uniques and the rule itself answers 0 without fitting a model (ARX's label,
        ``PopulationUniquenessModel.DANKAR``).
    note : str or None
        Why the rule fell back from the estimator it tried first (Pitman, or SNB), or
        why it answered on its own; None when the first choice gave the figure.
    pitman : PitmanFit or None
        Pitman's fit (theta, alpha, share, reason) when the rule tried Pitman.
    pitman_weight : float or None
        When ``estimator`` is ``"pitman"``: the Schwarz (BIC) weight of the two-parameter
        fit in the average with its Ewens (alpha = 0) special case (see
        :func:`dankar_estimate`); ``share`` = w * pitman.share + (1 - w) * ewens_share.
    ewens_share : float or None
        When ``estimator`` is ``"pitman"``: the share by the Ewens fit (alpha = 0).
    """

    share: float
    estimator: Estimator
    note: str | None = None
    pitman: PitmanFit | None = None
    pitman_weight: float | None = None
    ewens_share: float | None = None


def dankar_estimate(frequencies: Mapping[int, int], n: int, pi: float) -> DankarEstimate:
    """Share of population uniques by Dankar et al.'s rule, with the estimator and any fallback.

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
    DankarEstimate
        The share, the estimator that gave it, the reason for any fallback and, when
        Pitman was tried, its fitted theta and alpha.

    Raises
    ------
    LinkriskError
        When the frequencies, n and pi do not fit together.

    Notes
    -----
    Dankar, F. K., El Emam, K., Neisa, A. and Roffey, T. (2012), *Estimating the
    re-identification risk of clinical data sets*, BMC Medical Informatics and Decision
    Making 12:66, compared the estimators by simulation and chose between them by the
    sampling fraction and the difference between estimates. The rule here is ARX's
    implementation of it (``RiskModelPopulationUniqueness.getNumUniqueTuplesDankar``):

    - no sample uniques: 0, labelled ``"dankar"`` as ARX labels it (no model is fitted,
      so population uniques that are not in the sample are not estimated);
    - pi <= 0.1: Pitman. Unlike ARX, Pitman's two-parameter fit is averaged with its
      Ewens special case (alpha = 0) by Schwarz weights (:func:`pitman_ewens_average`):
      on Ewens populations sampled at 2% the two-parameter fit alone was 0.18 to 2.75
      times the true share (28 of 900 outside a factor 2.2), the average 0.46 to 1.82
      (none outside); over five families of populations it is off by more than 2.2 times
      towards the defender (too low) in 14 of 1,200 samples against the fit's 29, but in
      5 of 90 against 2 on populations with alpha = 0.2 (benchmarks/ewens.py,
      docs/method.md). If Pitman gives no valid estimate (NaN: no finite fit or an
      estimate outside [0, N]; or 0), Zayatz, with Pitman's reason in ``note``;
    - pi > 0.1: the smaller of Zayatz and SNB; Zayatz if SNB is not valid (NaN or 0),
      with a note.

    The estimators are :func:`fit_pitman`, :func:`zayatz` and :func:`snb` of this
    module; see :func:`snb` and :func:`fit_pitman` for where they differ from ARX's code.

    Examples
    --------
    >>> est = dankar_estimate({1: 5}, n=5, pi=0.05)     # every class a singleton
    >>> est.estimator, round(est.share, 3)
    ('zayatz', 1.0)
    >>> est.note
    'Pitman gave no estimate (every sample class is a singleton, so the Pitman likelihood rises towards theta -> infinity and has no finite maximum); Zayatz ran instead'
    """
    sizes, counts, _ = class_histogram(frequencies, n, pi)
    if int(counts[sizes == 1].sum()) == 0:
        return DankarEstimate(0.0, "dankar", "no sample uniques: the rule answers 0 without fitting "
                                             "a model, as ARX does (population uniques outside the "
                                             "sample are not estimated)")

    def valid(x: float) -> bool:
        return bool(np.isfinite(x)) and x != 0

    if pi <= 0.1:
        fit = fit_pitman(frequencies, n, pi)
        if valid(fit.share):
            share, w, ewens = pitman_ewens_average(frequencies, n, pi, fit)
            return DankarEstimate(share, "pitman", None, fit, w, ewens)
        why = fit.reason or "its estimate is 0"
        return DankarEstimate(zayatz(frequencies, n, pi), "zayatz",
                              f"Pitman gave no estimate ({why}); Zayatz ran instead", fit)
    by_zayatz = zayatz(frequencies, n, pi)
    by_snb = snb(frequencies, n, pi)
    if not valid(by_snb):
        return DankarEstimate(by_zayatz, "zayatz",
                              "SNB gave no estimate (its moment equations have no solution, or "
                              "its estimate is 0 or outside [0, N]); Zayatz ran instead")
    if by_zayatz < by_snb:
        return DankarEstimate(by_zayatz, "zayatz")
    return DankarEstimate(by_snb, "snb")


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
    estimator : {"pitman", "zayatz", "snb", "dankar"}
        The estimator chosen; ``"dankar"`` when the sample has no uniques (share 0),
        as ARX labels it.

    Notes
    -----
    The rule of Dankar et al. (2012) as ARX implements it; see :func:`dankar_estimate`,
    which also says why the rule fell back and gives Pitman's fitted parameters.

    Examples
    --------
    >>> share, chosen = dankar({1: 1, 2: 2}, n=5, pi=0.5)
    >>> chosen
    'zayatz'
    """
    estimate = dankar_estimate(frequencies, n, pi)
    return estimate.share, estimate.estimator
