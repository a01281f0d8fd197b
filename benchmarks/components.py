"""Time the graph stage alone: connected components of N records with about M edges.

    python benchmarks/components.py --records 8000000 --edges 10000000

Edges join records of synthetic 'persons' (1-6 records each) plus a share of random
edges, as the identity graph does; the timing covers building the sparse matrix and
scipy's connected_components, i.e. what linkrisk.graph.components does.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from linkrisk.graph import components


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=8_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    # persons of 1-6 records; a star of edges inside each, topped up with random edges
    sizes = rng.integers(1, 7, size=args.records // 3)
    owner = np.repeat(np.arange(len(sizes)), sizes)[: args.records]
    order = rng.permutation(args.records)
    person_of = np.empty(args.records, dtype=np.int64)
    person_of[order[: len(owner)]] = owner
    starts = np.r_[0, np.flatnonzero(np.diff(np.sort(owner)))+1]
    sorted_nodes = order[: len(owner)][np.argsort(owner, kind="stable")]
    first = np.repeat(sorted_nodes[starts], np.diff(np.r_[starts, len(owner)]))
    a, b = first, sorted_nodes
    keep = a != b
    a, b = a[keep], b[keep]
    extra = max(0, args.edges - len(a))
    a = np.concatenate([a, rng.integers(0, args.records, size=extra)])
    b = np.concatenate([b, rng.integers(0, args.records, size=extra)])
    a, b = a[: args.edges], b[: args.edges]
    t0 = time.perf_counter()
    labels = components(args.records, a, b)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records {args.records:,}  edges {len(a):,}  components {labels.max() + 1:,}  "
          f"seconds {seconds:.2f}  peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
