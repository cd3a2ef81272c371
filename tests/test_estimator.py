"""The scikit-learn estimator: shapes, out-of-sample transform, conventions, save and load."""

import copy
import warnings

import jax
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from drlim.estimator import DrLIM
from drlim.metrics import knn_accuracy
from drlim.models import MLP, LeNetDrLIM
from drlim.neighbors import pairs_graph
from drlim.train import init_params

# float32 networks: the same row's output differs by ~1 ulp between batch orders and batch
# sizes (XLA picks other kernels), and scikit-learn compares them with rtol 1e-7.
ULP_REASON = "float32 network; outputs differ by ~1 ulp across batches, the check asks rtol 1e-7"
EXPECTED_FAILED = {
    "check_methods_sample_order_invariance": ULP_REASON,
    "check_methods_subset_invariance": ULP_REASON,
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def sklearn_knn_graph(X, k, metric="euclidean"):
    """The symmetrised k-NN graph of ``X`` as a dense boolean matrix, from scikit-learn."""
    n = len(X)
    _, idx = NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(X).kneighbors(X)
    dense = np.zeros((n, n), dtype=bool)
    dense[np.repeat(np.arange(n), k), idx[:, 1:].ravel()] = True
    return dense | dense.T


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return DrLIM(random_state=0).fit(X[:1200])


def test_fit_transform_and_out_of_sample(digits, fitted):
    X, y = digits
    z_train = fitted.transform(X[:1200])
    z_test = fitted.transform(X[1200:])
    assert z_train.shape == (1200, 2) and z_test.shape == (len(X) - 1200, 2)
    assert isinstance(fitted.network_, MLP)
    assert fitted.n_features_in_ == 64
    assert len(fitted.history_) > 0
    # unseen digits land near training digits of their class
    assert knn_accuracy(z_train, y[:1200], z_test, y[1200:], k=5) > 0.6


def test_fit_transform_equals_fit_then_transform(digits):
    X, _ = digits
    a = DrLIM(epochs=1, random_state=2).fit_transform(X[:300])
    b = DrLIM(epochs=1, random_state=2).fit(X[:300]).transform(X[:300])
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_labels_give_supervised_map(digits):
    X, y = digits
    model = DrLIM(epochs=10, random_state=0).fit(X[:1200], y[:1200])
    assert model.graph_.groups is not None
    acc = knn_accuracy(model.transform(X[:1200]), y[:1200], model.transform(X[1200:]), y[1200:])
    assert acc > 0.8


def test_settings_reach_the_training_run_and_the_graph(digits):
    X, _ = digits
    config = DrLIM(margin=2.0, optimizer="sgd", similar_fraction=0.3, schedule="cosine",
                   learning_rate=0.05, batch_size=32, random_state=7)._train_config(1000)
    assert (config.margin, config.optimizer, config.similar_fraction, config.schedule,
            config.learning_rate, config.batch_size, config.seed) == (
        2.0, "sgd", 0.3, "cosine", 0.05, 32, 7)
    n = 300
    cosine = DrLIM(metric="cosine")._graph(X[:n], None, None).to_dense()
    agree = (cosine == sklearn_knn_graph(X[:n], 5, metric="cosine")).all(axis=1).mean()
    assert agree > 0.99  # exact ties between cosine distances may be broken either way
    assert not np.array_equal(cosine, DrLIM()._graph(X[:n], None, None).to_dense())


def test_user_graph_and_custom_network(digits):
    X, _ = digits
    n = 200
    i = np.arange(n - 1)
    model = DrLIM(network=MLP(hidden=(8,), n_components=2), epochs=1, random_state=0)
    model.fit(X[:n], graph=pairs_graph(i, i + 1, n))
    assert model.transform(X[:5]).shape == (5, 2)
    np.testing.assert_array_equal(model.graph_.to_dense(), pairs_graph(i, i + 1, n).to_dense())
    assert model.network_ == MLP(hidden=(8,), n_components=2)
    assert model.params_["params"]["hidden_0"]["kernel"].shape == (X.shape[1], 8)
    with pytest.raises(ValueError, match="graph must have 200 nodes"):
        DrLIM(epochs=1).fit(X[:n], graph=pairs_graph(i, i + 1, n + 1))


def test_images_use_the_conv_net_and_pad_28_to_32():
    rng = np.random.default_rng(0)
    images = rng.random((40, 28, 28)).astype(np.float32)
    model = DrLIM(epochs=1, random_state=0, batch_size=8).fit(images)
    assert isinstance(model.network_, LeNetDrLIM)
    assert model.params_["params"]["C3"]["kernel"].shape[:2] == (9, 9)  # 32x32 input
    assert model.transform(images[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="features"):
        model.transform(rng.random((3, 32, 32)))


def test_numpy_scalar_settings_are_saved_as_numbers(digits, tmp_path):
    """As a grid search over np.arange hands them to best_estimator_."""
    X, _ = digits
    model = DrLIM(n_neighbors=np.int64(7), learning_rate=np.float32(0.01), epochs=1,
                  random_state=0).fit(X[:100])
    loaded = DrLIM.load(model.save(tmp_path / "model.drlim"))
    assert loaded.n_neighbors == 7 and type(loaded.n_neighbors) is int
    assert loaded.learning_rate == pytest.approx(0.01)
    np.testing.assert_array_equal(loaded.transform(X[:5]), model.transform(X[:5]))


def test_save_and_load_round_trip(fitted, digits, tmp_path):
    X, _ = digits
    path = fitted.save(tmp_path / "model.drlim")
    loaded = DrLIM.load(path)
    np.testing.assert_array_equal(loaded.transform(X[:50]), fitted.transform(X[:50]))
    assert loaded.get_params() == fitted.get_params()


@pytest.mark.parametrize(("setting", "match"), [
    ({"refine": True}, "refine must be a number, not a bool, got True"),
    ({"margin": True}, "margin must be a number, not a bool"),
    ({"n_components": True}, "n_components must be a number, not a bool"),
    ({"margin": 10**400}, "margin must be a finite number, got an int of 401 digits"),
])
def test_numbers_that_scikit_learns_intervals_let_through_are_refused(digits, setting, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        DrLIM(epochs=1, **setting).fit(X[:50])


def test_too_few_samples_for_the_default_graph_and_a_network_load_would_ignore(
        fitted, digits, tmp_path):
    X, _ = digits
    with pytest.raises(ValueError, match="default n_neighbors=5 needs at least 7 samples, got "
                                         "n_samples=4"):
        DrLIM(epochs=1).fit(X[:4])
    path = fitted.save(tmp_path / "model.drlim")
    with pytest.raises(ValueError, match="network must be None: the model was saved with "
                                         "network='auto'"):
        DrLIM.load(path, network=MLP())


def test_save_refuses_settings_that_make_another_network(fitted, tmp_path):
    """load builds the network from the saved settings: they must fit the saved parameters."""
    model = copy.deepcopy(fitted)
    model.set_params(n_components=3)
    with pytest.raises(ValueError, match="different network than the fitted one"):
        model.save(tmp_path / "model.drlim")
    assert not (tmp_path / "model.drlim").exists()
    model.set_params(n_components=fitted.n_components)
    assert DrLIM.load(model.save(tmp_path / "model.drlim")).n_components == fitted.n_components


def test_save_refuses_another_width_with_a_custom_module(digits, tmp_path):
    X, _ = digits
    model = DrLIM(network=MLP(n_components=2), epochs=1, random_state=0).fit(X[:100])
    model.set_params(n_components=3)  # the module stays, but load would report 3 features
    with pytest.raises(ValueError, match="different network than the fitted one"):
        model.save(tmp_path / "model.drlim")


def test_pipeline_and_clone(digits):
    X, _ = digits
    pipe = make_pipeline(MinMaxScaler(), DrLIM(epochs=1, random_state=0))
    assert pipe.fit_transform(X[:300]).shape == (300, 2)
    copy = clone(DrLIM(n_components=3, margin=2.0))
    assert copy.get_params()["n_components"] == 3 and not hasattr(copy, "params_")


def test_errors_scikit_learn_users_expect(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        DrLIM().transform(X[:5])
    bad = X[:100].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DrLIM(epochs=1).fit(bad)
    with pytest.raises(ValueError, match="at least 2 samples"):
        DrLIM(epochs=1).fit(X[:1])
    model = DrLIM(epochs=1, random_state=0).fit(X[:100])
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:5, :10])
    with pytest.raises(ValueError, match="network"):
        DrLIM(network="resnet").fit(X[:100])
    with pytest.raises(ValueError, match="n_components"):
        DrLIM(n_components=0).fit(X[:100])
    with pytest.raises(ValueError, match="'schedule' parameter of DrLIM must be a str among"):
        DrLIM(schedule="linear").fit(X[:100])


def test_check_estimator():
    """scikit-learn's own estimator checks; the one expected failure is listed with its reason."""
    results = check_estimator(
        DrLIM(epochs=1), expected_failed_checks=EXPECTED_FAILED, on_fail=None
    )
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []
    assert {r["check_name"] for r in results if r["status"] == "xfail"} <= set(EXPECTED_FAILED)
    assert sum(r["status"] == "passed" for r in results) >= 40


def test_too_many_neighbours_is_refused_not_capped(digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"n_neighbors must be at most n_samples - 2 = 98.*"
                                         r"got n_neighbors=99 for n_samples=100"):
        DrLIM(n_neighbors=99, epochs=1).fit(X[:100])
    with pytest.raises(ValueError, match="n_neighbors=500 for n_samples=100"):
        DrLIM(n_neighbors=500, epochs=1).fit(X[:100])


def test_a_single_class_is_refused(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="y must hold at least 2 classes, got 1"):
        DrLIM(epochs=1).fit(X[:100], np.full(100, 3))
    with pytest.raises(ValueError, match="y must label at least one sample"):
        DrLIM(epochs=1).fit(X[:100], np.full(100, -1))


@pytest.mark.parametrize("seed", [2**32, 2**40, -1])
def test_random_state_outside_32_bits_is_refused(digits, seed):
    X, _ = digits
    with pytest.raises(ValueError, match="'random_state' parameter"):
        DrLIM(epochs=1, random_state=seed).fit(X[:100])


@pytest.mark.parametrize(
    ("name", "value"),
    [("margin", np.inf), ("epochs", np.inf), ("learning_rate", np.nan),
     ("learning_rate", np.inf), ("batch_size", 1), ("target_weight", 1.5)],
)
def test_bad_parameters_are_refused_before_training(digits, monkeypatch, name, value):
    X, _ = digits

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("drlim.estimator.train", no_training)
    with pytest.raises(ValueError, match=f"'{name}' parameter of DrLIM"):
        DrLIM(**{name: value}).fit(X[:100])


def test_divergence_is_reported_with_what_to_change(digits):
    from drlim.train import DivergenceError

    X, _ = digits
    with pytest.raises(DivergenceError, match=r"diverged.*lower learning_rate \(now 1e\+06\)"):
        DrLIM(learning_rate=1e6, random_state=0).fit(X[:200])


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "empty"), (b"\x93\x01", "msgpack"), (b'{"a": 1}', "msgpack"),
     (np.random.default_rng(0).bytes(300), "")],
)
def test_load_refuses_what_is_not_a_model(tmp_path, content, why):
    path = tmp_path / "model.drlim"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"not a drlim model file: {path} \\(.*{why}"):
        DrLIM.load(path)


