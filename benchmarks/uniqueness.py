"""Time equivalence_classes: k-anonymity and sample uniques of a million records.

    python benchmarks/uniqueness.py --records 1000000 --seed 0

Generates records with four quasi-identifiers of realistic cardinality (age 0-99,
sex 2, postcode 5,000 Zipf-weighted, date of birth one of 36,500 days), stored as
text as linkrisk loads every column, in DuckDB; then times
linkrisk.uniqueness.equivalence_classes on all four (the first run, and the best of --repeat
runs after it) and prints the seconds with the resulting k and uniques.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from linkrisk.engine import make_engine
from linkrisk.uniqueness import equivalence_classes


def records(n: int, seed: int) -> pd.DataFrame:
    """n synthetic records: age, sex, postcode (Zipf-like weights) and date of birth."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, 5001) ** 0.8
    return pd.DataFrame({
        "age": rng.integers(0, 100, n).astype(str),
        "sex": rng.choice(np.array(["F", "M"]), n),
        "postcode": (10000 + rng.choice(5000, n, p=weights / weights.sum())).astype(str),
        "dob": (np.datetime64("1925-01-01") + rng.integers(0, 36500, n)).astype(str),
    })


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    t0 = time.perf_counter()
    frame = records(args.records, args.seed)
    engine = make_engine("duckdb")
    engine.load_frame("people", frame)
    del frame
    setup = time.perf_counter() - t0

    columns = ["age", "sex", "postcode", "dob"]
    t0 = time.perf_counter()
    equivalence_classes(engine, "people", columns)          # first (cold) run
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        stats = equivalence_classes(engine, "people", columns)
        times.append(time.perf_counter() - t0)
    print(f"records {stats.records:,}  quasi-identifiers {len(columns)}  classes {stats.classes:,}  "
          f"k {stats.k}  uniques {stats.uniques:,} ({stats.unique_share:.1%})  "
          f"seconds {min(times):.3f} (best of {args.repeat}; first run {first:.3f}; "
          f"data generation and load {setup:.1f} s)")


if __name__ == "__main__":
    main()
