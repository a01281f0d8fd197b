"""Time unicity and trace linkage on synthetic 24-hour tracks.

    python benchmarks/traces.py --people 2500000 --seed 0
    python benchmarks/traces.py --people 250000 --link 250000
    python benchmarks/traces.py --people 2500000 --cache /tmp/tracks --no-unicity \
        --link 1000000 --cards 1000000          # 1M sighting traces x 1M cards

Generates tracks with linkrisk.synth_traces (one sighting per hour: 24 points per
person; a transit dataset of taps for commuters with a card), then times, each printed
with its result:

1. building the unicity index of every trace at 250 m / 60 min;
2. eps_1 ... eps_8 on a sample of --sample traces (Wilson 95% interval);
3. exact eps_4 over every trace (skipped with --no-exact);
4. trace linkage (``trace_links``, pair candidates unless --all-candidates) of the
   transit taps against the sightings of --link people (the first --link of the
   population): the taps of the cards of those people, or of the first --cards cards of
   the population (whoever holds them: a card whose holder is not among the sighted
   people has no true match), with top-1 accuracy by the number of taps observed.

Peak memory is the process's maximum resident set size (ru_maxrss). With --cache DIR
the generated tracks are saved to DIR (or read from it when there), so that a linkage
run's peak is its own and not the generator's. Figures go to the report of the issue;
they are measured, not asserted (no timed tests).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd

from linkrisk.synth_traces import make_traces
from linkrisk.trace_link import TraceAttack, trace_links
from linkrisk.trajectory import Resolution, Traces
from linkrisk.unicity import TraceIndex, unicity


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


class Clock:
    """Wall and CPU seconds since creation: on a shared machine the CPU seconds of this
    process (all its threads: the linker scores in two) are closer to what an idle
    machine would take."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.wall:.1f} s (CPU {time.process_time() - self.cpu:.1f} s)"


def load() -> str:
    """The 1-, 5- and 15-minute load averages, printed beside each time (2 shared cores)."""
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def tracks(people: int, seed: int, cache: str | None) -> tuple[np.ndarray, Traces, Traces]:
    """The card holders (person of each card), the sightings and the taps: generated, or
    read from (and written to) ``cache``."""
    fields = ("owner", "t", "lat", "lon", "cell")
    path = os.path.join(cache, f"tracks-{people}-{seed}.npz") if cache else None
    if path and os.path.exists(path):
        z = np.load(path)
        sur, tra = (Traces(*(z[f"{name}_{f}"] for f in fields), int(z[f"{name}_n"]))
                    for name in ("surveillance", "transit"))
        return z["card_person"], sur, tra
    _, truth, tr = make_traces(people, seed, text=False)
    person = truth["person_id"].to_numpy()
    if path:
        os.makedirs(cache, exist_ok=True)
        np.savez(path, card_person=person, **{f"{name}_{f}": getattr(tr[name], f) for name in tr for f in fields},
                 **{f"{name}_n": np.int64(tr[name].n_records) for name in tr})
    return person, tr["surveillance"], tr["transit"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=2_500_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", type=int, default=40_000)
    p.add_argument("--link", type=int, default=0, help="people whose tracks to link (0: skip)")
    p.add_argument("--cards", type=int, default=0, help="link the first N cards (0: the linked people's cards)")
    p.add_argument("--all-candidates", action="store_true", help="the all-candidates linker (the reference)")
    p.add_argument("--no-exact", action="store_true")
    p.add_argument("--no-unicity", action="store_true")
    p.add_argument("--cache", help="folder to keep the generated tracks in")
    a = p.parse_args()
    t0 = Clock()
    person, sur, tra = tracks(a.people, a.seed, a.cache)
    print(f"tracks: {a.people:,} people, {len(sur):,} sightings, {len(tra):,} taps of {tra.n_records:,} cards "
          f"in {t0}; peak {peak_gb():.2f} GB; {load()}", flush=True)
    if not a.no_unicity:
        unicity_runs(sur, a)
    if a.link:
        held = [sur, tra]
        del sur, tra  # linkage keeps only the part it links: the peak is then the linker's
        linkage(person, held, a)


def unicity_runs(sur: Traces, a: argparse.Namespace) -> None:
    r = Resolution(250, 60)
    t0 = Clock()
    index = TraceIndex.from_traces(sur, r)  # the index of point_keys(sur, r), without sorting every point
    keys = None  # unicity reads the index only
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


def linkage(person: np.ndarray, held: list, a: argparse.Namespace) -> None:
    sur, tra = held
    held.clear()
    keep_p = np.arange(min(a.link, a.people))
    sub = sur.take(sur.owner < len(keep_p))
    sub.n_records = len(keep_p)
    cards = np.arange(min(a.cards, tra.n_records)) if a.cards else np.flatnonzero(person < len(keep_p))
    rank = np.full(tra.n_records, -1)
    rank[cards] = np.arange(len(cards))
    taps = tra.take(rank[tra.owner] >= 0)
    taps.owner = rank[taps.owner]
    taps.n_records = len(cards)
    del sur, tra
    t0 = Clock()
    att = TraceAttack(Resolution(250, 60))
    found = trace_links(sub, taps, att, candidates="all" if a.all_candidates else "pairs")
    links, best = found.links, found.best
    dt = str(t0)
    true_person = person[cards]
    matchable = true_person < len(keep_p)
    observed = np.bincount(taps.owner, minlength=len(cards))
    # top-1: each card's best-scoring candidate, linked or not (with pair candidates: the
    # best among the traces sharing two points or one rare point with it)
    hit = np.zeros(len(cards), bool)
    hit[best["b"].to_numpy()] = true_person[best["b"].to_numpy()] == best["a"].to_numpy()
    linked_ok = (true_person[links["b"].to_numpy()] == links["a"].to_numpy())
    print(f"linkage ({'all' if a.all_candidates else 'pair'} candidates): {len(keep_p):,} sighting traces x "
          f"{len(cards):,} tap traces ({int(matchable.sum()):,} of them a sighted person's) in {dt}; "
          f"peak {peak_gb():.2f} GB; {load()}")
    ok_pairs = int(found.ok_b.sum())
    print(f"  pairs reaching the thresholds (score >= {att.threshold:g}, >= {att.min_points} points): {ok_pairs:,}, "
          f"{ok_pairs / max(len(cards), 1):.1f} per tap trace, {ok_pairs / max(len(keep_p), 1):.1f} per sighting trace")
    print(f"  links accepted {len(links):,}, correct {int(linked_ok.sum()):,} "
          f"(precision {linked_ok.mean() if len(links) else float('nan'):.3f}, "
          f"recall {linked_ok.sum() / max(int(matchable.sum()), 1):.3f})")
    acc = pd.DataFrame({"taps": observed[matchable], "top1": hit[matchable]}).groupby("taps")["top1"]
    print("  top-1 accuracy by taps observed (cards of sighted people):")
    print(acc.agg(["size", "mean"]).rename(columns={"size": "cards", "mean": "top1_accuracy"}).to_string())


if __name__ == "__main__":
    main()
