"""The encodings linker: records whose Bloom-filter encodings are similar (docs/encodings.md).

This is what a linkage unit does with CLKs, and what an attacker holding encodings made
with one key can do too: compare filters by their Dice coefficient and link pairs above
a threshold. Filters of two datasets are comparable only within one linkage domain
(same key scope, same parameters); when several encoded columns are shared, their
filters are concatenated into one record-level filter (as a CLK over several fields).

Blocking: Hamming locality-sensitive hashing over bit samples (Indyk & Motwani 1998;
Durham 2012 for Bloom filters): ``BANDS`` bands of ``BAND_BITS`` bit positions drawn
with the study seed; two records are compared when their bits agree on every position
of one band. With filters ~15% full and Dice 0.8, two matching filters differ on about
6% of their bits, so a band catches them with probability 0.94^32 ≈ 0.13 and 30 bands
with probability ≈ 0.98; two unrelated filters agree on a band with probability about
6e-5.

A pair is linked when its Dice is at least ``encoding_threshold`` and each record is
the other's unique best match in the other dataset (a one-to-one linkage, as linkage
units do; ties link nothing).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.encodings import from_hex, unpack
from linkrisk.engine import quote

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.linkage_domain import LinkageDomain
    from linkrisk.release import Release, ReleasedColumn
    from linkrisk.study import StudyConfig

BANDS, BAND_BITS = 30, 32
MAX_BUCKET = 2000  # a band key held by more records on one side compares nothing (a hub of the blocking)


def encoded_columns(release: "Release") -> list["ReleasedColumn"]:
    """The released Bloom-filter columns still encoded (not re-identified copies)."""
    return [c for c in release.columns if c.technique == "bloom_filter" and c.linkage is not None
            and c.value_column is None]


def _fetch(engine: "Engine", cols: list["ReleasedColumn"]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record ids, dataset indexes and concatenated packed filters of one dataset's columns."""
    table = cols[0].table
    if any(c.table != table for c in cols):  # pragma: no cover - one released table per dataset
        raise ValueError("encoded columns of one dataset live in one released table")
    where = " OR ".join(f"{c.value} IS NOT NULL" for c in cols)
    df = engine.df(f"SELECT _rid, _ds, {', '.join(c.value for c in cols)} FROM {quote(table)} "
                   f"WHERE {where} ORDER BY _rid")
    parts = []
    for c in cols:
        texts = df[c.value]
        width = max((len(t) for t in texts.dropna()), default=0)
        texts = texts.fillna("0" * width).tolist()
        parts.append(from_hex(texts) if width else np.zeros((len(df), 0), dtype=np.uint8))
    return df["_rid"].to_numpy(np.int64), df["_ds"].to_numpy(np.int64), np.concatenate(parts, axis=1)


