"""Searching face templates: exact pairs above a threshold, and the FAISS indexes.

The pieces the faces linker's search (:mod:`linkrisk.face_search`) is made of, each
returning ``(query, gallery, similarity)`` arrays of the pairs at or above a threshold:

- :func:`exact_pairs`: blocked NumPy matrix products; the reference every recall is
  measured against;
- :func:`flat_pairs`: the same pairs from FAISS's exhaustive range search (one BLAS matrix
  product per block with the threshold applied as it is read: about 3.7 CPU-ns a pair at
  d = 128 on this machine, against 5.9 for NumPy's product followed by a comparison and
  ``nonzero``);
- :func:`ann_pairs` on an inverted-file index (:func:`ivf_index`, 4-bit product-quantised
  codes re-ranked by exact inner product) or a graph index (:func:`hnsw_index`).

Every similarity returned is an exact inner product of the two unit templates (the IVF
codes only choose the candidates), so a search can miss a pair but never invents one.

Notes
-----
Jégou, Douze and Schmid, "Product quantization for nearest neighbor search", IEEE TPAMI
33, 2011 (IVF and PQ); André, Kermarrec and Le Scouarnec, "Cache locality is not enough",
VLDB 2015 (fast scan); Malkov and Yashunin, IEEE TPAMI 42, 2020 (HNSW); Douze et al.,
"The Faiss library", 2024. See docs/faces.md.
"""

from __future__ import annotations

import numpy as np

from linkrisk.errors import Problem, StudyError

MAX_EF_SEARCH = 4096  # HNSW: the raises stop here (IVF stops at every list: exhaustive)
K_FACTOR = 20  # IVF: candidates re-ranked by exact inner product per wanted result
PQ_MIN_GALLERY = 1000  # IVF: 4-bit product quantisation from this gallery size, plain vectors below
FLAT_BLOCK = 65536  # flat_pairs: queries per FAISS range search (bounds the result buffers)

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _joined(qs: list, gs: list, ss: list) -> Pairs:
    if not qs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate(qs).astype(np.int64), np.concatenate(gs).astype(np.int64),
            np.concatenate(ss).astype(np.float32))


def exact_pairs(q: np.ndarray, g: np.ndarray, threshold: float, block: int = 2048,
                gallery_block: int = 65536) -> Pairs:
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
    return _joined(qs, gs, ss)


def faiss_module():
    """FAISS, or a clear error naming the package to install."""
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise StudyError(Problem("faces linker", "approximate search needs faiss-cpu: pip install faiss-cpu, "
                                               "or set [attacker] face_search = \"exact\"")) from e
    return faiss


def flat_pairs(q: np.ndarray, g: np.ndarray, threshold: float, block: int = FLAT_BLOCK) -> Pairs:
    """Every (query, gallery) pair with inner product >= threshold, by FAISS's exhaustive search.

    The pairs of :func:`exact_pairs` (up to float32 rounding of a product that equals the
    threshold), computed by ``IndexFlatIP.range_search``: blocked BLAS products whose
    entries are compared with the threshold as they are read, so no product matrix or
    mask is kept. FAISS keeps similarities strictly above its radius: the radius is the
    float32 just below the threshold. Results come back per block of ``block`` queries.

    Examples
    --------
    >>> q = np.array([[1, 0], [0, 1]], np.float32); g = np.array([[0.75, 0.5], [0, -1]], np.float32)
    >>> [a.tolist() for a in flat_pairs(q, g, 0.75)]   # q0·g0 = 0.75 exactly: kept
    [[0], [0], [0.75]]
    """
    faiss = faiss_module()
    g = np.ascontiguousarray(g, dtype=np.float32)
    index = faiss.IndexFlatIP(g.shape[1])
    index.add(g)
    radius = float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))
    qs, gs, ss = [], [], []
    for i in range(0, len(q), block):
        lims, sim, idx = index.range_search(np.ascontiguousarray(q[i:i + block], dtype=np.float32), radius)
        qs.append(np.repeat(np.arange(len(lims) - 1, dtype=np.int64) + i, np.diff(lims).astype(np.int64)))
        gs.append(idx)
        ss.append(sim)
    return _joined(qs, gs, ss)


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


def hnsw_index(g: np.ndarray, m: int = 16, ef_construction: int = 80):
    """A FAISS HNSW index (inner product) of the gallery."""
    faiss = faiss_module()
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
    Jégou, Douze and Schmid, IEEE TPAMI 33, 2011 (IVF and PQ); André, Kermarrec and Le
    Scouarnec, VLDB 2015 (fast scan); Douze et al., "The Faiss library", 2024.
    """
    faiss = faiss_module()
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


def set_effort(index, effort: int, k: int) -> None:
    """Set an index's search effort: HNSW's efSearch (at least k), or IVF's lists probed."""
    faiss = faiss_module()
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(int(effort), k)
        return
    faiss.extract_index_ivf(index).nprobe = int(effort)
    if hasattr(index, "k_factor"):
        index.k_factor = K_FACTOR


def ann_pairs(index, q: np.ndarray, threshold: float, k: int, effort: int,
              block: int = 65536) -> Pairs:
    """Every gallery template at or above the threshold among each query's ``k`` best found.

    ``effort`` is the IVF lists probed, or HNSW's efSearch. With ``k`` = face_max_candidates
    + 1 this is what a range search at the threshold gives, followed by the hub guard, for
    the lists probed: a query with at most k − 1 matches among them gets every one, and one
    with more gets k, all at or above the threshold, so it shows as the hub it is; the
    memory stays k pairs a query however many templates a placeholder matches.
    """
    set_effort(index, effort, k)
    qs, gs, ss = [], [], []
    for i in range(0, len(q), block):
        sim, idx = index.search(np.ascontiguousarray(q[i:i + block], dtype=np.float32), k)
        r, c = np.nonzero((sim >= threshold) & (idx >= 0))
        qs.append(r + i)
        gs.append(idx[r, c])
        ss.append(sim[r, c])
    return _joined(qs, gs, ss)


def hnsw_pairs(index, q: np.ndarray, threshold: float, k: int, ef_search: int,
               block: int = 65536) -> Pairs:
    """The up to ``k`` best gallery templates of each query found by an HNSW index, at or above the threshold."""
    return ann_pairs(index, q, threshold, k, ef_search, block)


__all__ = ["exact_pairs", "flat_pairs", "exact_best", "faiss_module", "hnsw_index", "hnsw_pairs", "ivf_lists",
           "ivf_index", "set_effort", "ann_pairs", "MAX_EF_SEARCH", "K_FACTOR", "PQ_MIN_GALLERY"]
