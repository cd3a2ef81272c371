"""Weighted graphs: UMAP's fuzzy kNN memberships against umap-learn, and the weight checks."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

from drlim.neighbors import Graph, fuzzy_knn_graph, knn_graph


def _dense_weights(graph: Graph) -> np.ndarray:
    dense = np.zeros((graph.n, graph.n))
    rows, cols = np.nonzero(graph.neighbors >= 0)
    dense[rows, graph.neighbors[rows, cols]] = graph.weights[rows, cols]
    return dense


@pytest.mark.slow  # numba compiles umap-learn's graph code first (a minute on 2 cores)
@pytest.mark.parametrize("k", [5, 14])
def test_fuzzy_graph_matches_umap_learn(k):
    fuzzy_simplicial_set = pytest.importorskip("umap.umap_").fuzzy_simplicial_set
    digits = load_digits().data[:300] / 16.0
    noise = np.random.default_rng(0).normal(scale=1e-3, size=digits.shape)  # no distance ties
    X = (digits + noise).astype(np.float32)
    graph = fuzzy_knn_graph(X, k=k)
    # Exact neighbours (self first) for umap-learn, which would otherwise use NN-descent.
    distances, indices = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    distances[:, 0] = 0.0  # scikit-learn's rounding leaves ~1e-8 on some self distances
    reference, _, _ = fuzzy_simplicial_set(X, k + 1, 0, "euclidean", knn_indices=indices,
                                           knn_dists=distances.astype(np.float32))
    np.testing.assert_allclose(_dense_weights(graph), reference.toarray(), atol=1e-5)


def test_fuzzy_graph_has_knn_edges_and_unit_nearest_neighbour():
    X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    graph = fuzzy_knn_graph(X, k=8)
    np.testing.assert_array_equal(graph.neighbors >= 0, knn_graph(X, k=8).neighbors >= 0)
    assert graph.directed_pairs == 200 * 8
    dense = _dense_weights(graph)
    np.testing.assert_array_equal(dense, dense.T)
    d2 = ((X[:, None] - X) ** 2).sum(-1)
    nearest = np.argmin(np.where(np.eye(200, dtype=bool), np.inf, d2), axis=1)
    np.testing.assert_allclose(dense[np.arange(200), nearest], 1.0, rtol=1e-6)
    assert np.all(dense[dense > 0] <= 1.0)


def test_weights_are_checked():
    table = np.array([[1], [0], [-1]], dtype=np.int32)
    assert Graph(table, weights=np.array([[0.5], [0.5], [0.0]])).weights.dtype == np.float32
    bad = {
        "shape": np.ones((3, 2)),
        "symmetric": np.array([[0.5], [0.4], [0.0]]),
        r"\(0, 1\]": np.array([[0.0], [0.0], [0.0]]),
        "padding": np.array([[0.5], [0.5], [0.3]]),
    }
    for match, weights in bad.items():
        with pytest.raises(ValueError, match=match):
            Graph(table, weights=weights)
    with pytest.raises(ValueError, match="groups"):
        Graph(np.empty((3, 0), np.int32), groups=np.array([0, 0, 1]), weights=np.empty((3, 0)))
