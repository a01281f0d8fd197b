"""The biometric attacker: link records of two datasets whose face templates match.

For every two face-template columns of different datasets in one linkage domain, each
template of the larger side is searched among the templates of the smaller (a 1:N search
per record) and every pair with cosine similarity at or above the threshold becomes an
edge (linker ``faces``, rule ``face_template``, the similarity in the edge's ``p``). The
threshold is set from a target false-match rate (``[attacker] face_fmr``, default 1e-6)
under the impostor distribution of random unit vectors at the templates' dimension
(:func:`linkrisk.face.threshold_for_fmr`), or given as ``face_threshold``.

Search is exact (blocked matrix products in NumPy) while the comparisons stay within
``face_exact_comparisons``, and approximate beyond, with an inverted-file index of FAISS
(IVF, k-means lists of 4-bit product-quantised codes re-ranked by exact inner product;
Jégou, Douze and Schmid, IEEE TPAMI 33, 2011; Douze et al., "The Faiss library", 2024),
or HNSW when asked (Malkov and Yashunin, IEEE TPAMI 42, 2020). An approximate search can
miss matches, which would make the figures optimistic: its search effort (IVF lists
probed, HNSW efSearch) is raised until it finds ``face_min_recall`` (default 0.99) of the
exact pairs, strangers and genuine alike, of a seeded sample of queries, and checked on
another; a recall still below 0.99 is a warning of the run.

Hub guard: a template that matches more than ``face_max_candidates`` templates of the
other dataset (a default avatar, a blank camera frame, a "wolf" template) links nothing
and is listed as a hub, as a placeholder value is for identifiers.

Scenario techniques: ``drop`` removes the column; ``degrade_template`` adds capture noise
of length ``level``; ``protect_template`` releases a keyed random rotation of each
template (a cancellable template, Teoh et al. 2006's BioHashing without the binarisation),
one key per key scope. See docs/faces.md for the limits of each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote
from linkrisk.engine.base import ROW
from linkrisk.errors import Problem, StudyError
from linkrisk.face import FACE_KIND, FACE_TECHNIQUES, fpir, parse_templates, threshold_for_fmr, unit_rows

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.release import Release
    from linkrisk.study import Study

RECALL_SAMPLE = 1000  # seeded queries that tune the index, and as many again that check it
RECALL_TARGET = 0.99  # below this measured recall a run warns whatever face_min_recall says
RAISE = 1.25  # each raise multiplies the probes (IVF) or efSearch (HNSW) by this
MAX_EF_SEARCH = 4096  # HNSW: the raises stop here (IVF stops at every list: exhaustive)
K_FACTOR = 20  # IVF: candidates re-ranked by exact inner product per wanted result
PQ_MIN_GALLERY = 1000  # IVF: 4-bit product quantisation from this gallery size, plain vectors below
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

    @classmethod
    def of(cls, study: "Study") -> "FaceAttack":
        a = study.attacker
        return cls(float(a.face_fmr), None if a.face_threshold is None else float(a.face_threshold),
                   str(a.face_search), int(a.face_ef_search), int(a.face_max_candidates),
                   float(a.face_exact_comparisons), int(a.face_nlist), int(a.face_nprobe),
                   float(a.face_min_recall))

    def threshold_at(self, dimension: int) -> float:
        return float(self.threshold) if self.threshold is not None else threshold_for_fmr(self.fmr, dimension)


def exact_pairs(q: np.ndarray, g: np.ndarray, threshold: float, block: int = 2048,
                gallery_block: int = 65536) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query, gallery) pair with inner product >= threshold, by blocked products.

    Memory is one block × gallery-block float32 matrix (512 MB at the defaults).

    Examples
    --------
    >>> q = np.array([[1, 0], [0, 1]], np.float32); g = np.array([[0.8, 0.6], [0, -1]], np.float32)
    >>> [a.tolist() for a in exact_pairs(q, g, 0.7)]   # q0·g0 = 0.8; q1·g0 = 0.6 < 0.7
    [[0], [0], [0.800000011920929]]
    """
    qs, gs, ss = [], [], []
    for i in range(0, len(q), block):
        qb = q[i:i + block]
        for j in range(0, len(g), gallery_block):
            s = qb @ g[j:j + gallery_block].T
            r, c = np.nonzero(s >= threshold)
            qs.append(r + i)
            gs.append(c + j)
            ss.append(s[r, c])
    if not qs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate(qs).astype(np.int64), np.concatenate(gs).astype(np.int64),
            np.concatenate(ss).astype(np.float32))


