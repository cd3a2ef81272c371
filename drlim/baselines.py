"""Classical dimensionality reductions on the same data and graphs as DrLIM.

:func:`fit_baseline` puts scikit-learn's PCA, Isomap, LLE, spectral embedding and t-SNE
behind one call, so experiments can compare them with DrLIM on the same train / test
split. PCA, Isomap and LLE are *inductive*: fitted on the training set, they map new
test samples. Spectral embedding and t-SNE are *transductive*: they have no mapping, so
train and test are embedded together and the result is split (``transductive=True``) —
the limitation the paper's learned function removes.

:func:`lle_on_graph` is standard LLE whose neighbourhoods come from a given neighbour
table instead of the k nearest neighbours of the data: the paper's "LLE on the same
graph" (Figs. 6 and 10).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, Isomap, LocallyLinearEmbedding, SpectralEmbedding

from drlim._timing import timed_call
from drlim.validation import as_samples, check_int

__all__ = ["BASELINES", "BaselineResult", "fit_baseline", "is_inductive", "lle_on_graph"]

BASELINES: tuple[str, ...] = ("pca", "isomap", "lle", "spectral", "tsne")
_INDUCTIVE = frozenset({"pca", "isomap", "lle"})
_DENSE_LIMIT = 1500
_WEIGHT_CHUNK_ELEMENTS = 1 << 23
_SHIFT = 1e-9


@dataclass(frozen=True)
class BaselineResult:
    """Embeddings made by one baseline, with timings.

    Attributes:
      name: baseline name, one of :data:`BASELINES`.
      Z_train: (n_train, n_components) embedding of the training samples.
      Z_test: (n_test, n_components) embedding of the test samples, or None without them.
      transductive: True when train and test were embedded together (no mapping exists).
      fit_seconds: wall time of fitting (and embedding the training set).
      transform_seconds: wall time of mapping the test set (the fastest of ``repeats``
        calls); None when transductive or when there was no test set.
      n_fit: number of samples the method was fitted on.
      transform: the fitted method's mapping of new samples (flat or image arrays, like
        ``X_test``), for further calls such as :func:`drlim.metrics.transform_stability`'s
        regrouped ones; None for transductive methods.
    """

    name: str
    Z_train: np.ndarray
    Z_test: np.ndarray | None
    transductive: bool
    fit_seconds: float
    transform_seconds: float | None
    n_fit: int
    transform: Callable[[np.ndarray], np.ndarray] | None = field(
        default=None, repr=False, compare=False)


def _check_name(name: str) -> str:
    """Return ``name`` if it is a known baseline, else raise listing the known ones."""
    if name not in BASELINES:
        raise ValueError(f"name must be one of {', '.join(BASELINES)}; got {name!r}")
    return name


def is_inductive(name: str) -> bool:
    """Whether baseline ``name`` learns a mapping that embeds new samples.

    >>> is_inductive("isomap"), is_inductive("tsne")
    (True, False)
    """
    return _check_name(name) in _INDUCTIVE


def _make_estimator(name: str, n_samples: int, n_components: int, n_neighbors: int, seed: int):
    """The scikit-learn estimator behind baseline ``name``."""
    if name == "pca":
        return PCA(n_components=n_components, random_state=seed)
    if name == "isomap":
        return Isomap(n_neighbors=n_neighbors, n_components=n_components)
    if name == "lle":
        return LocallyLinearEmbedding(
            n_neighbors=n_neighbors, n_components=n_components, random_state=seed
        )
    if name == "spectral":
        return SpectralEmbedding(
            n_components=n_components,
            affinity="nearest_neighbors",
            n_neighbors=n_neighbors,
            random_state=seed,
        )
    # t-SNE's perplexity must stay below the number of samples.
    return TSNE(
        n_components=n_components,
        perplexity=min(30.0, (n_samples - 1) / 3.0),
        random_state=seed,
    )


def fit_baseline(
    name: str,
    X_train,
    X_test=None,
    n_components: int = 2,
    n_neighbors: int = 5,
    seed: int = 0,
    repeats: int = 1,
) -> BaselineResult:
    """Embed ``X_train`` (and ``X_test``) with baseline ``name``.

    Inductive methods ("pca", "isomap", "lle") are fitted on ``X_train`` and map
    ``X_test`` with ``transform``. Transductive ones ("spectral", "tsne") embed the
    training and test samples stacked together and split the result. Images are
    flattened. ``n_neighbors`` is the neighbourhood size of Isomap, LLE and the spectral
    embedding's graph; PCA and t-SNE ignore it (t-SNE uses perplexity
    ``min(30, (n - 1) / 3)``). t-SNE needs ``n_components < 4`` (Barnes-Hut).

    Args:
      name: one of :data:`BASELINES`.
      X_train: (n_train, d) or images (n_train, H, W, C).
      X_test: optional test samples of the same feature size.
      n_components: output dimension.
      n_neighbors: neighbourhood size (see above).
      seed: random state of the estimator.
      repeats: calls of ``transform`` timed; the fastest counts (machine noise only adds).

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 8))
    >>> result = fit_baseline("pca", X[:80], X[80:])
    >>> result.Z_test.shape, result.transductive
    ((20, 2), False)
    """
    _check_name(name)
    X_train = as_samples(X_train, "X_train")
    if X_test is not None:
        X_test = as_samples(X_test, "X_test")
        if X_test.shape[1] != X_train.shape[1]:
            raise ValueError(
                f"X_test must have {X_train.shape[1]} features like X_train, "
                f"got {X_test.shape[1]}"
            )
    n_train = X_train.shape[0]
    n_fit = n_train if name in _INDUCTIVE or X_test is None else n_train + X_test.shape[0]
    n_components = check_int(n_components, "n_components", 1, min(n_fit - 1, X_train.shape[1]))
    if name != "pca":
        n_neighbors = check_int(n_neighbors, "n_neighbors", 1, n_fit - 1)
    repeats = check_int(repeats, "repeats", 1)
    estimator = _make_estimator(name, n_fit, n_components, n_neighbors, seed)

    inductive = name in _INDUCTIVE
    fitted = X_train if inductive or X_test is None else np.concatenate([X_train, X_test])
    Z, fit_seconds = timed_call(lambda: np.asarray(estimator.fit_transform(fitted)))
    if not inductive:
        Z_test = None if X_test is None else Z[n_train:]
        return BaselineResult(name, Z[:n_train], Z_test, True, fit_seconds, None, n_fit)

    def transform(X_new) -> np.ndarray:
        return np.asarray(estimator.transform(as_samples(X_new, "X_new")))

    Z_test = transform_seconds = None
    if X_test is not None:
        Z_test, transform_seconds = timed_call(lambda: transform(X_test), repeats)
    return BaselineResult(name, Z, Z_test, False, fit_seconds, transform_seconds, n_fit,
                          transform)


def _check_graph(graph_neighbors, n: int) -> np.ndarray:
    """Validate a neighbour table (n, width) of ints in [-1, n); -1 is padding."""
    table = np.asarray(graph_neighbors)
    if table.ndim != 2 or table.shape[0] != n or table.shape[1] == 0:
        raise ValueError(
            f"graph_neighbors must have shape ({n}, width >= 1), got shape {table.shape}"
        )
    if not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"graph_neighbors must hold integers, got dtype {table.dtype}")
    if table.min() < -1 or table.max() >= n:
        raise ValueError(
            f"graph_neighbors entries must be in [-1, {n - 1}], "
            f"got range [{table.min()}, {table.max()}]"
        )
    return table.astype(np.int64)


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
    X = as_samples(X, "X")
    n = X.shape[0]
    table = _check_graph(graph_neighbors, n)
    if n < 3:
        raise ValueError(f"X must have at least 3 samples, got {n}")
    n_components = check_int(n_components, "n_components", 1, n - 2)
    if not isinstance(reg, int | float) or isinstance(reg, bool) or not reg > 0:
        raise ValueError(f"reg must be a positive number, got {reg!r}")
    if eigen_solver not in ("auto", "dense", "arpack"):
        raise ValueError(f"eigen_solver must be 'auto', 'dense' or 'arpack', got {eigen_solver!r}")
    if eigen_solver == "auto":
        eigen_solver = "dense" if n <= _DENSE_LIMIT else "arpack"
    residual = scipy.sparse.identity(n, format="csr") - _weight_matrix(X, table, float(reg))
    return _bottom_eigenvectors(residual.tocsr(), n_components, eigen_solver, seed)
