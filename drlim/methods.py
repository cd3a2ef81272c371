"""Every dimensionality reduction drlim runs, by name, behind one timed fit / transform call.

:func:`fit_method` fits method ``name`` on training samples, embeds them, and maps test
samples through the method's own out-of-sample ``transform``, timing both:

- ``"drlim"``: the :class:`~drlim.estimator.DrLIM` estimator (any loss, any setting as
  ``params``; ``y_train`` makes its graph from labels);
- the classical baselines of scikit-learn: ``"pca"``, ``"isomap"``, ``"lle"`` (inductive:
  fitted on the training set, they map new samples), ``"spectral"`` and ``"tsne"``
  (transductive: no mapping exists, so train and test are embedded together and split —
  the limitation the paper's learned function removes);
- the peers users pick instead (``pip install "drlim[peers]"``, imported only when fitted):
  ``"umap"`` (umap-learn's ``UMAP(...).fit``, ``.transform``), ``"opentsne"`` (openTSNE's
  ``TSNE(...).fit``, the embedding's ``.transform``), ``"pacmap"``
  (``PaCMAP(..., save_tree=True)``, ``.transform(X_test, basis=X_train)``) and
  ``"parametric-umap"`` (umap-learn's ``ParametricUMAP`` training DrLIM's own network,
  :func:`keras_network`, on UMAP's loss).

Each runs with its library's defaults apart from ``n_components``, the seed, the
neighbourhood size of the graph methods, and ``params`` (stated by :func:`method_call`).
:func:`lle_on_graph` is standard LLE whose neighbourhoods come from a given neighbour table:
the paper's "LLE on the same graph" (Figs. 6 and 10).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from drlim.timing import timed_call
from drlim.validation import as_int_array, as_samples, check_choice, check_int, check_number

__all__ = [
    "BASELINES",
    "METHODS",
    "PEERS",
    "Method",
    "MethodResult",
    "fit_method",
    "is_installed",
    "keras_network",
    "lle_on_graph",
    "method_call",
    "missing_packages",
]

Mapping = Callable[[np.ndarray], np.ndarray]
# An adapter fits on flat samples (reshaped where the method wants images) and returns the
# training embedding (None when the method only learns a mapping), the mapping of new
# samples (None for a transductive method) and the fitted model.
Adapter = Callable[..., tuple[np.ndarray | None, Mapping | None, Any]]


@dataclass(frozen=True)
class Method:
    """One method of the registry.

    Attributes:
      name: its name in configs and tables.
      title: its name in words.
      kind: "drlim", "baseline" (scikit-learn) or "peer" (an optional library).
      inductive: whether it learns a mapping of new samples.
      scalable: whether it is fitted on a whole training set of 60,000 digits in the
        comparison (else on a capped subsample).
      requires: (module, pip distribution) pairs it imports.
      call: the library call, with ``{args}`` for its settings.
    """

    name: str
    title: str
    kind: str
    inductive: bool
    scalable: bool
    requires: tuple[tuple[str, str], ...] = ()
    call: str = ""

    @property
    def sample_dtype(self) -> type | None:
        """The dtype its library takes samples in: float32 for the peers and DrLIM, the
        samples' own float dtype (None) for scikit-learn."""
        return None if self.kind == "baseline" else np.float32


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("drlim", "DrLIM", "drlim", True, True, call="drlim.DrLIM({args}).fit(X_train)"),
    Method("pca", "PCA", "baseline", True, True),
    Method("isomap", "Isomap", "baseline", True, False),
    Method("lle", "LLE", "baseline", True, False),
    Method("spectral", "Spectral embedding", "baseline", False, False),
    Method("tsne", "t-SNE", "baseline", False, False),
    Method("umap", "UMAP", "peer", True, True, (("umap", "umap-learn"),),
           "umap.UMAP({args}).fit(X_train), .transform(X_test)"),
    Method("opentsne", "openTSNE", "peer", True, True, (("openTSNE", "openTSNE"),),
           "openTSNE.TSNE({args}).fit(X_train), the embedding's .transform(X_test)"),
    Method("pacmap", "PaCMAP", "peer", True, True, (("pacmap", "pacmap"),),
           "pacmap.PaCMAP({args}, save_tree=True).fit(X_train), "
           ".transform(X_test, basis=X_train)"),
    Method("parametric-umap", "Parametric UMAP", "peer", True, False,
           (("umap", "umap-learn"), ("tensorflow", "tensorflow-cpu"), ("keras", "keras")),
           "umap.parametric_umap.ParametricUMAP({args}, encoder=DrLIM's network)"
           ".fit(X_train), .transform(X_test)"),
)}
BASELINES: tuple[str, ...] = tuple(m for m in METHODS if METHODS[m].kind == "baseline")
PEERS: tuple[str, ...] = tuple(m for m in METHODS if METHODS[m].kind == "peer")
# What fit_method imports before it starts the clock (TensorFlow alone takes seconds).
_IMPORTS = {"drlim": "drlim.estimator", "umap": "umap", "opentsne": "openTSNE",
            "pacmap": "pacmap", "parametric-umap": "umap.parametric_umap"}
