"""Time unicity and trace linkage on synthetic 24-hour tracks.

    python benchmarks/traces.py --people 2500000 --seed 0
    python benchmarks/traces.py --people 250000 --link 250000

Generates tracks with linkrisk.synth_traces (one sighting per hour: 24 points per
person; a transit dataset of taps for commuters with a card), then times, each printed
with its result:

1. building the unicity index of every trace at 250 m / 60 min;
2. eps_1 ... eps_8 on a sample of --sample traces (Wilson 95% interval);
3. exact eps_4 over every trace (skipped with --no-exact);
4. trace linkage of the transit taps against the sightings of --link people (the first
   --link of the population), with top-1 accuracy by the number of taps observed.

Peak memory is the process's maximum resident set size (ru_maxrss). Figures go to the
report of the issue; they are measured, not asserted (no timed tests).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd

from linkrisk.synth_traces import make_traces
from linkrisk.trace_link import TraceAttack, best_links, trace_scores
from linkrisk.trajectory import Resolution, point_keys
from linkrisk.unicity import TraceIndex, unicity


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


class Clock:
    """Wall and CPU seconds since creation: on a shared machine the CPU seconds of this
    (single-threaded) process are closer to what an idle machine would take."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.wall:.1f} s (CPU {time.process_time() - self.cpu:.1f} s)"


def load() -> str:
    """The 1-, 5- and 15-minute load averages, printed beside each time (2 shared cores)."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=2_500_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", type=int, default=40_000)
    p.add_argument("--link", type=int, default=0, help="people whose tracks to link (0: skip)")
    p.add_argument("--no-exact", action="store_true")
    a = p.parse_args()
    t0 = Clock()
    _, truth, tr = make_traces(a.people, a.seed, text=False)
    sur, tra = tr["surveillance"], tr["transit"]
    print(f"generate: {a.people:,} people, {len(sur):,} sightings, {len(tra):,} taps of {tra.n_records:,} cards "
          f"in {t0}; peak {peak_gb():.2f} GB; {load()}", flush=True)
    r = Resolution(250, 60)
    t0 = Clock()
    keys = point_keys(sur, r)
    index = TraceIndex.build(sur.owner, keys, sur.n_records)
    print(f"index at {r.label}: {t0}; peak {peak_gb():.2f} GB; {load()}", flush=True)
    t0 = Clock()
    eps = unicity(sur.owner, keys, sur.n_records, range(1, 9), sample=a.sample, seed=a.seed, index=index)
    eps["half_width"] = (eps["ci_high"] - eps["ci_low"]) / 2
    print(eps.to_string(index=False))
    print(f"eps_1..eps_8 on {a.sample:,} sampled: {t0} (+ index); peak {peak_gb():.2f} GB; {load()}", flush=True)
    if not a.no_exact:
        t0 = Clock()
        ex = unicity(sur.owner, keys, sur.n_records, [4], seed=a.seed, index=index)
        print(ex.to_string(index=False))
        print(f"exact eps_4 over {sur.n_records:,}: {t0} (+ index); "
              f"peak {peak_gb():.2f} GB; {load()}", flush=True)
    if a.link:
        keep_p = np.arange(min(a.link, a.people))
        s_mask = np.isin(sur.owner, keep_p)
        sub = sur.take(s_mask)
        sub.n_records = len(keep_p)
        person = truth["person_id"].to_numpy()
        cards = np.flatnonzero(person < len(keep_p))
        t_mask = np.isin(tra.owner, cards)
        taps = tra.take(t_mask)
        rank = np.full(tra.n_records, -1)
        rank[cards] = np.arange(len(cards))
        taps.owner = rank[taps.owner]
        taps.n_records = len(cards)
        t0 = Clock()
        att = TraceAttack(Resolution(250, 60))
        scores = trace_scores(sub, taps, att, prune=True)
        links = best_links(scores, att)
        dt = str(t0)
        true_person = person[cards]
        observed = np.bincount(taps.owner, minlength=len(cards))
        # top-1: each card's best-scoring sighting trace, linked or not
        top = scores.sort_values(["b", "score"], ascending=[True, False]).drop_duplicates("b")
        hit = np.zeros(len(cards), bool)
        hit[top["b"].to_numpy()] = true_person[top["b"].to_numpy()] == top["a"].to_numpy()
        linked_ok = (true_person[links["b"].to_numpy()] == links["a"].to_numpy())
        print(f"linkage: {len(keep_p):,} sighting traces x {len(cards):,} tap traces in {dt}; "
              f"peak {peak_gb():.2f} GB; {load()}")
        print(f"  links accepted {len(links):,}, correct {int(linked_ok.sum()):,} "
              f"(precision {linked_ok.mean() if len(links) else float('nan'):.3f}, "
              f"recall {linked_ok.sum() / len(cards):.3f})")
        acc = pd.DataFrame({"taps": observed, "top1": hit}).groupby("taps")["top1"].agg(["size", "mean"])
        print("  top-1 accuracy by taps observed:")
        print(acc.rename(columns={"size": "cards", "mean": "top1_accuracy"}).to_string())


if __name__ == "__main__":
    main()