def test_load_refuses_a_truncated_or_foreign_msgpack(fitted, tmp_path):
    import flax.serialization

    path = fitted.save(tmp_path / "model.drlim")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a drlim model file"):
        DrLIM.load(path)
    path.write_bytes(flax.serialization.msgpack_serialize({"params": {"w": np.zeros(3)}}))
    with pytest.raises(ValueError, match="not a drlim model file.*missing settings"):
        DrLIM.load(path)


def _semi_labels(y, keep, seed=0):
    labels = np.array(y, dtype=np.int64)
    hide = np.random.default_rng(seed).random(len(labels)) >= keep
    labels[hide] = -1
    return labels


def test_unlabelled_samples_join_by_knn_and_labels_join_classes(digits):
    """-1 = unlabelled: kNN edges of all samples, minus those between labelled classes,
    plus every same-label pair (target_weight 1); checked against NumPy on the dense graph."""
    X, y = digits
    n = 300
    labels = _semi_labels(y[:n], keep=0.3)
    graph = DrLIM(epochs=1, random_state=0).fit(X[:n], labels).graph_
    knn = sklearn_knn_graph(X[:n], 5)
    labelled = labels >= 0
    both = labelled[:, None] & labelled[None, :]
    same = both & (labels[:, None] == labels[None, :])
    expected = (knn & ~(both & ~same)) | same
    np.fill_diagonal(expected, False)
    np.testing.assert_array_equal(graph.to_dense(), expected)


