"""The faces linker's search: pairs of templates at or above a threshold, and its recall.

Search is exact (FAISS's exhaustive range search: every pair compared) while the
comparisons stay within ``face_exact_comparisons``, and beyond it goes through an index
(:mod:`linkrisk.face_index`): an inverted file by default, HNSW when asked. An index can
miss matches, which would make the figures optimistic, so its search effort (IVF lists
probed, HNSW efSearch) is raised until it finds ``face_min_recall`` (default 0.99) of the
exact pairs, strangers and genuine alike, of a seeded sample of queries, and checked on
another; a recall still below 0.99 is a warning of the run.

When the recall goal is missed with every IVF list probed, or the lists it needs would
pass ``face_exact_share`` of all lists (default 1: never before every list), the index
is dropped and every query is searched exactly instead, whose recall is 1 by
construction. The share is 1 by default because, measured on this machine at 1,000,000
templates, the index's scan of every list cost less than the exhaustive search at d = 32
and d = 128 alike (docs/faces.md); a smaller share suits a gallery where it does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.face import threshold_for_fmr
from linkrisk.face_index import (MAX_EF_SEARCH, ann_pairs, exact_best, faiss_module, flat_pairs, hnsw_index,
                                 ivf_index)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.study import Study

RECALL_SAMPLE = 1000  # seeded queries that tune the index, and as many again that check it
RECALL_TARGET = 0.99  # below this measured recall a run warns whatever face_min_recall says
RAISE = 1.25  # each raise multiplies the probes (IVF) or efSearch (HNSW) by this
EXACT = "exact"  # the search effort that means: every pair, exactly
EXACT_SHARE = 1.0  # IVF: past this share of the lists probed, search exactly instead (1: only when
# every list misses the goal; measured at 1,000,000 templates the index costs less than the
# exhaustive search even at every list: docs/faces.md)
PARALLEL_GALLERY = 100_000  # FAISS runs on every core from this gallery size, on one below


@dataclass(frozen=True)
class FaceAttack:
    """The faces linker's settings (the study's ``[attacker] face_*`` keys).

    Examples
    --------
    >>> round(FaceAttack(fmr=1e-6).threshold_at(128), 4)
    0.4044
    >>> FaceAttack(threshold=0.5).threshold_at(128)
    0.5
    """

    fmr: float = 1e-6
    threshold: float | None = None
    search: str = "auto"
    ef_search: int = 256
    max_candidates: int = 10
    exact_comparisons: float = 2e10
    nlist: int = 0
    nprobe: int = 0
    min_recall: float = RECALL_TARGET
    exact_share: float = EXACT_SHARE

    @classmethod
    def of(cls, study: "Study") -> "FaceAttack":
        a = study.attacker
        return cls(float(a.face_fmr), None if a.face_threshold is None else float(a.face_threshold),
                   str(a.face_search), int(a.face_ef_search), int(a.face_max_candidates),
                   float(a.face_exact_comparisons), int(a.face_nlist), int(a.face_nprobe),
                   float(a.face_min_recall), float(a.face_exact_share))

    def threshold_at(self, dimension: int) -> float:
        return float(self.threshold) if self.threshold is not None else threshold_for_fmr(self.fmr, dimension)


def _recall(found: set, truth: set) -> float | None:
    return len(found & truth) / len(truth) if truth else None


def _raise(effort: int, top: int) -> int:
    return min(top, max(effort + 1, int(np.ceil(effort * RAISE))))


class _Threads:
    """FAISS's OpenMP threads: every core for a gallery of ``PARALLEL_GALLERY`` templates and
    more, one below (small parallel regions cost more than they save, and on a loaded machine
    each one waits for a descheduled thread: a 4,000-template IVF build measured 19 s with
    two threads against 0.5 s with one at load 11)."""

    def __init__(self, gallery: int):
        self.one = gallery < PARALLEL_GALLERY

    def __enter__(self):
        faiss = faiss_module()
        self.before = faiss.omp_get_max_threads()
        if self.one:
            faiss.omp_set_num_threads(1)

    def __exit__(self, *exc):
        faiss_module().omp_set_num_threads(self.before)


class _Clock:
    """Wall and CPU seconds per named step, added up (CPU: this process, every thread)."""

    def __init__(self, out: dict | None):
        self.out = out
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        if self.out is not None:
            w, c = self.out.get(name, (0.0, 0.0))
            self.out[name] = (w + wall - self.wall, c + cpu - self.cpu)
        self.wall, self.cpu = wall, cpu


def _frame(pairs) -> pd.DataFrame:
    qi, gi, s = pairs
    return pd.DataFrame({"q": qi, "g": gi, "sim": s})


def search(q: np.ndarray, g: np.ndarray, attack: FaceAttack, threshold: float,
           seed: int = 0, timings: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Pairs of query and gallery templates at or above the threshold, and what was done.

    Exact search (:func:`linkrisk.face_index.flat_pairs`) while queries × gallery stays
    within ``attack.exact_comparisons`` or when asked; otherwise an index (IVF by default,
    HNSW when asked) whose search effort is raised until it finds ``attack.min_recall`` of
    the exact pairs, strangers and genuine alike:

    1. *tune*: ``RECALL_SAMPLE`` seeded queries are searched exactly and with the index at
       the starting effort (``nprobe``, 0: an eighth of the lists; or ``ef_search``); while
       the index finds less than min_recall plus two binomial standard errors of their
       exact pairs, the effort is multiplied by ``RAISE``;
    2. *search* every query at that effort;
    3. *check* on another ``RECALL_SAMPLE`` seeded queries, searched exactly: the recall
       reported (``ann_recall``) is theirs; below min_recall the effort is raised and the
       whole search repeated.

    An IVF index that misses the goal with every list probed, or whose effort would pass
    ``attack.exact_share`` of its lists, gives way to the exact search of every query
    (``method`` exact, ``instead_of`` ivf). HNSW stops raising at efSearch
    ``MAX_EF_SEARCH``. Recall counts each query's k = max_candidates + 1 best exact pairs
    (every pair of a query that is not a hub).

    ``timings``, when given, receives the wall and CPU seconds (all threads) of each step:
    ``build``, ``tune``, ``search``, ``check`` (for benchmarks; kept out of ``info`` so
    that a report does not depend on the machine).

    Returns
    -------
    (pairs, info)
        ``pairs``: columns ``q, g, sim``. ``info``: ``method`` (exact, ivf or hnsw) and,
        for an index, ``ann_recall``, ``recall_queries``, ``recall_pairs``,
        ``min_recall``, ``nlist`` and ``nprobe`` (ivf) or ``ef_search`` (hnsw), the final
        effort; ``tuning`` ([effort, recall] per step) and ``searches`` (full searches
        run). An exact search after an IVF index has ``instead_of``, ``nlist``,
        ``exact_share`` and ``tuning``.
    """
    comparisons = float(len(q)) * float(len(g))
    method = attack.search if attack.search != "auto" else (
        "exact" if comparisons <= attack.exact_comparisons else "ivf")
    info: dict = {"method": method}
    clock = _Clock(timings)
    with _Threads(len(g)):
        if method == "exact" or not len(q) or not len(g):
            pairs = flat_pairs(q, g, threshold)
            clock.lap("search")
            return _frame(pairs), info
        return _index_search(q, g, attack, threshold, seed, method, info, clock)


