"""Stage 6, score: enrichment exactly as DESIGN.md section 3 defines it.

For a scenario s, K_s(r) is the set of kinds record r holds with a non-null value the
attacker can read; P_s(e) the union of K_s over the records of entity e; W the sum of
kind weights. Then

    gain_s(r) = W(P_s(e(r))) - W(K_s(r)),     E_s = sum over r of gain_s(r).

Kind sets are bit masks (one bit per kind used by the study), so the whole stage is a
few vectorised numpy passes over arrays of record length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.release import Release
    from linkrisk.study import Study


@dataclass
class KindBits:
    """The kinds of a study, each with a bit and a weight."""

    kinds: list[str]
    weights: np.ndarray

    @classmethod
    def of(cls, study: "Study", loaded: "Loaded") -> "KindBits":
        kinds = sorted({c.kind for c in loaded.columns})
        if len(kinds) > 63:
            raise ValueError("linkrisk supports at most 63 kinds in one study")
        cat = study.catalogue
        return cls(kinds, np.array([cat.weight(k) for k in kinds], dtype=np.float64))

    def bit(self, kind: str) -> int:
        return 1 << self.kinds.index(kind)

    def weigh(self, masks: np.ndarray) -> np.ndarray:
        """W(mask) for every mask."""
        out = np.zeros(len(masks), dtype=np.float64)
        for i, w in enumerate(self.weights):
            if w:
                out += w * ((masks >> np.uint64(i)) & np.uint64(1))
        return out

    def count_bits(self, masks: np.ndarray) -> dict[str, int]:
        """How many masks have each kind's bit set (kinds no mask holds are 0)."""
        present = int(np.bitwise_or.reduce(masks)) if len(masks) else 0
        return {k: (int(((masks >> np.uint64(i)) & np.uint64(1)).sum()) if present >> i & 1 else 0)
                for i, k in enumerate(self.kinds)}


def record_masks(engine: "Engine", release: "Release", loaded: "Loaded", bits: KindBits) -> np.ndarray:
    """K_s(r) of every record as a bit mask, indexed by record id - 1."""
    masks = np.zeros(loaded.total, dtype=np.uint64)
    for name in loaded.datasets:
        cols = [c for c in release.of_dataset(name) if c.readable and c.domain is not None]
        if not cols:
            continue
        table = cols[0].table
        expr = " | ".join(f"(CASE WHEN {c.present} THEN CAST({bits.bit(c.kind)} AS UBIGINT) "
                          "ELSE CAST(0 AS UBIGINT) END)" for c in cols)
        arr = engine.arrays(f"SELECT _rid, {expr} AS m FROM {quote(table)}")
        masks[arr["_rid"].astype(np.int64) - 1] = arr["m"].astype(np.uint64)
    return masks


def group_or(labels: np.ndarray, masks: np.ndarray, n_groups: int) -> np.ndarray:
    """Bitwise OR of ``masks`` per label (``0 .. n_groups - 1``).

    Examples
    --------
    >>> group_or(np.array([0, 1, 0]), np.array([1, 2, 4], dtype=np.uint64), 2).tolist()
    [5, 2]
    """
    if len(labels) == 0:
        return np.zeros(n_groups, dtype=np.uint64)
    order = np.argsort(labels, kind="stable")
    return _group_or_sorted(labels[order], masks[order], n_groups)


def _group_or_sorted(sorted_labels: np.ndarray, masks: np.ndarray, n_groups: int) -> np.ndarray:
    """:func:`group_or` for labels already sorted (masks in the same order)."""
    out = np.zeros(n_groups, dtype=np.uint64)
    if len(sorted_labels) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    out[sorted_labels[starts]] = np.bitwise_or.reduceat(masks, starts)
    return out


@dataclass
class Enrichment:
    """Per-record gains and their aggregates for one scenario."""

    gain: np.ndarray  # per record (index = record id - 1)
    total: float
    mean_per_record: float
    by_dataset: dict[str, dict]
    kinds_gained: pd.DataFrame  # dataset, kind, records, share
    gained_from: pd.DataFrame  # dataset, from_dataset, kind, records, share
    distribution: list[dict]  # gain, records

    def to_dict(self) -> dict:
        return {"total": self.total, "mean_per_record": self.mean_per_record,
                "by_dataset": self.by_dataset}


