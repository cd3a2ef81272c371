"""Tests for drlim.methods' peers: each adapter on tiny data when its library is installed."""

import importlib.util
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from drlim import methods, metrics
from drlim.models import count_params, default_network

LIGHT = ("umap", "opentsne", "pacmap")


def _skip_unless_installed(name):
    missing = methods.missing_packages(name)
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)} (pip install 'drlim[peers]')")


@pytest.fixture(scope="module")
def digits():
    X = (load_digits().data[:300] / 16.0).astype(np.float32)
    y = load_digits().target[:300]
    return X[:200], X[200:], y[:200], y[200:]


@pytest.fixture(scope="module")
def fitted(digits):
    """One fit per installed light peer, shared by the tests (UMAP compiles for ~20 s)."""
    X_train, X_test, _, _ = digits
    return {name: methods.fit_method(name, X_train, X_test, seed=0, repeats=2)
            for name in LIGHT if methods.is_installed(name)}


@pytest.mark.parametrize("name", LIGHT)
def test_light_peer_maps_unseen_digits(name, fitted, digits):
    _skip_unless_installed(name)
    _, X_test, y_train, y_test = digits
    result = fitted[name]
    assert result.name == name and not result.transductive and result.n_fit == 200
    assert result.Z_train.shape == (200, 2) and result.Z_test.shape == (100, 2)
    assert np.all(np.isfinite(result.Z_train)) and np.all(np.isfinite(result.Z_test))
    assert result.fit_seconds > 0 and result.transform_seconds > 0
    # the test digits land among training digits of their own class (chance is 0.1)
    assert metrics.knn_accuracy(result.Z_train, y_train, result.Z_test, y_test) > 0.7
    # the kept mapping takes images as well as flat rows
    assert result.transform(X_test[:4].reshape(4, 8, 8)).shape == (4, 2)


@pytest.mark.parametrize("name", ["opentsne", "pacmap"])
def test_pointwise_transforms_do_not_depend_on_the_other_rows(name, fitted, digits):
    """openTSNE and PaCMAP optimise each new point against the fixed training map only."""
    _skip_unless_installed(name)
    _, X_test, _, _ = digits
    result = fitted[name]
    halves = np.concatenate([result.transform(X_test[:50]), result.transform(X_test[50:])])
    assert metrics.transform_stability(result.Z_test, halves) < 1e-5


def test_umap_transform_depends_on_the_other_rows(fitted, digits):
    """UMAP optimises the new points together: mapped in halves, some move (umap issue 566)."""
    _skip_unless_installed("umap")
    _, X_test, _, _ = digits
    result = fitted["umap"]
    halves = np.concatenate([result.transform(X_test[:50]), result.transform(X_test[50:])])
    assert metrics.transform_stability(result.Z_test, halves) > 1e-3


@pytest.mark.parametrize("shape", [(28, 28, 1), (64,)])
def test_keras_network_matches_drlims_network(shape):
    pytest.importorskip("keras", reason="the parametric UMAP's network needs Keras")
    net = methods.keras_network(shape, n_components=2)
    padded = (32, 32, 1) if shape == (28, 28, 1) else shape  # DrLIM pads digits to 32×32
    flax_net = default_network(padded, 2)
    params = flax_net.init(jax.random.key(0), jnp.zeros((1, *padded)))["params"]
    assert net.count_params() == count_params(params)
    assert [type(layer).__name__ for layer in net.layers if layer.count_params()] == (
        ["Conv2D", "Conv2D", "Dense"] if len(shape) == 3 else ["Dense", "Dense"])
    assert net(np.zeros((3, int(np.prod(shape))), np.float32)).shape == (3, 2)


def test_parametric_umap_is_a_learned_function(digits):
    _skip_unless_installed("parametric-umap")
    X_train, X_test, y_train, y_test = digits
    result = methods.fit_method("parametric-umap", X_train, X_test, seed=0, n_epochs=20)
    assert result.Z_train.shape == (200, 2) and result.Z_test.shape == (100, 2)
    assert not result.transductive and result.transform_seconds > 0
    np.testing.assert_allclose(result.transform(X_test), result.Z_test, atol=1e-5)
    alone = np.concatenate([result.transform(X_test[i:i + 1]) for i in range(3)])
    assert metrics.transform_stability(result.Z_test, alone, index=np.arange(3)) < 1e-5
    assert metrics.knn_accuracy(result.Z_train, y_train, result.Z_test, y_test) > 0.3


def test_peer_call_states_the_settings():
    assert methods.method_call("pacmap", seed=2) == (
        "pacmap.PaCMAP(n_components=2, random_state=2, save_tree=True).fit(X_train), "
        ".transform(X_test, basis=X_train)")
    assert "n_epochs=30" in methods.method_call("parametric-umap", params={"n_epochs": 30})
    with pytest.raises(ValueError, match=r"^name must be one of \['drlim', .*\(a call to show\), "
                                         "got 'pca'$"):
        methods.method_call("pca")  # scikit-learn's baselines are named, not shown as a call


def test_bad_arguments_are_refused(monkeypatch, digits):
    X_train, X_test, _, _ = digits
    with pytest.raises(ValueError, match="name must be one of"):
        methods.fit_method("mds", X_train, X_test)
    with pytest.raises(ValueError, match="X_test must have samples of shape"):
        methods.fit_method("opentsne", X_train, X_test[:, :10])
    with pytest.raises(ValueError, match="n_components"):
        methods.fit_method("opentsne", X_train, X_test, n_components=0)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert methods.missing_packages("parametric-umap") == ["umap-learn", "tensorflow-cpu", "keras"]
    with pytest.raises(ValueError, match=r"name 'umap' must have its packages installed .* "
                                         "got umap-learn missing"):
        methods.fit_method("umap", X_train, X_test)


def test_importing_drlim_loads_no_peer_library():
    code = ("import sys, drlim, drlim.methods, drlim.compare, drlim.runs, drlim.report; "
            "print(sorted(m for m in ('umap', 'openTSNE', 'pacmap', 'tensorflow', 'keras') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
