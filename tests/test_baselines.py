"""Tests for drlim.methods: the scikit-learn baselines behind fit_method, and LLE on a graph."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from sklearn.datasets import load_digits, make_swiss_roll
from sklearn.manifold import LocallyLinearEmbedding
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from drlim import methods


@pytest.fixture(scope="module", autouse=True)
def single_openmp_thread():
    """t-SNE's OpenMP threads spin badly when the CPUs are shared; one thread is fastest."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data[:300] / 16.0
    return X[:200].reshape(200, 8, 8, 1), X[200:].reshape(100, 8, 8, 1)


@pytest.mark.parametrize("name", methods.BASELINES)
def test_fit_baseline_shapes_flags_and_timings(name, digits):
    X_train, X_test = digits
    result = methods.fit_method(name, X_train, X_test, n_components=2, n_neighbors=15)
    assert result.name == name
    assert result.Z_train.shape == (200, 2)
    assert result.Z_test.shape == (100, 2)
    assert np.all(np.isfinite(result.Z_train)) and np.all(np.isfinite(result.Z_test))
    assert result.transductive == (not methods.METHODS[name].inductive)
    assert result.fit_seconds > 0
    if result.transductive:
        assert result.transform_seconds is None and result.transform is None
        assert result.n_fit == 300
    else:
        assert result.transform_seconds > 0
        assert result.n_fit == 200
        # the kept mapping gives the same test embedding in a later call, images or flat
        np.testing.assert_allclose(result.transform(X_test), result.Z_test, atol=1e-8)
        np.testing.assert_allclose(result.transform(X_test.reshape(100, -1)[:7]),
                                   result.Z_test[:7], atol=1e-8)


def test_repeated_transform_timing_keeps_the_embedding(digits):
    X_train, X_test = digits
    once = methods.fit_method("isomap", X_train, X_test, n_neighbors=10)
    thrice = methods.fit_method("isomap", X_train, X_test, n_neighbors=10, repeats=3)
    np.testing.assert_array_equal(once.Z_test, thrice.Z_test)
    assert thrice.transform_seconds > 0


def test_pca_baseline_equals_projection_on_principal_axes(digits):
    X_train, X_test = digits
    flat_train, flat_test = X_train.reshape(200, -1), X_test.reshape(100, -1)
    result = methods.fit_method("pca", X_train, X_test, n_components=3)
    _, _, axes = np.linalg.svd(flat_train - flat_train.mean(axis=0), full_matrices=False)
    expected = (flat_test - flat_train.mean(axis=0)) @ axes[:3].T
    # Each principal axis is defined up to sign.
    signs = np.sign(np.sum(expected * result.Z_test, axis=0))
    np.testing.assert_allclose(result.Z_test, expected * signs, atol=1e-8)


def test_fit_baseline_without_test_set(digits):
    X_train, _ = digits
    inductive = methods.fit_method("isomap", X_train, n_neighbors=15)
    assert inductive.Z_test is None and inductive.transform_seconds is None
    transductive = methods.fit_method("spectral", X_train, n_neighbors=15)
    assert transductive.Z_test is None and transductive.n_fit == 200


def test_fit_baseline_rejects_bad_input(digits):
    X_train, X_test = digits
    with pytest.raises(ValueError, match=r"name must be one of \('drlim', 'pca', 'isomap', 'lle'"):
        methods.fit_method("mds", X_train)
    with pytest.raises(ValueError, match="X_test must have samples of shape"):
        methods.fit_method("pca", X_train, X_test[:, :4])
    with pytest.raises(ValueError, match="n_neighbors must be"):
        methods.fit_method("isomap", X_train[:10], n_neighbors=10)
    with pytest.raises(ValueError, match="n_neighbors must be"):
        methods.fit_method("isomap", X_train, n_neighbors=None)
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        methods.fit_method("pca", X_train, X_test, repeats=0)
    bad = X_train.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X_train must be finite"):
        methods.fit_method("pca", bad)


def test_drlim_without_n_neighbors_builds_the_graph_its_settings_ask_for(digits):
    X_train, X_test = digits
    result = methods.fit_method("drlim", X_train, X_test[:20], n_neighbors=None, loss="infonce",
                                perplexity=5.0, epochs=1.0, batch_size=16)
    assert result.Z_test.shape == (20, 2)
    assert result.model.n_neighbors is None
    assert result.model.graph_.weights is not None  # t-SNE's affinities, not a plain kNN graph
    assert result.model.graph_.neighbors.shape[1] >= 15  # 3 x perplexity, symmetrised


def _knn_table(X, k):
    return NearestNeighbors(n_neighbors=k).fit(X).kneighbors(return_distance=False)


