"""Edge and negative sampling for UMAP's and InfoNCE's losses: proportional to weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import chisquare

from drlim import pairs
from drlim.neighbors import Graph, label_graph, pairs_graph, sequence_graph, union
from drlim.pairs import make_sampler, sample_edges, sample_negatives


def _weighted_graph() -> Graph:
    """Five samples; edges 0-1 (0.2), 0-2 (1.0), 1-3 (0.5), 2-3 (0.05); sample 4 isolated."""
    table = np.array([[1, 2], [0, 3], [0, 3], [1, 2], [-1, -1]])
    weights = np.array([[0.2, 1.0], [0.2, 0.5], [1.0, 0.05], [0.5, 0.05], [0.0, 0.0]])
    return Graph(table, weights=weights)


def _observed(i, j, pairs):
    i, j = np.asarray(i), np.asarray(j)
    return np.array([np.sum((i == a) & (j == b)) for a, b in pairs])


def test_edges_are_drawn_in_proportion_to_weight():
    graph = _weighted_graph()
    i, j = sample_edges(jax.random.key(0), make_sampler(graph), 40_000)
    rows, cols = np.nonzero(graph.neighbors >= 0)
    pairs = list(zip(rows, graph.neighbors[rows, cols], strict=True))
    weights = graph.weights[rows, cols].astype(np.float64)
    counts = _observed(i, j, pairs)
    assert counts.sum() == 40_000  # every draw is an edge
    assert chisquare(counts, 40_000 * weights / weights.sum()).pvalue > 1e-3


def test_self_loops_add_weight_one_per_sample():
    graph = _weighted_graph()
    i, j = sample_edges(jax.random.key(1), make_sampler(graph), 40_000, self_loops=True)
    rows, cols = np.nonzero(graph.neighbors >= 0)
    pairs = list(zip(rows, graph.neighbors[rows, cols], strict=True)) + [(s, s) for s in range(5)]
    weights = np.concatenate([graph.weights[rows, cols], np.ones(5)]).astype(np.float64)
    counts = _observed(i, j, pairs)
    assert counts.sum() == 40_000
    assert chisquare(counts, 40_000 * weights / weights.sum()).pvalue > 1e-3


def test_unweighted_edges_are_uniform_over_edges_groups_included():
    graph = union(label_graph([0, 0, 0, 1, 2, 3]), pairs_graph([0, 3], [5, 5], n=6))
    dense = graph.to_dense()
    i, j = sample_edges(jax.random.key(2), make_sampler(graph), 30_000)
    anchors, partners = np.nonzero(dense)
    counts = _observed(i, j, list(zip(anchors, partners, strict=True)))
    assert counts.sum() == 30_000
    assert chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize(
    "graph", [_weighted_graph(), sequence_graph(pairs.TWO_STAGE_ANCHORS_ABOVE, window=2)],
    ids=["weighted", "at-the-limit"])
def test_up_to_the_limit_anchors_are_one_draw_in_the_running_sum_as_before(graph):
    """The draws every saved result of the edge losses was made with."""
    sampler = make_sampler(graph)
    key = jax.random.key(5)
    anchors, _ = sample_edges(key, sampler, 1000)
    running = jnp.cumsum(sampler.row_weight)
    target = jax.random.uniform(jax.random.split(key)[0], (1000,)) * running[-1]
    np.testing.assert_array_equal(
        anchors, jnp.minimum(jnp.searchsorted(running, target, side="right"), graph.n - 1))


def test_beyond_the_limit_anchors_are_drawn_by_block_then_row_in_proportion(monkeypatch):
    monkeypatch.setattr(pairs, "TWO_STAGE_ANCHORS_ABOVE", 16)
    rng = np.random.default_rng(6)
    weights = (rng.random(300) * (rng.random(300) < 0.7)).astype(np.float32)
    weights[-5:] = 0.0  # the last block ends in zero weights, then padding
    rows = np.asarray(pairs._draw_anchors(jax.random.key(7), jnp.asarray(weights), 200_000))
    counts = np.bincount(rows, minlength=300)
    assert counts.size == 300 and counts[weights == 0].sum() == 0
    positive = weights > 0
    expected = 200_000 * weights[positive] / weights[positive].sum(dtype=np.float64)
    assert chisquare(counts[positive], expected).pvalue > 1e-3


def test_edges_of_a_graph_beyond_the_limit_are_edges():
    n = pairs.TWO_STAGE_ANCHORS_ABOVE + 3_000
    i, j = sample_edges(jax.random.key(8), make_sampler(sequence_graph(n, window=1)), 4096)
    i, j = np.asarray(i), np.asarray(j)
    assert np.all(np.abs(i - j) == 1) and i.min() >= 0 and i.max() < n
    assert np.mean(i >= n - 3_000) == pytest.approx(3_000 / n, abs=0.02)
    i, j = sample_edges(jax.random.key(9), make_sampler(sequence_graph(n, window=1)), 4096,
                        self_loops=True)
    i, j = np.asarray(i), np.asarray(j)
    assert np.all(np.abs(i - j) <= 1) and i.max() < n
    assert np.mean(i == j) == pytest.approx(1 / 3, abs=0.03)  # weight 1 beside degree 2


def test_negatives_are_uniform_and_deterministic():
    sampler = make_sampler(_weighted_graph())
    ids = sample_negatives(jax.random.key(3), sampler, (10_000, 5))
    assert ids.shape == (10_000, 5) and ids.dtype == np.int32
    assert chisquare(np.bincount(np.asarray(ids).ravel(), minlength=5)).pvalue > 1e-3
    np.testing.assert_array_equal(ids, sample_negatives(jax.random.key(3), sampler, (10_000, 5)))
    first = sample_edges(jax.random.key(4), sampler, 64)
    second = sample_edges(jax.random.key(4), sampler, 64)
    np.testing.assert_array_equal(first, second)


def test_edge_sampling_inside_jit_and_errors():
    sampler = make_sampler(_weighted_graph())
    step = jax.jit(lambda key: sample_edges(key, sampler, 8))
    assert step(jax.random.key(5))[0].shape == (8,)
    with pytest.raises(ValueError, match="count"):
        sample_edges(jax.random.key(0), sampler, 0)
    empty = make_sampler(Graph(np.full((3, 1), -1)))
    with pytest.raises(ValueError, match="similar pair"):
        sample_edges(jax.random.key(0), empty, 4)
    i, j = sample_edges(jax.random.key(0), empty, 4, self_loops=True)
    np.testing.assert_array_equal(i, j)