_DENSE_LIMIT = 1500
_WEIGHT_CHUNK_ELEMENTS = 1 << 23
_SHIFT = 1e-9


@dataclass(frozen=True)
class MethodResult:
    """Embeddings made by one method, with timings.

    Attributes:
      name: method name, one of :data:`METHODS`.
      Z_train: (n_train, n_components) embedding of the training samples made while
        fitting; for DrLIM, which learns a mapping, None (call ``transform``), or with
        ``refine`` its refined map of them (the map its new samples are refined against).
      Z_test: (n_test, n_components) embedding of the test samples, or None without them.
      transductive: True when train and test were embedded together (no mapping exists).
      fit_seconds: wall time of fitting (and embedding the training set).
      transform_seconds: wall time of mapping the test set (the fastest of ``repeats``
        calls); None when transductive or when there was no test set.
      n_fit: number of samples the method was fitted on.
      transform: the fitted method's mapping of new samples (shaped like ``X_test``), for
        further calls such as :func:`drlim.metrics.transform_stability`'s regrouped ones;
        None for transductive methods.
      model: the fitted estimator of the method's library (DrLIM's has ``history_``).
    """

    name: str
    Z_train: np.ndarray | None
    Z_test: np.ndarray | None
    transductive: bool
    fit_seconds: float
    transform_seconds: float | None
    n_fit: int
    transform: Mapping | None = field(default=None, repr=False, compare=False)
    model: Any = field(default=None, repr=False, compare=False)


def _method(name: str) -> Method:
    """The registered method called ``name``, or a ValueError listing the names."""
    return METHODS[check_choice(name, "name", tuple(METHODS))]


def missing_packages(name: str) -> list[str]:
    """The distributions method ``name`` needs that are not installed (pip names).

    >>> set(missing_packages("parametric-umap")) <= {"umap-learn", "tensorflow-cpu", "keras"}
    True
    """
    return [dist for module, dist in _method(name).requires
            if importlib.util.find_spec(module) is None]


def is_installed(name: str) -> bool:
    """Whether the libraries of method ``name`` can be imported (without importing them).

    >>> is_installed("pca"), is_installed("umap") == (importlib.util.find_spec("umap") is not None)
    (True, True)
    """
    return not missing_packages(name)


def method_call(name: str, n_components: int = 2, seed: int = 0,
                params: dict[str, Any] | None = None) -> str:
    """The library call :func:`fit_method` makes for a peer or DrLIM, in words a reader can copy.

    >>> method_call("umap", seed=3)
    'umap.UMAP(n_components=2, random_state=3).fit(X_train), .transform(X_test)'
    """
    call = _method(name).call
    if not call:
        named = sorted(m for m in METHODS if METHODS[m].call)
        raise ValueError(f"name must be one of {named} (a call to show), got {name!r}")
    given = {"n_components": n_components, "random_state": seed, **(params or {})}
    args = ", ".join(f"{key}={value!r}" for key, value in given.items())
    return call.format(args=args)


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