def _faiss():
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise StudyError(Problem("faces linker", "approximate search needs faiss-cpu: pip install faiss-cpu, "
                                               "or set [attacker] face_search = \"exact\"")) from e
    return faiss


def hnsw_index(g: np.ndarray, m: int = 16, ef_construction: int = 80):
    """A FAISS HNSW index (inner product) of the gallery."""
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(g.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(np.ascontiguousarray(g, dtype=np.float32))
    return index


def ivf_lists(n: int) -> int:
    """The automatic number of IVF lists for a gallery of ``n``: about √n, and at most n / 39.

    √n is the low end of FAISS's guideline (√n to 16√n lists); 39 training points per
    list is the least FAISS's k-means accepts without a warning.

    Examples
    --------
    >>> ivf_lists(1_000_000), ivf_lists(2_000), ivf_lists(20)
    (1000, 45, 1)
    """
    return max(1, min(int(round(np.sqrt(n))), n // 39))


def ivf_index(g: np.ndarray, nlist: int = 0, seed: int = 0):
    """A FAISS inverted-file index (inner product) of the gallery, k-means trained on a seeded sample.

    From ``PQ_MIN_GALLERY`` templates on, each list holds 4-bit product-quantised codes (one
    sub-quantiser per component, scanned with SIMD "fast scan") and the ``K_FACTOR`` × k
    best candidates of each search are re-ranked by their exact inner product, so the
    similarities returned are exact; below, the lists hold the vectors themselves.
    ``nlist`` 0 is :func:`ivf_lists`; a larger one is cut to n / 39.

    Notes
    -----
    Jégou, Douze and Schmid, "Product quantization for nearest neighbor search", IEEE
    TPAMI 33, 2011 (IVF and PQ); André, Kermarrec and Le Scouarnec, "Cache locality is not
    enough", VLDB 2015 (fast scan); Douze et al., "The Faiss library", 2024.
    """
    faiss = _faiss()
    n, d = g.shape
    nlist = max(1, min(int(nlist) or ivf_lists(n), max(1, n // 39)))
    spec = f"IVF{nlist},PQ{d}x4fs,RFlat" if n >= PQ_MIN_GALLERY else f"IVF{nlist},Flat"
    index = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.seed = int(seed) % 2 ** 31
    if hasattr(ivf, "pq"):
        ivf.pq.cp.seed = int(seed) % 2 ** 31
    g = np.ascontiguousarray(g, dtype=np.float32)
    rng = np.random.default_rng([int(seed), 22, n])
    if nlist == 1 and n < PQ_MIN_GALLERY:  # one list: nothing to cluster (FAISS warns below 39 points)
        ivf.quantizer.add(np.ones((1, d), np.float32))
        ivf.is_trained = True
    else:
        train = g if n <= 256 * nlist else g[np.sort(rng.choice(n, 256 * nlist, replace=False))]
        index.train(train)
    index.add(g)
    return index


def _set_effort(index, effort: int, k: int) -> None:
    faiss = _faiss()
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(int(effort), k)
        return
    faiss.extract_index_ivf(index).nprobe = int(effort)
    if hasattr(index, "k_factor"):
        index.k_factor = K_FACTOR


def ann_pairs(index, q: np.ndarray, threshold: float, k: int, effort: int,
              block: int = 65536) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every gallery template at or above the threshold among each query's ``k`` best found.

    ``effort`` is the IVF lists probed, or HNSW's efSearch. With ``k`` = face_max_candidates
    + 1 this is what a range search at the threshold gives, followed by the hub guard, for
    the lists probed: a query with at most k − 1 matches among them gets every one, and one
    with more gets k, all at or above the threshold, so it shows as the hub it is; the
    memory stays k pairs a query however many templates a placeholder matches.
    """
    _set_effort(index, effort, k)
    qs, gs, ss = [], [], []
    for i in range(0, len(q), block):
        sim, idx = index.search(np.ascontiguousarray(q[i:i + block], dtype=np.float32), k)
        r, c = np.nonzero((sim >= threshold) & (idx >= 0))
        qs.append(r + i)
        gs.append(idx[r, c])
        ss.append(sim[r, c])
    if not qs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate(qs).astype(np.int64), np.concatenate(gs).astype(np.int64),
            np.concatenate(ss).astype(np.float32))


def hnsw_pairs(index, q: np.ndarray, threshold: float, k: int, ef_search: int,
               block: int = 65536) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The up to ``k`` best gallery templates of each query found by an HNSW index, at or above the threshold."""
    return ann_pairs(index, q, threshold, k, ef_search, block)


def exact_best(q: np.ndarray, g: np.ndarray, threshold: float, k: int) -> set[tuple[int, int]]:
    """The exact pairs at or above the threshold, each query's ``k`` best: what a perfect index returns.

    Examples
    --------
    >>> q = np.array([[1, 0]], np.float32); g = np.array([[1, 0], [0.9, 0.1], [0.8, 0.2]], np.float32)
    >>> sorted(exact_best(q, g, 0.85, k=2))   # 1.0, 0.9 and 0.8: two at or above 0.85
    [(0, 0), (0, 1)]
    """
    eq, eg, es = exact_pairs(q, g, threshold)
    order = np.lexsort((-es, eq))
    eq, eg = eq[order], eg[order]
    rank = np.arange(len(eq)) - np.searchsorted(eq, eq)
    keep = rank < k
    return set(zip(eq[keep].tolist(), eg[keep].tolist()))


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
        faiss = _faiss()
        self.before = faiss.omp_get_max_threads()
        if self.one:
            faiss.omp_set_num_threads(1)

    def __exit__(self, *exc):
        _faiss().omp_set_num_threads(self.before)


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


def search(q: np.ndarray, g: np.ndarray, attack: FaceAttack, threshold: float,
           seed: int = 0, timings: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Pairs of query and gallery templates at or above the threshold, and what was done.

    Exact search (blocked matrix products) while queries × gallery stays within
    ``attack.exact_comparisons`` or when asked; otherwise an index (IVF by default, HNSW
    when asked) whose search effort is raised until it finds ``attack.min_recall`` of the
    exact pairs, strangers and genuine alike:

    1. *tune*: ``RECALL_SAMPLE`` seeded queries are searched exactly and with the index at
       the starting effort (``nprobe``, 0: an eighth of the lists; or ``ef_search``); while
       the index finds less than min_recall plus two binomial standard errors of their
       exact pairs, the effort is multiplied by ``RAISE``;
    2. *search* every query at that effort;
    3. *check* on another ``RECALL_SAMPLE`` seeded queries, searched exactly: the recall
       reported (``ann_recall``) is theirs; below min_recall the effort is raised and the
       whole search repeated.

    An IVF index stops raising at every list (exhaustive over the quantised codes, then
    re-ranked exactly); HNSW at efSearch ``MAX_EF_SEARCH``. Recall counts each query's
    k = max_candidates + 1 best exact pairs (every pair of a query that is not a hub).

    ``timings``, when given, receives the wall and CPU seconds (all threads) of each step:
    ``build``, ``tune``, ``search``, ``check`` (for benchmarks; kept out of ``info`` so
    that a report does not depend on the machine).

    Returns
    -------
    (pairs, info)
        ``pairs``: columns ``q, g, sim``. ``info``: ``method`` (exact, ivf or hnsw) and,
        for an index, ``ann_recall``, ``recall_queries``, ``recall_pairs``,
        ``min_recall``, ``nlist`` and ``nprobe`` (ivf) or ``ef_search`` (hnsw), the final
        effort; ``tuning`` ([effort, recall] per step) and ``searches`` (full searches run).
    """
    comparisons = float(len(q)) * float(len(g))
    method = attack.search if attack.search != "auto" else (
        "exact" if comparisons <= attack.exact_comparisons else "ivf")
    info: dict = {"method": method}
    k = attack.max_candidates + 1  # one more than a hub may hold, so that hubs show
    clock = _Clock(timings)
    if method == "exact" or not len(q) or not len(g):
        qi, gi, s = exact_pairs(q, g, threshold)
        clock.lap("search")
        return pd.DataFrame({"q": qi, "g": gi, "sim": s}), info
    with _Threads(len(g)):
        return _index_search(q, g, attack, threshold, seed, method, info, clock)


def _index_search(q, g, attack: FaceAttack, threshold: float, seed: int, method: str, info: dict,
                  clock: "_Clock") -> tuple[pd.DataFrame, dict]:
    k = attack.max_candidates + 1
    if method == "ivf":
        index = ivf_index(g, attack.nlist, seed)
        nlist = int(_faiss().extract_index_ivf(index).nlist)
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
    tuning = []
    while True:
        tq, tg, _ = ann_pairs(index, q[tune], threshold, k, effort)
        r = _recall(set(zip(tune[tq].tolist(), tg.tolist())), truth)
        tuning.append([int(effort), None if r is None else round(r, 6)])
        if r is None or r >= goal or effort >= top:
            break
        effort = _raise(effort, top)
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
        if r is None or r >= target or effort >= top:
            break
        effort = _raise(effort, top)
        tuning.append([int(effort), None])
    clock.lap("check")
    info.update({"ann_recall": r, "recall_queries": int(len(check)), "recall_pairs": len(truth),
                 "min_recall": target, knob: int(effort), "tuning": tuning, "searches": runs})
    return pd.DataFrame({"q": qi, "g": gi, "sim": s}), info


def hub_filter(pairs: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """Drop every pair of a template that matches more than ``limit`` others; count them.

    Examples
    --------
    >>> p = pd.DataFrame({"q": [0, 1, 2, 3], "g": [5, 5, 5, 6], "sim": [0.9] * 4})
    >>> kept, hubs = hub_filter(p, 2)    # gallery 5 matches 3 queries: a hub
    >>> kept[["q", "g"]].values.tolist(), hubs
    ([[3, 6]], 1)
    """
    if pairs.empty:
        return pairs, 0
    nq = pairs["q"].map(pairs["q"].value_counts())
    ng = pairs["g"].map(pairs["g"].value_counts())
    hub_q = set(pairs.loc[nq > limit, "q"])
    hub_g = set(pairs.loc[ng > limit, "g"])
    keep = ~(pairs["q"].isin(hub_q) | pairs["g"].isin(hub_g))
    return pairs[keep].reset_index(drop=True), len(hub_q) + len(hub_g)


def rotation(key: bytes, dimension: int) -> np.ndarray:
    """A random orthogonal matrix drawn from a key (QR of a Gaussian, signs fixed; Mezzadri 2007).

    Examples
    --------
    >>> r = rotation(b"k" * 32, 4)
    >>> bool(np.allclose(r @ r.T, np.eye(4), atol=1e-6))
    True
    """
    rng = np.random.default_rng(int.from_bytes(key[:16], "little"))
    qm, rm = np.linalg.qr(rng.standard_normal((dimension, dimension)))
    return (qm * np.sign(np.diag(rm))).astype(np.float32)


def transform_templates(m: np.ndarray, technique: str, level, key: bytes | None,
                        rng: np.random.Generator) -> np.ndarray:
    """Apply a scenario's template technique to unit templates (rows)."""
    if technique == "degrade_template":
        d = m.shape[1]
        g = rng.standard_normal(m.shape, dtype=np.float32)
        return unit_rows(m + g * np.float32(float(level) / np.sqrt(d)))
    if technique == "protect_template" and key is not None:
        return unit_rows(m @ rotation(key, m.shape[1]).T)
    return m


def released_templates(engine: "Engine", study: "Study", release: "Release") -> list[dict]:
    """Per face-template column of the release: dataset index, domain, record ids and templates."""
    out = []
    index = {d.name: i for i, d in enumerate(study.datasets)}
    for c in release.columns:
        if c.kind != FACE_KIND or c.domain is None:
            continue
        # every record, in the order of the file, so that a problem names the file's row
        got = engine.arrays(f"SELECT _rid, {quote(c.value)} AS v FROM {quote(c.table)} ORDER BY _rid")
        where = f"dataset {c.dataset!r} column {c.ref.column!r}"
        m, ok, problems = parse_templates(list(got["v"]), where)
        if problems:
            raise StudyError(problems, str(study.source) if study.source else None)
        rids = np.asarray(got["_rid"], dtype=np.int64)[ok]
        m = m[ok]
        pol = release.policies.get(c.ref)
        if pol is not None and pol[0].name in FACE_TECHNIQUES:
            tech, ctx = pol
            rotate = tech.name == "protect_template" and c.domain.split("|")[-1] != "plain"
            key = ctx.keys.key(ctx.scope, "face-projection") if rotate else None
            rng = np.random.default_rng([int(study.seed), 22, index[c.dataset]])
            m = transform_templates(m, tech.name, ctx.policy.level, key, rng)
        out.append({"dataset": index[c.dataset], "name": c.dataset, "column": c.ref.column, "domain": c.domain,
                    "rids": rids, "templates": m})
    dims = {x["templates"].shape[1] for x in out if len(x["templates"])}
    if len(dims) > 1:
        raise StudyError(Problem("faces linker", "face templates of different dimensions ("
                                 + ", ".join(f"{x['name']}.{x['column']}: {x['templates'].shape[1]}" for x in out)
                                 + "): templates compare only within one model; map one model's templates"),
                         str(study.source) if study.source else None)
    return out


def link_faces(engine: "Engine", study: "Study", release: "Release", edges: str) -> tuple[list[dict], dict]:
    """The ``faces`` linker of the pipeline. Returns the hubs and, for the report, one
    entry per compared pair of datasets (method, threshold, comparisons, analytic FPIR,
    expected false pairs, pairs linked, hubs, ANN recall)."""
    attack = FaceAttack.of(study)
    cols = released_templates(engine, study, release)
    hubs: list[dict] = []
    searches = []
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            x, y = cols[i], cols[j]
            if x["dataset"] == y["dataset"] or x["domain"] != y["domain"]:
                continue
            if not len(x["templates"]) or not len(y["templates"]):
                continue
            # the smaller side is the gallery (the index), the larger the queries
            qc, gc = (x, y) if len(x["templates"]) >= len(y["templates"]) else (y, x)
            d = qc["templates"].shape[1]
            t = attack.threshold_at(d)
            pairs, info = search(qc["templates"], gc["templates"], attack, t, seed=int(study.seed))
            pairs, n_hubs = hub_filter(pairs, attack.max_candidates)
            nq, ng = len(qc["templates"]), len(gc["templates"])
            fmr = attack.fmr if attack.threshold is None else None
            searches.append({"queries_dataset": qc["name"], "gallery_dataset": gc["name"], **info,
                             "dimension": int(d), "threshold": round(t, 6), "fmr": fmr, "queries": nq,
                             "gallery": ng, "comparisons": nq * ng,
                             "fpir_analytic": None if fmr is None else fpir(fmr, ng),
                             "expected_false_pairs": None if fmr is None else fmr * nq * ng,
                             "pairs": int(len(pairs)), "hub_templates": n_hubs})
            if n_hubs:
                hubs.append({"linker": "faces", "rule": FACE_KIND, "domain": x["domain"], "records": n_hubs,
                             "datasets": 2, "value": "[face template]", "reason": "face_max_candidates",
                             "limit": attack.max_candidates})
            if pairs.empty:
                continue
            ra, rb = qc["rids"][pairs["q"].to_numpy()], gc["rids"][pairs["g"].to_numpy()]
            da, db = qc["dataset"], gc["dataset"]
            frame = pd.DataFrame({"a": np.minimum(ra, rb), "b": np.maximum(ra, rb),
                                  "da": np.where(ra < rb, da, db).astype(np.int32),
                                  "db": np.where(ra < rb, db, da).astype(np.int32),
                                  "p": pairs["sim"].to_numpy(dtype=np.float64)})
            engine.register_frame("_face_links", frame)
            try:
                engine.execute(f"INSERT INTO {quote(edges)} SELECT a, b, 'faces', ?, da, db, p FROM _face_links",
                               [FACE_KIND])
            finally:
                engine.drop("_face_links")
    return hubs, {"searches": searches}


def has_faces(study: "Study") -> bool:
    return any(k == FACE_KIND for d in study.datasets for k in d.columns.values())


def file_problems(study: "Study", engine: "Engine") -> list[Problem]:
    """Unreadable templates in the loaded (raw) face-template columns, and mixed dimensions."""
    from linkrisk.load import raw_table

    p: list[Problem] = []
    tables = set(engine.tables())
    dims = {}
    for i, d in enumerate(study.datasets):
        for col, kind in d.columns.items():
            if kind != FACE_KIND or raw_table(i) not in tables or col not in engine.columns(raw_table(i)):
                continue
            got = engine.arrays(f"SELECT {quote(col)} AS v FROM {quote(raw_table(i))} ORDER BY {quote(ROW)}")
            m, ok, problems = parse_templates(list(got["v"]), f"{d.label()} column {col!r}")
            p += problems
            if ok.any():
                dims[f"{d.name}.{col}"] = m.shape[1]
    if len(set(dims.values())) > 1:
        p.append(Problem("face templates", "columns hold templates of different dimensions ("
                         + ", ".join(f"{k}: {v}" for k, v in dims.items())
                         + "); templates compare only within one model: map one model's templates"))
    return p


__all__ = ["FaceAttack", "exact_pairs", "exact_best", "hnsw_index", "hnsw_pairs", "ivf_index", "ivf_lists",
           "ann_pairs", "search", "hub_filter", "rotation",
           "transform_templates", "released_templates", "link_faces", "has_faces", "file_problems",
           "FACE_KIND", "FACE_TECHNIQUES"]