def test_target_weight_zero_ignores_labels_and_half_keeps_about_half(digits):
    X, y = digits
    n = 400
    labels = _semi_labels(y[:n], keep=0.5)
    unsupervised = DrLIM(epochs=1).fit(X[:n]).graph_.to_dense()
    ignored = DrLIM(epochs=1, target_weight=0.0).fit(X[:n], labels).graph_.to_dense()
    np.testing.assert_array_equal(ignored, unsupervised)
    fuzzy = DrLIM(loss="umap")._graph(X[:n], None, None)
    ignored_fuzzy = DrLIM(loss="umap", target_weight=0.0)._graph(X[:n], labels, None)
    np.testing.assert_array_equal(ignored_fuzzy.neighbors, fuzzy.neighbors)
    np.testing.assert_array_equal(ignored_fuzzy.weights, fuzzy.weights)
    half = DrLIM(epochs=1, target_weight=0.5).fit(X[:n], labels).graph_.to_dense()
    labelled = labels >= 0
    same = labelled[:, None] & labelled[None, :] & (labels[:, None] == labels[None, :])
    np.fill_diagonal(same, False)
    share = half[same & ~unsupervised].mean()
    assert 0.35 < share < 0.6


def test_umap_loss_with_some_labels_warns_that_its_graph_has_no_fuzzy_weights(digits):
    X, y = digits
    n = 300
    labels = _semi_labels(y[:n], keep=0.5)
    with pytest.warns(UserWarning, match="without UMAP's fuzzy weights") as caught:
        graph = DrLIM(loss="umap", epochs=1).fit(X[:n], labels).graph_
    assert [w.filename for w in caught] == [__file__]  # it points at the call of fit
    assert graph.weights is None
    plain = DrLIM()._graph(X[:n], labels, None)
    np.testing.assert_array_equal(graph.to_dense(), DrLIM(n_neighbors=15)._graph(
        X[:n], labels, None).to_dense())
    assert not np.array_equal(graph.to_dense(), plain.to_dense())  # 15 neighbours, not 5