def _sklearn_estimator(name: str, n_samples: int, n_components: int, n_neighbors: int,
                       seed: int):
    """The scikit-learn estimator behind baseline ``name``."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE, Isomap, LocallyLinearEmbedding, SpectralEmbedding

    if name == "pca":
        return PCA(n_components=n_components, random_state=seed)
    if name == "isomap":
        return Isomap(n_neighbors=n_neighbors, n_components=n_components)
    if name == "lle":
        return LocallyLinearEmbedding(n_neighbors=n_neighbors, n_components=n_components,
                                      random_state=seed)
    if name == "spectral":
        return SpectralEmbedding(n_components=n_components, affinity="nearest_neighbors",
                                 n_neighbors=n_neighbors, random_state=seed)
    # t-SNE's perplexity must stay below the number of samples.
    return TSNE(n_components=n_components, perplexity=min(30.0, (n_samples - 1) / 3.0),
                random_state=seed)


def _fit_baseline(name, X, shape, y, n_components, n_neighbors, seed, params):
    estimator = _sklearn_estimator(name, len(X), n_components, n_neighbors, seed)
    Z = np.asarray(estimator.fit_transform(X))
    mapping = estimator.transform if METHODS[name].inductive else None
    return Z, mapping, estimator


def _fit_drlim(name, X, shape, y, n_components, n_neighbors, seed, params):
    from drlim.estimator import DrLIM
    from drlim.models import MLP

    params = dict(params)
    if "hidden" in params or "activation" in params:
        params["network"] = MLP(hidden=tuple(params.pop("hidden", (20,))),
                                n_components=n_components,
                                activation=params.pop("activation", "tanh"))
    model = DrLIM(n_components=n_components, random_state=seed,
                  **{"n_neighbors": n_neighbors, **params})
    model.fit(X.reshape(len(X), *shape), y)
    # With refine, the training map is the refined one (embedding_), as a peer's is its own.
    Z = getattr(model, "embedding_", None)
    return Z, lambda X_new: model.transform(X_new.reshape(len(X_new), *shape)), model


def _fit_umap(name, X, shape, y, n_components, n_neighbors, seed, params):
    from umap import UMAP

    model = UMAP(n_components=n_components, random_state=seed, **params).fit(X)
    return model.embedding_, model.transform, model


def _fit_opentsne(name, X, shape, y, n_components, n_neighbors, seed, params):
    from openTSNE import TSNE

    embedding = TSNE(n_components=n_components, random_state=seed, **params).fit(X)
    return (np.asarray(embedding), lambda X_new: np.asarray(embedding.transform(X_new)),
            embedding)


def _fit_pacmap(name, X, shape, y, n_components, n_neighbors, seed, params):
    from pacmap import PaCMAP

    # save_tree keeps the neighbour index, so transform finds the new samples' neighbours
    # in X without rebuilding it (pacmap 0.9.1 then ignores ``basis``).
    model = PaCMAP(n_components=n_components, random_state=seed, save_tree=True, **params)
    model.fit(X)
    return model.embedding_, lambda X_new: model.transform(X_new, basis=X), model


def _fit_parametric_umap(name, X, shape, y, n_components, n_neighbors, seed, params):
    import keras
    from umap.parametric_umap import ParametricUMAP

    keras.utils.set_random_seed(seed)  # the network's initial weights
    model = ParametricUMAP(n_components=n_components, random_state=seed,
                           encoder=keras_network(shape, n_components),
                           keras_fit_kwargs={"verbose": 0}, **params)
    model.fit(X)
    return model.transform(X), model.transform, model


_ADAPTERS: dict[str, Adapter] = {
    "drlim": _fit_drlim, **dict.fromkeys(BASELINES, _fit_baseline), "umap": _fit_umap,
    "opentsne": _fit_opentsne, "pacmap": _fit_pacmap, "parametric-umap": _fit_parametric_umap,
}


def _check_samples(method: Method, X_train, X_test) -> tuple[np.ndarray, np.ndarray | None]:
    """The flat training and test samples, once the method's libraries are found installed
    and the test samples have the training samples' shape (a baseline: their size).

    Local: which packages a method needs, and the baselines' looser shape rule, are this
    module's own."""
    missing = missing_packages(method.name)
    if missing:
        raise ValueError(
            f"name {method.name!r} must have its packages installed "
            f"(pip install \"drlim[peers]\"), got {', '.join(missing)} missing"
        )
    shape, test_shape = np.shape(X_train)[1:], np.shape(X_test)[1:]
    if X_test is not None and test_shape != shape and (
            method.kind != "baseline" or np.prod(test_shape) != np.prod(shape)):
        raise ValueError(f"X_test must have samples of shape {shape} like X_train, "
                         f"got {test_shape}")
    X_train = as_samples(X_train, "X_train", dtype=method.sample_dtype)
    if X_test is not None:
        X_test = as_samples(X_test, "X_test", dtype=method.sample_dtype)
    return X_train, X_test


