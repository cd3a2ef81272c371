"""copies_graph: the shift prior at scale, against a brute-force rule and orbit_graph."""

import itertools

import numpy as np
import pytest

from drlim.neighbors import (
    Graph,
    copies_graph,
    describe,
    knn_graph,
    label_graph,
    orbit_graph,
    pairs_graph,
)


def brute_force(near: np.ndarray, copies: int) -> np.ndarray:
    """Sample c*n+i ~ d*n+j when (c == d and i ~ j) or (i == j and c != d), pair by pair."""
    n = len(near)
    total = n * copies
    dense = np.zeros((total, total), dtype=bool)
    for a, b in itertools.product(range(total), repeat=2):
        (c, i), (d, j) = divmod(a, n), divmod(b, n)
        dense[a, b] = (c == d and near[i, j]) or (i == j and c != d)
    return dense


def test_copies_graph_follows_the_rule_on_a_random_graph():
    rng = np.random.default_rng(5)
    n, copies = 12, 4
    base = pairs_graph(rng.integers(0, n, 15), rng.integers(0, n, 15), n=n)
    g = copies_graph(base, copies)
    np.testing.assert_array_equal(g.to_dense(), brute_force(base.to_dense(), copies))
    assert g.neighbors.shape[1] == base.neighbors.shape[1]


def test_copies_graph_is_orbit_graph_less_the_far_copies():
    originals = np.random.default_rng(6).random((40, 8))
    base = knn_graph(originals, k=3)
    n, copies = 40, 5
    lifted = Graph(np.concatenate([base.neighbors] + [np.full_like(base.neighbors, -1)] * 4))
    full = orbit_graph(lifted, np.tile(np.arange(n), copies)).to_dense()
    ours = copies_graph(base, copies).to_dense()
    assert not (ours & ~full).any()  # every edge is one of the paper's rule
    same_copy = np.equal.outer(np.arange(n * copies) // n, np.arange(n * copies) // n)
    same_orbit = np.equal.outer(np.arange(n * copies) % n, np.arange(n * copies) % n)
    np.testing.assert_array_equal(ours, full & (same_copy | same_orbit))
    undirected = describe(base)["similar_undirected"]
    counts = describe(copies_graph(base, copies))
    assert counts["similar_undirected"] == n * copies * (copies - 1) // 2 + copies * undirected


def test_copies_graph_single_copy_is_the_graph_and_errors():
    base = pairs_graph([0, 1], [1, 2], n=4)
    np.testing.assert_array_equal(copies_graph(base, 1).to_dense(), base.to_dense())
    with pytest.raises(ValueError, match="graph must have no groups"):
        copies_graph(label_graph([0, 0, 1]), 2)
    with pytest.raises(ValueError, match="copies"):
        copies_graph(base, 0)
    with pytest.raises(ValueError, match="graph must be a Graph"):
        copies_graph(base.neighbors, 2)