@pytest.mark.parametrize("weight", [0.05, 0.3, 0.5, 0.7, 0.9])
def test_target_weight_is_the_share_of_same_label_pairs_made_similar(weight):
    from drlim.estimator import semi_supervised_graph
    from drlim.neighbors import pairs_graph

    labels = np.repeat([0, 1], 1500)
    graph = semi_supervised_graph(pairs_graph([], [], n=3000), labels, weight, seed=0)
    dense = graph.to_dense()
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    assert not np.any(dense & ~same)
    assert dense[same].mean() == pytest.approx(weight, abs=0.03)


def test_a_tiny_target_weight_makes_next_to_no_same_label_pair_similar():
    from drlim.estimator import semi_supervised_graph
    from drlim.neighbors import pairs_graph

    labels = np.repeat([0, 1], 500)
    graph = semi_supervised_graph(pairs_graph([], [], n=1000), labels, 1e-12, seed=0)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    assert graph.to_dense()[same].mean() < 0.01


def test_semi_supervised_graph_refuses_weights_and_groups_it_would_drop(digits):
    from drlim.estimator import semi_supervised_graph
    from drlim.neighbors import fuzzy_knn_graph, label_graph

    X, y = digits
    labels = _semi_labels(y[:100], keep=0.5)
    for knn in (fuzzy_knn_graph(X[:100], k=5), label_graph(np.arange(100) // 2)):
        assert semi_supervised_graph(knn, labels, 0.0, seed=0) is knn
        with pytest.raises(ValueError, match="knn must be a plain graph"):
            semi_supervised_graph(knn, labels, 0.5, seed=0)


def test_fully_labelled_y_keeps_the_label_graph(digits):
    X, y = digits
    graph = DrLIM(epochs=1).fit(X[:200], y[:200]).graph_
    assert graph.neighbors.shape[1] == 0
    np.testing.assert_array_equal(graph.to_dense(), (y[:200, None] == y[None, :200])
                                  & ~np.eye(200, dtype=bool))


def test_fit_takes_a_scipy_sparse_graph_like_the_same_drlim_graph():
    """fit(X, graph=kneighbors_graph(...)) trains exactly as fit(X, graph=<the same Graph>)."""
    from sklearn.neighbors import kneighbors_graph

    from drlim.neighbors import graph_from_sparse

    X = np.random.default_rng(0).normal(size=(120, 6)).astype(np.float32)
    matrix = kneighbors_graph(X, 5)
    a = DrLIM(epochs=1, random_state=0).fit(X, graph=matrix).transform(X)
    b = DrLIM(epochs=1, random_state=0).fit(X, graph=graph_from_sparse(matrix)).transform(X)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="graph must be a drlim Graph or a SciPy sparse"):
        DrLIM(epochs=1).fit(X, graph=np.eye(120))


def test_pandas_in_and_out_with_feature_names():
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).normal(size=(80, 4)).astype(np.float32)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = DrLIM(epochs=1, random_state=0).set_output(transform="pandas").fit(frame)
    out = model.transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["drlim0", "drlim1"]
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(out.to_numpy(), DrLIM(epochs=1, random_state=0).fit(X).transform(X))