def fit_method(
    name: str,
    X_train,
    X_test=None,
    *,
    y_train=None,
    n_components: int = 2,
    n_neighbors: int | None = 5,
    seed: int = 0,
    repeats: int = 1,
    **params: Any,
) -> MethodResult:
    """Fit method ``name`` on ``X_train``, embed it, and map ``X_test``; time both.

    Inductive methods are fitted on ``X_train`` and map ``X_test`` with their
    ``transform``; transductive ones ("spectral", "tsne") embed the training and test
    samples stacked together and split the result. Images (n, H, W[, C]) are flattened for
    the libraries (DrLIM and the parametric UMAP choose their network from the shape).
    ``fit_seconds`` covers the fit and the training embedding (just-in-time compilation
    included, importing the library not); ``transform_seconds`` is the fastest of
    ``repeats`` calls on ``X_test`` (DrLIM's after one more call that compiles its network).

    Args:
      name: one of :data:`METHODS`.
      X_train: (n_train, d) or images (n_train, H, W[, C]).
      X_test: optional test samples of the same shape.
      y_train: labels DrLIM builds its graph from (None: the kNN graph of the samples).
      n_components: output dimension.
      n_neighbors: neighbourhood size of DrLIM's graph, Isomap, LLE and the spectral
        embedding's graph; the others ignore it (t-SNE uses perplexity ``min(30, (n - 1) / 3)``).
        DrLIM also takes None: the estimator's own choice (its loss's default, or
        ``3 * perplexity`` neighbours with ``perplexity`` set).
      seed: the estimator's random state.
      repeats: calls of ``transform`` timed; the fastest counts (machine noise only adds).
      **params: further estimator settings (DrLIM's, or e.g. ``n_epochs`` of a peer); DrLIM
        also takes ``hidden`` and ``activation``: its network is then an MLP of them.

    >>> X = np.random.default_rng(0).normal(size=(100, 8))
    >>> result = fit_method("pca", X[:80], X[80:])
    >>> result.Z_test.shape, result.transductive, result.transform(X[:3]).shape
    ((20, 2), False, (3, 2))
    """
    method = _method(name)
    shape = np.shape(X_train)[1:]
    X_train, X_test = _check_samples(method, X_train, X_test)
    n_train = X_train.shape[0]
    together = not method.inductive and X_test is not None
    n_fit = n_train + X_test.shape[0] if together else n_train
    n_components = check_int(n_components, "n_components", 1,
                             min(n_fit - 1, X_train.shape[1]) if method.kind == "baseline"
                             else X_train.shape[1])
    if name in ("isomap", "lle", "spectral") or (name == "drlim" and n_neighbors is not None):
        n_neighbors = check_int(n_neighbors, "n_neighbors", 1, n_fit - 1)
    repeats = check_int(repeats, "repeats", 1)
    if name in _IMPORTS:
        importlib.import_module(_IMPORTS[name])
    fitted = np.concatenate([X_train, X_test]) if together else X_train
    (Z, mapping, model), fit_seconds = timed_call(lambda: _ADAPTERS[name](
        name, fitted, shape, y_train, n_components, n_neighbors, seed, params))
    if mapping is None:
        Z_test = None if X_test is None else Z[n_train:]
        return MethodResult(name, Z[:n_train], Z_test, True, fit_seconds, None, n_fit,
                            model=model)

    def transform(X_new) -> np.ndarray:
        flat = as_samples(X_new, "X_new", dtype=method.sample_dtype)
        return np.asarray(mapping(flat), dtype=dtype)

    dtype = None if method.kind == "baseline" else np.float64  # scikit-learn's own dtype
    Z_train = None if Z is None else np.asarray(Z, dtype=dtype)
    Z_test = transform_seconds = None
    if X_test is not None:
        if name == "drlim":
            transform(X_test)  # compiles the mapping for this batch shape
        Z_test, transform_seconds = timed_call(lambda: transform(X_test), repeats)
    return MethodResult(name, Z_train, Z_test, False, fit_seconds, transform_seconds, n_fit,
                        transform, model)