def _index_search(q, g, attack: FaceAttack, threshold: float, seed: int, method: str, info: dict,
                  clock: "_Clock") -> tuple[pd.DataFrame, dict]:
    k = attack.max_candidates + 1
    if method == "ivf":
        index = ivf_index(g, attack.nlist, seed)
        nlist = int(faiss_module().extract_index_ivf(index).nlist)
        top, effort, knob = nlist, min(nlist, attack.nprobe or max(1, -(-nlist // 8))), "nprobe"
        info["nlist"] = nlist
    else:
        index = hnsw_index(g)
        top, knob = max(MAX_EF_SEARCH, attack.ef_search), "ef_search"
        effort = attack.ef_search
    clock.lap("build")
    target = float(attack.min_recall)
    rng = np.random.default_rng([seed, 22, len(q), len(g)])
    n = min(RECALL_SAMPLE, len(q))
    perm = rng.permutation(len(q))
    tune = np.sort(perm[:n])
    check = np.sort(perm[n:2 * n]) if len(q) >= 2 * n else tune
    truth = {(int(tune[a]), b) for a, b in exact_best(q[tune], g, threshold, k)}
    # aim above the target by two standard errors of the tuning sample, so that the check
    # sample, as large, rarely falls below it and forces a second full search
    goal = min(1.0, target + 2 * np.sqrt(target * (1 - target) / max(len(truth), 1)))
    tuning: list = []

    def exact_instead() -> tuple[pd.DataFrame, dict]:
        # the index cannot reach the goal within exact_share of its lists: every pair instead
        clock.lap("tune")
        pairs = flat_pairs(q, g, threshold)
        clock.lap("search")
        info.update({"method": "exact", "instead_of": method, "exact_share": float(attack.exact_share),
                     "tuning": tuning})
        return _frame(pairs), info

    def next_effort(effort: int):
        """After a missed recall goal: EXACT when the exact search takes over (the goal
        missed with every list probed, or the next effort past face_exact_share of the
        lists), None when no more effort can be spent, else the next effort."""
        if method == "ivf" and (effort >= top or _raise(effort, top) > attack.exact_share * top):
            return EXACT
        return None if effort >= top else _raise(effort, top)

    while True:
        tq, tg, _ = ann_pairs(index, q[tune], threshold, k, effort)
        r = _recall(set(zip(tune[tq].tolist(), tg.tolist())), truth)
        tuning.append([int(effort), None if r is None else round(r, 6)])
        if r is None or r >= goal:
            break
        step = next_effort(effort)
        if step == EXACT:
            return exact_instead()
        if step is None:
            break
        effort = step
    clock.lap("tune")
    if check is not tune:
        truth = {(int(check[a]), b) for a, b in exact_best(q[check], g, threshold, k)}
    runs = 0
    while True:
        clock.lap("check")
        qi, gi, s = ann_pairs(index, q, threshold, k, effort)
        runs += 1
        clock.lap("search")
        m = np.isin(qi, check)
        r = _recall(set(zip(qi[m].tolist(), gi[m].tolist())), truth)
        if r is None or r >= target:
            break
        step = next_effort(effort)
        if step == EXACT:
            return exact_instead()
        if step is None:
            break
        effort = step
        tuning.append([int(effort), None])
    clock.lap("check")
    info.update({"ann_recall": r, "recall_queries": int(len(check)), "recall_pairs": len(truth),
                 "min_recall": target, knob: int(effort), "tuning": tuning, "searches": runs})
    return _frame((qi, gi, s)), info


__all__ = ["FaceAttack", "search", "RECALL_SAMPLE", "RECALL_TARGET", "RAISE", "EXACT_SHARE", "PARALLEL_GALLERY"]