def test_a_loaded_model_checks_the_feature_names_it_was_fitted_with(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(80, 4)).astype(np.float32),
                         columns=["a", "b", "c", "d"])
    model = DrLIM(epochs=1, random_state=0).fit(frame)
    loaded = DrLIM.load(model.save(tmp_path / "model.drlim"))
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]
    assert list(loaded.get_feature_names_out()) == ["drlim0", "drlim1"]
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(frame[["d", "c", "b", "a"]])
    np.testing.assert_array_equal(loaded.transform(frame), model.transform(frame))


def test_sparse_csr_rows_map_like_the_same_dense_rows():
    import scipy.sparse

    X = np.random.default_rng(1).random((90, 12)).astype(np.float32)
    X[X < 0.7] = 0
    sparse = scipy.sparse.csr_matrix(X)
    a = DrLIM(epochs=1, random_state=0).fit(sparse)
    b = DrLIM(epochs=1, random_state=0).fit(X)
    np.testing.assert_array_equal(a.transform(sparse), b.transform(X))


def test_warm_start_continues_from_the_trained_network(monkeypatch):
    import drlim.estimator as estimator_module

    X = np.random.default_rng(2).normal(size=(70, 5)).astype(np.float32)
    started_from = []
    real_train = estimator_module.train

    def spy(*args, params=None, **kwargs):
        started_from.append(params)
        return real_train(*args, params=params, **kwargs)

    monkeypatch.setattr(estimator_module, "train", spy)
    model = DrLIM(epochs=1, random_state=0, warm_start=True).fit(X)
    first = model.params_
    fresh = init_params(model.network_, X[0], 0)

    def is_fresh(params):
        return jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), params, fresh))

    model.fit(X)
    assert is_fresh(started_from[0]) and started_from[1] is first
    cold = DrLIM(epochs=1, random_state=0).fit(X)
    assert is_fresh(started_from[2])
    assert not np.allclose(model.transform(X), cold.transform(X))
    with pytest.raises(ValueError, match="warm_start"):
        model.fit(X[:, :4])
    with pytest.raises(ValueError, match="^warm_start=True continues the trained network, "
                                         "but the settings now make a different one"):
        model.set_params(n_components=3).fit(X)
    assert model.transform(X).shape == (70, 2)  # the failed fit changed nothing


def test_a_failed_fit_leaves_the_fitted_model_as_it_was(digits):
    X, _ = digits
    model = DrLIM(epochs=1, random_state=0).fit(X[:100])
    before = model.transform(X[:5])
    with pytest.raises(ValueError, match="default n_neighbors=5 needs at least 7 samples"):
        model.fit(X[:3, :10])
    assert model.n_features_in_ == 64 and not hasattr(model, "feature_names_in_")
    np.testing.assert_array_equal(model.transform(X[:5]), before)
    with pytest.raises(ValueError, match="^network='lenet' needs images"):
        DrLIM(network="lenet").fit(X[:100])
    with pytest.raises(ValueError, match="^augment='shift:2' needs images"):
        DrLIM(augment="shift:2").fit(X[:100])


