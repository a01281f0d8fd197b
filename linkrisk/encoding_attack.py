"""Attacks that make encoded or tokenised values readable (docs/encodings.md).

Three attacks, each given the released values (Bloom-filter encodings, or deterministic
tokens) and plaintext values of the same kind the attacker reads elsewhere (another
loaded dataset, a public list):

- :func:`frequency_alignment`: equal values give equal tokens (and equal unsalted,
  unflipped filters), so the i-th most frequent token is guessed to be the i-th most
  frequent plaintext value (Naveed, Kamara & Wright 2015; Kuzu et al. 2011 for Bloom
  filters). Only ranks whose frequency is not tied on either side are guessed.
- :func:`pattern_mining`: bit positions that are set together in about the share of
  filters a frequent q-gram occurs in are that q-gram's positions; each filter then
  contains or lacks each identified q-gram, which narrows it to the plaintext values
  consistent with it (Christen, Ranbaduge, Vatsalan & Schnell 2018).
- :func:`graph_matching`: the Dice similarities among encodings approximate the q-gram
  Dice similarities among their values, so the two similarity graphs are nearly
  isomorphic; nodes are aligned by their features, then by their similarities to the
  confidently aligned nodes (Vidanage, Christen, Ranbaduge & Schnell 2020).

Each returns one guess per released value (None where it does not guess) and what it
cost; in a run, :func:`linkrisk.encoding_reversal.attack_column` counts a record as
re-identified only where the guess equals the record's true value, and reports the
share and the cost.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from linkrisk.encodings import dice_matrix, qgrams, unpack

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.encodings import CLKParams

GRAPH_SAMPLE = 3000  # distinct encodings and plaintext values the graph attack aligns at most
PATTERN_QGRAMS = 60  # frequent q-grams the pattern miner tries to place
PATTERN_SAMPLE = 5_000  # filters the positions are mined from
FREQUENCY_MAX_DISTINCT = 1000  # tokenised columns with more distinct values are not frequency-attacked


def frequency_alignment(released: Sequence, reference: Sequence) -> np.ndarray:
    """Guess each released value by aligning frequency ranks with a plaintext reference.

    Parameters
    ----------
    released : sequence of hashable
        Tokens or encodings (as text), one per record; None for a missing value.
    reference : sequence of str
        Plaintext values of the same kind, one per record of the reference data.

    Returns
    -------
    numpy.ndarray of object
        The guess per released value, None where the rank is tied (on either side) or
        beyond the reference's distinct values.

    Notes
    -----
    Naveed, Kamara & Wright (2015), Inference attacks on property-preserving encrypted
    databases, CCS: frequency analysis of deterministic encryption.

    Examples
    --------
    >>> frequency_alignment(["t1", "t1", "t1", "t2", "t2", "t3"], ["f", "f", "f", "m", "m", "x"]).tolist()
    ['f', 'f', 'f', 'm', 'm', 'x']
    >>> frequency_alignment(["t1", "t2"], ["f", "m"]).tolist()  # a tie: no guess
    [None, None]
    """
    rel = pd.Series(list(released), dtype=object)
    tok = rel.dropna().value_counts()
    ref = pd.Series(list(reference), dtype=object).dropna().value_counts()
    mapping = {}
    tok_unique = ~tok.duplicated(keep=False)
    ref_unique = ~ref.duplicated(keep=False)
    for i in range(min(len(tok), len(ref))):
        if tok_unique.iloc[i] and ref_unique.iloc[i]:
            mapping[tok.index[i]] = ref.index[i]
    return np.array([mapping.get(v) if v is not None else None for v in rel], dtype=object)


def _incidence(values: Sequence[str], q: int, vocab: dict | None = None):
    """Sparse value x q-gram incidence matrix (scipy CSR) and the q-gram vocabulary."""
    from scipy import sparse

    vocab = {} if vocab is None else vocab
    rows, cols = [], []
    for i, v in enumerate(values):
        for g in set(qgrams(v, q)):
            j = vocab.setdefault(g, len(vocab))
            rows.append(i)
            cols.append(j)
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(values), len(vocab)))
    return m, vocab


def qgram_dice_matrix(a: Sequence[str], b: Sequence[str], q: int = 2) -> np.ndarray:
    """All-pairs q-gram Dice of two lists of values: an (n, m) float32."""
    ma, vocab = _incidence(a, q)
    mb, vocab = _incidence(b, q, vocab)
    ma.resize((ma.shape[0], len(vocab)))
    inter = (ma @ mb.T).toarray()
    na = np.asarray(ma.sum(axis=1)).ravel()
    nb = np.asarray(mb.sum(axis=1)).ravel()
    tot = na[:, None] + nb[None, :]
    return np.where(tot > 0, 2 * inter / np.maximum(tot, 1), 0).astype(np.float32)


def pattern_mining(filters: np.ndarray, reference: Sequence[str], q: int, k: int,
                   max_qgrams: int = PATTERN_QGRAMS, sample: int = PATTERN_SAMPLE,
                   seed: int = 0, tolerance: float = 0.1,
                   max_wrong: int = 2, starts: int = 3) -> tuple[np.ndarray, dict]:
    """Re-identify Bloom filters by mining q-gram bit positions from co-occurrence.

    For the most frequent q-grams of the reference (share p of records holding it), in
    order: each of the ``starts`` most frequent bit columns no placed q-gram has
    claimed starts a set; the column set together with the set in the most filters is
    added while at least
    ``(1 - tolerance) p`` of the filters hold every column of the set, up to k columns
    (the parameters are public); columns claimed by a placed q-gram are skipped, a set
    of fewer than k / 4 columns is dropped, and of the sets grown from the starts the
    one held by the most filters is the q-gram's. A filter *lacks* an identified
    q-gram when one of its positions is 0 (certain without bit flipping) and *holds* it
    when all are 1. A filter's guess is the reference value that disagrees with it on
    the fewest identified q-grams (held by one and not the other), when that value is
    unique and disagrees on at most ``max_wrong``; otherwise no guess.

    Parameters
    ----------
    filters : numpy.ndarray
        Packed filters (n, l / 8), one per released record (all-zero rows: missing).
    reference : sequence of str
        Plaintext values the attacker holds (a record per entry; frequencies count).
    q, k : int
        The encoding's q-gram length and hash functions (public parameters).

    Returns
    -------
    (guesses, info)
        A guess per filter (None where no unique candidate), and ``placed`` (q-grams
        given positions), ``seconds``.

    Notes
    -----
    Christen, Ranbaduge, Vatsalan & Schnell (2018), Precise and fast cryptanalysis for
    Bloom filter based privacy-preserving record linkage, IEEE TKDE 31(11); a greedy
    maximal-itemset version of their frequent pattern mining, bounded to ``max_qgrams``
    q-grams and ``sample`` filters.

    Examples
    --------
    >>> from linkrisk.encodings import encode, CLKParams
    >>> names = ["ab"] * 50 + ["cd"] * 30 + ["ef"] * 15 + ["gh"] * 5
    >>> f = encode(names, b"k", CLKParams(k=5, l=256))
    >>> g, info = pattern_mining(f, names, q=2, k=5)
    >>> float(np.mean(g == np.array(names, dtype=object)))
    1.0
    """
    t0 = time.perf_counter()
    ref = pd.Series(list(reference), dtype=object).dropna()
    counts = ref.value_counts()
    values = list(counts.index)
    share: dict[str, float] = {}
    for v, c in counts.items():
        for g in set(qgrams(v, q)):
            share[g] = share.get(g, 0.0) + c
    total = float(counts.sum()) or 1.0
    ranked = sorted(share, key=lambda g: (-share[g], g))[:max_qgrams]
    bits = unpack(filters)
    present = bits.any(axis=1)
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(present)
    if len(rows) > sample:
        rows = np.sort(rng.choice(rows, sample, replace=False))
    b = bits[rows]
    n = max(len(b), 1)
    free = np.ones(b.shape[1], dtype=bool)  # columns no placed q-gram has claimed
    placed: dict[str, np.ndarray] = {}
    bf = b.astype(np.float32)
    freq_all = bf.sum(axis=0)
    for g in ranked:
        target = share[g] / total * n * (1 - tolerance)  # filters that must hold every column
        cand = np.flatnonzero(free & (freq_all >= target))
        best_cols, best_support = None, -1.0
        for start in cand[np.argsort(-freq_all[cand], kind="stable")][:starts]:
            cols = [int(start)]
            support = bf[:, start].copy()
            while len(cols) < k:
                joint = np.einsum("i,ij->j", support, bf)  # not BLAS: its threads thrash on a busy machine
                joint[cols] = -1
                joint[~free] = -1  # a column another q-gram claimed may be shared: not used
                j = int(np.argmax(joint))
                if joint[j] < target:
                    break
                cols.append(j)
                support *= bf[:, j]
            if len(cols) >= max(2, k // 4) and support.sum() > best_support:
                best_cols, best_support = cols, float(support.sum())
        if best_cols is None:  # far fewer than k columns from every start: not placed
            continue
        placed[g] = np.asarray(best_cols)
        free[best_cols] = False
    guesses = np.full(len(filters), None, dtype=object)
    if placed:
        grams = list(placed)
        holds = np.stack([bits[:, placed[g]].all(axis=1) for g in grams], axis=1).astype(np.float32)
        vq = np.array([[g in set(qgrams(v, q)) for g in grams] for v in values], dtype=np.float32)
        # a value is consistent with a filter when it holds exactly the identified q-grams
        # the filter holds: none the filter lacks (certain without flipping), none missing
        lacks = vq @ (1 - holds).T  # values x filters: identified q-grams of the value the filter lacks
        extra = (1 - vq) @ holds.T  # identified q-grams the filter holds that the value does not
        wrong = lacks + extra  # disagreements; mined sets can be wrong, so the fewest wins
        best = wrong.min(axis=0)
        n_cand = (wrong == best[None, :]).sum(axis=0)
        arg = wrong.argmin(axis=0)
        ok = present & (n_cand == 1) & (best <= max_wrong)
        vals = np.array(values, dtype=object)
        guesses[ok] = vals[arg[ok]]
    return guesses, {"placed": len(placed), "positions": placed, "seconds": time.perf_counter() - t0}


def _features(sim: np.ndarray, extra: list[np.ndarray]) -> np.ndarray:
    thresholds = np.arange(0.3, 1.0, 0.1)
    off = sim.copy()
    np.fill_diagonal(off, 0)
    deg = [(off >= t).sum(axis=1) for t in thresholds]
    top = -np.sort(-off, axis=1)[:, :5]
    f = np.column_stack([np.log1p(np.column_stack(deg)), top, *[np.log1p(x) for x in extra]]).astype(np.float64)
    sd = f.std(axis=0)
    return (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1)


def _calibrate(se: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Map the encoded similarities onto the plaintext similarities' distribution
    (quantile matching of the off-diagonal values): hardening that changes similarities
    monotonically (balancing, folding) then changes nothing the features see."""
    n = len(se)
    off = ~np.eye(n, dtype=bool)
    ranks = np.argsort(np.argsort(se[off], kind="stable"), kind="stable")
    target = np.sort(sp[~np.eye(len(sp), dtype=bool)])
    if not len(target):
        return se
    out = se.copy()
    out[off] = target[np.minimum((ranks * len(target)) // max(len(ranks), 1), len(target) - 1)]
    return out


def graph_matching(filters: np.ndarray, filter_counts: np.ndarray, values: Sequence[str],
                   value_counts: np.ndarray, params: "CLKParams", rounds: int = 3) -> tuple[np.ndarray, dict]:
    """Align distinct encodings with distinct plaintext values through their similarity graphs.

    1. Similarity graphs: Dice among the encodings, q-gram Dice among the values; the
       encodings' similarities are mapped onto the distribution of the values'
       (quantile matching), which undoes any monotone distortion by hardening.
    2. Node features: degree at similarity thresholds 0.3 ... 0.9, the five highest
       similarities, the estimated number of q-grams (from the bit count, as
       ``-(l/k) ln(1 - X/l)``, Swamidass & Baldi 2007), and how many records hold it.
       Features are standardised on each side; an optimal assignment
       (``scipy.optimize.linear_sum_assignment``) on their distances gives a first
       alignment.
    3. Refinement: the pairs with the most similar features are anchors; each node's
       similarities to the anchors of its side are compared (Pearson correlation) and
       the assignment solved again, with more anchors each round.

    Parameters
    ----------
    filters : numpy.ndarray
        Distinct packed filters (n, w).
    filter_counts : numpy.ndarray
        Records holding each filter.
    values : sequence of str
        Distinct plaintext values of the attacker's data.
    value_counts : numpy.ndarray
        Records holding each value.
    params : CLKParams
        The encoding's public parameters (q, k, l).

    Returns
    -------
    (guesses, info)
        The guessed value per filter (every filter is assigned while values last) and
        ``seconds``, ``pairs_compared``.

    Notes
    -----
    Vidanage, Christen, Ranbaduge & Schnell (2020), A graph matching attack on
    privacy-preserving record linkage, CIKM. Their node embeddings and similarity
    features are replaced by the features above and an anchor refinement, which on
    unsalted filters reaches the same order of accuracy (docs/encodings.md).

    Examples
    --------
    >>> from linkrisk.encodings import encode, CLKParams
    >>> vals = ["anna", "anne", "ann", "bob", "bobby", "rob", "robert", "joe", "jo", "joan"]
    >>> p = CLKParams(k=20, l=512)
    >>> f = encode(vals, b"k", p)
    >>> g, _ = graph_matching(f, np.arange(10, 0, -1), vals, np.arange(10, 0, -1), p)
    >>> int((g == np.array(vals, dtype=object)).sum()) >= 8
    True
    """
    from scipy.optimize import linear_sum_assignment

    t0 = time.perf_counter()
    values = list(values)
    se = dice_matrix(filters, filters)
    sp = qgram_dice_matrix(values, values, params.q)
    se = _calibrate(se, sp)
    bitcount = np.bitwise_count(filters).sum(axis=1).astype(np.float64)
    lbits = filters.shape[1] * 8
    est = -(lbits / params.k) * np.log(np.clip(1 - bitcount / lbits, 1e-9, None))
    nq = np.array([len(set(qgrams(v, params.q))) for v in values], dtype=np.float64)
    fe = _features(se, [est, np.asarray(filter_counts, dtype=np.float64)])
    fp = _features(sp, [nq, np.asarray(value_counts, dtype=np.float64)])
    cost = np.abs(fe[:, None, :] - fp[None, :, :]).sum(axis=2)
    r, c = linear_sum_assignment(cost)
    pair_cost = cost[r, c]
    for i in range(rounds):
        m = min(len(r), max(20, int(len(r) * (0.1 + 0.3 * i))))
        best = np.argsort(pair_cost)[:m]
        ae, ap = r[best], c[best]
        xe = se[:, ae] - se[:, ae].mean(axis=1, keepdims=True)
        xp = sp[:, ap] - sp[:, ap].mean(axis=1, keepdims=True)
        xe /= np.maximum(np.linalg.norm(xe, axis=1, keepdims=True), 1e-9)
        xp /= np.maximum(np.linalg.norm(xp, axis=1, keepdims=True), 1e-9)
        corr = xe @ xp.T
        r, c = linear_sum_assignment(-corr)
        pair_cost = -corr[r, c]
    guesses = np.full(len(filters), None, dtype=object)
    guesses[r] = np.array(values, dtype=object)[c]
    return guesses, {"seconds": time.perf_counter() - t0, "pairs_compared": int(len(filters) * len(values))}


__all__ = ["frequency_alignment", "graph_matching", "pattern_mining", "qgram_dice_matrix"]
