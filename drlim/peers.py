"""The tools users pick instead of DrLIM for a 2-D map of new samples, behind one call.

:func:`fit_peer` fits one of them on training samples and maps test samples through the
library's own out-of-sample ``transform``, returning the same
:class:`~drlim.baselines.BaselineResult` as :func:`~drlim.baselines.fit_baseline`:

- ``"umap"``: umap-learn's ``UMAP(...).fit(X_train)``, then ``transform(X_test)``;
- ``"opentsne"``: openTSNE's ``TSNE(...).fit(X_train)``, then ``TSNEEmbedding.transform``;
- ``"pacmap"``: ``PaCMAP(..., save_tree=True)``, then ``transform(X_test, basis=X_train)``;
- ``"parametric-umap"``: umap-learn's ``ParametricUMAP`` (TensorFlow and Keras 3) training
  DrLIM's own network (:func:`keras_network`) on UMAP's loss; ``transform`` is one forward
  pass.

Each runs with its library's defaults apart from ``n_components`` and the seed; settings
passed as ``params`` go to the estimator and belong in the caller's report. The libraries
are optional (``pip install "drlim[peers]"``) and imported only inside :func:`fit_peer`,
so ``import drlim.peers`` needs none of them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from drlim._timing import timed_call
from drlim.baselines import BaselineResult
from drlim.validation import as_samples, check_int

__all__ = [
    "PEERS",
    "PEER_TITLES",
    "fit_peer",
    "is_installed",
    "keras_network",
    "missing_packages",
    "peer_call",
]

PEERS: tuple[str, ...] = ("umap", "opentsne", "pacmap", "parametric-umap")
PEER_TITLES = {
    "umap": "UMAP",
    "opentsne": "openTSNE",
    "pacmap": "PaCMAP",
    "parametric-umap": "Parametric UMAP",
}
# The modules each adapter imports, and the distributions that provide them.
_REQUIRES: dict[str, tuple[tuple[str, str], ...]] = {
    "umap": (("umap", "umap-learn"),),
    "opentsne": (("openTSNE", "openTSNE"),),
    "pacmap": (("pacmap", "pacmap"),),
    "parametric-umap": (("umap", "umap-learn"), ("tensorflow", "tensorflow-cpu"),
                        ("keras", "keras")),
}
# What fit_peer imports before it starts the clock (TensorFlow alone takes seconds).
_IMPORTS = {"umap": "umap", "opentsne": "openTSNE", "pacmap": "pacmap",
            "parametric-umap": "umap.parametric_umap"}
_CALLS = {
    "umap": "umap.UMAP({args}).fit(X_train), .transform(X_test)",
    "opentsne": "openTSNE.TSNE({args}).fit(X_train), the embedding's .transform(X_test)",
    "pacmap": "pacmap.PaCMAP({args}, save_tree=True).fit(X_train), "
              ".transform(X_test, basis=X_train)",
    "parametric-umap": "umap.parametric_umap.ParametricUMAP({args}, encoder=DrLIM's network)"
                       ".fit(X_train), .transform(X_test)",
}


def _check_name(name: str) -> str:
    if name not in PEERS:
        raise ValueError(f"name must be one of {', '.join(PEERS)}; got {name!r}")
    return name


def missing_packages(name: str) -> list[str]:
    """The distributions peer ``name`` needs that are not installed (pip names).

    >>> set(missing_packages("parametric-umap")) <= {"umap-learn", "tensorflow-cpu", "keras"}
    True
    """
    return [dist for module, dist in _REQUIRES[_check_name(name)]
            if importlib.util.find_spec(module) is None]


def is_installed(name: str) -> bool:
    """Whether the libraries of peer ``name`` can be imported (without importing them).

    >>> is_installed("umap") == (importlib.util.find_spec("umap") is not None)
    True
    """
    return not missing_packages(name)


def peer_call(name: str, n_components: int = 2, seed: int = 0,
              params: dict[str, Any] | None = None) -> str:
    """The library call :func:`fit_peer` makes, in words a reader can copy.

    >>> peer_call("umap", seed=3)
    'umap.UMAP(n_components=2, random_state=3).fit(X_train), .transform(X_test)'
    """
    given = {"n_components": n_components, "random_state": seed, **(params or {})}
    args = ", ".join(f"{key}={value!r}" for key, value in given.items())
    return _CALLS[_check_name(name)].format(args=args)


def keras_network(sample_shape: Sequence[int], n_components: int = 2):
    """DrLIM's default network (:func:`drlim.models.default_network`) as a Keras model.

    Same layers and parameter count: for images of at least 8×8 the paper's conv net
    (28×28 digits zero-padded to 32×32, C1 15 maps 6×6 + tanh, 3×3 mean pooling, C3 30 maps
    over the whole pooled map + tanh, linear F5); for anything else ``MLP(hidden=(20,))``
    (20 tanh units, linear output). Keras initialises the weights its own way (Glorot
    uniform). The model takes flat samples ``(batch, prod(sample_shape))`` and reshapes
    them itself, as ``ParametricUMAP`` passes them. Needs Keras.

    >>> net = keras_network((28, 28, 1))  # doctest: +SKIP
    >>> net.count_params()  # doctest: +SKIP
    37097
    """
    import keras

    from drlim import models

    shape = tuple(int(s) for s in sample_shape)
    layers = [keras.Input((int(np.prod(shape)),))]
    if len(shape) >= 2 and min(shape[:2]) >= models.MIN_IMAGE_SIZE:
        height, width = shape[:2]
        layers.append(keras.layers.Reshape((height, width, shape[2] if len(shape) == 3 else 1)))
        if (height, width) == (28, 28):
            layers.append(keras.layers.ZeroPadding2D(2))
            height, width = 32, 32
        layers += [
            keras.layers.Conv2D(models.C1_FEATURES, models.C1_SIZE, activation="tanh"),
            keras.layers.AveragePooling2D(models.POOL_SIZE),
            keras.layers.Conv2D(models.C3_FEATURES, models.pooled_size(height, width),
                                activation="tanh"),
            keras.layers.Flatten(),
        ]
    else:
        layers.append(keras.layers.Dense(20, activation="tanh"))
    layers.append(keras.layers.Dense(n_components))
    return keras.Sequential(layers)


Mapping = Callable[[np.ndarray], np.ndarray]


def _fit_umap(X, shape, n_components, seed, params) -> tuple[np.ndarray, Mapping]:
    from umap import UMAP

    model = UMAP(n_components=n_components, random_state=seed, **params).fit(X)
    return model.embedding_, model.transform


def _fit_opentsne(X, shape, n_components, seed, params) -> tuple[np.ndarray, Mapping]:
    from openTSNE import TSNE

    embedding = TSNE(n_components=n_components, random_state=seed, **params).fit(X)
    return np.asarray(embedding), lambda X_new: np.asarray(embedding.transform(X_new))


def _fit_pacmap(X, shape, n_components, seed, params) -> tuple[np.ndarray, Mapping]:
    from pacmap import PaCMAP

    # save_tree keeps the neighbour index, so transform finds the new samples' neighbours
    # in X without rebuilding it (pacmap 0.9.1 then ignores ``basis``).
    model = PaCMAP(n_components=n_components, random_state=seed, save_tree=True, **params)
    model.fit(X)
    return model.embedding_, lambda X_new: model.transform(X_new, basis=X)


def _fit_parametric_umap(X, shape, n_components, seed, params) -> tuple[np.ndarray, Mapping]:
    import keras
    from umap.parametric_umap import ParametricUMAP

    keras.utils.set_random_seed(seed)  # the network's initial weights
    model = ParametricUMAP(n_components=n_components, random_state=seed,
                           encoder=keras_network(shape, n_components),
                           keras_fit_kwargs={"verbose": 0}, **params)
    model.fit(X)
    return model.transform(X), model.transform


_ADAPTERS = {
    "umap": _fit_umap,
    "opentsne": _fit_opentsne,
    "pacmap": _fit_pacmap,
    "parametric-umap": _fit_parametric_umap,
}


def fit_peer(
    name: str,
    X_train,
    X_test=None,
    n_components: int = 2,
    seed: int = 0,
    repeats: int = 1,
    **params: Any,
) -> BaselineResult:
    """Fit peer ``name`` on ``X_train`` and map ``X_test`` with its own ``transform``.

    Images (n, H, W[, C]) are flattened for the libraries; the parametric UMAP's network is
    chosen from their shape as DrLIM's is. ``fit_seconds`` covers the fit and the training
    embedding (just-in-time compilation included, importing the library not),
    ``transform_seconds`` the fastest of ``repeats`` calls on ``X_test``;
    ``result.transform`` maps further samples with the fitted model.

    Args:
      name: one of :data:`PEERS`.
      X_train: (n_train, d) or images (n_train, H, W[, C]).
      X_test: optional test samples of the same shape.
      n_components: output dimension.
      seed: the estimator's ``random_state``.
      repeats: calls of ``transform`` timed; the fastest counts.
      **params: further estimator settings (e.g. ``n_epochs`` of the parametric UMAP).

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> result = fit_peer("opentsne", X[:150], X[150:])
    >>> result.Z_test.shape, result.transform(X[150:152]).shape
    ((50, 2), (2, 2))
    """
    _check_name(name)
    missing = missing_packages(name)
    if missing:
        raise ValueError(
            f"name {name!r} must have its packages installed (pip install \"drlim[peers]\"), "
            f"got {', '.join(missing)} missing"
        )
    shape = np.shape(X_train)[1:]
    X_train = as_samples(X_train, "X_train").astype(np.float32)
    if X_test is not None:
        if np.shape(X_test)[1:] != shape:
            raise ValueError(
                f"X_test must have samples of shape {shape} like X_train, "
                f"got {np.shape(X_test)[1:]}"
            )
        X_test = as_samples(X_test, "X_test").astype(np.float32)
    n_components = check_int(n_components, "n_components", 1, X_train.shape[1])
    repeats = check_int(repeats, "repeats", 1)
    importlib.import_module(_IMPORTS[name])
    (Z_train, mapping), fit_seconds = timed_call(
        lambda: _ADAPTERS[name](X_train, shape, n_components, seed, params))

    def transform(X_new) -> np.ndarray:
        flat = as_samples(X_new, "X_new").astype(np.float32)
        return np.asarray(mapping(flat), dtype=np.float64)

    Z_test = transform_seconds = None
    if X_test is not None:
        Z_test, transform_seconds = timed_call(lambda: transform(X_test), repeats)
    return BaselineResult(name, np.asarray(Z_train, dtype=np.float64), Z_test, False,
                          fit_seconds, transform_seconds, len(X_train), transform)
