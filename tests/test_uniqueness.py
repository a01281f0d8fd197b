"""Re-identification risk of single datasets: linkrisk.uniqueness.

Every expected number is worked out in a comment from the data or the published
formula, independently of the implementation: tiny hand-made tables, a real table
(UCI Adult) checked against pandas and pycanon, an analytic result for uniform data,
and a synthetic population whose true population uniques are known.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from linkrisk.engine import make_engine
from linkrisk.equivalence import sampled_class_stats, wilson_interval
from linkrisk.errors import LinkriskError
from linkrisk.uniqueness import (ClassStats, class_size_counts, class_size_counts_many, curve_figure, dankar,
                                 sampled_uniqueness_curve,
                                 equivalence_classes, journalist_matches, journalist_matches_any_form, pitman, snb,
                                 uniqueness_curve, zayatz)

# the ARX copy of UCI Adult (Apache-2.0), committed beside the sample breaches
ADULT = Path(__file__).resolve().parents[1] / "sample_data" / "adult.csv"


@pytest.fixture()
def engine(any_engine):
    """Each engine in turn (see conftest.py)."""
    return any_engine


# --------------------------------------------------------------------------------------
# Equivalence classes on a hand-made table
# --------------------------------------------------------------------------------------
TINY = pd.DataFrame({
    "age": ["30", "30", "30", "41", "41", "52", None, None],
    "sex": ["F", "F", "F", "M", "M", "F", "M", "M"],
})
# Classes on (age, sex), NULL being a value of its own:
#   (30, F): r1 r2 r3 -> 3     (41, M): r4 r5 -> 2
#   (52, F): r6       -> 1     (NULL, M): r7 r8 -> 2
# n = 8 records, J = 4 classes, k = 1, uniques = 1 (r6), unique share 1/8,
# prosecutor risk 1/k = 1, marketer risk J/n = 4/8, histogram {1: 1, 2: 2, 3: 1}.
# On (sex) alone: F = 4, M = 4 -> k = 4, no uniques, prosecutor 1/4, marketer 2/8.


def test_hand_made_table(engine):
    engine.load_frame("tiny", TINY)
    stats = equivalence_classes(engine, "tiny", ["age", "sex"])
    assert isinstance(stats, ClassStats)
    assert (stats.records, stats.classes, stats.k, stats.uniques) == (8, 4, 1, 1)
    assert stats.unique_share == 1 / 8
    assert stats.prosecutor_risk == 1.0
    assert stats.marketer_risk == 4 / 8
    assert stats.histogram == {1: 1, 2: 2, 3: 1}
    # the same classes as pandas' groupby when NULLs are kept as a value
    pandas_sizes = TINY.groupby(["age", "sex"], dropna=False).size()
    assert Counter(pandas_sizes.tolist()) == stats.histogram

    by_sex = equivalence_classes(engine, "tiny", ["sex"])
    assert (by_sex.k, by_sex.uniques, by_sex.prosecutor_risk, by_sex.marketer_risk) == \
        (4, 0, 0.25, 2 / 8)
    assert class_size_counts(engine, "tiny", ["sex"]) == {4: 2}
    # no quasi-identifier: every record in one class of 8
    assert class_size_counts(engine, "tiny", []) == {8: 1}

    d = stats.to_dict()
    assert d["quasi_identifiers"] == ["age", "sex"] and d["histogram"] == {"1": 1, "2": 2, "3": 1}


def test_several_histograms_in_one_statement(engine):
    # the classes worked out above, asked for together and in any order: each set gets
    # its own histogram, the empty set one class of all 8 records
    engine.load_frame("tiny", TINY)
    got = class_size_counts_many(engine, "tiny", [["sex"], [], ["age", "sex"], ["sex"]])
    assert got == [{4: 2}, {8: 1}, {1: 1, 2: 2, 3: 1}, {4: 2}]
    assert class_size_counts_many(engine, "tiny", []) == []
    with pytest.raises(LinkriskError, match="not columns"):
        class_size_counts_many(engine, "tiny", [["sex"], ["height"]])


def test_bad_columns_are_named(engine):
    engine.load_frame("tiny", TINY)
    with pytest.raises(LinkriskError, match="'postcode'"):
        equivalence_classes(engine, "tiny", ["age", "postcode"])
    with pytest.raises(LinkriskError, match="does not exist"):
        equivalence_classes(engine, "nowhere", ["age"])


# --------------------------------------------------------------------------------------
# A real table: UCI Adult, against pandas and pycanon
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adult():
    if not ADULT.exists():
        pytest.fail(f"{ADULT} is missing: it ships with the repository")
    e = make_engine("duckdb")
    e.load_csv("adult", ADULT, ";")
    frame = pd.read_csv(ADULT, sep=";", dtype=str, keep_default_na=False)
    yield e, frame
    e.close()


# (k, uniques) for each set, as computed by this module, pandas and pycanon alike:
#   [sex]                                   9782     0   (Female 9782, Male 20380)
#   [sex, race]                               87     0
#   [age, sex]                                 1     4
#   [age, sex, race]                           1    62
#   [age, sex, race, marital-status]           1   543
#   [age, education, sex, native-country]      1  2224
ADULT_FIGURES = [
    (["sex"], 9782, 0),
    (["sex", "race"], 87, 0),
    (["age", "sex"], 1, 4),
    (["age", "sex", "race"], 1, 62),
    (["age", "sex", "race", "marital-status"], 1, 543),
    (["age", "education", "sex", "native-country"], 1, 2224),
]


@pytest.mark.parametrize("qis, k, uniques", ADULT_FIGURES)
def test_adult_matches_pandas_and_pycanon(adult, qis, k, uniques):
    from pycanon import anonymity
    from pycanon.anonymity.utils import aux_anonymity

    engine, frame = adult
    stats = equivalence_classes(engine, "adult", qis)
    assert stats.records == 30162
    sizes = frame.groupby(qis, dropna=False).size()            # plain pandas
    assert (stats.k, stats.uniques, stats.classes) == (sizes.min(), (sizes == 1).sum(), len(sizes))
    # pycanon groups with pandas' default dropna=True, i.e. it drops records with a
    # missing quasi-identifier; Adult has none, so it must agree here
    assert anonymity.k_anonymity(frame, qis) == stats.k
    pycanon_uniques = sum(len(c) == 1 for c in aux_anonymity.get_equiv_class(frame, qis))
    assert pycanon_uniques == stats.uniques
    assert (stats.k, stats.uniques) == (k, uniques)


# --------------------------------------------------------------------------------------
# Uniform data: the expected number of sample uniques is known in closed form
# --------------------------------------------------------------------------------------
def test_uniform_cells_match_the_analytic_uniques(engine):
    # n records fall uniformly into C cells. A record is unique when the other n - 1
    # avoid its cell: p1 = (1 - 1/C)^(n-1), so E[U] = n p1. Two records are both unique
    # when they sit in different cells and the n - 2 others avoid both:
    # p2 = (1 - 1/C)(1 - 2/C)^(n-2), so Var U = n p1 + n(n-1) p2 - (n p1)^2.
    n, cells = 20_000, 50_000
    rng = np.random.default_rng(20240601)
    cell = rng.integers(0, cells, size=n)
    frame = pd.DataFrame({"a": (cell // 250).astype(str), "b": (cell % 250).astype(str)})
    engine.register_frame("uniform", frame)
    p1 = (1 - 1 / cells) ** (n - 1)
    p2 = (1 - 1 / cells) * (1 - 2 / cells) ** (n - 2)
    mean = n * p1                                            # about 13,406
    sd = math.sqrt(n * p1 + n * (n - 1) * p2 - mean ** 2)    # about 49
    uniques = equivalence_classes(engine, "uniform", ["a", "b"]).uniques
    assert abs(uniques - mean) < 4 * sd


# --------------------------------------------------------------------------------------
# Population-uniqueness estimators: hand-worked cases
# --------------------------------------------------------------------------------------
def test_zayatz_hand_case():
    # f_1 = 1, f_2 = 2 (n = 1 + 4 = 5), pi = 0.5, so N = 10 and u = 3 classes.
    # P(f=1 | F=1) = n/N = 5/10 = 1/2
    # P(f=1 | F=2) = 2 C(8,4) / C(10,5) = 2 * 70 / 252 = 5/9
    # P(F=1 | f=1) = (1/3)(1/2) / [(1/3)(1/2) + (2/3)(5/9)] = (1/2) / (1/2 + 10/9) = 9/29
    # population uniques S_1 = f_1 * 9/29 * N/n = 18/29; share S_1 / N = 9/145
    assert zayatz({1: 1, 2: 2}, n=5, pi=0.5) == pytest.approx(9 / 145, rel=1e-12)
    # the whole population (pi = 1): every sample unique is a population unique
    assert zayatz({1: 3, 2: 1}, n=5, pi=1.0) == pytest.approx(3 / 5)


def _pitman_loglik_by_hand(theta, alpha, freqs):
    # Pitman's sampling formula up to a constant, summed term by term (Hoshino 2001):
    # sum_{i<u} log(theta + i alpha) - sum_{i<n} log(theta + i)
    #   + sum_j f_j sum_{k<j} log(k - alpha)
    n = sum(j * f for j, f in freqs.items())
    u = sum(freqs.values())
    value = sum(math.log(theta + i * alpha) for i in range(1, u))
    value -= sum(math.log(theta + i) for i in range(1, n))
    value += sum(f * sum(math.log(k - alpha) for k in range(1, j)) for j, f in freqs.items())
    return value


def test_pitman_hand_case():
    # f_1 = 8, f_2 = 1, f_5 = 1: n = 15, u = 10, pi = 0.1 so N = 150.
    freqs, n, pi = {1: 8, 2: 1, 5: 1}, 15, 0.1
    # maximise the likelihood written out above, with a different optimiser
    res = optimize.minimize(lambda p: -_pitman_loglik_by_hand(p[0], p[1], freqs), x0=[1.0, 0.5],
                            method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12})
    theta, alpha = res.x                                     # about 2.195, 0.668
    # ARX's score equations (ModelPitman.getObjectFunctionsIterative) vanish there:
    # sum_{i<u} 1/(theta + i alpha) - sum_{i<n} 1/(theta + i) = 0
    # sum_{i<u} i/(theta + i alpha) - sum_j f_j sum_{k<j} 1/(k - alpha) = 0
    u = 10
    d_theta = sum(1 / (theta + i * alpha) for i in range(1, u)) - sum(1 / (theta + i) for i in range(1, n))
    d_alpha = (sum(i / (theta + i * alpha) for i in range(1, u))
               - 1 * (1 / (1 - alpha)) - 1 * sum(1 / (k - alpha) for k in range(1, 5)))
    assert abs(d_theta) < 1e-6 and abs(d_alpha) < 1e-6
    # expected share of population singletons (theta + alpha)_{N-1} / (theta + 1)_{N-1},
    # the product of (theta + alpha + i) / (theta + 1 + i) over i = 0 .. N - 2
    big_n = round(n / pi)
    expected = math.prod((theta + alpha + i) / (theta + 1 + i) for i in range(big_n - 1))
    assert expected == pytest.approx(0.2572, abs=1e-4)
    assert pitman(freqs, n, pi) == pytest.approx(expected, rel=1e-5)
    # Hoshino's large-N form Gamma(theta+1)/Gamma(theta+alpha) N^alpha / N is a little
    # higher (0.2581) at N = 150, as ARX reports it
    hoshino = math.exp(math.lgamma(theta + 1) - math.lgamma(theta + alpha)) * big_n ** alpha / big_n
    assert hoshino == pytest.approx(0.2581, abs=1e-4)


def test_pitman_without_a_fit_is_nan():
    # f_1 = 2, f_2 = 1 (n = 4, u = 3): the likelihood keeps rising as alpha -> -infinity
    # with m = theta/|alpha| fixed, towards log[(m-1)(m-2)] - 3 log m, largest at
    # m = 4.73: -2.3411; at alpha = 0 (Ewens) its best is -2.5734 (theta = 3.77), at
    # alpha = -1, -10, -100 -2.4652, -2.3651, -2.3437. No finite maximum: NaN.
    for alpha, best in [(0.0, -2.5734), (-1.0, -2.4652), (-10.0, -2.3651), (-100.0, -2.3437)]:
        floor = 2 * -alpha                     # theta > (u - 1)|alpha|
        res = optimize.minimize_scalar(
            lambda t: -_pitman_loglik_by_hand(floor + math.exp(t), alpha, {1: 2, 2: 1}),
            bounds=(-20, 20), method="bounded")
        assert -res.fun == pytest.approx(best, abs=1e-4)
    assert math.isnan(pitman({1: 2, 2: 1}, n=4, pi=0.05))


def test_snb_hand_case():
    # Known K = 27 classes and pi = 0.5. With alpha = 1, beta = 1/2:
    #   d = (1 - pi)(1 - beta) = 1/4
    #   E[f_1] = K pi (beta/(1-d))^alpha (1 + alpha d/(1-d)) = 27 * 1/2 * 2/3 * 4/3 = 12
    #   E[f_2] = K alpha beta^alpha pi^2 (1-beta)/2 (1-d)^-(alpha+2) (2 - (1-alpha) d)
    #          = 27 * 1/2 * 1/4 * 1/2 / 2 * (4/3)^3 * 2 = 27 * 4/27 = 4
    # so a sample with f_1 = 12 and f_2 = 4 gives alpha = 1, beta = 1/2 back, and
    # population uniques K beta^alpha = 13.5. The four classes of 5 only set n = 40,
    # N = n / pi = 80: share 13.5 / 80.
    share = snb({1: 12, 2: 4, 5: 4}, n=40, pi=0.5, population_classes=27)
    assert share == pytest.approx(13.5 / 80, rel=1e-9)


def test_snb_estimates_population_classes_with_shlosser():
    # Haas & Stokes' modified Shlosser estimate (Sh3) for f_1 = 6, f_2 = 2, f_3 = 1
    # (u = 9, n = 13) and q = pi = 1/2:
    #   sum j q^2 (1-q^2)^(j-1) f_j  = 6/4 + 2*2/4*3/4 + 3/4*9/16     = 171/64
    #   sum (1-q)^j ((1+q)^j - 1) f_j = 6/4 + 2/4*5/4 + 1/8*19/8       = 155/64
    #   sum (1-q)^j f_j               = 6/2 + 2/4 + 1/8               = 29/8
    #   sum j q (1-q)^(j-1) f_j       = 6/2 + 2*2/4 + 3/8             = 35/8
    #   K = 9 + 6 * (171/155) * (29/35)^2 = 13.5444...
    k = 9 + 6 * (171 / 155) * (29 / 35) ** 2
    assert snb({1: 6, 2: 2, 3: 1}, 13, 0.5) == pytest.approx(
        snb({1: 6, 2: 2, 3: 1}, 13, 0.5, population_classes=k), rel=1e-9)
    # without doubletons the two moment equations have no solution
    assert math.isnan(snb({1: 5, 3: 1}, 8, 0.5))


def test_dankar_rule():
    # no sample uniques: nothing to estimate
    assert dankar({2: 3}, 6, 0.05) == (0.0, "dankar")     # ARX's label for this case
    # pi <= 0.1: Pitman when it fits ...
    # (Pitman's fit, 0.257, averaged with Ewens', 0.074, by Schwarz weight 0.287: worked in
    # linkrisk.population.pitman_ewens_average)
    share, estimator = dankar({1: 8, 2: 1, 5: 1}, 15, 0.1)
    assert estimator == "pitman" and share == pytest.approx(0.287 * 0.2572 + 0.713 * 0.0739, abs=1e-3)
    assert pitman({1: 8, 2: 1, 5: 1}, 15, 0.1) == pytest.approx(0.2572, abs=1e-4)
    # ... and Zayatz when it does not (no finite maximum, see above)
    assert dankar({1: 2, 2: 1}, 4, 0.05) == (zayatz({1: 2, 2: 1}, 4, 0.05), "zayatz")
    # pi > 0.1: the smaller of Zayatz (0.313) and SNB (0.261) ...
    freqs = {1: 6, 2: 2, 3: 1}
    assert snb(freqs, 13, 0.5) < zayatz(freqs, 13, 0.5)
    assert dankar(freqs, 13, 0.5) == (snb(freqs, 13, 0.5), "snb")
    # ... and Zayatz when SNB has no solution
    assert dankar({1: 5, 3: 1}, 8, 0.5) == (zayatz({1: 5, 3: 1}, 8, 0.5), "zayatz")


def test_estimators_check_their_input():
    with pytest.raises(LinkriskError, match="n = 9"):
        zayatz({1: 2, 2: 1}, n=9, pi=0.5)
    with pytest.raises(LinkriskError, match="sampling fraction"):
        pitman({1: 2, 2: 1}, n=4, pi=0.0)


# --------------------------------------------------------------------------------------
# Estimators on a synthetic population with known population uniques
# --------------------------------------------------------------------------------------
def _population(size, rng):
    # age ~ normal(40, 18) rounded and clipped to 0..95, sex 1/2, region Zipf(1.1) over 300
    age = np.clip(rng.normal(40, 18, size).round(), 0, 95).astype(np.int64)
    sex = rng.integers(0, 2, size)
    weights = 1 / np.arange(1, 301) ** 1.1
    region = rng.choice(300, size, p=weights / weights.sum())
    return age * 1_000_000 + sex * 100_000 + region


def _frequencies(keys):
    _, sizes = np.unique(keys, return_counts=True)
    return dict(Counter(sizes.tolist()))


@pytest.mark.parametrize("pi, tolerance, chosen", [(0.05, 0.5, "pitman"), (0.3, 0.25, "snb")])
def test_dankar_recovers_population_uniques(pi, tolerance, chosen):
    # A population of 50,000 with about 18.5% population uniques; a simple random
    # sample of 5% (2,500) or 30% (15,000). Tolerance: relative error 50% at 5% and 25%
    # at 30%, about 1.5 x the largest error seen over five population seeds (33% and
    # 16%); a wrong formula misses by factors (the naive sample-unique share is 3x too
    # high at 5%), so the test still bites. Seeded, hence deterministic.
    rng = np.random.default_rng(0)
    population = _population(50_000, rng)
    true_share = _frequencies(population)[1] / population.size
    n = int(pi * population.size)
    sample = _frequencies(rng.choice(population, n, replace=False))
    share, estimator = dankar(sample, n, pi)
    assert estimator == chosen
    assert abs(share - true_share) <= tolerance * true_share
    naive = sample[1] / n
    assert abs(share - true_share) < abs(naive - true_share) / 2


# --------------------------------------------------------------------------------------
# Journalist risk: another dataset as the population
# --------------------------------------------------------------------------------------
def test_journalist_matches_hand_case(engine):
    # A (dob, zip)               matches in B on (birth, postcode)
    # a1 1990 111                b1                 -> exactly one
    # a2 1991 222                b2, b3             -> two
    # a3 1992 333                none
    # a4 NULL 111                (a missing QI: not counted; NULL never matches b5)
    # records = 3, exactly one = 1, any = 2, mean risk = (1/1 + 1/2 + 0) / 3 = 1/2
    engine.load_frame("a", pd.DataFrame({"dob": ["1990", "1991", "1992", None],
                                         "zip": ["111", "222", "333", "111"]}))
    engine.load_frame("b", pd.DataFrame({"birth": ["1990", "1991", "1991", "1993", None],
                                         "postcode": ["111", "222", "222", "444", "111"]}))
    out = journalist_matches(engine, "a", ["dob", "zip"], "b", ["birth", "postcode"])
    assert out == {"records": 3, "matching_exactly_one": 1, "matching_any": 2,
                   "share_exactly_one": 1 / 3, "share_any": 2 / 3,
                   "mean_risk": pytest.approx(0.5)}
    with pytest.raises(LinkriskError, match="by position"):
        journalist_matches(engine, "a", ["dob", "zip"], "b", ["birth"])


def test_journalist_matches_through_any_form_count_each_population_record_once(engine):
    # A and B each release two addresses (home, work) and a birth year; a form is
    # (year, one address). Forms of A          matching records of B
    #   a1 1990 x y   (1990,x) (1990,y)     b1 (1990: y, x) through both pairings: once -> F = 1
    #   a2 1991 z -   (1991,z)              b2 (z, -) and b3 (-, z): F = 2
    #   a3 1992 w w   (1992,w) once         none (b4 is 1993)
    #   a4 -    x y   no form without a missing value: not counted
    # records 3, exactly one 1, any 2, mean risk (1 + 1/2 + 0) / 3 = 1/2
    engine.load_frame("fa", pd.DataFrame({"_rid": [1, 2, 3, 4], "year": ["1990", "1991", "1992", None],
                                          "home": ["x", "z", "w", "x"], "work": ["y", None, "w", "y"]}))
    engine.load_frame("fb", pd.DataFrame({"_rid": [1, 2, 3, 4], "year": ["1990", "1991", "1991", "1993"],
                                          "home": ["y", "z", None, "w"], "work": ["x", None, "z", "w"]}))
    forms = [["year", "home"], ["year", "work"]]
    out = journalist_matches_any_form(engine, "fa", forms, "fb", forms)
    assert out == {"records": 3, "matching_exactly_one": 1, "matching_any": 2,
                   "share_exactly_one": 1 / 3, "share_any": 2 / 3, "mean_risk": pytest.approx(0.5)}
    # one form a side: journalist_matches's figures (its hand case above, with row ids)
    engine.load_frame("ga", pd.DataFrame({"_rid": [1, 2, 3, 4], "dob": ["1990", "1991", "1992", None],
                                          "zip": ["111", "222", "333", "111"]}))
    engine.load_frame("gb", pd.DataFrame({"_rid": [1, 2, 3, 4, 5], "birth": ["1990", "1991", "1991", "1993", None],
                                          "postcode": ["111", "222", "222", "444", "111"]}))
    assert journalist_matches_any_form(engine, "ga", [["dob", "zip"]], "gb", [["birth", "postcode"]]) == \
        journalist_matches(engine, "ga", ["dob", "zip"], "gb", ["birth", "postcode"])
    with pytest.raises(LinkriskError, match="same, non-zero number"):
        journalist_matches_any_form(engine, "fa", forms, "fb", [["year"]])


# --------------------------------------------------------------------------------------
# Uniqueness curve
# --------------------------------------------------------------------------------------
CURVE = pd.DataFrame({
    "sex": ["F", "F", "F", "M", "M", "M"],
    "zip": ["1", "1", "2", "3", "3", "4"],
    "band": ["A", "B", "A", "A", "A", "B"],
})
# Step 1, one column at a time:
#   sex  F 3, M 3                      -> 0 uniques
#   zip  1: r1 r2, 2: r3, 3: r4 r5, 4: r6 -> 2 uniques (r3, r6)   <- added first
#   band A 4, B 2                      -> 0 uniques
# Step 2, zip + another:
#   zip + sex : (1F) 2, (2F) 1, (3M) 2, (4M) 1                  -> 2 uniques
#   zip + band: (1A) 1, (1B) 1, (2A) 1, (3A) 2, (4B) 1          -> 4 uniques <- added
# Step 3, + sex: r4 and r5 still share (3, A, M)                -> 4 uniques, k = 1
# Step 0 (nothing known): one class of 6, no uniques, k = 6.


def test_uniqueness_curve_greedy_order(engine):
    engine.load_frame("curve", CURVE)
    curve = uniqueness_curve(engine, "curve", ["sex", "zip", "band"],
                             labels=["Sex", "Postcode", "Age band"])
    assert list(curve["step"]) == [0, 1, 2, 3]
    assert list(curve["added"]) == [None, "Postcode", "Age band", "Sex"]
    assert list(curve["added_column"]) == [None, "zip", "band", "sex"]
    assert curve["quasi_identifiers"].iloc[2] == ["Postcode", "Age band"]
    assert list(curve["unique_share"]) == pytest.approx([0, 2 / 6, 4 / 6, 4 / 6])
    assert list(curve["k"]) == [6, 1, 1, 1]

    fig = curve_figure(curve)
    ax = fig.axes[0]
    assert ax.get_ylim() == (0, 105)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["none", "+ Postcode", "+ Age band", "+ Sex"]
    fig = curve_figure({"one": curve, "two": curve})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["one", "two"]


def _pandas_curve(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """The greedy curve the slow way: every candidate grouped over every record."""
    chosen, remaining, out = [], list(columns), []
    while remaining:
        best = None
        for c in remaining:
            sizes = frame.groupby(chosen + [c], dropna=False).size()
            trial = (int((sizes == 1).sum()), len(sizes), int(sizes.min()))
            if best is None or (trial[0], trial[1]) > (best[1][0], best[1][1]):
                best = (c, trial)
        chosen.append(best[0])
        remaining.remove(best[0])
        out.append((best[0], *best[1]))
    return out


def test_uniqueness_curve_matches_grouping_every_record(engine):
    # later steps group only the records not yet unique; the figures must be those of
    # grouping the whole table each time (NULL a value of its own, as everywhere)
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame({
        "_n": rng.choice(["x", "y", None], n).astype(object),  # a name the curve must not trip on
        "b": rng.integers(0, 6, n).astype(str),
        "c": rng.choice(["p", "q", "r", None], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object),
        "d": rng.integers(0, 40, n).astype(str),
    })
    engine.load_frame("curve_rand", frame)
    curve = uniqueness_curve(engine, "curve_rand", ["_n", "b", "c", "d"])
    got = [(r.added_column, r.uniques, r.classes, r.k) for r in curve.iloc[1:].itertuples()]
    assert got == _pandas_curve(frame, ["_n", "b", "c", "d"])
    assert not [t for t in engine.tables() if t.startswith("_curve_rest")]


# --------------------------------------------------------------------------------------
# Estimates from a sample (linked profiles above [risk_sampling] exact_up_to)
# --------------------------------------------------------------------------------------
# TINY's records with their true class sizes on (age, sex) (see above):
#   r1 r2 r3 -> 3, r4 r5 -> 2, r6 -> 1, r7 r8 -> 2.
TRUE_SIZE = {1: 3, 2: 3, 3: 3, 4: 2, 5: 2, 6: 1, 7: 2, 8: 2}


def test_a_full_sample_gives_the_exact_figures(engine):
    # sampling all 8 records: unique share 1/8, marketer risk mean(1/f) = J/n = 4/8, k = 1
    engine.load_frame("tiny_ids", TINY.assign(rid=[str(i) for i in range(1, 9)]))
    s = sampled_class_stats(engine, "tiny_ids", [["age", "sex"], ["sex"], []], "rid", sample_size=100)
    both, sex, none = s
    assert (both.records, both.sample_size) == (8, 8)
    assert both.unique_share == 1 / 8 and both.marketer_risk == pytest.approx(4 / 8)
    assert both.smallest_sampled_class == 1 and both.k_is_exact
    # on sex alone: classes of 4 and 4, no unique, mean(1/f) = 1/4; k = 4 (every record sampled)
    assert (sex.unique_share, sex.marketer_risk, sex.smallest_sampled_class) == (0.0, pytest.approx(0.25), 4)
    assert (none.unique_share, none.marketer_risk, none.smallest_sampled_class) == (0.0, pytest.approx(1 / 8), 8)


def test_each_sampled_record_is_counted_against_the_whole_table(engine):
    # a sample of 3: each sampled record's class is its class among all 8 records, not
    # among the 3 sampled (a sample of 3 from classes of 2 and 3 would look unique)
    engine.load_frame("tiny_ids", TINY.assign(rid=[str(i) for i in range(1, 9)]))
    s = sampled_class_stats(engine, "tiny_ids", [["age", "sex"]], "rid", sample_size=3, seed=7)[0]
    drawn = [int(r[0]) for r in engine.rows(
        f"SELECT rid FROM tiny_ids ORDER BY {engine.dialect.hash64('7', 'rid')}, rid LIMIT 3")]
    sizes = [TRUE_SIZE[r] for r in drawn]
    assert s.sample_size == 3
    assert s.unique_share == sum(f == 1 for f in sizes) / 3
    assert s.marketer_risk == pytest.approx(sum(1 / f for f in sizes) / 3)
    assert s.smallest_sampled_class == min(sizes)
    # the same seed draws the same sample
    again = sampled_class_stats(engine, "tiny_ids", [["age", "sex"]], "rid", sample_size=3, seed=7)[0]
    assert again == s
    # a k from a sample is an upper bound, said so (unless a sampled record is unique)
    d = s.to_dict()
    assert d["sampled"] is True and d["sample"]["sample_size"] == 3 and d["k"] == min(sizes)
    assert ("exact" in d["sample"]["k"]) == (min(sizes) == 1)


def test_wilson_interval_hand_case():
    # 50 of 100, z = 1.95996: centre (0.5 + z^2/200) / (1 + z^2/100) = 0.5,
    # half-width z * sqrt(0.25/100 + z^2/40000) / (1 + z^2/100) = 0.0962
    lo, hi = wilson_interval(50, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.4038, 0.5962)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("qis, k, uniques", ADULT_FIGURES)
def test_sampled_intervals_cover_the_exact_adult_figures(adult, qis, k, uniques):
    # 2,000 of Adult's 30,162 records (seed 0): the 95% intervals hold the exact share of
    # uniques and marketer risk J/n counted over every record (ADULT_FIGURES above)
    engine, frame = adult
    engine.execute("CREATE OR REPLACE TABLE adult_ids AS SELECT *, row_number() OVER () AS rid FROM adult")
    exact = equivalence_classes(engine, "adult_ids", qis)
    assert exact.uniques == uniques
    s = sampled_class_stats(engine, "adult_ids", [qis], "rid", sample_size=2000, seed=0)[0]
    assert s.sample_size == 2000 and s.records == len(frame)
    lo, hi = s.unique_share_ci
    assert lo <= exact.unique_share <= hi
    mlo, mhi = s.marketer_risk_ci
    assert mlo <= exact.marketer_risk <= mhi
    assert s.smallest_sampled_class >= exact.k  # an upper bound of k, never below it


def test_sampled_curve_chooses_as_the_exact_curve_on_a_full_sample(engine):
    t = pd.DataFrame({"id": [str(i) for i in range(6)], "sex": list("FFFMMM"),
                      "zip": ["1", "1", "2", "3", "3", "4"], "age": ["30", "31", "30", "30", "30", "30"]})
    engine.load_frame("curve_t", t)
    exact = uniqueness_curve(engine, "curve_t", ["sex", "zip", "age"])
    sampled = sampled_uniqueness_curve(engine, "curve_t", ["sex", "zip", "age"], "id", sample_size=6)
    assert list(sampled["added"]) == list(exact["added"])
    assert sampled["unique_share"].tolist() == pytest.approx(exact["unique_share"].tolist())
    assert sampled["sampled"].all()


def test_linked_profiles_above_the_threshold_are_estimated_and_say_so():
    # the sample study's 5,092 linked profiles: exact by default (no exact_up_to); with
    # exact_up_to = 1,000 a sample of 2,000 profiles gives intervals that hold the exact figures
    import linkrisk as lr

    def profiles(exact_up_to):
        st = lr.Study.from_toml(Path(__file__).resolve().parents[1] / "sample_data" / "study.toml")
        st.what_matters, st.scenarios = False, []
        if exact_up_to is not None:
            st.risk_sampling = lr.RiskSampling(exact_up_to=exact_up_to, sample_size=2000)
        r = st.run()
        try:
            entry = next(u for u in r.extra["uniqueness"] if u["dataset"] == "linked profiles (baseline)")
            return entry, [w for w in r.warnings if w["problem"] == "risk_sampled"]
        finally:
            r.close()

    exact, quiet = profiles(None)
    assert "sampled" not in exact and quiet == []
    est, loud = profiles(1_000)
    assert est["sampled"] is True and est["records"] == exact["records"]
    assert est["sample"]["sample_size"] == 2000
    lo, hi = est["sample"]["unique_share_ci"]
    assert lo <= exact["unique_share"] <= hi
    assert est["sample"]["uniques_ci"][0] <= exact["uniques"] <= est["sample"]["uniques_ci"][1]
    mlo, mhi = est["sample"]["marketer_risk_ci"]
    assert mlo <= exact["marketer_risk"] <= mhi
    assert len(loud) == 1 and "sample of 2,000" in loud[0]["message"]
