"""Neighbour search against scikit-learn's brute force and NumPy references, and its errors.

NN-descent (``method="approx"``) is compiled by numba on its first call in a process, which
took 170-210 s on a loaded 2-core machine, so its checks are marked slow;
the Euclidean ones share one module fixture.
"""

import numpy as np
import pytest
import scipy.sparse
from scipy.spatial.distance import cdist
from sklearn.datasets import load_digits, make_blobs
from sklearn.neighbors import NearestNeighbors

from drlim import knn
from drlim.knn import METRICS, knn_indices, resolve_method
from drlim.neighbors import knn_graph, symmetrize


def reference_knn(X: np.ndarray, k: int, metric: str = "euclidean") -> np.ndarray:
    """k nearest by (float64 distance from SciPy's cdist, index), self excluded."""
    flat = X.reshape(len(X), -1).astype(np.float64)
    names = {"euclidean": "sqeuclidean", "cosine": "cosine", "manhattan": "cityblock"}
    distance = cdist(flat, flat, names[metric])
    np.fill_diagonal(distance, np.inf)
    ids = np.arange(len(X))
    return np.array([np.lexsort((ids, row))[:k] for row in distance])


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact neighbours that ``found`` lists, over all rows."""
    return float(np.mean([len(set(a) & set(b)) for a, b in zip(found, exact, strict=True)]))


def sklearn_distances(X, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    model = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(X)
    return model.kneighbors()


def pair_distances(X: np.ndarray, table: np.ndarray, metric: str) -> np.ndarray:
    """Distances from each row to the samples its row of ``table`` lists, in float64."""
    flat = X.astype(np.float64)
    if metric == "euclidean":
        return np.linalg.norm(flat[:, None, :] - flat[table], axis=-1)
    if metric == "manhattan":
        return np.abs(flat[:, None, :] - flat[table]).sum(-1)
    unit = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    return 1 - (unit[:, None, :] * unit[table]).sum(-1)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """scikit-learn's 8x8 handwritten digits as NHWC images in [0, 1] (many exact ties)."""
    return (load_digits().images / 16.0).astype(np.float32)[..., None]


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    """1,500 samples in 12 clusters of 20 dimensions: small, clustered, no ties."""
    X, _ = make_blobs(1500, n_features=20, centers=12, cluster_std=2.0, random_state=0)
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def approx_euclidean(blobs) -> np.ndarray:
    return knn_indices(blobs, k=10, method="approx", random_state=3)


