"""t-SNE's affinities as a graph: against an independent per-row root search, the rows'
perplexity, the estimator's use of it, and the errors."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

from drlim.estimator import DrLIM
from drlim.neighbors import (
    _neighbour_sq_distances,
    conditional_probabilities,
    fuzzy_knn_graph,
    perplexity_graph,
)


def _dense_weights(graph) -> np.ndarray:
    dense = np.zeros((graph.n, graph.n))
    rows, cols = np.nonzero(graph.neighbors >= 0)
    dense[rows, graph.neighbors[rows, cols]] = graph.weights[rows, cols]
    return dense


def _reference_affinities(X: np.ndarray, perplexity: float) -> np.ndarray:
    """t-SNE's symmetrised P over the 3 * perplexity nearest neighbours, scaled to a maximum
    of 1: each row's Gaussian precision found by Brent's method on its entropy in float64."""
    n = len(X)
    k = min(n - 1, math.floor(3 * perplexity))
    distances, indices = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    conditional = np.zeros((n, n))
    for i in range(n):
        d2 = distances[i, 1:].astype(np.float64) ** 2
        d2 = d2 - d2.min()

        def excess_entropy(log_beta, d2=d2):
            p = np.exp(-np.exp(log_beta) * d2)
            p /= p.sum()
            return -np.sum(p[p > 0] * np.log(p[p > 0])) - math.log(perplexity)

        beta = math.exp(brentq(excess_entropy, -30.0, 30.0, xtol=1e-12))
        p = np.exp(-beta * d2)
        conditional[i, indices[i, 1:]] = p / p.sum()
    joint = conditional + conditional.T
    return joint / joint.max()


@pytest.mark.parametrize("perplexity", [5.0, 12.5])
def test_weights_match_an_independent_root_search(perplexity):
    digits = load_digits().data[:200] / 16.0
    noise = np.random.default_rng(0).normal(scale=1e-3, size=digits.shape)  # no distance ties
    X = (digits + noise).astype(np.float32)
    graph = perplexity_graph(X, perplexity)
    np.testing.assert_allclose(_dense_weights(graph), _reference_affinities(X, perplexity),
                               atol=2e-6)
    assert graph.directed_pairs == 200 * math.floor(3 * perplexity)


@pytest.mark.parametrize("perplexity", [1.5, 4.0, 9.0])
def test_each_row_has_the_asked_perplexity(perplexity):
    sq_distances = np.random.default_rng(1).gamma(2.0, 5.0, size=(50, 9)) ** 2
    p = conditional_probabilities(sq_distances, perplexity)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
    np.testing.assert_allclose(np.exp(entropy), perplexity, rtol=1e-6)
    # Farther neighbours get less probability.
    order = np.argsort(sq_distances, axis=1)
    assert np.all(np.diff(np.take_along_axis(p, order, axis=1), axis=1) <= 1e-15)


def test_a_far_outlier_does_not_push_a_row_out_of_the_bisection_range():
    sq_distances = np.array([[0.0] + [1.0] * 8 + [1e40]])
    p = conditional_probabilities(sq_distances, 2.0)
    entropy = -np.sum(p[p > 0] * np.log(p[p > 0]))
    np.testing.assert_allclose(np.exp(entropy), 2.0, rtol=1e-6)


def test_rows_that_cannot_differ_get_uniform_weights():
    equal = conditional_probabilities(np.full((1, 6), 4.0), 3.0)
    np.testing.assert_allclose(equal, 1 / 6)
    # Two samples: each is the other's only neighbour, with weight 1.
    graph = perplexity_graph(np.array([[0.0, 1.0], [2.0, 0.0]]), 1.0)
    assert graph.neighbors.tolist() == [[1], [0]] and graph.weights.tolist() == [[1.0], [1.0]]


def test_distances_in_blocks_equal_one_block():
    X = np.random.default_rng(6).normal(size=(50, 7)).astype(np.float32)
    indices = np.random.default_rng(7).integers(0, 50, size=(50, 4))
    whole = _neighbour_sq_distances(X, indices)
    np.testing.assert_array_equal(_neighbour_sq_distances(X, indices, max_floats=3 * 4 * 7),
                                  whole)
    np.testing.assert_allclose(whole, ((X[indices] - X[:, None]) ** 2).sum(-1), rtol=1e-6)
    fuzzy = fuzzy_knn_graph(X, k=4)
    assert np.all(fuzzy.weights[fuzzy.neighbors >= 0] > 0)


def test_weights_are_symmetric_in_the_unit_interval_and_scale_free():
    X = np.random.default_rng(2).normal(size=(120, 5)).astype(np.float32)
    graph = perplexity_graph(X, 10.0)
    dense = _dense_weights(graph)
    np.testing.assert_array_equal(dense, dense.T)
    assert dense.max() == 1.0 and np.all(graph.weights[graph.neighbors >= 0] > 0)
    # t-SNE's affinities do not depend on the data's scale.
    np.testing.assert_allclose(_dense_weights(perplexity_graph(7.0 * X, 10.0)), dense, atol=1e-6)


def test_bad_perplexity_is_refused():
    X = np.random.default_rng(3).normal(size=(10, 3))
    for bad in (0.5, 9.5, float("nan"), True):
        with pytest.raises(ValueError, match="perplexity"):
            perplexity_graph(X, bad)
    with pytest.raises(ValueError, match="at least 2 samples"):
        perplexity_graph(X[:1], 1.0)


def test_estimator_trains_on_the_perplexity_graph():
    X, y = load_digits(return_X_y=True)
    X = (X[:400] / 16.0).astype(np.float32)
    model = DrLIM(loss="infonce", perplexity=10.0, epochs=2.0, random_state=0).fit(X)
    expected = perplexity_graph(X, 10.0)
    np.testing.assert_array_equal(model.graph_.neighbors, expected.neighbors)
    np.testing.assert_array_equal(model.graph_.weights, expected.weights)
    assert np.all(np.isfinite(model.transform(X[:20])))


def test_estimator_refuses_perplexity_with_another_graph_setting():
    X = np.random.default_rng(4).normal(size=(30, 4)).astype(np.float32)
    partial = np.r_[np.zeros(10, int), -np.ones(20, int)]
    cases = [
        (DrLIM(perplexity=5.0, n_neighbors=5), None, "n_neighbors must be None"),
        (DrLIM(perplexity=5.0, metric="cosine"), None, "metric must be 'euclidean'"),
        (DrLIM(perplexity=5.0), partial, "combined with labels"),
        (DrLIM(perplexity=40.0), None, "at most n_samples - 1 = 29"),
        (DrLIM(perplexity=0.5), None, "perplexity"),
    ]
    cases += [
        (DrLIM(perplexity=5.0), np.arange(30) % 2, "combined with labels"),
        (DrLIM(perplexity=9.7), None, r"below \(n_samples - 1\) / 3 = 9.66667"),
    ]
    for model, y, match in cases:
        with pytest.raises(ValueError, match=match):
            model.fit(X, y)
    # With the weights, every pair may be an edge: InfoNCE draws them by weight.
    DrLIM(loss="infonce", perplexity=9.7, epochs=1.0, batch_size=8).fit(X)


def test_a_saved_model_keeps_its_perplexity(tmp_path):
    X = np.random.default_rng(8).normal(size=(40, 4)).astype(np.float32)
    model = DrLIM(loss="neg", perplexity=4.0, epochs=1.0, batch_size=8, random_state=0).fit(X)
    loaded = DrLIM.load(model.save(tmp_path / "model.msgpack"))
    assert loaded.perplexity == 4.0
    np.testing.assert_array_equal(loaded.transform(X[:5]), model.transform(X[:5]))


def test_sparse_input_gives_the_dense_graph():
    import scipy.sparse

    X = np.random.default_rng(5).random((60, 8)).astype(np.float32)
    X[X < 0.5] = 0.0
    dense, sparse = perplexity_graph(X, 4.0), perplexity_graph(scipy.sparse.csr_matrix(X), 4.0)
    np.testing.assert_array_equal(sparse.neighbors, dense.neighbors)
    np.testing.assert_allclose(sparse.weights, dense.weights, rtol=1e-6)
