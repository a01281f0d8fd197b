"""Connected components: scipy on integer ids, checked against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from linkrisk.engine import make_engine
from linkrisk.enrichment import bootstrap_prevented
from linkrisk.graph import components, entity_stats


def partition(labels) -> set[frozenset]:
    groups: dict[int, set] = {}
    for node, label in enumerate(labels):
        groups.setdefault(int(label), set()).add(node)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("seed", range(8))
def test_components_match_networkx(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    m = int(rng.integers(0, 2 * n))
    a, b = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(a.tolist(), b.tolist()))
    expected = {frozenset(c) for c in nx.connected_components(g)}
    assert partition(components(n, a, b)) == expected


def test_components_by_hand():
    # 0-1, 1-2 and 4-5: components {0,1,2}, {3}, {4,5}, numbered by smallest node
    assert components(6, np.array([0, 1, 4]), np.array([1, 2, 5])).tolist() == [0, 0, 0, 1, 2, 2]
    assert components(0, np.array([]), np.array([])).tolist() == []


def test_entity_stats_and_components_table():
    # records 1..5 in datasets 0, 1, 0, 1, 1; edges 1-2 and 4-5:
    # entities {1, 2} (two datasets), {3}, {4, 5} (one dataset)
    with make_engine("duckdb") as eng:
        eng.register_frame("_p", pd.DataFrame({"a": [1, 4], "b": [2, 5]}))
        eng.components_table("_p", 5, "lab")
        assert eng.df("SELECT _rid, e FROM lab ORDER BY _rid")["e"].tolist() == [0, 0, 1, 2, 2]
        eng.create("t", "SELECT l._rid, l.e, d._ds FROM lab l JOIN (SELECT unnest([1, 2, 3, 4, 5]) AS _rid, "
                        "unnest([0, 1, 0, 1, 1]) AS _ds) d USING (_rid)")
        assert entity_stats(eng, "t") == {"entities": 3, "multi_dataset_entities": 1,
                                          "entity_sizes": {"1": 1, "2": 2}}


def test_bootstrap_by_hand():
    # three baseline entities gaining 4, 4 and 2; the scenario leaves 1, 1 and 0:
    # prevented = 1 - 2 / 10 = 0.8. Every resample mixes entities whose own shares are
    # 0.75 and 1, so the interval lies within [0.75, 1].
    groups = pd.DataFrame({"b": [2.0, 4.0], "s": [0.0, 1.0], "n": [1, 2]})
    p = bootstrap_prevented({"keyed": groups}, seed=7)["keyed"]
    assert p["value"] == pytest.approx(0.8)
    assert 0.75 <= p["ci_low"] <= 0.8 <= p["ci_high"] <= 1.0
    assert p == bootstrap_prevented({"other": groups, "keyed": groups}, seed=7)["keyed"]  # same seed, same draws
    none = bootstrap_prevented({"keyed": pd.DataFrame({"b": [0.0], "s": [0.0], "n": [3]})}, seed=7)
    assert none["keyed"]["value"] is None
