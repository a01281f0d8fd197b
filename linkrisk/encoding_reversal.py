"""The attacks on encodings in a study run: re-identified records become readable.

The dictionary attacker (:mod:`linkrisk.attack`) runs :func:`attack_column` once per
Bloom-filter or deterministic-pseudonym column; the attacks themselves are in
:mod:`linkrisk.encoding_attack` (docs/encodings.md).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkrisk.encoding_attack import (FREQUENCY_MAX_DISTINCT, GRAPH_SAMPLE, PATTERN_SAMPLE, frequency_alignment,
                                      graph_matching, pattern_mining)

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.encodings import CLKParams
    from linkrisk.engine import Engine
    from linkrisk.release import Release, ReleasedColumn
    from linkrisk.study import StudyConfig


DETERMINISTIC = ("keyed_hash", "tokenise", "deterministic_encryption", "salted_hash")
ORDER = ("graph_matching", "pattern_mining", "frequency")  # whose guess the attacker takes first


def attack_column(engine: "Engine", study: "StudyConfig", release: "Release", c: "ReleasedColumn",
                  tech_name: str, params: "CLKParams | None", norm_table: str, reversed_table: str) -> dict | None:
    """Run the attacks on encodings on one released column, inside a study run.

    The attacker's plaintext is every readable plaintext value of the same kind in the
    other loaded datasets (as the dictionary attacker's). A record counts as
    re-identified when the attacker's guess (graph matching first, then pattern
    mining, then frequency alignment) equals its true normalised value; those records
    are written to ``reversed_table`` and become readable, exactly as hash reversal.

    Returns
    -------
    dict or None
        The ``reversed_columns`` entry; None when the column is not attackable here (a
        tokenised column with more than FREQUENCY_MAX_DISTINCT distinct values, or no
        attack applies) and for a deterministic pseudonym of which nothing fell (a
        Bloom-filter column always has an entry).
    """
    from linkrisk.encodings import from_hex
    from linkrisk.engine import quote
    from linkrisk.linkage_domain import LinkageDomain

    attacks = [x for x in ORDER if x in tuple(study.attacker.encoding_attacks or ())]
    bloom = tech_name == "bloom_filter"
    if not bloom:
        attacks = [x for x in attacks if x == "frequency"]
    if not attacks:
        return None
    if not bloom and engine.scalar(f"SELECT count(DISTINCT {c.value}) FROM {quote(c.table)}") > FREQUENCY_MAX_DISTINCT:
        return None
    refs = [d for d in release.columns if d.kind == c.kind and d.readable and d.linkage == LinkageDomain.plain(c.kind)
            and d.ref != c.ref]
    rel = engine.df(f"SELECT r._rid, r.{c.value} AS h, n.{c.ref.value} AS t FROM {quote(c.table)} r "
                    f"JOIN {quote(norm_table)} n USING (_rid) WHERE r.{c.value} IS NOT NULL ORDER BY r._rid")
    key = f"{c.dataset}.{c.ref.column}"
    entry = {"column": key, "kind": c.kind, "technique": tech_name, "scope": c.domain, "attack": "encoding",
             "values": int(len(rel)), "values_reversed": 0, "share_reversed": 0.0, "candidate_space": None,
             "hash_rate": study.attacker.hash_rate, "estimated_seconds": None, "within_budget": True,
             "dictionary_seconds": 0.0, "attacks": {}}
    if not refs:
        if not bloom:
            return None
        entry["method"] = "not re-identified: no plaintext of this kind in another loaded dataset to align with"
        return entry
    reference = engine.df(" UNION ALL ".join(f"SELECT {d.value} AS p FROM {quote(d.table)} "
                                             f"WHERE {d.value} IS NOT NULL" for d in refs))["p"].tolist()
    truth = rel["t"].to_numpy(dtype=object)
    final = np.full(len(rel), None, dtype=object)
    seconds = 0.0
    for name in attacks:
        t0 = time.perf_counter()
        if name == "frequency":
            g = frequency_alignment(rel["h"].tolist(), reference)
            note = "frequency ranks of equal released values aligned with the plaintext's"
        elif name == "pattern_mining":
            g, info = pattern_mining(from_hex(rel["h"].tolist()), reference, params.q, params.k,
                                     seed=int(study.seed))
            note = (f"{info['placed']} frequent q-grams placed on bit positions from {min(len(rel), PATTERN_SAMPLE):,} "
                    "filters")
        else:
            g, note = _graph(rel["h"], reference, params)
        took = time.perf_counter() - t0
        seconds += took
        ok = np.array([x is not None for x in g], dtype=bool)
        right = ok & (g == truth)
        entry["attacks"][name] = {"guessed": int(ok.sum()), "correct": int(right.sum()),
                                  "share_reidentified": float(right.mean()) if len(rel) else 0.0,
                                  "seconds": round(took, 3), "how": note}
        take = (final == None) & ok  # noqa: E711 (elementwise)
        final[take] = g[take]
    right = np.array([f is not None for f in final], dtype=bool) & (final == truth)
    n = int(right.sum())
    entry.update({"values_reversed": n, "share_reversed": n / len(rel) if len(rel) else 0.0,
                  "estimated_seconds": round(seconds, 3),
                  "method": ("attacks on encodings: " + ", ".join(
                      f"{a} {entry['attacks'][a]['share_reidentified']:.1%}" for a in attacks)
                      + " re-identified (measured against the true values)")})
    if not bloom and n == 0:
        return None  # a deterministic pseudonym the frequency attack did not read: as before
    if n:
        with engine.workspace("encattack") as ws:
            hits = ws.register_frame("_enc_hits", pd.DataFrame({"_rid": rel["_rid"].to_numpy()[right]}))
            engine.execute(f"INSERT INTO {quote(reversed_table)} SELECT _rid FROM {hits}")
    return entry


def _graph(hexes: pd.Series, reference: list, params: "CLKParams") -> tuple[np.ndarray, str]:
    """Graph matching of a column's distinct encodings (at most GRAPH_SAMPLE, the most
    frequent) against the reference's distinct values (at most GRAPH_SAMPLE)."""
    from linkrisk.encodings import from_hex

    enc = hexes.value_counts()
    enc = enc.iloc[np.lexsort((enc.index.to_numpy(), -enc.to_numpy()))][:GRAPH_SAMPLE]
    ref = pd.Series(reference, dtype=object).value_counts()
    ref = ref.iloc[np.lexsort((ref.index.to_numpy(), -ref.to_numpy()))][:GRAPH_SAMPLE]
    if len(enc) < 2 or len(ref) < 2:
        return np.full(len(hexes), None, dtype=object), "too few distinct values to build graphs"
    g, info = graph_matching(from_hex(list(enc.index)), enc.to_numpy(), list(ref.index), ref.to_numpy(), params)
    mapping = dict(zip(enc.index, g))
    out = np.array([mapping.get(h) for h in hexes], dtype=object)
    return out, (f"{len(enc):,} distinct encodings aligned with {len(ref):,} distinct plaintext values "
                 f"({info['pairs_compared']:,} node pairs)")


__all__ = ["frequency_alignment", "pattern_mining", "graph_matching", "qgram_dice_matrix", "attack_column",
           "GRAPH_SAMPLE", "PATTERN_QGRAMS", "PATTERN_SAMPLE", "FREQUENCY_MAX_DISTINCT"]


__all__ = ["DETERMINISTIC", "ORDER", "attack_column"]
