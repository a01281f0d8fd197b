"""Dankar's estimate on simulated populations with a known truth, and model-selection rules.

    python benchmarks/ewens.py            # about a minute; --seeds 5:19 --families ewens about 3 minutes

Populations (each seeded, 5 seeds for Ewens, 3 for the others), sampled without
replacement at 2%, 5% and 10%:

- Ewens (alpha = 0): a Chinese-restaurant process, N = 50,000, 100,000, 200,000 and
  theta = 30, 100, 300, 1,000, 3,000 (225 samples; the generator and seeding of
  tests/test_population.py); ``--families ewens-wide``: N = 20,000, 100,000, 500,000,
  theta = 10, 50, 300, 2,000, 10,000, seeds 20-29 (450 samples, not used to choose the rule);
- Pitman with alpha > 0: a Pitman-Yor restaurant, N = 100,000, alpha = 0.2 and 0.5,
  theta = 10, 100, 1,000;
- Pitman with alpha < 0: m classes with Dirichlet(kappa) shares, N = 100,000,
  kappa = 0.5 and 2, m = 2,000 and 20,000.

For every sample it fits Pitman (linkrisk.population.fit_pitman, both parameters) and
Ewens (alpha fixed at 0), and prints, per rule and sampling fraction, the ratio of the
estimated share of population uniques to the true share: how many fall outside a factor
2 and 2.2, and the smallest and largest. Rules:

- pitman: the two-parameter fit (what dankar_estimate ran at pi <= 0.1 before issue 27);
- ewens: alpha fixed at 0;
- lrt5, lrt1: Ewens unless the likelihood-ratio statistic 2 (L_pitman - L_ewens) exceeds
  the chi-square(1) quantile 3.84 (5%) or 6.63 (1%). alpha = 0 is inside the admissible
  range (alpha < 0 is allowed), so the chi-square(1) law applies; keeping Ewens exactly
  when 0 is inside the 95% profile-likelihood interval of alpha is the same rule as lrt5;
- aic: Pitman when the statistic exceeds 2; bic: when it exceeds log n;
- aicavg, bicavg: model averaging (Buckland, Burnham & Augustin 1997, Biometrics 53:603):
  w Pitman + (1 - w) Ewens, w the Akaike (or Schwarz) weight of Pitman,
  1 / (1 + exp(-(LR - 2) / 2)) (or log n in place of 2); bicavg is what dankar_estimate
  runs at pi <= 0.1 (linkrisk.population.pitman_ewens_average);
- lrt5max: toward the attacker, the larger of the Pitman and Ewens estimates unless the
  5% test rejects Ewens (then Pitman): never below the pitman rule;
- bicup: Pitman when the 5% test rejects Ewens with alpha-hat > 0 (the direction of more
  population uniques), else bicavg.

When Pitman has no finite fit every rule uses Zayatz, as Dankar's rule does.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter

import numpy as np

from linkrisk.pitman import _ewens_theta, _pitman_loglik, fit_pitman
from linkrisk.population_sample import class_histogram as _histogram, zayatz

FRACTIONS = (0.02, 0.05, 0.1)
RULES = ("pitman", "ewens", "lrt5", "lrt1", "aic", "bic", "aicavg", "bicavg", "lrt5max", "bicup")


def chinese_restaurant(size: int, theta: float, rng: np.random.Generator) -> np.ndarray:
    """Ewens population: class labels of a Chinese-restaurant process (as in the tests)."""
    i = np.arange(size)
    new = rng.random(size) < theta / (theta + i)
    parent = np.where(new, i, np.floor(rng.random(size) * np.maximum(i, 1)).astype(np.int64))
    while True:
        jumped = parent[parent]
        if np.array_equal(jumped, parent):
            return parent
        parent = jumped


def pitman_yor_restaurant(size: int, theta: float, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Pitman population, 0 <= alpha < 1: record i opens a class w.p. (theta + k alpha)/(theta + i),
    else joins class c w.p. (n_c - alpha)/(theta + i); n_c - alpha = (1 - alpha) + (n_c - 1), so
    a uniform class (total weight k (1 - alpha)) or the class of a uniform non-first record."""
    labels = np.empty(size, np.int64)
    later: list[int] = []
    k = 0
    r = rng.random((size, 3))
    for i in range(size):
        if r[i, 0] * (theta + i) < theta + k * alpha:
            labels[i] = k
            k += 1
            continue
        if r[i, 1] * (i - k * alpha) < k * (1 - alpha):
            c = int(r[i, 2] * k)
        else:
            c = later[int(r[i, 2] * len(later))]
        labels[i] = c
        later.append(c)
    return labels


def finite_classes(size: int, m: int, kappa: float, rng: np.random.Generator) -> np.ndarray:
    """Pitman population with alpha = -kappa, theta = m kappa: m classes, Dirichlet(kappa) shares."""
    return rng.choice(m, size, p=rng.dirichlet(np.full(m, kappa)))


def frequencies(labels: np.ndarray) -> dict[int, int]:
    _, sizes = np.unique(labels, return_counts=True)
    return dict(Counter(sizes.tolist()))


