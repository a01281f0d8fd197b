"""Stage 6, score: enrichment exactly as docs/method.md (Enrichment) defines it.

For a scenario s, K_s(r) is the set of kinds record r holds with a non-null value the
attacker can read; P_s(e) the union of K_s over the records of entity e; W the sum of
kind weights. Then

    gain_s(r) = W(P_s(e(r))) - W(K_s(r)),     E_s = sum over r of gain_s(r).

Kind sets are bit masks (one bit per kind used by the study). The stage is SQL over the
scenario's entity table: per record K_s(r), per entity a ``bit_or`` for P_s(e), weights
summed with CASE terms; only aggregates (per dataset, per kind, the gain distribution,
entities grouped for the bootstrap) return to Python, so it runs where the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.engine import quote

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.load import Loaded
    from linkrisk.release import Release
    from linkrisk.study import StudyConfig


@dataclass
class KindBits:
    """The kinds of a study, each with a bit and a weight."""

    kinds: list[str]
    weights: np.ndarray

    @classmethod
    def of(cls, study: "StudyConfig", loaded: "Loaded") -> "KindBits":
        kinds = sorted({c.kind for c in loaded.columns})
        if len(kinds) > 63:
            raise ValueError("linkrisk supports at most 63 kinds in one study")
        cat = study.catalogue
        return cls(kinds, np.array([cat.weight(k) for k in kinds], dtype=np.float64))

    def bit(self, kind: str) -> int:
        return 1 << self.kinds.index(kind)


def weight_sql(bits: KindBits, mask: str) -> str:
    """SQL for W(mask): the summed weights of the kinds whose bits ``mask`` sets.

    >>> weight_sql(KindBits(["health", "phone"], np.array([3.0, 0.0])), "m")
    'CAST(0 AS DOUBLE) + CASE WHEN (m & 1) <> 0 THEN CAST(3.0 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END'
    """
    terms = [f"CASE WHEN ({mask} & {1 << i}) <> 0 THEN CAST({float(w)!r} AS DOUBLE) ELSE CAST(0 AS DOUBLE) END"
             for i, w in enumerate(bits.weights) if w]
    return " + ".join(["CAST(0 AS DOUBLE)", *terms])


def _gained_sql(bits: KindBits, profile: str, mask: str) -> str:
    """One count column per kind: records whose ``profile`` holds the kind and ``mask`` not."""
    return ", ".join(f"CAST(sum(CASE WHEN ({profile} & {1 << i}) <> 0 AND ({mask} & {1 << i}) = 0 "
                     f"THEN 1 ELSE 0 END) AS BIGINT) AS k{i}" for i in range(len(bits.kinds)))


# Up to this many datasets, the score table also carries, per record, its entity's
# profile within each dataset (``pm0``, ``pm1``, ...): "which kinds A's records gain from
# B's" is then one scan instead of a join. With more, the columns would cost more than
# the join saves, and the join is used.
WIDE_DATASETS = 8


def score_table(engine: "Engine", study: "StudyConfig", loaded: "Loaded", release: "Release", bits: KindBits,
                labels: str, table: str, links_only: str | None = None) -> str:
    """Create ``table(_rid, _ds, e, m, pm, g)``: per record its dataset (position in
    ``loaded.datasets``), entity, K_s(r) as a bit mask, P_s(e) and gain_s(r); with at most
    ``WIDE_DATASETS`` datasets also ``pm0, pm1, ...``: the union of K_s over the entity's
    records in each dataset (NULL where it has none).

    ``labels`` is the scenario's table of entities ``(_rid, e)``. Everything stays in the
    engine: a Spark cluster scores a billion records without the driver seeing them.

    ``links_only``, the baseline's score table, adds the column ``gl``: each record's gain
    with the scenario's entities and the baseline's readability (its mask ``m`` there),
    the "links broken alone" part of :func:`decomposed_groups`. It comes from the same
    grouping by entity as ``g``, instead of a second score table.
    """
    from linkrisk.normalise import normalised_table

    index = {d.name: i for i, d in enumerate(study.datasets)}
    parts = []
    for j, name in enumerate(loaded.datasets):
        cols = [c for c in release.of_dataset(name) if c.readable and c.domain is not None]
        if cols:
            mask = " | ".join(f"(CASE WHEN {c.present} THEN CAST({bits.bit(c.kind)} AS BIGINT) "
                              "ELSE CAST(0 AS BIGINT) END)" for c in cols)
            source = cols[0].table
        else:
            mask, source = "CAST(0 AS BIGINT)", normalised_table(index[name])
        parts.append(f"SELECT _rid, CAST({j} AS INTEGER) AS _ds, {mask} AS m FROM {quote(source)}")
    masks = f"_masks_{table}"
    mb, join_b = (", b.m AS mb", f" JOIN {quote(links_only)} b USING (_rid)") if links_only else ("", "")
    engine.create(masks, f"SELECT u._rid, u._ds, l.e, u.m{mb} FROM ({' UNION ALL '.join(parts)}) u "
                         f"JOIN {quote(labels)} l USING (_rid){join_b}")
    n = len(loaded.datasets)
    per_ds = "".join(f", bit_or(m) FILTER (WHERE _ds = {j}) AS pm{j}" for j in range(n)) if n <= WIDE_DATASETS else ""
    pmb, gl = (", bit_or(mb) AS pmb", f", ({weight_sql(bits, 'p.pmb')}) - ({weight_sql(bits, 's.mb')}) AS gl") \
        if links_only else ("", "")
    engine.create(table, f"SELECT s._rid, s._ds, s.e, s.m, p.pm, ({weight_sql(bits, 'p.pm')}) - "
                         f"({weight_sql(bits, 's.m')}) AS g{''.join(f', p.pm{j}' for j in range(n)) if per_ds else ''}"
                         f"{gl} FROM {quote(masks)} s "
                         f"JOIN (SELECT e, bit_or(m) AS pm{per_ds}{pmb} FROM {quote(masks)} GROUP BY e) p USING (e)")
    engine.drop(masks)
    return table


@dataclass
class Enrichment:
    """Aggregates of the per-record gains of one scenario.

    The per-record gains stay in the engine (table ``table``); :attr:`gain` brings them
    to Python when asked.
    """

    total: float
    mean_per_record: float
    by_dataset: dict[str, dict]
    kinds_gained: pd.DataFrame  # dataset, kind, records, share
    gained_from: pd.DataFrame  # dataset, from_dataset, kind, records, share
    distribution: list[dict]  # gain, records
    table: str | None = None
    engine: "Engine | None" = field(default=None, repr=False)

    @property
    def gain(self) -> np.ndarray:
        """gain_s(r) of every record (index = record id - 1)."""
        from linkrisk.errors import LinkriskError

        if self.engine is None or self.table is None or self.table not in self.engine.tables():
            raise LinkriskError("the per-record gains of this scenario were dropped to save memory (the study "
                                f"has over {1_000_000:,} records); its aggregates are all kept")
        return self.engine.arrays(f"SELECT g FROM {quote(self.table)} ORDER BY _rid")["g"].astype(np.float64)

    def to_dict(self) -> dict:
        return {"total": self.total, "mean_per_record": self.mean_per_record,
                "by_dataset": self.by_dataset}


def score(engine: "Engine", table: str, bits: KindBits, datasets: list[str]) -> Enrichment:
    """The aggregates of enrichment from a :func:`score_table`: total, per dataset, the
    kinds each dataset's records gain (and from which other dataset), the distribution.

    Only these aggregates leave the engine. Two records of one person: ``a`` holds phone
    (weight 2), ``b`` phone and health (weight 3); linked, ``a`` gains health (3) and
    ``b`` nothing; tests/test_linkage_handmade.py works such cases by hand.
    """
    n_ds = len(datasets)
    # with per-dataset profiles in the table, what each dataset gains from each other one
    # is counted in the same scan
    wide = f"pm{n_ds - 1}" in engine.columns(table)
    from_cols = "".join(", " + _gained_sql(bits, f"pm{j}", "m").replace(" AS k", f" AS d{j}k")
                        for j in range(n_ds)) if wide else ""
    by = engine.df(f"SELECT _ds, CAST(count(*) AS BIGINT) AS n, sum(g) AS total, "
                   f"CAST(sum(CASE WHEN g > 0 THEN 1 ELSE 0 END) AS BIGINT) AS enriched, "
                   f"{_gained_sql(bits, 'pm', 'm')}{from_cols} FROM {quote(table)} GROUP BY _ds")
    by = {int(r["_ds"]): r for r in by.to_dict("records")}
    counts = {i: int(by[i]["n"]) if i in by else 0 for i in range(len(datasets))}
    by_dataset, rows_kinds, rows_from = {}, [], []
    for i, name in enumerate(datasets):
        r, cnt = by.get(i), counts[i]
        t = float(r["total"]) if r is not None else 0.0
        by_dataset[name] = {"records": cnt, "total": t, "mean_per_record": t / cnt if cnt else 0.0,
                            "records_enriched": int(r["enriched"]) if r is not None else 0}
        for k, kind in enumerate(bits.kinds):
            if r is not None and int(r[f"k{k}"]):
                rows_kinds.append({"dataset": name, "kind": kind, "records": int(r[f"k{k}"]),
                                   "share": int(r[f"k{k}"]) / cnt})
    if wide:
        pairs = {(i, j): {f"k{k}": r[f"d{j}k{k}"] for k in range(len(bits.kinds))}
                 for i, r in by.items() for j in range(n_ds) if j != i}
    else:
        pairs = _gained_from(engine, table, bits, n_ds)
    for j, other in enumerate(datasets):
        for i, name in enumerate(datasets):
            r = pairs.get((i, j))
            if i == j or r is None:
                continue
            for k, kind in enumerate(bits.kinds):
                if int(r[f"k{k}"]):
                    rows_from.append({"dataset": name, "from_dataset": other, "kind": kind,
                                      "records": int(r[f"k{k}"]), "share": int(r[f"k{k}"]) / counts[i]})
    dist = engine.df(f"SELECT round(g, 6) AS gain, CAST(count(*) AS BIGINT) AS records FROM {quote(table)} "
                     "GROUP BY round(g, 6) ORDER BY gain")
    distribution = [{"gain": float(r.gain), "records": int(r.records)} for r in dist.itertuples(index=False)]
    n = sum(counts.values())
    total = float(sum(d["total"] for d in by_dataset.values()))
    return Enrichment(total=total, mean_per_record=total / n if n else 0.0, by_dataset=by_dataset,
                      kinds_gained=pd.DataFrame(rows_kinds, columns=["dataset", "kind", "records", "share"]),
                      gained_from=pd.DataFrame(rows_from, columns=["dataset", "from_dataset", "kind",
                                                                   "records", "share"]),
                      distribution=distribution, table=table, engine=engine)


def _gained_from(engine: "Engine", table: str, bits: KindBits, n_datasets: int) -> dict[tuple[int, int], dict]:
    """Which kinds the records of dataset A gain from the records of dataset B:
    ``{(a, b): {"k<i>": records of A gaining kind i from B's records}}``, by a join (for a
    score table without per-dataset profiles)."""
    pairs = engine.df(f"SELECT r._ds AS da, x._ds AS db, {_gained_sql(bits, 'x.pm', 'r.m')} "
                      f"FROM {quote(table)} r JOIN (SELECT e, _ds, bit_or(m) AS pm FROM {quote(table)} "
                      "GROUP BY e, _ds) x ON x.e = r.e AND x._ds <> r._ds GROUP BY r._ds, x._ds")
    return {(int(r["da"]), int(r["db"])): r for r in pairs.to_dict("records")}


def entity_sum_groups(engine: "Engine", baseline: str, scenario: str) -> pd.DataFrame:
    """Baseline entities grouped by their (baseline, scenario) sums of gains.

    ``baseline`` and ``scenario`` are :func:`score_table` tables; the baseline's entity
    column ``e`` groups both. Returns ``b, s, n`` sorted by ``b, s``: the small table
    :func:`bootstrap_prevented` resamples.
    """
    # both tables hold every record: one join, both sums in one grouping
    return engine.df(
        f"SELECT round(b, 9) AS b, round(s, 9) AS s, CAST(count(*) AS BIGINT) AS n FROM "
        f"(SELECT x.e, sum(x.g) AS b, sum(y.g) AS s FROM {quote(baseline)} x JOIN {quote(scenario)} y "
        "USING (_rid) GROUP BY x.e) t GROUP BY round(b, 9), round(s, 9) ORDER BY b, s")


def bootstrap_prevented(groups: dict[str, pd.DataFrame], seed: int, n_boot: int = 1000,
                        level: float = 0.95) -> dict[str, dict]:
    """Prevented enrichment of each scenario with a bootstrap interval over baseline entities.

    prevented_s = 1 - E_s / E_baseline. Entities of the baseline are resampled with
    replacement (the nonparametric bootstrap of Efron & Tibshirani 1993, ch. 6; percentile
    interval). Entities with identical per-scenario sums are interchangeable, so the
    resample is drawn as multinomial counts over groups of identical entities: exact, and
    cheap for millions of entities.

    Parameters
    ----------
    groups : mapping of scenario name to :func:`entity_sum_groups` tables
        Per group of baseline entities: the baseline sum ``b``, the scenario sum ``s``
        and the number of entities ``n``, sorted by ``b, s``.
    seed : int
        The study seed.

    Returns
    -------
    dict of scenario name to ``{"value", "ci_low", "ci_high"}`` (None where E_baseline = 0)

    Examples
    --------
    Two baseline entities gaining 4 and 0; the scenario leaves 1 of the 4:

    >>> g = pd.DataFrame({"b": [0.0, 4.0], "s": [0.0, 1.0], "n": [1, 1]})
    >>> bootstrap_prevented({"keyed": g}, seed=1)["keyed"]["value"]
    0.75
    """
    out = {}
    alpha = (1 - level) / 2
    for name, g in groups.items():
        values = g[["b", "s"]].to_numpy(dtype=np.float64)
        counts = g["n"].to_numpy(dtype=np.int64)
        e_base = float(values[:, 0] @ counts)
        if e_base == 0:
            out[name] = {"value": None, "ci_low": None, "ci_high": None}
            continue
        # each scenario draws from the same seed, so its interval does not depend on
        # which other scenarios the study happens to hold
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB007]))
        draws = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=n_boot)  # n_boot x groups
        totals = draws @ values  # n_boot x 2
        value = 1 - float(values[:, 1] @ counts) / e_base
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = 1 - totals[:, 1] / totals[:, 0]
        boot = boot[np.isfinite(boot)]
        lo, hi = (np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (np.nan, np.nan))
        out[name] = {"value": float(value), "ci_low": float(lo), "ci_high": float(hi),
                     "level": level, "resamples": n_boot}
    return out


def decomposed_groups(engine: "Engine", baseline: str, scenario: str, links_only: str | None = None) -> pd.DataFrame:
    """Baseline entities grouped by their baseline, scenario and links-only sums of gains.

    ``links_only`` is a :func:`score_table` of the scenario's entities scored with the
    baseline's readability (links broken, nothing hidden); None reads the column ``gl``
    of ``scenario`` (a score table made with ``links_only``). Returns ``b, s, l, n``.
    """
    if links_only is None:
        return engine.df(
            f"SELECT round(b, 9) AS b, round(s, 9) AS s, round(l, 9) AS l, CAST(count(*) AS BIGINT) AS n FROM "
            f"(SELECT x.e, sum(x.g) AS b, sum(y.g) AS s, sum(y.gl) AS l FROM {quote(baseline)} x "
            f"JOIN {quote(scenario)} y USING (_rid) GROUP BY x.e) t "
            "GROUP BY round(b, 9), round(s, 9), round(l, 9) ORDER BY b, s, l")
    return engine.df(
        f"SELECT round(b, 9) AS b, round(s, 9) AS s, round(l, 9) AS l, CAST(count(*) AS BIGINT) AS n FROM "
        f"(SELECT x.e, sum(x.g) AS b, sum(y.g) AS s, sum(z.g) AS l FROM {quote(baseline)} x "
        f"JOIN {quote(scenario)} y USING (_rid) JOIN {quote(links_only)} z USING (_rid) GROUP BY x.e) t "
        "GROUP BY round(b, 9), round(s, 9), round(l, 9) ORDER BY b, s, l")


NEGATIVE_NOTE = ("A negative share means the scenario leaves more enrichment than the baseline: a record "
                 "whose own value becomes unreadable while its entity still reads that kind in another "
                 "record now gains the kind by linking (enrichment counts what linking adds to each record); "
                 "links the baseline's hub guard or class-size limit blocked can form once values are "
                 "transformed; and near zero the interval is sampling noise.")


def bootstrap_decomposition(groups: pd.DataFrame, seed: int, n_boot: int = 1000, level: float = 0.95) -> dict:
    """Prevented enrichment split into what broken links and what hidden values prevent.

    ``by_links`` = 1 - L / E_baseline, where L is the enrichment of the scenario's
    entities scored with the baseline's readability (the links the scenario breaks,
    alone); ``by_hiding`` = (L - E_s) / E_baseline, the remainder (values made
    unreadable). They add up to the prevented share. Intervals: the same bootstrap over
    baseline entities as :func:`bootstrap_prevented`, both parts from the same resamples.

    Examples
    --------
    One baseline entity gaining 4: the scenario's links leave 3 of it, and hiding values
    leaves 1: links prevent 25%, hiding 50%.

    >>> g = pd.DataFrame({"b": [4.0], "s": [1.0], "l": [3.0], "n": [1]})
    >>> d = bootstrap_decomposition(g, seed=1)
    >>> d["by_links"]["value"], d["by_hiding"]["value"]
    (0.25, 0.5)
    """
    alpha = (1 - level) / 2
    values = groups[["b", "s", "l"]].to_numpy(dtype=np.float64)
    counts = groups["n"].to_numpy(dtype=np.int64)
    e_base = float(values[:, 0] @ counts) if len(counts) else 0.0
    if e_base == 0:
        empty = {"value": None, "ci_low": None, "ci_high": None}
        return {"by_links": dict(empty), "by_hiding": dict(empty), "note": NEGATIVE_NOTE}
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB007]))
    draws = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=n_boot)
    totals = draws @ values  # n_boot x 3
    with np.errstate(divide="ignore", invalid="ignore"):
        links = 1 - totals[:, 2] / totals[:, 0]
        hiding = (totals[:, 2] - totals[:, 1]) / totals[:, 0]
    out = {}
    for name, value, boot in (("by_links", 1 - float(values[:, 2] @ counts) / e_base, links),
                              ("by_hiding", float((values[:, 2] - values[:, 1]) @ counts) / e_base, hiding)):
        boot = boot[np.isfinite(boot)]
        lo, hi = np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (np.nan, np.nan)
        out[name] = {"value": value, "ci_low": float(lo), "ci_high": float(hi)}
    out["note"] = NEGATIVE_NOTE
    return out