def _procrustes_error(Z, reference):
    """Largest coordinate error after the best rotation/reflection of Z onto reference."""
    rotation, _ = orthogonal_procrustes(Z, reference)
    return np.max(np.abs(Z @ rotation - reference))


@pytest.fixture(scope="module")
def swiss_roll():
    X, _ = make_swiss_roll(400, random_state=0)
    return X


@pytest.mark.parametrize("eigen_solver", ["dense", "arpack"])
def test_lle_on_knn_graph_matches_sklearn(swiss_roll, eigen_solver):
    k = 10
    table = _knn_table(swiss_roll, k).astype(np.int32)
    reference = LocallyLinearEmbedding(
        n_neighbors=k, n_components=2, method="standard", eigen_solver="dense"
    ).fit_transform(swiss_roll)
    Z = methods.lle_on_graph(swiss_roll, table, n_components=2, eigen_solver=eigen_solver)
    assert Z.shape == (400, 2)
    assert _procrustes_error(Z, reference) < 1e-6


def test_lle_on_graph_ignores_padding_and_self_entries(swiss_roll):
    table = _knn_table(swiss_roll, 8)
    padded = np.concatenate(
        [np.arange(400)[:, None], table, np.full((400, 3), -1)], axis=1
    ).astype(np.int32)
    # Shuffle columns so padding and self entries are not only at the ends.
    padded = padded[:, np.random.default_rng(0).permutation(padded.shape[1])]
    Z_plain = methods.lle_on_graph(swiss_roll, table)
    Z_padded = methods.lle_on_graph(swiss_roll, padded)
    assert _procrustes_error(Z_padded, Z_plain) < 1e-6


def test_lle_on_graph_with_variable_neighbourhood_sizes(swiss_roll):
    table = _knn_table(swiss_roll, 10)
    ragged = table.copy()
    ragged[::2, 7:] = -1
    dense = methods.lle_on_graph(swiss_roll, ragged, eigen_solver="dense")
    sparse = methods.lle_on_graph(swiss_roll, ragged, eigen_solver="arpack")
    assert _procrustes_error(sparse, dense) < 1e-6
    # Different neighbourhoods give a different embedding.
    assert _procrustes_error(dense, methods.lle_on_graph(swiss_roll, table)) > 1e-4


def test_lle_on_graph_rejects_bad_graphs(swiss_roll):
    table = _knn_table(swiss_roll, 5)
    with pytest.raises(ValueError, match=r"graph_neighbors must have shape \(400"):
        methods.lle_on_graph(swiss_roll, table[:-1])
    with pytest.raises(ValueError, match="entries must be in"):
        methods.lle_on_graph(swiss_roll, table + 1)
    lonely = table.copy()
    lonely[3] = -1
    with pytest.raises(ValueError, match="at least one neighbour"):
        methods.lle_on_graph(swiss_roll, lonely)
    with pytest.raises(ValueError, match="reg must be"):
        methods.lle_on_graph(swiss_roll, table, reg=0.0)
    with pytest.raises(ValueError, match="eigen_solver must be"):
        methods.lle_on_graph(swiss_roll, table, eigen_solver="lobpcg")


@pytest.mark.parametrize(("changes", "message"), [
    ({"reg": True}, "reg must be a finite number > 0, got True"),
    ({"reg": float("inf")}, "reg must be a finite number > 0, got inf"),
    ({"n_components": True}, "n_components must be an int in"),
    ({"eigen_solver": None}, "eigen_solver must be one of"),
    ({"graph_neighbors": 0.5}, "graph_neighbors must be 2-D, got shape"),
    ({"X": np.zeros((2, 3))}, r"X must have shape .* n >= 3 .* got \(2, 3\)"),
])
def test_lle_on_graph_refuses_bools_and_names_the_argument(swiss_roll, changes, message):
    table = _knn_table(swiss_roll, 5)
    arguments = {"X": swiss_roll, "graph_neighbors": table} | changes
    if changes.get("X") is not None:
        arguments["graph_neighbors"] = table[:2]
    with pytest.raises(ValueError, match=message):
        methods.lle_on_graph(**arguments)


def test_lle_on_graph_takes_a_table_of_whole_floats(swiss_roll):
    table = _knn_table(swiss_roll, 5)
    np.testing.assert_array_equal(methods.lle_on_graph(swiss_roll, table.astype(np.float64)),
                                  methods.lle_on_graph(swiss_roll, table))
    with pytest.raises(ValueError, match="graph_neighbors must hold integers, got dtype float64"):
        methods.lle_on_graph(swiss_roll, table + 0.5)
