"""Neighbour search: the k nearest samples of every sample, exact or approximate.

DrLIM's similar pairs are, by default, each sample's k nearest neighbours in input space
(Hadsell, Chopra & LeCun 2006, Sec. 4.1: the 5 nearest by Euclidean distance). This module
finds them; :mod:`drlim.neighbors` turns them into a symmetric graph.

Two methods:

- ``"exact"``: a blocked search under ``jax.jit`` (memory O(block_size * 4,096) besides the
  data), O(n^2 d) work, ties broken towards the smaller index so that the result is
  reproducible to the last neighbour. The paper's experiments use it.
- ``"approx"``: NN-descent (Dong, Moses & Li, WWW 2011) from pynndescent, umap-learn's own
  neighbour search: about n^1.14 distance evaluations, so graphs of a million samples are within
  reach. It asks for ``k + 1 + APPROX_EXTRA_NEIGHBORS`` neighbours and keeps the k nearest, which
  raises recall; it is deterministic for a given ``random_state`` and thread count.

``"auto"`` takes the exact search below :data:`AUTO_EXACT_LIMIT` samples and NN-descent from
there on (see :func:`resolve_method`). Metrics: ``"euclidean"``, ``"cosine"`` (one minus the
cosine similarity; an all-zero row is at distance 1 from everything) and ``"manhattan"``.
NN-descent builds its cosine graph on pynndescent's log-transformed similarity, which puts
every pair with a cosine of 0 or less at the same largest distance (and, for sparse input,
two all-zero rows at distance 0): where such pairs are among a sample's k nearest, the exact
search orders them and the approximate one does not.
SciPy sparse input (CSR, as text features come) goes to pynndescent's sparse NN-descent, or for
the exact method to scikit-learn's brute-force search on the sparse matrix, so it is never
densified.

>>> import numpy as np
>>> X = np.array([[0.0, 1.0], [0.0, 2.0], [3.0, 0.0], [5.0, 0.0]])
>>> knn_indices(X, k=1).tolist()
[[1], [0], [3], [2]]
>>> knn_indices(X, k=1, metric="cosine").tolist()
[[1], [0], [3], [2]]
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse

from drlim._xla import FAST_COMPILE
from drlim.validation import as_samples, check_choice, check_int

METHODS = ("auto", "exact", "approx")
METRICS = ("euclidean", "cosine", "manhattan")
# "auto" searches exactly below this many samples and approximately from there on. On the
# MNIST digits (784 values, k = 5, a loaded 2-core machine) the exact search took 6.8, 16, 40
# and 108 s for 5,000, 10,000, 20,000 and 30,000 samples, NN-descent 1.8, 9.0, 11 and 11 s once
# compiled, but numba's compilation on the first call in a process took 170-190 s: with one
# graph per process, as in a fit, the exact search stays faster up to about 40,000 samples.
# Both have since become faster (2026-12-07, 2 AMD EPYC cores at 2596 MHz, `make bench`): the
# exact search of 60,000 digits 46 s, NN-descent 1.9 s once compiled, and numba's compilation
# 28-34 s, paid in every new process (pynndescent caches only some of its functions). The
# crossover for a fresh process is then about 50,000 samples if the exact search grows as n^2
# (not measured between); the limit is left where it was.
AUTO_EXACT_LIMIT = 40_000
# Neighbours NN-descent keeps per sample beyond the k asked for: a longer candidate list
# lets more true neighbours in (on the 60,000 MNIST digits at k = 5, recall 0.936 with 0
# extra, 0.985 with 5, 0.996 with 10, in 37, 35 and 65 s on a loaded 2-core machine).
APPROX_EXTRA_NEIGHBORS = 5
# Extra candidates kept from the fast (matrix-product) scores before the exact re-ranking;
# float32 rounding of ||x||^2 - 2 x.y + ||y||^2 on centred data can only reorder near-ties.
KNN_EXTRA_CANDIDATES = 16
# The exact search scores as many columns as a multiple of this (see _scored_columns), so
# that data sets of one shape with about as many all-zero columns share one program.
SCORED_COLUMNS_STEP = 128
# Columns scored at a time: with 2048-row blocks, a 32 MB score buffer reused across chunks.
KNN_CHUNK_SIZE = 4096


def knn_indices(
    X: Any,
    k: int = 5,
    *,
    method: str = "auto",
    metric: str = "euclidean",
    block_size: int = 2048,
    random_state: int = 0,
) -> np.ndarray:
    """The k nearest neighbours of every sample, self excluded: (n, k) int32.

    Row ``i`` lists its neighbours by increasing distance. ``X`` is (n, d), images (n, ...)
    that are flattened, or a SciPy sparse matrix (n, d). ``method`` is ``"exact"``,
    ``"approx"`` or ``"auto"`` (exact below :data:`AUTO_EXACT_LIMIT` samples), ``metric`` one
    of :data:`METRICS`; see the module docstring. ``block_size`` (the most rows scored at a
    time) only concerns the exact dense search and never changes its result;
    ``random_state`` only concerns NN-descent.

    The exact dense search scores a block of at most ``block_size`` rows against at most
    4,096 columns at a time (blocks and chunks of equal size, :func:`even_split`; for
    Euclidean distance with ``||x||^2 - 2 x.y + ||y||^2`` on centred data, one matrix
    product), keeps
    ``k + 16`` candidates per row with ``jax.lax.top_k``, recomputes their distances directly
    (``sum((x - y)^2)``, no cancellation) and sorts them on (distance, index).

    >>> knn_indices(np.array([[0.0], [1.0], [3.0], [7.0]]), k=2).tolist()
    [[1, 2], [0, 2], [1, 0], [2, 1]]
    """
    method = check_choice(method, "method", METHODS)
    metric = check_choice(metric, "metric", METRICS)
    data = _as_search_data(X)
    n = data.shape[0]
    k = check_int(k, "k", 1, n - 1)
    block_size = check_int(block_size, "block_size", 1)
    random_state = check_int(random_state, "random_state", 0, 2**32 - 1)
    if resolve_method(method, n) == "approx":
        return _approx_knn(data, k, metric, random_state)
    if scipy.sparse.issparse(data):
        return _sparse_exact_knn(data, k, metric)
    return _exact_knn(data, k, metric, block_size)


def resolve_method(method: str, n_samples: int) -> str:
    """The search ``method`` runs for ``n_samples`` samples: ``"auto"`` becomes ``"exact"``
    below :data:`AUTO_EXACT_LIMIT` samples and ``"approx"`` from there on.

    >>> resolve_method("auto", 6_000), resolve_method("auto", 1_000_000)
    ('exact', 'approx')
    """
    method = check_choice(method, "method", METHODS)
    if method != "auto":
        return method
    return "exact" if n_samples < AUTO_EXACT_LIMIT else "approx"


def _exact_knn(data: np.ndarray, k: int, metric: str, block_size: int) -> np.ndarray:
    """Blocked exact search on dense data (see :func:`knn_indices`)."""
    n = data.shape[0]
    if metric == "cosine":
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        data = data / np.where(norms > 0, norms, 1).astype(np.float32)
    n_candidates = min(k + KNN_EXTRA_CANDIDATES, n - 1)
    block_size = even_split(n, block_size)
    chunk_size = max(even_split(n, KNN_CHUNK_SIZE), n_candidates + 1)
    x = jnp.asarray(data)
    scored = jnp.asarray(_scored_data(data, metric))
    out = np.empty((n, k), dtype=np.int32)
    for start in range(0, n, block_size):
        first = min(start, n - block_size)  # the last block overlaps, so one shape compiles
        block = _knn_block(
            x, scored, np.int32(first), block_size, chunk_size, n_candidates, k, metric
        )
        out[start : first + block_size] = np.asarray(block)[start - first :]
    return out


def _scored_data(data: np.ndarray, metric: str) -> np.ndarray:
    """What the exact search ranks its candidates on: ``data``'s :func:`_scored_columns`,
    centred for Euclidean distance. ``2 x.y - ||y||^2`` rounds in float32 to within about
    ``1e-7 ||y||^2``, so far from the origin it drowns the distances (10 features in [0, 1)
    offset by 1,000: 23% of the true 5 nearest found); centring changes no distance.

    >>> _scored_data(np.array([[1e4, 0.0], [1e4 + 1, 0.0]], np.float32), "euclidean").tolist()
    [[-0.5, 0.0], [0.5, 0.0]]
    """
    columns = _scored_columns(data)
    scored = data if columns is None else data[:, columns]
    if metric != "euclidean":
        return scored
    return scored - scored.mean(axis=0, dtype=np.float64).astype(np.float32)


def _scored_columns(data: np.ndarray) -> np.ndarray | None:
    """The columns the exact search scores its candidates on, or None for all of them: those
    non-zero in some sample, and as many all-zero ones as bring the count to a multiple of
    :data:`SCORED_COLUMNS_STEP`. All-zero columns add nothing to any distance or dot product,
    and images often have many: 598 of the 1,024 pixels of the 4/9 digits padded to 32 x 32
    are non-zero in some digit, so 640 are scored, in 0.75x the time of all of them.

    >>> X = np.zeros((2, 300))
    >>> X[:, :130] = 1.0
    >>> len(_scored_columns(X)), int(_scored_columns(X)[-1]), _scored_columns(X[:, :140])
    (256, 255, None)
    """
    nonzero = np.any(data != 0, axis=0)
    used = int(nonzero.sum())
    count = -(-max(used, 1) // SCORED_COLUMNS_STEP) * SCORED_COLUMNS_STEP
    if count >= data.shape[1]:
        return None
    zeros = np.flatnonzero(~nonzero)[: count - used]
    return np.sort(np.concatenate([np.flatnonzero(nonzero), zeros]))


def even_split(n: int, most: int) -> int:
    """The size of the fewest equal parts of at most ``most`` that cover ``n`` items: the
    blocks and chunks of the exact search, so that none is mostly a repeat of another (6,000
    samples in 4,096-column chunks scored 8,192 columns a row; in two of 3,000, 6,000).

    >>> even_split(6_000, 4_096), even_split(6_000, 2_048), even_split(100, 4_096)
    (3000, 2000, 100)
    """
    return -(-n // -(-n // most))


@functools.partial(
    jax.jit,
    static_argnames=("block_size", "chunk_size", "n_candidates", "k", "metric"),
    compiler_options=FAST_COMPILE,
)
def _knn_block(
    x: jax.Array,
    scored: jax.Array,
    first: jax.Array,
    block_size: int,
    chunk_size: int,
    n_candidates: int,
    k: int,
    metric: str,
) -> jax.Array:
    """The k nearest neighbours of rows ``first .. first + block_size`` of ``x``: candidates
    ranked on ``scored`` (``x``'s columns of :func:`_scored_columns`), re-ranked on ``x``."""
    n = x.shape[0]
    rows = jax.lax.dynamic_slice_in_dim(scored, first, block_size)
    n_chunks = -(-n // chunk_size)
    n_keep = n_candidates + 1  # one spare for the sample itself

    def chunk_top(_, chunk):
        # The last chunk is shifted back to stay inside x; its columns already seen are masked.
        start = jnp.minimum(chunk * chunk_size, n - chunk_size)
        cols = jax.lax.dynamic_slice_in_dim(scored, start, chunk_size)
        col_ids = start + jnp.arange(chunk_size, dtype=jnp.int32)
        score = _scores(rows, cols, metric)
        score = jnp.where(col_ids[None, :] < chunk * chunk_size, -jnp.inf, score)
        values, positions = jax.lax.top_k(score, n_keep)
        return None, (values, col_ids[positions])

    _, (values, ids) = jax.lax.scan(chunk_top, None, jnp.arange(n_chunks, dtype=jnp.int32))
    values = jnp.moveaxis(values, 0, 1).reshape(block_size, -1)
    ids = jnp.moveaxis(ids, 0, 1).reshape(block_size, -1)
    _, best = jax.lax.top_k(values, n_keep)
    candidates = jnp.take_along_axis(ids, best, axis=1)
    exact = _distances(jax.lax.dynamic_slice_in_dim(x, first, block_size), x, candidates, metric)
    row_ids = first + jnp.arange(block_size, dtype=jnp.int32)
    exact = jnp.where(candidates == row_ids[:, None], jnp.inf, exact)
    _, ranked = jax.lax.sort((exact, candidates), dimension=1, num_keys=2)
    return ranked[:, :k]


def _scores(rows: jax.Array, cols: jax.Array, metric: str) -> jax.Array:
    """(rows, cols) scores that rank the columns as their distance does, largest nearest.

    Euclidean: ``2 x.y - ||y||^2`` (``||x||^2`` is constant along a row); cosine (rows already
    unit or zero): ``x.y``; Manhattan: ``-sum |x - y|``, a reduction XLA fuses without
    materialising the (rows, cols, d) differences.
    """
    if metric == "euclidean":
        return 2.0 * (rows @ cols.T) - jnp.sum(cols * cols, axis=1)[None, :]
    if metric == "cosine":
        return rows @ cols.T
    return -jnp.sum(jnp.abs(rows[:, None, :] - cols[None, :, :]), axis=-1)


def _distances(rows: jax.Array, x: jax.Array, candidates: jax.Array, metric: str) -> jax.Array:
    """Distances from ``rows`` (b, d) to their candidates ``x[candidates]`` (``candidates``
    (b, m)), summed elementwise so that they do not depend on the block or chunk shapes: (b, m).

    One candidate column at a time keeps the gathered rows small: on 2 CPU cores, 3,000 rows
    with 17 candidates each of 784 values (MNIST) took 13 ms, against 69 ms for gathering the
    (b, m, d) block at once, with the same values.
    """

    def column(ids: jax.Array) -> jax.Array:
        other = x[ids]
        if metric == "euclidean":
            diff = other - rows
            return jnp.sum(diff * diff, axis=-1)
        if metric == "cosine":
            return 1.0 - jnp.sum(other * rows, axis=-1)
        return jnp.sum(jnp.abs(other - rows), axis=-1)

    return jax.lax.map(column, candidates.T).T


def _sparse_exact_knn(data: scipy.sparse.csr_matrix, k: int, metric: str) -> np.ndarray:
    """Exact search on sparse rows with scikit-learn's brute force (never densified)."""
    from sklearn.neighbors import NearestNeighbors

    model = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(data)
    return model.kneighbors(return_distance=False).astype(np.int32)


def _approx_knn(data: Any, k: int, metric: str, random_state: int) -> np.ndarray:
    """NN-descent with ``k + APPROX_EXTRA_NEIGHBORS`` neighbours per sample; the k nearest."""
    from pynndescent import NNDescent  # imports numba: only paid when asked for

    n = data.shape[0]
    n_neighbors = min(k + 1 + APPROX_EXTRA_NEIGHBORS, n)
    index = NNDescent(data, metric=metric, n_neighbors=n_neighbors, random_state=random_state)
    indices, _ = index.neighbor_graph  # column 0 is the sample itself
    table = indices[:, 1 : k + 1]
    if np.any(table < 0):
        raise RuntimeError(
            f"NN-descent found fewer than k={k} neighbours for {np.sum(table.min(1) < 0)} "
            "samples; use method='exact'"
        )
    return table.astype(np.int32)


def _as_search_data(X: Any) -> np.ndarray | scipy.sparse.csr_matrix:
    """X as finite (n, d) float32 data with n >= 2 and d >= 1: a C-ordered array, or a CSR
    matrix when X is SciPy sparse."""
    if scipy.sparse.issparse(X):
        data = scipy.sparse.csr_matrix(X, dtype=np.float32, copy=True)  # the caller's is kept
        if data.shape[0] < 2 or data.shape[1] == 0:
            raise ValueError(f"X must have shape (n, d) with n >= 2 and d >= 1, got {data.shape}")
        data.sum_duplicates()  # a column stored twice in a row counts once, with the sum
        bad = int(np.sum(~np.isfinite(data.data)))
        if bad:
            raise ValueError(f"X must be finite, got {bad} NaN/inf")
        return data
    return np.ascontiguousarray(as_samples(X, "X", min_samples=2, dtype=np.float32))


__all__ = [
    "APPROX_EXTRA_NEIGHBORS",
    "AUTO_EXACT_LIMIT",
    "METHODS",
    "METRICS",
    "knn_indices",
    "resolve_method",
]