def test_labels_of_any_sortable_type_and_minus_one_for_unlabelled(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"], dtype=object)[y[:200]]
    names[::4] = -1
    semi = DrLIM(epochs=1, random_state=0).fit(X[:200], names)
    np.testing.assert_array_equal(semi.graph_.groups == -1, names == -1)
    names[::8] = -1.0  # as a float array's -1.0
    again = DrLIM(epochs=1, random_state=0).fit(X[:200], names)
    np.testing.assert_array_equal(again.graph_.groups, semi.graph_.groups)
    with pytest.raises(ValueError, match="^y must be an object array to mark unlabelled"):
        DrLIM(epochs=1).fit(X[:200], names.astype(str))
    names[1] = None
    with pytest.raises(ValueError, match="^y must hold labels of one type that sorts .* got "
                                         "NoneType, str"):
        DrLIM(epochs=1).fit(X[:200], names)


def test_default_length_lets_small_sets_settle(digits):
    """epochs=None trains at least DEFAULT_MIN_STEPS steps with every loss; an explicit
    epochs count is honoured as given."""
    from drlim.estimator import DEFAULT_MIN_STEPS, MIN_STEPS

    X, _ = digits
    assert DrLIM()._train_config(1200).steps == DEFAULT_MIN_STEPS
    assert DrLIM(epochs=2)._train_config(1200).steps == MIN_STEPS
    assert DrLIM()._train_config(60_000).steps == 1875  # 2 epochs of 64 anchors
    for loss in ("infonce", "neg", "umap"):
        assert DrLIM(loss=loss)._train_config(1200).steps == DEFAULT_MIN_STEPS
        assert DrLIM(loss=loss, epochs=64)._train_config(1200).steps == int(
            np.ceil(64 * 1200 / 256))
        assert DrLIM(loss=loss)._train_config(6000).steps == 64 * 6000 // 256


def test_uint8_images_are_read_as_0_to_255_like_train_reads_them():
    images = np.random.default_rng(0).integers(0, 256, size=(120, 10, 10), dtype=np.uint8)
    scaled = images.astype(np.float32) / 255
    settings = {"loss": "infonce", "epochs": 1.0, "batch_size": 16, "random_state": 0}
    from_uint8 = DrLIM(**settings).fit(images)
    from_float = DrLIM(**settings).fit(scaled)
    np.testing.assert_array_equal(from_uint8.graph_.neighbors, from_float.graph_.neighbors)
    np.testing.assert_array_equal(from_uint8.transform(images), from_float.transform(scaled))
    # A float32 copy of the raw pixels is used as given, so its map differs: it warns.
    with pytest.warns(UserWarning, match="X is float32 with values up to 255 as the network "
                                         "reads them, but DrLIM was fitted on uint8 images"):
        raw = from_uint8.transform(images * 1.0)
    assert not np.allclose(from_float.transform(scaled), raw)
    with warnings.catch_warnings():  # uint8 and scaled floats are on one scale: no warning
        warnings.simplefilter("error")
        from_float.transform(images)
        from_uint8.transform(scaled)
    from_raw = DrLIM(**settings).fit(images * 1.0)
    with pytest.warns(UserWarning, match="X is uint8 with values up to 1 .* fitted on non-uint8 "
                                         "samples read up to 255"):
        from_raw.transform(images)


def test_a_loaded_model_remembers_whether_it_was_fitted_on_uint8(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(120, 10, 10), dtype=np.uint8)
    model = DrLIM(loss="infonce", epochs=1.0, batch_size=16, random_state=0).fit(images)
    loaded = DrLIM.load(model.save(tmp_path / "model.drlim"))
    assert loaded.input_uint8_ is True and loaded.input_max_ == images.max() / 255
    with pytest.warns(UserWarning, match="fitted on uint8 images"):
        loaded.transform(images.astype(np.int64))
