"""Connected components: scipy on integer ids, checked against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from linkrisk.enrichment import group_or, multi_dataset_entities
from linkrisk.graph import components


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


def test_group_or_and_multi_dataset_entities():
    labels = np.array([0, 0, 1, 2, 2])
    masks = np.array([1, 2, 4, 8, 8], dtype=np.uint64)
    assert group_or(labels, masks, 3).tolist() == [3, 4, 8]
    # entity 0 spans datasets 0 and 1, entity 2 only dataset 1
    assert multi_dataset_entities(labels, np.array([0, 1, 0, 1, 1])) == 1
