"""The pair sampler: exactness against dense graphs, uniformity, determinism and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import chisquare

from drlim.neighbors import (
    knn_graph,
    label_graph,
    orbit_graph,
    pairs_graph,
    sequence_graph,
    union,
)
from drlim.pairs import (
    _first_position,
    is_similar,
    make_sampler,
    sample_block,
    sample_pairs,
)


def graphs():
    rng = np.random.default_rng(0)
    knn = knn_graph(rng.random((120, 6)), k=5)
    labels = rng.integers(0, 4, size=120)
    hub = pairs_graph(np.zeros(60, int), np.arange(1, 61), n=120)  # one sample of degree 60
    return {
        "labels": label_graph(labels),
        "labels+knn": union(label_graph(labels), knn),
        "hub+sequence": union(hub, sequence_graph(120, window=2)),
        "orbit": orbit_graph(knn, np.arange(120) % 40),
    }


GRAPHS = graphs()


@pytest.mark.parametrize("name", list(GRAPHS))
def test_edge_test_and_sampled_pairs_are_exact(name):
    graph = GRAPHS[name]
    dense = graph.to_dense()
    sampler = make_sampler(graph)
    ids = np.arange(graph.n)
    edge_test = jax.jit(is_similar)
    np.testing.assert_array_equal(edge_test(sampler, ids[:, None], ids[None, :]), dense)
    for seed in range(30):
        batch = sample_pairs(jax.random.key(seed), sampler, 128, 0.25)
        i, j, similar = (np.asarray(a) for a in batch)
        assert i.dtype == np.int32 and j.dtype == np.int32 and similar.dtype == bool
        assert np.all(i != j)
        np.testing.assert_array_equal(dense[i, j], similar)  # similar <=> edge, for every pair
        assert similar.sum() == 32


@pytest.mark.parametrize(("fraction", "expected"), [(0.3, 38), (1.0, 128)])
def test_number_of_similar_pairs_is_exact(fraction, expected):
    sampler = make_sampler(GRAPHS["labels+knn"])
    _, _, similar = sample_pairs(jax.random.key(2), sampler, 128, similar_fraction=fraction)
    assert int(similar.sum()) == expected
    assert np.all(np.asarray(similar)[:expected])  # similar pairs come first


def test_deterministic_for_a_key():
    sampler = make_sampler(GRAPHS["labels+knn"])
    first = sample_pairs(jax.random.key(3), sampler, 128, 0.25)
    again = sample_pairs(jax.random.key(3), sampler, 128, 0.25)
    other = sample_pairs(jax.random.key(4), sampler, 128, 0.25)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    block = sample_block(jax.random.key(3), sampler, 16)
    np.testing.assert_array_equal(block[0], sample_block(jax.random.key(3), sampler, 16)[0])


def test_dissimilar_pairs_are_uniform_over_non_neighbours():
    # 6 samples: a path 0-1-2 and labels that join 3, 4 -> 12 dissimilar unordered pairs.
    graph = union(label_graph([0, 1, 2, 5, 5, 6]), pairs_graph([0, 1], [1, 2], n=6))
    dense = graph.to_dense()
    sampler = make_sampler(graph)
    i, j, _ = sample_pairs(jax.random.key(5), sampler, 24_000, similar_fraction=0.0)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    assert not dense[lo, hi].any()
    expected = [(a, b) for a in range(6) for b in range(a + 1, 6) if not dense[a, b]]
    assert len(expected) == 12
    counts = np.array([np.sum((lo == a) & (hi == b)) for a, b in expected])
    assert counts.sum() == 24_000
    assert chisquare(counts).pvalue > 1e-3


def test_similar_pairs_are_uniform_over_anchors_then_neighbours():
    # Anchor 0 has explicit neighbour 5 and group mates 1, 2; sample 4 has no neighbour.
    graph = union(label_graph([0, 0, 0, 1, 2, 3]), pairs_graph([0, 3], [5, 5], n=6))
    dense = graph.to_dense()
    degree = dense.sum(1)
    sampler = make_sampler(graph)
    i, j, _ = sample_pairs(jax.random.key(6), sampler, 30_000, similar_fraction=1.0)
    i, j = np.asarray(i), np.asarray(j)
    assert dense[i, j].all()
    anchors, partners = np.nonzero(dense)
    counts = np.array([np.sum((i == a) & (j == b)) for a, b in zip(anchors, partners, strict=True)])
    active = np.count_nonzero(degree)
    expected = 30_000 / active / degree[anchors]
    assert chisquare(counts, expected).pvalue > 1e-3


def test_sample_block_labels_every_pair_once():
    graph = union(label_graph([0, 0, 1, 1, 2, 2]), pairs_graph([0], [2], n=6))
    dense = graph.to_dense()
    sampler = make_sampler(graph)
    for seed in range(20):  # 6 samples and 16 slots: repeated ids on every draw
        idx, similar, valid = (
            np.asarray(a) for a in sample_block(jax.random.key(seed), sampler, 8)
        )
        assert idx.shape == (16,) and similar.shape == valid.shape == (16, 16)
        np.testing.assert_array_equal(similar, dense[np.ix_(idx, idx)])
        assert similar[np.arange(8), np.arange(8, 16)].all()  # each anchor with its neighbour
        rows, cols = np.nonzero(valid)
        pairs = [
            (min(idx[r], idx[c]), max(idx[r], idx[c])) for r, c in zip(rows, cols, strict=True)
        ]
        present = sorted(set(idx.tolist()))
        assert sorted(pairs) == [(a, b) for a in present for b in present if a < b]


def test_sample_block_on_a_large_graph_covers_distinct_samples():
    sampler = make_sampler(GRAPHS["labels+knn"])
    idx, similar, valid = sample_block(jax.random.key(7), sampler, 16)
    n_distinct = len(set(np.asarray(idx).tolist()))
    assert n_distinct >= 20  # 32 draws among 120 samples: about 28 distinct
    assert bool(jnp.all(similar[jnp.arange(16), jnp.arange(16, 32)]))  # anchor, neighbour
    assert int(valid.sum()) == n_distinct * (n_distinct - 1) // 2
    assert not bool(jnp.any(jnp.diag(valid)))


def test_sampler_inside_a_jitted_step():
    sampler = make_sampler(GRAPHS["orbit"])

    @jax.jit
    def step(key, sampler):
        i, j, similar = sample_pairs(key, sampler, 32)
        return jnp.sum(similar), jnp.all(is_similar(sampler, i, j) == similar)

    count, consistent = step(jax.random.key(8), sampler)
    assert int(count) == 16 and bool(consistent)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: sample_pairs(jax.random.key(0), s, 0), "batch_size must"),
        (lambda s: sample_pairs(jax.random.key(0), s, 8, 1.5), "similar_fraction must be in"),
        (lambda s: sample_block(jax.random.key(0), s, 0), "n_anchors must"),
        (lambda s: make_sampler("graph"), "graph must be"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(make_sampler(GRAPHS["labels+knn"]))


def test_graphs_without_one_kind_of_pair():
    empty = make_sampler(pairs_graph([], [], n=5))
    _, _, similar = sample_pairs(jax.random.key(0), empty, 8, similar_fraction=0.0)
    assert not similar.any()
    with pytest.raises(ValueError, match="similar_fraction must be 0"):
        sample_pairs(jax.random.key(0), empty, 8)
    with pytest.raises(ValueError, match="sampler: sample_block needs"):
        sample_block(jax.random.key(0), empty, 4)
    complete = make_sampler(label_graph([1, 1, 1]))
    with pytest.raises(ValueError, match="similar_fraction must be 1"):
        sample_pairs(jax.random.key(0), complete, 8)


def test_binary_search_near_int32s_end_does_not_overflow():
    """Rows past 2**30 edges: the midpoint of two positions must not pass int32's range."""
    sampler = make_sampler(sequence_graph(4, window=1)).replace(search_steps=8)
    end = jnp.int32(2**31 - 2)
    found = _first_position(sampler, jnp.int32(2**31 - 100), end, lambda at: at == at)
    assert int(found) == int(end)