def candidate_pairs(a: np.ndarray, b: np.ndarray, seed: int = 0, bands: int = BANDS,
                    band_bits: int = BAND_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i into ``a``, j into ``b``) whose bits agree on a whole band.

    Examples
    --------
    >>> from linkrisk.encodings import encode, CLKParams
    >>> f = encode(["anna", "joseph"], b"k", CLKParams(k=10, l=256))
    >>> i, j = candidate_pairs(f, f)
    >>> sorted(zip(i.tolist(), j.tolist()))[:2]
    [(0, 0), (1, 1)]
    """
    if not len(a) or not len(b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ua, ub = unpack(a), unpack(b)
    nbits = ua.shape[1]
    rng = np.random.default_rng(seed)
    out_i, out_j = [], []
    for _ in range(bands):
        pos = rng.choice(nbits, min(band_bits, nbits), replace=False)
        ka = pd.Series(_keys(ua[:, pos]))
        kb = pd.Series(_keys(ub[:, pos]))
        big = set(ka.value_counts()[lambda s: s > MAX_BUCKET].index) | set(
            kb.value_counts()[lambda s: s > MAX_BUCKET].index)
        m = pd.DataFrame({"k": ka, "i": np.arange(len(ka))}).merge(
            pd.DataFrame({"k": kb, "j": np.arange(len(kb))}), on="k")
        if big:
            m = m[~m["k"].isin(big)]
        out_i.append(m["i"].to_numpy(np.int64))
        out_j.append(m["j"].to_numpy(np.int64))
    pairs = np.unique(np.stack([np.concatenate(out_i), np.concatenate(out_j)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _keys(bits: np.ndarray) -> np.ndarray:
    packed = np.packbits(bits, axis=1)
    packed = np.concatenate([packed, np.zeros((len(packed), (-packed.shape[1]) % 8), np.uint8)], axis=1)
    return packed.view(np.uint64)[:, 0] if packed.shape[1] == 8 else packed.view(np.uint64).sum(axis=1)


def pair_dice(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """Dice of the filter pairs ``(a[i], b[j])``."""
    out = np.empty(len(i), dtype=np.float64)
    pa = np.bitwise_count(a).sum(axis=1, dtype=np.int64)
    pb = np.bitwise_count(b).sum(axis=1, dtype=np.int64)
    for s in range(0, len(i), chunk):
        ii, jj = i[s:s + chunk], j[s:s + chunk]
        inter = np.bitwise_count(a[ii] & b[jj]).sum(axis=1, dtype=np.int64)
        tot = pa[ii] + pb[jj]
        out[s:s + chunk] = np.where(tot > 0, 2.0 * inter / np.maximum(tot, 1), 0.0)
    return out


def mutual_best(i: np.ndarray, j: np.ndarray, score: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of pairs at or above ``threshold`` that are each side's unique best.

    Examples
    --------
    >>> i, j = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 3])
    >>> mutual_best(i, j, np.array([0.9, 0.85, 0.95, 0.9, 0.9]), 0.8).tolist()
    [True, False, True, False, False]
    """
    df = pd.DataFrame({"i": i, "j": j, "s": score})
    df = df[df["s"] >= threshold]
    if not len(df):
        return np.zeros(len(i), dtype=bool)
    bi = df.groupby("i")["s"].transform("max")
    bj = df.groupby("j")["s"].transform("max")
    top = df[(df["s"] == bi) & (df["s"] == bj)]
    # a tie at the top of either side: the linkage unit cannot choose, nothing links
    ties_i = df[df["s"] == bi].groupby("i").size()
    ties_j = df[df["s"] == bj].groupby("j").size()
    keep = top[top["i"].map(ties_i).eq(1) & top["j"].map(ties_j).eq(1)].index
    mask = np.zeros(len(i), dtype=bool)
    mask[keep.to_numpy()] = True
    return mask


def link_encodings(engine: "Engine", study: "StudyConfig", release: "Release", edges: str,
                   show_values: bool = False, reuse=None) -> list[dict]:
    """Link records of two datasets whose encodings (of one linkage domain) are similar.

    Edges ``(a, b, 'encodings', rule, da, db, p)`` with ``rule`` the encoded kinds joined
    by ``+`` and ``p`` the Dice coefficient. Returns no hubs (ambiguous records link
    nothing, see the module notes).
    """
    cols = encoded_columns(release)
    by_ds: dict[str, dict["LinkageDomain", "ReleasedColumn"]] = defaultdict(dict)
    for c in cols:
        by_ds[c.dataset].setdefault(c.linkage, c)
    names = sorted(by_ds)
    threshold = float(study.attacker.encoding_threshold)
    frames = []
    for x, da in enumerate(names):
        for db in names[x + 1:]:
            shared = sorted(set(by_ds[da]) & set(by_ds[db]), key=str)
            if not shared:
                continue
            rule = "+".join(by_ds[da][d].kind for d in shared)
            ra, dsa, fa = _fetch(engine, [by_ds[da][d] for d in shared])
            rb, dsb, fb = _fetch(engine, [by_ds[db][d] for d in shared])
            i, j = candidate_pairs(fa, fb, seed=int(study.seed))
            s = pair_dice(fa, fb, i, j)
            keep = mutual_best(i, j, s, threshold)
            i, j, s = i[keep], j[keep], s[keep]
            a_first = ra[i] < rb[j]
            frames.append(pd.DataFrame({
                "a": np.where(a_first, ra[i], rb[j]), "b": np.where(a_first, rb[j], ra[i]),
                "linker": "encodings", "rule": rule,
                "da": np.where(a_first, dsa[i], dsb[j]).astype(np.int32),
                "db": np.where(a_first, dsb[j], dsa[i]).astype(np.int32), "p": s}))
    if frames:
        df = pd.concat(frames, ignore_index=True)
        with engine.workspace("enclink") as ws:
            found = ws.register_frame("_enc_edges", df)
            engine.execute(f"INSERT INTO {quote(edges)} SELECT a, b, linker, rule, da, db, p FROM {found}")
    return []


__all__ = ["link_encodings", "candidate_pairs", "pair_dice", "mutual_best", "encoded_columns"]