@pytest.mark.parametrize("metric", METRICS)
def test_exact_matches_sklearn_brute_force(metric):
    X = np.random.default_rng(0).normal(size=(400, 16)).astype(np.float32)
    ours = knn_indices(X, k=5, method="exact", metric=metric)
    dist, theirs = sklearn_distances(X, 5, metric)
    np.testing.assert_allclose(pair_distances(X, ours, metric), dist, rtol=1e-5, atol=1e-6)
    assert all(set(a) == set(b) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("metric", METRICS)
def test_exact_breaks_ties_towards_smaller_index(digits, metric):
    ours = knn_indices(digits, k=5, method="exact", metric=metric)  # NHWC images: flattened
    expected = reference_knn(digits, 5, metric)
    if metric == "cosine":  # float32 cosines are not exact: compare the neighbours' distances
        flat = digits.reshape(len(digits), -1)
        np.testing.assert_allclose(
            pair_distances(flat, ours, metric), pair_distances(flat, expected, metric), atol=1e-6
        )
    else:  # pixel values are multiples of 1/16: float32 distances and ties are exact
        np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("metric", METRICS)
def test_exact_on_zero_padded_images_matches_the_reference(digits, metric):
    """A zero border, as the paper's 32 x 32 MNIST has, is left out of the scoring (128 of
    the 144 pixels are scored here): the neighbours stay those of every pixel, ties
    included."""
    padded = np.pad(digits, ((0, 0), (2, 2), (2, 2), (0, 0)))
    assert len(knn._scored_columns(padded.reshape(len(padded), -1))) == 128
    ours = knn_indices(padded, k=5, method="exact", metric=metric)
    expected = reference_knn(padded, 5, metric)
    if metric == "cosine":  # float32 cosines are not exact: compare the neighbours' distances
        flat = padded.reshape(len(padded), -1)
        np.testing.assert_allclose(
            pair_distances(flat, ours, metric), pair_distances(flat, expected, metric), atol=1e-6
        )
    else:
        np.testing.assert_array_equal(ours, expected)


def test_exact_on_all_zero_data_lists_the_smallest_ids():
    ours = knn_indices(np.zeros((5, 3), np.float32), k=2, method="exact")
    np.testing.assert_array_equal(ours, [[1, 2], [0, 2], [0, 1], [0, 1], [0, 1]])


def test_exact_cosine_puts_an_all_zero_row_at_distance_one():
    X = np.random.default_rng(5).normal(size=(60, 6)).astype(np.float32)
    X[7] = 0.0
    ours = knn_indices(X, k=3, method="exact", metric="cosine")
    dist, theirs = sklearn_distances(X, 3, "cosine")  # scikit-learn: similarity 0 with it
    np.testing.assert_array_equal(dist[7], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(ours[7], [0, 1, 2])  # all at distance 1: smallest ids
    others = np.delete(np.arange(60), 7)
    assert dist[others].max() < 1.0  # so nobody else has the zero row among its neighbours
    np.testing.assert_array_equal(np.sort(ours[others]), np.sort(theirs[others]))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("block_size", "chunk_size"), [(1, 4096), (7, 21), (64, 50), (150, 32)])
def test_exact_blocks_and_chunks_do_not_change_the_result(monkeypatch, metric, block_size,
                                                          chunk_size):
    X = np.random.default_rng(1).random((150, 10)).astype(np.float32)
    X[10] = X[140]  # a duplicate pair: a tie at distance 0, split across chunks
    expected = knn_indices(X, k=4, method="exact", metric=metric, block_size=150)
    monkeypatch.setattr(knn, "KNN_CHUNK_SIZE", chunk_size)
    got = knn_indices(X, k=4, method="exact", metric=metric, block_size=block_size)
    np.testing.assert_array_equal(got, expected)
    assert got[10][0] == 140 and got[140][0] == 10


def test_exact_euclidean_matches_the_numpy_reference_with_ties():
    X = np.random.default_rng(1).random((150, 10)).astype(np.float32)
    X[10] = X[20]
    np.testing.assert_array_equal(knn_indices(X, k=4, method="exact"), reference_knn(X, 4))


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4])
def test_exact_euclidean_is_exact_far_from_the_origin(offset):
    # Uncentred scores 2 x.y - ||y||^2 round in float32 to about 1e-7 ||y||^2: at an offset
    # of 1,000 they found 23% of these neighbours, at 10,000 6%.
    X = (offset + np.random.default_rng(0).random((400, 10))).astype(np.float32)
    found = knn_indices(X, k=5, method="exact")
    assert np.array_equal(found, reference_knn(X, 5))


@pytest.mark.parametrize("metric", METRICS)
def test_exact_on_sparse_input_matches_scipy_on_the_dense_array(metric):
    X = scipy.sparse.random(200, 40, density=0.2, random_state=2, dtype=np.float32).tocsr()
    assert X.getnnz(axis=1).min() > 0  # no empty rows: every cosine is defined
    ours = knn_indices(X, k=5, method="exact", metric=metric)
    flat = X.toarray()
    expected = reference_knn(flat, 5, metric)
    np.testing.assert_allclose(
        pair_distances(flat, ours, metric), pair_distances(flat, expected, metric), atol=1e-5
    )


def test_sparse_input_with_a_column_stored_twice_counts_it_once_and_is_left_as_given():
    """A bag of words built with one stored entry per token occurrence."""
    rng = np.random.default_rng(3)
    rows = np.repeat(np.arange(60), 8)
    cols = rng.integers(0, 12, size=rows.size)  # columns repeat within rows
    given = scipy.sparse.csr_matrix(
        (np.ones(rows.size, np.float32), cols, np.arange(0, rows.size + 1, 8)), shape=(60, 12))
    stored = (given.data.copy(), given.indices.copy())
    assert not given.has_canonical_format
    found = knn_indices(given, k=4, method="exact")
    summed = given.toarray()  # toarray adds the duplicates up
    np.testing.assert_allclose(pair_distances(summed, found, "euclidean"),
                               pair_distances(summed, reference_knn(summed, 4), "euclidean"),
                               atol=1e-5)
    np.testing.assert_array_equal(given.data, stored[0])
    np.testing.assert_array_equal(given.indices, stored[1])
    overflowing = scipy.sparse.csr_matrix(
        (np.full(3, 2e38, np.float32), [0, 0, 1], [0, 2, 3]), shape=(2, 2))
    with pytest.raises(ValueError, match="X must be finite, got 1 NaN/inf"):
        knn_indices(overflowing, k=1, method="exact")  # 2e38 + 2e38 is inf in float32


@pytest.mark.slow
def test_approx_recall_against_exact_on_clustered_data(blobs, approx_euclidean):
    exact = knn_indices(blobs, k=10, method="exact")
    assert approx_euclidean.shape == (1500, 10) and approx_euclidean.dtype == np.int32
    assert not np.any(approx_euclidean == np.arange(1500)[:, None])  # self excluded
    assert recall(approx_euclidean, exact) >= 0.9 * 10