def score(labels: np.ndarray, ds: np.ndarray, masks: np.ndarray, bits: KindBits,
          datasets: list[str]) -> Enrichment:
    """Enrichment of every record, given entity labels, dataset indexes and kind masks.

    Parameters
    ----------
    labels : array of int
        Entity of each record.
    ds : array of int
        Position (in ``datasets``) of each record's dataset.
    masks : array of uint64
        K_s(r) of each record.
    bits : KindBits
    datasets : list of str

    Examples
    --------
    Two records of one person: ``a`` holds phone (weight 2), ``b`` holds phone and
    health (weight 3). Linked, ``a`` gains health (3) and ``b`` gains nothing.

    >>> bits = KindBits(["health", "phone"], np.array([3.0, 2.0]))
    >>> e = score(np.array([0, 0]), np.array([0, 1]), np.array([2, 3], dtype=np.uint64),
    ...           bits, ["a", "b"])
    >>> e.gain.tolist(), e.total
    ([3.0, 0.0], 3.0)
    """
    n = len(labels)
    n_ent = int(labels.max()) + 1 if n else 0
    order = np.argsort(labels, kind="stable")  # sorted once, reused for every grouping below
    sorted_labels, sorted_masks, sorted_ds = labels[order], masks[order], ds[order]
    profile = _group_or_sorted(sorted_labels, sorted_masks, n_ent)
    mine = bits.weigh(masks)
    gain = bits.weigh(profile)[labels] - mine if n else np.zeros(0)
    total = float(gain.sum())
    by_dataset = {}
    rows_kinds, rows_from = [], []
    gained = profile[labels] & ~masks if n else np.zeros(0, dtype=np.uint64)
    for i, name in enumerate(datasets):
        sel = ds == i
        cnt = int(sel.sum())
        g = gain[sel]
        by_dataset[name] = {"records": cnt, "total": float(g.sum()),
                            "mean_per_record": float(g.mean()) if cnt else 0.0,
                            "records_enriched": int((g > 0).sum())}
        for kind, k in bits.count_bits(gained[sel]).items():
            if k:
                rows_kinds.append({"dataset": name, "kind": kind, "records": k, "share": k / cnt})
    # which kinds the records of dataset A gain from the records of dataset B
    for j, other in enumerate(datasets):
        sel_b = sorted_ds == j
        prof_b = _group_or_sorted(sorted_labels[sel_b], sorted_masks[sel_b], n_ent)
        for i, name in enumerate(datasets):
            if i == j:
                continue
            sel = ds == i
            cnt = int(sel.sum())
            if not cnt:
                continue
            g = prof_b[labels[sel]] & ~masks[sel]
            for kind, k in bits.count_bits(g).items():
                if k:
                    rows_from.append({"dataset": name, "from_dataset": other, "kind": kind,
                                      "records": k, "share": k / cnt})
    values, counts = np.unique(np.round(gain, 6), return_counts=True) if n else ([], [])
    distribution = [{"gain": float(v), "records": int(c)} for v, c in zip(values, counts)]
    return Enrichment(gain=gain, total=total, mean_per_record=total / n if n else 0.0,
                      by_dataset=by_dataset,
                      kinds_gained=pd.DataFrame(rows_kinds, columns=["dataset", "kind", "records", "share"]),
                      gained_from=pd.DataFrame(rows_from, columns=["dataset", "from_dataset", "kind",
                                                                   "records", "share"]),
                      distribution=distribution)


def multi_dataset_entities(labels: np.ndarray, ds: np.ndarray) -> int:
    """Number of entities holding records of two or more datasets."""
    if len(labels) == 0:
        return 0
    pairs = np.unique(labels.astype(np.int64) * 1024 + ds.astype(np.int64))
    per_entity = np.bincount((pairs // 1024).astype(np.int64))
    return int((per_entity >= 2).sum())


def bootstrap_prevented(base_entity: np.ndarray, gains: dict[str, np.ndarray], base_gain: np.ndarray,
                        seed: int, n_boot: int = 1000, level: float = 0.95) -> dict[str, dict]:
    """Prevented enrichment of each scenario with a bootstrap interval over baseline entities.

    prevented_s = 1 - E_s / E_baseline. Entities of the baseline are resampled with
    replacement (the nonparametric bootstrap of Efron & Tibshirani 1993, ch. 6; percentile
    interval). Entities with identical per-scenario sums are interchangeable, so the
    resample is drawn as multinomial counts over groups of identical entities: exact, and
    cheap for millions of entities.

    Parameters
    ----------
    base_entity : array of int
        Baseline entity of each record.
    gains : mapping of scenario name to per-record gain arrays
    base_gain : array
        Baseline per-record gain.
    seed : int
        The study seed.

    Returns
    -------
    dict of scenario name to ``{"value", "ci_low", "ci_high"}`` (None where E_baseline = 0)
    """
    n_ent = int(base_entity.max()) + 1 if len(base_entity) else 0
    e0 = np.bincount(base_entity, weights=base_gain, minlength=n_ent) if n_ent else np.zeros(0)
    e_base = float(e0.sum())
    out = {}
    alpha = (1 - level) / 2
    for s, g in gains.items():
        if e_base == 0:
            out[s] = {"value": None, "ci_low": None, "ci_high": None}
            continue
        # each scenario draws from the same seed, so its interval does not depend on
        # which other scenarios the study happens to hold
        es = np.bincount(base_entity, weights=g, minlength=n_ent)
        # entities with equal (baseline, scenario) sums are interchangeable: count them
        vc = pd.DataFrame({"b": np.round(e0, 9), "s": np.round(es, 9)}).value_counts(sort=False).sort_index()
        groups = np.array(vc.index.tolist(), dtype=np.float64).reshape(-1, 2)
        counts = vc.to_numpy()
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB007]))
        draws = rng.multinomial(n_ent, counts / counts.sum(), size=n_boot)  # n_boot x groups
        totals = draws @ groups  # n_boot x 2
        value = 1 - es.sum() / e_base
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = 1 - totals[:, 1] / totals[:, 0]
        boot = boot[np.isfinite(boot)]
        lo, hi = (np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (np.nan, np.nan))
        out[s] = {"value": float(value), "ci_low": float(lo), "ci_high": float(hi),
                  "level": level, "resamples": n_boot}
    return out
