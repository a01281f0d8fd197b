"""Ground truth: how good the attacker's entities are, when the true persons are known.

The truth file maps ``dataset, record_id`` to ``person_id``. It is never shown to any
linker; it only grades their output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from linkrisk.engine import Engine
    from linkrisk.enrichment import KindBits
    from linkrisk.load import Loaded
    from linkrisk.study import Study


def person_codes(engine: "Engine", study: "Study", loaded: "Loaded") -> np.ndarray:
    """Integer person code of every record (index = record id - 1)."""
    parts = []
    params = []
    for name in loaded.datasets:
        i = [d.name for d in study.datasets].index(name)
        parts.append(f"SELECT n._rid, t.person_id FROM norm{i} n JOIN truth_raw t "
                     "ON t.dataset = ? AND t.record_id = n._rec")
        params.append(name)
    arr = engine.arrays(f"SELECT _rid, dense_rank() OVER (ORDER BY person_id) - 1 AS p "
                        f"FROM ({' UNION ALL '.join(parts)})", params)
    codes = np.full(loaded.total, -1, dtype=np.int64)
    codes[arr["_rid"].astype(np.int64) - 1] = arr["p"].astype(np.int64)
    return codes


def _pairs(counts: np.ndarray) -> int:
    c = counts.astype(np.int64)
    return int((c * (c - 1) // 2).sum())


def _pair_counts(labels: np.ndarray, persons: np.ndarray) -> np.ndarray:
    key = labels.astype(np.int64) * (int(persons.max()) + 1) + persons
    _, counts = np.unique(key, return_counts=True)
    return counts


def evaluate(labels: np.ndarray, persons: np.ndarray, masks: np.ndarray, gain: np.ndarray,
             bits: "KindBits") -> dict:
    """Pair precision and recall, pure entities, and true versus false gain.

    A predicted pair is two records in one entity; a true pair two records of one person.
    The true gain of a record is what the records of its own person in its entity bring;
    the false gain is what records of other persons (wrong merges) bring on top.

    Examples
    --------
    Three records, persons (0, 0, 1), all linked into one entity: predicted pairs 3,
    true pairs 1, correct pairs 1 -> precision 1/3, recall 1.

    >>> from linkrisk.enrichment import KindBits
    >>> bits = KindBits(["phone"], np.array([2.0]))
    >>> m = np.array([1, 1, 1], dtype=np.uint64)
    >>> r = evaluate(np.array([0, 0, 0]), np.array([0, 0, 1]), m, np.zeros(3), bits)
    >>> round(r["pair_precision"], 3), r["pair_recall"]
    (0.333, 1.0)
    """
    from linkrisk.enrichment import group_or

    n_ent = int(labels.max()) + 1 if len(labels) else 0
    predicted = _pairs(np.bincount(labels))
    true = _pairs(np.bincount(persons))
    joint = _pair_counts(labels, persons)
    correct = _pairs(joint)
    n_groups_per_entity = np.bincount(
        np.unique(labels.astype(np.int64) * (int(persons.max()) + 1) + persons) // (int(persons.max()) + 1),
        minlength=n_ent)
    sizes = np.bincount(labels, minlength=n_ent)
    linked = sizes >= 2
    key = labels.astype(np.int64) * (int(persons.max()) + 1) + persons
    uniq, inverse = np.unique(key, return_inverse=True)
    own_profile = group_or(inverse, masks, len(uniq))[inverse]
    true_gain = bits.weigh(own_profile) - bits.weigh(masks)
    false_gain = gain - true_gain
    return {
        "pair_precision": correct / predicted if predicted else None,
        "pair_recall": correct / true if true else None,
        "predicted_pairs": predicted,
        "true_pairs": true,
        "correct_pairs": correct,
        "pure_entities": float((n_groups_per_entity == 1).mean()) if n_ent else None,
        "pure_linked_entities": float((n_groups_per_entity[linked] == 1).mean()) if linked.any() else None,
        "persons": int(len(np.unique(persons))),
        "true_gain": float(true_gain.sum()),
        "false_gain": float(false_gain.sum()),
    }