@pytest.mark.slow
def test_approx_is_deterministic_for_a_seed(blobs, approx_euclidean):
    again = knn_indices(blobs, k=10, method="approx", random_state=3)
    np.testing.assert_array_equal(again, approx_euclidean)


def test_auto_picks_exact_below_the_limit(blobs):
    assert resolve_method("auto", knn.AUTO_EXACT_LIMIT - 1) == "exact"
    assert resolve_method("auto", knn.AUTO_EXACT_LIMIT) == "approx"
    assert resolve_method("exact", 10**7) == "exact"
    assert resolve_method("approx", 10) == "approx"
    exact = knn_indices(blobs, k=10, method="exact")
    np.testing.assert_array_equal(knn_indices(blobs, k=10, method="auto"), exact)


@pytest.mark.slow
def test_auto_picks_nn_descent_from_the_limit(monkeypatch, blobs, approx_euclidean):
    monkeypatch.setattr(knn, "AUTO_EXACT_LIMIT", 1500)
    auto = knn_indices(blobs, k=10, method="auto", random_state=3)
    np.testing.assert_array_equal(auto, approx_euclidean)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["cosine", "manhattan"])
def test_approx_recall_for_the_other_metrics(blobs, metric):
    exact = knn_indices(blobs, k=10, method="exact", metric=metric)
    found = knn_indices(blobs, k=10, method="approx", metric=metric, random_state=0)
    assert recall(found, exact) >= 0.9 * 10


@pytest.mark.slow
def test_approx_on_sparse_input():
    X = scipy.sparse.random(600, 300, density=0.05, random_state=4, dtype=np.float32).tocsr()
    X = X[np.flatnonzero(X.getnnz(axis=1) > 0)]  # documents with at least one word
    exact = knn_indices(X, k=5, method="exact", metric="cosine")
    found = knn_indices(X, k=5, method="approx", metric="cosine")
    assert recall(found, exact) >= 0.9 * 5


def test_knn_graph_passes_method_and_metric_on():
    X = np.random.default_rng(6).random((120, 5))
    g = knn_graph(X, k=4, method="exact", metric="manhattan")
    table = knn_indices(X, k=4, method="exact", metric="manhattan")
    np.testing.assert_array_equal(g.neighbors, symmetrize(table).neighbors)
    assert not np.array_equal(g.neighbors, knn_graph(X, k=4).neighbors)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.zeros((10, 3)), {"k": 0}, "k must"),
        (np.zeros((10, 3)), {"k": -2}, "k must"),
        (np.zeros((10, 3)), {"k": 10}, "k must"),
        (np.zeros((10, 3)), {"k": 11}, r"k must be in \[1, 9\], got 11"),
        (np.zeros((10, 3)), {"k": True}, "k must be an int in .*, got True"),
        (np.zeros((10, 3)), {"k": 2.0}, "k must"),
        (np.zeros((10, 3)), {"k": 3, "block_size": 0}, "block_size must"),
        (np.zeros((10, 3)), {"k": 3, "method": "annoy"}, "method must be one of"),
        (np.zeros((10, 3)), {"k": 3, "method": None}, "method must be one of"),
        (np.zeros((10, 3)), {"k": 3, "metric": "minkowski"}, "metric must be one of"),
        (np.zeros((10, 3)), {"k": 3, "metric": "Cosine"}, "metric must be one of"),
        (np.zeros((10, 3)), {"k": 3, "random_state": -1}, "random_state must"),
        (np.zeros((10, 3)), {"k": 3, "random_state": 0.5}, "random_state must"),
        (np.zeros((10, 3)), {"k": 3, "random_state": 2**32}, "random_state must be in"),
        (np.zeros((0, 3)), {"k": 3}, "X must"),
        (np.zeros((10,)), {"k": 3}, "X must"),
        (np.zeros((10, 0)), {"k": 3}, "X must"),
        (scipy.sparse.csr_matrix((1, 4)), {"k": 1}, "X must"),
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), {"k": 1}, "X must be finite, got 1"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), {"k": 1}, "X must be finite"),
        (scipy.sparse.csr_matrix(np.array([[0.0, np.nan], [1.0, 2.0]])), {"k": 1}, "X must be"),
        ([["a", "b"], ["c", "d"]], {"k": 1}, "X must hold real numbers, got dtype <U1"),
    ],
)
def test_knn_rejects_bad_input(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn_indices(X, **kwargs)
    with pytest.raises(ValueError, match=match):
        knn_graph(X, **kwargs)


def test_knn_indices_is_still_importable_from_neighbors():
    from drlim import neighbors

    assert neighbors.knn_indices is knn_indices