def _barycentric_weights(
    X: np.ndarray, rows: np.ndarray, neighbors: np.ndarray, reg: float
) -> np.ndarray:
    """LLE weights reconstructing ``X[rows]`` from ``X[neighbors]`` (all rows, m neighbours).

    Solves ``(G + r I) w = 1`` with G the Gram matrix of the neighbours' offsets and
    ``r = reg * trace(G)`` (``reg`` when the trace is 0), then scales w to sum to 1.
    """
    m = neighbors.shape[1]
    offsets = X[neighbors].astype(np.float64) - X[rows, None, :].astype(np.float64)
    gram = offsets @ offsets.transpose(0, 2, 1)
    trace = np.trace(gram, axis1=1, axis2=2)
    ridge = np.where(trace > 0, reg * trace, reg)
    gram[:, np.arange(m), np.arange(m)] += ridge[:, None]
    weights = np.linalg.solve(gram, np.ones((rows.size, m, 1)))[..., 0]
    return weights / weights.sum(axis=1, keepdims=True)


def _weight_matrix(X: np.ndarray, table: np.ndarray, reg: float) -> scipy.sparse.csr_matrix:
    """Sparse LLE weight matrix W (n, n) for the neighbourhoods in ``table``.

    Samples are grouped by their number of valid neighbours so each group is one batched
    solve, done in chunks to bound memory (chunk * m * d float64 values).
    """
    n, d = X.shape
    valid = (table >= 0) & (table != np.arange(n)[:, None])
    counts = valid.sum(axis=1)
    if np.any(counts == 0):
        raise ValueError(
            "graph_neighbors must give every sample at least one neighbour other than "
            f"itself, got none for sample {int(np.argmax(counts == 0))}"
        )
    # Move each row's valid entries to the front, keeping their order.
    order = np.argsort(~valid, axis=1, kind="stable")
    packed = np.take_along_axis(table, order, axis=1)
    row_parts, col_parts, value_parts = [], [], []
    for m in np.unique(counts):
        group = np.flatnonzero(counts == m)
        chunk = max(1, _WEIGHT_CHUNK_ELEMENTS // (int(m) * d))
        for start in range(0, group.size, chunk):
            rows = group[start : start + chunk]
            neighbors = packed[rows, :m]
            row_parts.append(np.repeat(rows, m))
            col_parts.append(neighbors.ravel())
            value_parts.append(_barycentric_weights(X, rows, neighbors, reg).ravel())
    rows = np.concatenate(row_parts)
    cols = np.concatenate(col_parts)
    values = np.concatenate(value_parts)
    # Duplicate entries in a row are summed, as their weights act on the same point.
    return scipy.sparse.csr_matrix((values, (rows, cols)), shape=(n, n))


def _bottom_eigenvectors(
    residual: scipy.sparse.csr_matrix, n_components: int, eigen_solver: str, seed: int
) -> np.ndarray:
    """Eigenvectors 2 .. n_components + 1 (ascending eigenvalue) of ``M = R^T R``.

    ``R = I - W`` is the LLE residual operator. The sparse path never forms the
    factorisation of M, whose fill-in is prohibitive on image graphs; it factorises
    ``R_eps = R + eps I`` (one sparse LU, much sparser) and runs Lanczos on
    ``(R_eps^T R_eps)^-1 = R_eps^-1 R_eps^-T``, whose largest eigenvalues are the inverses
    of the smallest of ``M`` up to O(eps). ``eps`` makes the singular R (its rows sum to
    0) invertible.
    """
    n = residual.shape[0]
    if eigen_solver == "dense":
        M = (residual.T @ residual).toarray()
        _, vectors = scipy.linalg.eigh(M, subset_by_index=(1, n_components))
        return vectors
    shifted = (residual + _SHIFT * scipy.sparse.identity(n, format="csr")).tocsc()
    lu = scipy.sparse.linalg.splu(shifted)

    def apply_inverse(v: np.ndarray) -> np.ndarray:
        return lu.solve(lu.solve(np.asarray(v, dtype=np.float64).ravel(), trans="T"))

    operator = scipy.sparse.linalg.LinearOperator((n, n), matvec=apply_inverse, dtype=np.float64)
    v0 = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    values, vectors = scipy.sparse.linalg.eigsh(
        operator, k=n_components + 1, which="LA", v0=v0, tol=1e-10
    )
    order = np.argsort(values)[::-1]
    return vectors[:, order[1:]]


def lle_on_graph(
    X,
    graph_neighbors,
    n_components: int = 2,
    reg: float = 1e-3,
    *,
    eigen_solver: str = "auto",
    seed: int = 0,
) -> np.ndarray:
    """Standard LLE (Roweis & Saul 2000) with neighbourhoods from a given graph.

    Each sample is reconstructed from its listed neighbours by weights summing to 1
    (regularised local Gram matrix, as scikit-learn's ``reg``); the embedding is given by
    the eigenvectors of ``M = (I - W)^T (I - W)`` with the smallest eigenvalues, skipping
    the constant one. This is the paper's "LLE on the same graph" (Figs. 6 and 10): for
    a graph equal to the k nearest neighbours of X it is ordinary LLE.

    Args:
      X: (n, d) samples or images (n, H, W, C) (flattened).
      graph_neighbors: (n, width) int neighbour table padded with -1 (the format of
        ``drlim.neighbors.Graph.neighbors``); entries equal to the row index are ignored,
        every sample needs at least one other neighbour.
      n_components: output dimension, 1 <= n_components <= n - 2.
      reg: regularisation of the local Gram matrices, > 0.
      eigen_solver: "dense" (full matrix, small n), "arpack" (sparse shift-invert
        ``eigsh``), or "auto" (dense up to 1,500 samples).
      seed: seed of ARPACK's starting vector.

    Returns:
      (n, n_components) float64 embedding (unit-norm columns, arbitrary sign).

    >>> import numpy as np
    >>> from sklearn.neighbors import NearestNeighbors
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> table = NearestNeighbors(n_neighbors=8).fit(X).kneighbors(return_distance=False)
    >>> lle_on_graph(X, table).shape
    (300, 2)
    """
    X = as_samples(X, "X", min_samples=3)
    n = X.shape[0]
    table = as_int_array(graph_neighbors, "graph_neighbors", ndim=2)
    if table.shape[0] != n or table.shape[1] == 0:
        raise ValueError(
            f"graph_neighbors must have shape ({n}, width >= 1), got shape {table.shape}"
        )
    if table.min() < -1 or table.max() >= n:
        raise ValueError(
            f"graph_neighbors entries must be in [-1, {n - 1}] (-1 pads a row), "
            f"got range [{table.min()}, {table.max()}]"
        )
    table = table.astype(np.int64)
    n_components = check_int(n_components, "n_components", 1, n - 2)
    reg = check_number(reg, "reg", 0, closed="neither")
    eigen_solver = check_choice(eigen_solver, "eigen_solver", ("auto", "dense", "arpack"))
    if eigen_solver == "auto":
        eigen_solver = "dense" if n <= _DENSE_LIMIT else "arpack"
    residual = scipy.sparse.identity(n, format="csr") - _weight_matrix(X, table, reg)
    return _bottom_eigenvectors(residual.tocsr(), n_components, eigen_solver, seed)