def estimates(freqs: dict[int, int], n: int, pi: float) -> dict[str, float]:
    """The share of population uniques by each rule for one sample."""
    sizes, counts, population = _histogram(freqs, n, pi)
    fit = fit_pitman(freqs, n, pi)
    if fit.reason is not None or fit.share == 0:
        fallback = zayatz(freqs, n, pi)
        return dict.fromkeys(RULES, fallback)
    u = int(counts.sum())
    theta0 = _ewens_theta(n, u)
    l0 = _pitman_loglik(theta0, 0.0, sizes, counts, n)[0]
    l1 = _pitman_loglik(fit.theta, fit.alpha, sizes, counts, n)[0]
    lr = 2 * (l1 - l0)
    ewens = theta0 / (theta0 + population - 1)   # (theta)_{N-1} / (theta + 1)_{N-1}
    avg = lambda penalty: (fit.share + math.exp(-(lr - penalty) / 2) * ewens) / (1 + math.exp(-(lr - penalty) / 2))  # noqa: E731
    pick = lambda threshold: fit.share if lr > threshold else ewens  # noqa: E731
    return {"pitman": fit.share, "ewens": ewens, "lrt5": pick(3.841), "lrt1": pick(6.635),
            "aic": pick(2.0), "bic": pick(math.log(n)),
            "aicavg": avg(2.0), "bicavg": avg(math.log(n)),
            "lrt5max": fit.share if lr > 3.841 else max(fit.share, ewens),
            "bicup": fit.share if (lr > 3.841 and fit.alpha > 0) else avg(math.log(n)),
            "lr": lr, "alpha": fit.alpha}


def samples(kind: str, seeds: range | None = None):
    """(population label, fraction, truth, frequencies, n) for every sample of a family."""
    if kind == "ewens":
        grid = [(size, theta, seed) for size in (50_000, 100_000, 200_000)
                for theta in (30.0, 100.0, 300.0, 1000.0, 3000.0) for seed in (seeds or range(5))]
        make = lambda size, theta, rng: chinese_restaurant(size, theta, rng)  # noqa: E731
    elif kind == "ewens-wide":  # held out: other sizes, theta from 10 to N / 2, seeds 20-29
        grid = [(size, theta, seed) for size in (20_000, 100_000, 500_000)
                for theta in (10.0, 50.0, 300.0, 2000.0, 10000.0) for seed in (seeds or range(20, 30))]
        make = lambda size, theta, rng: chinese_restaurant(size, theta, rng)  # noqa: E731
    elif kind in ("alpha=0.2", "alpha=0.5"):
        alpha = float(kind.split("=")[1])
        grid = [(100_000, theta, seed) for theta in (10.0, 100.0, 1000.0) for seed in (seeds or range(3))]
        make = lambda size, theta, rng: pitman_yor_restaurant(size, theta, alpha, rng)  # noqa: E731
    else:
        kappa = float(kind.split("=")[1])
        grid = [(100_000, m, seed) for m in (2000, 20000) for seed in (seeds or range(3))]
        make = lambda size, m, rng: finite_classes(size, int(m), kappa, rng)  # noqa: E731
    for size, param, seed in grid:
        rng = np.random.default_rng(seed)
        population = make(size, param, rng)
        truth = frequencies(population).get(1, 0) / size
        for pi in FRACTIONS:
            n = int(pi * size)
            yield f"N={size} {param:g} seed={seed}", pi, truth, frequencies(rng.choice(population, n, replace=False)), n




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default="ewens,alpha=0.2,alpha=0.5,kappa=0.5,kappa=2",
                   help="comma-separated: ewens, alpha=A (Pitman-Yor), kappa=K (alpha = -K, finite classes)")
    p.add_argument("--seeds", help="first:last seeds (inclusive) instead of 0-4 (Ewens) and 0-2 (others)")
    p.add_argument("--list", action="store_true", help="also print every sample where the pitman or lrt5 estimate is outside a factor 2.2")
    args = p.parse_args()
    seeds = None
    if args.seeds:
        first, last = (int(x) for x in args.seeds.split(":"))
        seeds = range(first, last + 1)
    for kind in args.families.split(","):
        rows = []
        for label, pi, truth, freqs, n in samples(kind, seeds):
            est = estimates(freqs, n, pi)
            rows.append((label, pi, {r: est[r] / truth for r in RULES}, est.get("lr"), est.get("alpha")))
        print(f"\n{kind}: {len(rows)} samples; ratio estimate / true share of population uniques")
        print(f"{'rule':7} {'fraction':>8} {'out 2':>6} {'out 2.2':>7} {'min':>7} {'max':>7}")
        for rule in RULES:
            for pi in (*FRACTIONS, None):
                ratios = [q[rule] for _, f, q, _, _ in rows if pi is None or f == pi]
                out2 = sum(not 1 / 2 <= x <= 2 for x in ratios)
                out22 = sum(not 1 / 2.2 <= x <= 2.2 for x in ratios)
                print(f"{rule:7} {'all' if pi is None else f'{pi:g}':>8} {out2:>6} {out22:>7} "
                      f"{min(ratios):>7.3f} {max(ratios):>7.3f}")
        if args.list:
            for label, pi, q, lr, alpha in rows:
                if any(not 1 / 2.2 <= q[r] <= 2.2 for r in RULES if r != "ewens"):
                    print(f"  {label} pi={pi:g} alpha-hat={alpha if alpha is None else round(alpha, 3)} "
                          f"LR={lr if lr is None else round(lr, 2)} "
                          + " ".join(f"{r}={q[r]:.2f}" for r in RULES))


if __name__ == "__main__":
    main()
