"""Time face-template linkage and measure the threshold's false-match rate.

    flock /work/notes/bench.lock python benchmarks/faces.py --queries 2500000 --gallery 1000000 --dim 32
    python benchmarks/faces.py --queries 250000 --gallery 100000 --dim 128 --fmr-comparisons 1e9

1. FMR calibration: thresholds for FMR 1e-4, 1e-5 and 1e-6 at --dim
   (linkrisk.face.threshold_for_fmr), then the false matches among --fmr-comparisons
   impostor comparisons of fresh random unit vectors (blocks of 4,096 x 4,096, one matrix
   product each), with the relative error and its Poisson standard error.
2. Linkage: --gallery identities, one capture each (the gallery) and --queries captures,
   the first --mated share of the gallery's people again and strangers for the rest,
   noise calibrated for FMR 1e-6 / FNMR 0.002 (linkrisk.face.calibrate_noise). Runs the
   linker's own search (linkrisk.face_search.search: --search ivf, hnsw or exact, the index
   built, its effort tuned on 1,000 seeded queries until --min-recall, or the exact search
   when that effort passes --exact-share of the lists, every query searched, checked on
   1,000 others) and prints wall and CPU seconds (all threads) per step, peak
   memory (ru_maxrss) and the load average; then, independently of the linker's own
   check, the recall of the pairs found against exact search at the threshold on
   --recall-queries queries drawn with another seed: on all exact pairs (strangers
   included) and on the genuine ones.

The machine's load average is printed beside every timing: it is shared, so wall seconds
are upper bounds of an idle machine's and CPU seconds / cores is the other bound. Figures
go to docs/faces.md; they are measured, not asserted (no timed tests).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from linkrisk.face import calibrate_noise, draw_identities, simulate_captures, threshold_for_fmr
from linkrisk.face_index import exact_pairs
from linkrisk.face_search import FaceAttack, search


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
    t0, c0 = time.perf_counter(), time.process_time()
    while done < comparisons:
        a = draw_identities(rng, chunk, dim)
        b = draw_identities(rng, chunk, dim)
        s = a @ b.T
        for i, t in enumerate(ts):
            hits[i] += int(np.count_nonzero(s >= t))
        done += chunk * chunk
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"FMR calibration at d = {dim}: {done:,} impostor comparisons in {dt:.1f} s wall, {cpu:.1f} s CPU "
          f"({load()})")
    for f, t, h in zip(rates, ts, hits):
        measured = h / done
        print(f"  target {f:.0e}: threshold {t:.4f}, {h:,} false matches, FMR {measured:.3e}, "
              f"relative error {measured / f - 1:+.1%} (Poisson s.e. {1 / np.sqrt(max(f * done, 1)):.1%})")


def alternatives(dim: int, seed: int, s: float = 0.405, m: int = 20_000) -> None:
    """The searches tried against exhaustive search at ``dim`` (docs/faces.md, "every search
    tried"): for ``m`` pairs at cosine ``s`` (just above the FMR-1e-6 threshold at d = 128)
    and ``m`` impostor pairs, what a cheap first pass must let through to keep 99.9% of the
    pairs, what Voronoi partitions must compare for 99% recall, and the CPU-ns a pair of
    FAISS's exhaustive float32 and 256-bit Hamming scans (one thread)."""
    import faiss

    rng = np.random.default_rng([seed, 5])
    g = draw_identities(rng, m, dim)
    u = rng.standard_normal((m, dim)).astype(np.float32)
    u -= (u * g).sum(1, keepdims=True) * g
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    q = s * g + np.sqrt(1 - s * s) * u  # unit, cosine s with g
    a, b = draw_identities(rng, m, dim), draw_identities(rng, m, dim)
    rot = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    for k in (dim // 4, dim // 2, 3 * dim // 4):
        p = rot[:k]
        cut = np.quantile(((q @ p.T) * (g @ p.T)).sum(1), 0.001)
        print(f"(a) projection to {k} dims: lower threshold {cut:.3f} keeps 99.9% at cosine {s}; impostors "
              f"passing {np.mean(((a @ p.T) * (b @ p.T)).sum(1) >= cut):.4f}")
    for bits in (128, 256, 512, 1024):
        h = rng.standard_normal((bits, dim)).astype(np.float32)
        ham = lambda x, y: ((x @ h.T > 0) != (y @ h.T > 0)).sum(1)  # noqa: E731
        cut = np.quantile(ham(q, g), 0.999)
        print(f"(c) {bits} sign projections: Hamming <= {cut:.0f} keeps 99.9%; impostors passing "
              f"{np.mean(ham(a, b) <= cut):.4f}")
    md = 4000  # pairs for the partitions (a 4,000 x 16,384 score matrix)
    for n in (1024, 4096, 16384):
        c = draw_identities(rng, n, dim)
        top_g = np.argsort(-(g[:md] @ c.T), 1)[:, :16]  # each gallery template's 16 nearest cells
        y = q[:md] @ c.T
        # the query's rank of each of those cells (0: its nearest): the cells it must probe
        rank_q = np.stack([(y > np.take_along_axis(y, top_g[:, j:j + 1], 1)).sum(1) for j in range(16)], 1)
        for r in (1, 4, 16):
            need = rank_q[:, :r].min(1)
            p99 = np.quantile(need, 0.99) + 1
            hit = float(np.mean(need == 0)) if r == 1 else None
            line = f"(d) {n:,} cells, gallery in its {r} nearest: one table compares {p99 * r / n:.1%} of pairs for 99%"
            if hit:
                tables = np.log(100) / -np.log1p(-hit)
                line += f"; r = p = 1 in {tables:.0f} independent tables: {tables / n:.1%} of pairs"
            print(line, flush=True)
    faiss.omp_set_num_threads(1)
    gal, qs = draw_identities(rng, 100_000, dim), draw_identities(rng, 5_000, dim)
    flat = faiss.IndexFlatIP(dim)
    flat.add(gal)
    c0 = time.process_time()
    flat.range_search(qs, 0.5)
    print(f"(b) exhaustive float32 range search: {(time.process_time() - c0) / 5e8 * 1e9:.2f} CPU-ns a pair ({load()})")
    binary = faiss.IndexBinaryFlat(256)
    binary.add(np.packbits(rng.integers(0, 2, (100_000, 256), dtype=np.uint8), axis=1))
    c0 = time.process_time()
    binary.range_search(np.packbits(rng.integers(0, 2, (5_000, 256), dtype=np.uint8), axis=1), 90)
    print(f"(c) 256-bit Hamming range search: {(time.process_time() - c0) / 5e8 * 1e9:.2f} CPU-ns a pair ({load()})")


def sweep(a) -> None:
    """The IVF index at fixed shares of its lists against the exhaustive search, on
    --queries queries (24% mated) and --gallery templates: CPU-ns per query-gallery pair and
    recall on all exact pairs (docs/faces.md, the choice of face_exact_share)."""
    import faiss

    from linkrisk.face_index import ann_pairs, flat_pairs, ivf_index

    sigma = calibrate_noise(1e-6, 0.002, a.dim, n=100_000)
    t = threshold_for_fmr(1e-6, a.dim)
    rng = np.random.default_rng([a.seed, 2])
    ident = draw_identities(rng, a.gallery, a.dim)
    g = simulate_captures(rng, ident, sigma)
    mated = int(0.24 * a.queries)  # 600,000 of 2,500,000 in the linkage benchmark
    q = np.concatenate([simulate_captures(rng, ident[:mated], sigma),
                        simulate_captures(rng, draw_identities(rng, a.queries - mated, a.dim), sigma)])
    pairs = a.queries * a.gallery
    c0 = time.process_time()
    fq, fg, _ = flat_pairs(q, g, t)
    c = time.process_time() - c0
    truth = set(zip(fq.tolist(), fg.tolist()))
    print(f"exhaustive: {c:.1f} s CPU, {c / pairs * 1e9:.2f} CPU-ns a pair, {len(truth):,} exact pairs; "
          f"2.5e12 pairs: {c / pairs * 2.5e12:,.0f} CPU-s ({load()})", flush=True)
    c0 = time.process_time()
    index = ivf_index(g, a.nlist, a.seed)
    nlist = faiss.extract_index_ivf(index).nlist
    print(f"IVF build, {nlist:,} lists: {time.process_time() - c0:.1f} s CPU ({load()})", flush=True)
    for share in (float(x) for x in a.sweep.split(",")):
        probes = max(1, int(round(share * nlist)))
        c0 = time.process_time()
        aq, ag, _ = ann_pairs(index, q, t, 11, probes)
        c = time.process_time() - c0
        found = set(zip(aq.tolist(), ag.tolist()))
        print(f"IVF {probes:,} of {nlist:,} lists: {c / pairs * 1e9:.2f} CPU-ns a pair, recall "
              f"{len(found & truth) / max(len(truth), 1):.4f}, {len(found - truth)} invented; 2.5e12 pairs: "
              f"{c / pairs * 2.5e12:,.0f} CPU-s ({load()})", flush=True)


def linkage(a) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
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
          f"noise {sigma:.4f}, threshold {t:.4f}, in {time.perf_counter() - t0:.1f} s wall, "
          f"{time.process_time() - c0:.1f} s CPU; peak {peak_gb():.2f} GB ({load()})", flush=True)
    orig = np.arange(a.queries)  # each linked query's index among all the queries generated
    if a.query_sample:
        orig = np.sort(np.random.default_rng([a.seed, 4]).choice(a.queries, a.query_sample, replace=False))
        queries = queries[orig]
        print(f"linking {len(orig):,} seeded queries of the {a.queries:,} ({int((orig < mated).sum()):,} mated) "
              f"against every gallery template: full cost = this run's x {a.queries / len(orig):.1f}", flush=True)
    attack = FaceAttack(search=a.search, nlist=a.nlist, nprobe=a.nprobe, ef_search=a.ef, min_recall=a.min_recall,
                        exact_share=a.exact_share)
    timings: dict = {}
    print(f"linkage starts ({load()})", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    pairs, info = search(queries, gallery, attack, t, seed=a.seed, timings=timings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    for step_name, (w, c) in timings.items():
        print(f"  {step_name}: {w:.1f} s wall, {c:.1f} s CPU", flush=True)
    print(f"linkage ({a.search}): {wall:.1f} s wall, {cpu:.1f} s CPU (CPU / 2 cores {cpu / 2:.1f} s), "
          f"{len(pairs):,} pairs; peak {peak_gb():.2f} GB ({load()})", flush=True)
    print(f"linker info: {info}", flush=True)
    sample = np.sort(np.random.default_rng([a.seed, 3]).choice(len(queries), min(a.recall_queries, len(queries)),
                                                               replace=False))
    t0, c0 = time.perf_counter(), time.process_time()
    eq, eg, _ = exact_pairs(queries[sample], gallery, t)
    t_exact, c_exact = time.perf_counter() - t0, time.process_time() - c0
    found = set(zip(pairs["q"].tolist(), pairs["g"].tolist()))
    exact = set(zip(sample[eq].tolist(), eg.tolist()))
    recall = len(exact & found) / len(exact) if exact else float("nan")
    genuine = {(q, g) for q, g in exact if orig[q] < mated and orig[q] == g}  # query i < mated: gallery person i
    g_recall = len(genuine & found) / len(genuine) if genuine else float("nan")
    sampled = np.isin(pairs["q"].to_numpy(), sample)
    invented = int(sampled.sum()) - len(exact & found)
    print(f"exact search of {len(sample):,} queries: {t_exact:.1f} s wall, {c_exact:.1f} s CPU ({load()}); "
          f"extrapolated to all {a.queries:,}: {t_exact * a.queries / len(sample) / 60:.0f} min wall")
    if a.query_sample:
        x = a.queries / len(orig)  # the search step grows with the queries; build, tune and check do not
        sw, sc = timings.get("search", (0.0, 0.0))
        print(f"linkage extrapolated to all {a.queries:,} queries (search step x {x:.1f}, the others as run): "
              f"{wall + sw * (x - 1):.0f} s wall, {cpu + sc * (x - 1):.0f} s CPU, "
              f"CPU / 2 cores {(cpu + sc * (x - 1)) / 2:.0f} s", flush=True)
    print(f"recall at the threshold on {len(sample):,} seeded queries (seed [{a.seed}, 3]): {recall:.4f} "
          f"({len(exact & found):,} of {len(exact):,} exact pairs, strangers included); "
          f"{len(genuine):,} genuine, recall {g_recall:.4f} on those; pairs not in the exact search: {invented}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", type=int, default=2_500_000)
    p.add_argument("--gallery", type=int, default=1_000_000)
    p.add_argument("--mated", type=float, default=0.6, help="share of the gallery's people among the queries")
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--search", choices=("ivf", "hnsw", "exact"), default="ivf")
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (0: about the square root of the gallery)")
    p.add_argument("--nprobe", type=int, default=0, help="IVF lists probed to start with (0: an eighth)")
    p.add_argument("--ef", type=int, default=256, help="HNSW efSearch to start with")
    p.add_argument("--min-recall", type=float, default=0.99)
    p.add_argument("--exact-share", type=float, default=1.0,
                   help="IVF lists probed past which the linker searches exactly (face_exact_share)")
    p.add_argument("--query-sample", type=int, default=0,
                   help="link only this many seeded queries (all gallery templates): an exact search's "
                        "cost is linear in the queries, so the full cost is this run's times queries / sample")
    p.add_argument("--recall-queries", type=int, default=2000)
    p.add_argument("--fmr-comparisons", type=float, default=1e9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-link", action="store_true")
    p.add_argument("--skip-fmr", action="store_true")
    p.add_argument("--sweep", default="", help="only the IVF index at these shares of its lists "
                   "(e.g. 0.5,1.0) against the exhaustive search, on --queries x --gallery")
    p.add_argument("--alternatives", action="store_true",
                   help="only the searches tried against exhaustive search at --dim (docs/faces.md)")
    a = p.parse_args()
    print(f"faiss threads: {__import__('faiss').omp_get_max_threads()}; cores: {os.cpu_count()} ({load()})")
    if a.sweep:
        sweep(a)
        return
    if a.alternatives:
        alternatives(a.dim, a.seed)
        return
    if not a.skip_fmr:
        calibration(a.dim, a.fmr_comparisons, a.seed)
    if not a.skip_link:
        linkage(a)
    print(f"peak memory {peak_gb():.2f} GB; CPU seconds of the process "
          f"{sum(resource.getrusage(resource.RUSAGE_SELF)[:2]):.1f} ({load()})")


if __name__ == "__main__":
    main()
