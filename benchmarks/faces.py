"""Time face-template linkage and measure the threshold's false-match rate.

    python benchmarks/faces.py --queries 2500000 --gallery 1000000 --dim 128
    python benchmarks/faces.py --queries 250000 --gallery 100000 --dim 128 --fmr-comparisons 1e9

1. FMR calibration: thresholds for FMR 1e-4, 1e-5 and 1e-6 at --dim
   (linkrisk.face.threshold_for_fmr), then the false matches among --fmr-comparisons
   impostor comparisons of fresh random unit vectors (blocks of 4,096 x 4,096, one matrix
   product each), with the relative error and its Poisson standard error.
2. Linkage: --gallery identities, one capture each (the gallery) and --queries captures,
   the first --mated share of the gallery's people again and strangers for the rest,
   noise calibrated for FMR 1e-6 / FNMR 0.002 (linkrisk.face.calibrate_noise). Times the
   HNSW build and search of linkrisk.face_link (--ef), peak memory (ru_maxrss), and the
   recall of the index against exact search at the threshold on --recall-queries seeded
   queries; and exact search of those queries, extrapolated to all of them.

The machine's load average is printed beside every timing: it is shared. Figures go to
docs/faces.md; they are measured, not asserted (no timed tests).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from linkrisk.face import calibrate_noise, draw_identities, simulate_captures, threshold_for_fmr
from linkrisk.face_link import exact_pairs, hnsw_index, hnsw_pairs


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def calibration(dim: int, comparisons: float, seed: int) -> None:
    rates = (1e-4, 1e-5, 1e-6)
    ts = [threshold_for_fmr(f, dim) for f in rates]
    rng = np.random.default_rng([seed, 1])
    hits = np.zeros(len(rates), dtype=np.int64)
    done, chunk = 0, 4096
    t0 = time.perf_counter()
    while done < comparisons:
        a = draw_identities(rng, chunk, dim)
        b = draw_identities(rng, chunk, dim)
        s = a @ b.T
        for i, t in enumerate(ts):
            hits[i] += int(np.count_nonzero(s >= t))
        done += chunk * chunk
    dt = time.perf_counter() - t0
    print(f"FMR calibration at d = {dim}: {done:,} impostor comparisons in {dt:.1f} s ({load()})")
    for f, t, h in zip(rates, ts, hits):
        measured = h / done
        print(f"  target {f:.0e}: threshold {t:.4f}, {h:,} false matches, FMR {measured:.3e}, "
              f"relative error {measured / f - 1:+.1%} (Poisson s.e. {1 / np.sqrt(max(f * done, 1)):.1%})")


def linkage(a) -> None:
    t0 = time.perf_counter()
    sigma = calibrate_noise(1e-6, 0.002, a.dim, n=100_000)
    t = threshold_for_fmr(1e-6, a.dim)
    rng = np.random.default_rng([a.seed, 2])
    ident = draw_identities(rng, a.gallery, a.dim)
    gallery = simulate_captures(rng, ident, sigma)
    mated = int(a.mated * a.gallery)
    queries = np.empty((a.queries, a.dim), np.float32)
    step = 500_000
    for i in range(0, a.queries, step):  # mated queries first, then strangers
        j = min(i + step, a.queries)
        idx = np.arange(i, j)
        m = idx < mated
        block = np.empty((j - i, a.dim), np.float32)
        if m.any():
            block[m] = simulate_captures(rng, ident[idx[m]], sigma)
        if (~m).any():
            block[~m] = simulate_captures(rng, draw_identities(rng, int((~m).sum()), a.dim), sigma)
        queries[i:j] = block
    del ident
    print(f"generate: {a.queries:,} queries ({mated:,} mated) and {a.gallery:,} gallery templates, d = {a.dim}, "
          f"noise {sigma:.4f}, threshold {t:.4f}, in {time.perf_counter() - t0:.1f} s; peak {peak_gb():.2f} GB "
          f"({load()})", flush=True)
    t0 = time.perf_counter()
    index = hnsw_index(gallery, m=a.m, ef_construction=a.ef_construction)
    t_build = time.perf_counter() - t0
    print(f"HNSW build (M {a.m}, efConstruction {a.ef_construction}): {t_build:.1f} s; peak {peak_gb():.2f} GB "
          f"({load()})", flush=True)
    t0 = time.perf_counter()
    qi, gi, _ = hnsw_pairs(index, queries, t, k=11, ef_search=a.ef)
    t_search = time.perf_counter() - t0
    print(f"HNSW search (efSearch {a.ef}): {t_search:.1f} s, {a.queries / t_search:,.0f} queries/s, "
          f"{len(qi):,} pairs; peak {peak_gb():.2f} GB ({load()})", flush=True)
    print(f"linkage total: {t_build + t_search:.1f} s", flush=True)
    sample = np.sort(np.random.default_rng([a.seed, 3]).choice(a.queries, min(a.recall_queries, a.queries),
                                                               replace=False))
    t0 = time.perf_counter()
    eq, eg, _ = exact_pairs(queries[sample], gallery, t)
    t_exact = time.perf_counter() - t0
    found = set(zip(qi.tolist(), gi.tolist()))
    exact = set(zip(sample[eq].tolist(), eg.tolist()))
    recall = len(exact & found) / len(exact) if exact else float("nan")
    genuine = {(q, g) for q, g in exact if q < mated and q == g}  # query i < mated is gallery person i
    g_recall = len(genuine & found) / len(genuine) if genuine else float("nan")
    print(f"exact search of {len(sample):,} queries: {t_exact:.1f} s ({load()}); extrapolated to all "
          f"{a.queries:,}: {t_exact * a.queries / len(sample) / 60:.0f} min")
    print(f"ANN recall at the threshold: {recall:.4f} ({len(exact & found):,} of {len(exact):,} exact pairs; "
          f"{len(genuine):,} of them genuine, recall {g_recall:.4f} on those)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=2_500_000)
    p.add_argument("--gallery", type=int, default=1_000_000)
    p.add_argument("--mated", type=float, default=0.6, help="share of the gallery's people among the queries")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--ef", type=int, default=256)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=80)
    p.add_argument("--recall-queries", type=int, default=2000)
    p.add_argument("--fmr-comparisons", type=float, default=1e9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-link", action="store_true")
    p.add_argument("--skip-fmr", action="store_true")
    a = p.parse_args()
    if not a.skip_fmr:
        calibration(a.dim, a.fmr_comparisons, a.seed)
    if not a.skip_link:
        linkage(a)
    print(f"peak memory {peak_gb():.2f} GB")


if __name__ == "__main__":
    main()
