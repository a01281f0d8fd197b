"""Ground truth: how good the attacker's entities are, when the true persons are known.

The truth file maps ``dataset, record_id`` to ``person_id``. It is never shown to any
linker; it only grades their output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from linkrisk.engine import quote

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.enrichment import KindBits
    from linkrisk.load import Loaded
    from linkrisk.study import StudyConfig


PERSONS = "_persons"  # the run's persons table; the truth file's text ids go once it is made


def persons_table(engine: "Engine", study: "StudyConfig", loaded: "Loaded", table: str = PERSONS) -> str:
    """Create ``table(_rid, p)`` for every record: its true person, coded as the smallest
    record id of that person (an integer groups faster than the text id, and needs no
    numbering over the whole table), or 0 where the truth file does not name the record.

    Made from the records the load stage paired with the truth file; the run makes
    ``PERSONS`` once and drops that pairing (with its text person ids)."""
    from linkrisk.load import TRUTH_TABLE

    # the load stage paired every record with its truth row (a record the truth file
    # does not name has pid NULL)
    engine.create(table, f"SELECT x._rid, coalesce(m.p, 0) AS p FROM {TRUTH_TABLE} x LEFT JOIN "
                         f"(SELECT pid, min(_rid) AS p FROM {TRUTH_TABLE} WHERE pid IS NOT NULL GROUP BY pid) m "
                         "ON m.pid = x.pid WHERE x._rid IS NOT NULL")
    return table


def person_codes(engine: "Engine", study: "StudyConfig", loaded: "Loaded") -> np.ndarray:
    """Integer person code of every record (index = record id - 1; -1 where unknown)."""
    from linkrisk.errors import LinkriskError
    from linkrisk.load import TRUTH_TABLE

    if not loaded.truth:
        raise LinkriskError("this study has no ground truth: give it a [truth] file (dataset, "
                            "record_id, person_id) to know each record's person")
    tables = engine.tables()
    if PERSONS in tables:  # the run made it (and dropped the truth file's pairing)
        arr = engine.arrays(f"SELECT _rid, p FROM {PERSONS}")
    elif TRUTH_TABLE not in tables:
        raise LinkriskError("the ground truth of this study is no longer in its engine (was it closed?)")
    else:
        table = persons_table(engine, study, loaded, "_person_codes")
        arr = engine.arrays(f"SELECT _rid, p FROM {table}")
        engine.drop(table)
    codes = np.full(loaded.total, -1, dtype=np.int64)
    known = arr["p"].astype(np.int64) > 0
    codes[arr["_rid"].astype(np.int64)[known] - 1] = np.unique(arr["p"][known], return_inverse=True)[1]
    return codes


def person_totals(engine: "Engine", persons: str) -> tuple[int, int]:
    """True pairs (two records of one person) and persons of a :func:`persons_table`;
    the same for every scenario of a run."""
    true, n = engine.rows(f"SELECT CAST(sum(c * (c - 1)) AS BIGINT), CAST(count(*) AS BIGINT) FROM "
                          f"(SELECT p, count(*) AS c FROM {quote(persons)} GROUP BY p) t")[0]
    return int(true or 0) // 2, int(n or 0)


def evaluate(engine: "Engine", score_table: str, persons: str, bits: "KindBits", total_gain: float,
             totals: tuple[int, int] | None = None, with_sizes: bool = False):
    """Pair precision and recall, pure entities, and true versus false gain.

    A predicted pair is two records in one entity; a true pair two records of one person.
    The true gain of a record is what the records of its own person in its entity bring;
    the false gain is what records of other persons (wrong merges) bring on top. Records
    the truth file does not name count as one unknown person.

    Parameters
    ----------
    score_table : str
        The scenario's :func:`linkrisk.enrichment.score_table` (``_rid, _ds, e, m, ...``).
    persons : str
        A :func:`persons_table`.
    total_gain : float
        E_s, the scenario's enrichment.
    totals : (int, int), optional
        :func:`person_totals` of ``persons``, when already counted.
    with_sizes : bool
        Also return the entity sizes (``size, n, multi``, as
        :func:`linkrisk.graph.entity_stats` counts them), from the same pass.

    Returns
    -------
    dict, or (dict, DataFrame) with ``with_sizes``

    Three records, persons (0, 0, 1), all linked into one entity: predicted pairs 3,
    true pairs 1, correct pairs 1, so precision 1/3 and recall 1 (tests/test_graph.py).
    """
    from linkrisk.enrichment import weight_sql

    groups = (f"SELECT s.e, p.p, CAST(count(*) AS BIGINT) AS c, bit_or(s.m) AS om, "
              f"sum({weight_sql(bits, 's.m')}) AS wm, min(s._ds) AS dmin, max(s._ds) AS dmax "
              f"FROM {quote(score_table)} s JOIN {quote(persons)} p USING (_rid) GROUP BY s.e, p.p")
    # per entity, then per entity size: the figures are sums over the sizes
    by_size = engine.df(
        f"SELECT size, CAST(count(*) AS BIGINT) AS n, "
        f"CAST(sum(CASE WHEN min_ds < max_ds THEN 1 ELSE 0 END) AS BIGINT) AS multi, "
        f"CAST(sum(CASE WHEN k = 1 THEN 1 ELSE 0 END) AS BIGINT) AS pure, "
        f"CAST(sum(cc) AS BIGINT) AS cc, sum(tg) AS tg FROM ("
        f"SELECT e, sum(c) AS size, count(*) AS k, sum(c * (c - 1)) AS cc, min(dmin) AS min_ds, "
        f"max(dmax) AS max_ds, sum(c * ({weight_sql(bits, 'om')}) - wm) AS tg FROM ({groups}) g GROUP BY e) t "
        f"GROUP BY size ORDER BY size")
    size = by_size["size"].astype("int64")
    linked_rows = size >= 2
    predicted = int((size * (size - 1) * by_size["n"]).sum())
    n_ent = int(by_size["n"].sum())
    pure = int(by_size["pure"].sum())
    linked = int(by_size.loc[linked_rows, "n"].sum())
    pure_linked = int(by_size.loc[linked_rows, "pure"].sum())
    correct = int(by_size["cc"].sum())
    true_gain = float(by_size["tg"].sum()) if len(by_size) else 0.0
    true, persons_n = totals if totals is not None else person_totals(engine, persons)
    predicted, correct = predicted // 2, correct // 2
    figures = {
        "pair_precision": correct / predicted if predicted else None,
        "pair_recall": correct / true if true else None,
        "predicted_pairs": predicted,
        "true_pairs": true,
        "correct_pairs": correct,
        "pure_entities": int(pure) / int(n_ent) if n_ent else None,
        "pure_linked_entities": int(pure_linked) / int(linked) if linked else None,
        "persons": int(persons_n or 0),
        "true_gain": true_gain,
        "false_gain": float(total_gain) - true_gain,
    }
    return (figures, by_size[["size", "n", "multi"]]) if with_sizes else figures


CURVE_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def threshold_curve(engine: "Engine", edges: str, scored: str, persons: str, n_records: int,
                    true_pairs: int, thresholds=CURVE_THRESHOLDS) -> list[dict]:
    """Pair precision, recall and F1 had the probabilistic links been cut at each threshold.

    Parameters
    ----------
    edges : str
        The scenario's edges; those of the other linkers are kept at every threshold.
    scored : str
        ``(a, b, p)``: the probabilistic linker's scored pairs with p >= the lowest
        threshold (written only when the study has a truth file).
    persons : str
        A :func:`persons_table`.
    n_records, true_pairs : int
        Records of the study, and pairs of records of one person.

    Returns
    -------
    list of dict
        ``threshold, pair_precision, pair_recall, f1`` per threshold, entities made the
        way the run makes them (connected components), so the row at the study's own
        threshold repeats its ``ground_truth`` figures.

    Notes
    -----
    F1 = 2PR / (P + R) (van Rijsbergen 1979, ch. 7), on pairs of records as in
    Christen (2012), "Data Matching", section 7.3.
    """
    out = []
    with engine.workspace("curve") as ws:
        pairs, labels = ws.table("_curve_pairs"), ws.table("_curve_labels")
        for t in thresholds:
            engine.create(pairs, f"SELECT a, b FROM {quote(edges)} WHERE linker <> 'probabilistic' "
                                 f"UNION ALL SELECT a, b FROM {quote(scored)} WHERE p >= ?", [t])
            engine.components_table(pairs, n_records, labels)
            predicted = engine.scalar("SELECT CAST(coalesce(sum(c * (c - 1)), 0) AS BIGINT) FROM "
                                      f"(SELECT e, count(*) AS c FROM {labels} GROUP BY e) t") // 2
            correct = engine.scalar(f"SELECT CAST(coalesce(sum(c * (c - 1)), 0) AS BIGINT) FROM "
                                    f"(SELECT l.e, p.p, count(*) AS c FROM {labels} l JOIN {quote(persons)} p "
                                    "USING (_rid) GROUP BY l.e, p.p) t") // 2
            p = correct / predicted if predicted else None
            r = correct / true_pairs if true_pairs else None
            f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
            out.append({"threshold": t, "pair_precision": p, "pair_recall": r, "f1": f1})
    return out
