"""Neighbourhood graphs: which samples DrLIM treats as similar.

DrLIM learns from neighbourhood relations alone (Hadsell, Chopra & LeCun, CVPR 2006,
Sec. 2): prior knowledge says which pairs are similar -- nearest neighbours in input space,
equal class labels, nearby poses, nearby frames, transformed copies of one image -- and every
other pair is dissimilar. With 70,000 MNIST digits there are 2.4 billion pairs, so a graph
never lists them; it stores, per sample, the few samples it is similar to.

One representation is used everywhere, :class:`Graph`:

- ``neighbors``: an ``(n, width)`` int32 table; row ``i`` holds the sorted ids of the
  samples similar to ``i``, padded with ``-1`` at the end. The relation is symmetric,
  has no self loops and no duplicates.
- ``groups`` (optional): an ``(n,)`` int32 array; samples with the same group id
  (``>= 0``) are also similar to each other, so a label graph needs O(n) memory instead
  of listing n^2/10 edges. ``-1`` means "in no group". An explicit edge never joins two
  members of one group (it would be listed twice).
- ``weights`` (optional): an ``(n, width)`` float32 table of edge strengths in ``(0, 1]``
  aligned with ``neighbors`` (0 at the padding), symmetric like the edges; UMAP's fuzzy
  memberships (:func:`fuzzy_knn_graph`), t-SNE's affinities
  (:func:`perplexity_graph`). Losses that sample edges in proportion to their
  weight use it; DrLIM's Eq. 4 ignores it.

Every builder returns such a graph, already symmetric:

>>> import numpy as np
>>> g = knn_graph(np.random.default_rng(0).random((100, 5)), k=5)
>>> describe(g)["similar_directed"]
500
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse

from drlim.knn import knn_indices
from drlim.validation import as_int_array, as_vector, check_int, check_number

DENSE_LIMIT = 20_000


@dataclass(frozen=True, eq=False)
class Graph:
    """A symmetric similarity graph over ``n`` samples (see the module docstring).

    ``directed_pairs`` records how many directed relations ``i -> j`` the graph was built
    from, before symmetrising (``n * k`` for :func:`knn_graph`: the paper's 30,000 for 6,000
    digits and k = 5); ``None`` when the graph comes from a symmetric rule. The arrays are
    stored read-only and checked on construction.

    >>> g = Graph(np.array([[1], [0], [-1]], dtype=np.int32))
    >>> g.n, g.degree.tolist()
    (3, [1, 1, 0])
    """

    neighbors: np.ndarray
    groups: np.ndarray | None = None
    directed_pairs: int | None = None
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        table = as_int_array(self.neighbors, "neighbors", ndim=2)
        n = table.shape[0]
        _check_ids(table)  # before the cast to int32, which would wrap larger ids
        table = table.astype(np.int32)
        _check_table(table)
        groups = None
        if self.groups is not None:
            groups = as_int_array(self.groups, "groups", ndim=1)
            if groups.shape != (n,):
                raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
            if groups.size and (groups.min() < -1 or groups.max() > np.iinfo(np.int32).max):
                raise ValueError(f"groups must lie in [-1, {np.iinfo(np.int32).max}], got range "
                                 f"[{groups.min()}, {groups.max()}]")
            groups = groups.astype(np.int32)
            rows, cols = np.nonzero(table >= 0)
            g_src, g_dst = groups[rows], groups[table[rows, cols]]
            if np.any((g_src >= 0) & (g_src == g_dst)):
                raise ValueError("neighbors must not list an edge between members of one group")
            groups.setflags(write=False)
        if self.directed_pairs is not None and (
            not isinstance(self.directed_pairs, int | np.integer) or self.directed_pairs < 0
        ):
            raise ValueError(
                f"directed_pairs must be a non-negative int or None, got {self.directed_pairs!r}"
            )
        table.setflags(write=False)
        object.__setattr__(self, "neighbors", table)
        object.__setattr__(self, "groups", groups)
        if self.weights is not None:
            if groups is not None:
                raise ValueError("weights must be None for a graph with groups, got a table")
            weights = _check_weights(self.weights, table)
            weights.setflags(write=False)
            object.__setattr__(self, "weights", weights)
        if self.directed_pairs is not None:
            object.__setattr__(self, "directed_pairs", int(self.directed_pairs))

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.neighbors.shape[0])

    @functools.cached_property
    def degree(self) -> np.ndarray:
        """Per-sample number of similar samples, group members included, as (n,) int64."""
        degree = (self.neighbors >= 0).sum(axis=1).astype(np.int64)
        if self.groups is not None:
            in_group = self.groups >= 0
            sizes = np.bincount(self.groups[in_group], minlength=1)
            degree[in_group] += sizes[self.groups[in_group]] - 1
        return degree

    def to_dense(self) -> np.ndarray:
        """The (n, n) boolean similarity matrix; for small graphs (tests, plots) only.

        >>> Graph(np.array([[1], [0]], dtype=np.int32)).to_dense().tolist()
        [[False, True], [True, False]]
        """
        if self.n > DENSE_LIMIT:
            raise ValueError(f"n must be <= {DENSE_LIMIT} for to_dense, got {self.n}")
        dense = np.zeros((self.n, self.n), dtype=bool)
        rows, cols = np.nonzero(self.neighbors >= 0)
        dense[rows, self.neighbors[rows, cols]] = True
        if self.groups is not None:
            g = self.groups
            dense |= (g[:, None] == g[None, :]) & (g[:, None] >= 0)
            np.fill_diagonal(dense, False)
        return dense

    def to_sparse(self) -> scipy.sparse.csr_matrix:
        """The graph as a symmetric SciPy CSR matrix (what scikit-learn and umap-learn use):
        entry ``(i, j)`` is the edge's weight, 1.0 without weights. Groups are expanded
        into their pairs, which can be many (see :func:`edges`).

        >>> Graph(np.array([[1], [0]], dtype=np.int32)).to_sparse().toarray().tolist()
        [[0.0, 1.0], [1.0, 0.0]]
        """
        rows, cols = np.nonzero(self.neighbors >= 0)
        dst = self.neighbors[rows, cols].astype(np.int64)
        values = (np.ones(rows.size, np.float32) if self.weights is None
                  else self.weights[rows, cols])
        if self.groups is not None:
            g_src, g_dst = _group_pairs(self.groups)
            rows = np.concatenate([rows, g_src, g_dst])
            dst = np.concatenate([dst, g_dst, g_src])
            values = np.concatenate([values, np.ones(2 * g_src.size, np.float32)])
        return scipy.sparse.csr_matrix((values, (rows, dst)), shape=(self.n, self.n))


def describe(graph: Graph) -> dict[str, Any]:
    """Counts that summarise a graph, as plain Python numbers.

    - ``n_samples``;
    - ``similar_directed``: directed relations ``i -> j`` the graph was built from
      (``graph.directed_pairs``; for kNN graphs ``n * k``, the paper's "30,000 similar
      pairs"); for graphs from a symmetric rule every unordered pair counts twice;
    - ``similar_undirected``: unordered similar pairs ``{i, j}``, groups included;
    - ``dissimilar``: unordered pairs that are not similar, ``n (n - 1) / 2 - similar_undirected``;
    - ``degree_min``, ``degree_mean``, ``degree_max``: similar samples per sample;
    - ``width``: columns of the neighbour table; ``has_groups``.

    >>> describe(sequence_graph(4, window=1))["similar_undirected"]
    3
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"graph must be a Graph, got {type(graph).__name__}")
    degree = graph.degree
    undirected = int(degree.sum()) // 2
    n = graph.n
    directed = graph.directed_pairs if graph.directed_pairs is not None else 2 * undirected
    return {
        "n_samples": n,
        "similar_directed": int(directed),
        "similar_undirected": undirected,
        "dissimilar": n * (n - 1) // 2 - undirected,
        "degree_min": int(degree.min()) if n else 0,
        "degree_mean": float(degree.mean()) if n else 0.0,
        "degree_max": int(degree.max()) if n else 0,
        "width": int(graph.neighbors.shape[1]),
        "has_groups": graph.groups is not None,
    }


def edges(graph: Graph, include_groups: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges ``(i, j)`` with ``i < j``, sorted, as two int64 arrays.

    Only the explicit table is listed unless ``include_groups`` is true; group edges can be
    numerous (a 10-class label graph over 70,000 samples has 245 million).

    >>> i, j = edges(sequence_graph(3, window=1))
    >>> i.tolist(), j.tolist()
    ([0, 1], [1, 2])
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"graph must be a Graph, got {type(graph).__name__}")
    rows, cols = np.nonzero(graph.neighbors >= 0)
    dst = graph.neighbors[rows, cols].astype(np.int64)
    keep = rows < dst
    src, dst = rows[keep].astype(np.int64), dst[keep]
    if include_groups and graph.groups is not None:
        g_src, g_dst = _group_pairs(graph.groups)
        src, dst = np.concatenate([src, g_src]), np.concatenate([dst, g_dst])
        order = np.lexsort((dst, src))
        src, dst = src[order], dst[order]
    return src, dst


def knn_graph(
    X: Any,
    k: int = 5,
    *,
    method: str = "auto",
    metric: str = "euclidean",
    block_size: int = 2048,
    random_state: int = 0,
) -> Graph:
    """Symmetrised k-nearest-neighbour graph: ``i ~ j`` if j is among i's k nearest or i
    among j's (self excluded). ``method`` (``"auto"``, ``"exact"``, ``"approx"``), ``metric``
    (``"euclidean"``, ``"cosine"``, ``"manhattan"``) and the other options are those of
    :func:`drlim.knn.knn_indices`, which finds the neighbours; ``X`` may be SciPy sparse.

    ``directed_pairs`` is ``n * k``, the paper's count of similar pairs.

    >>> g = knn_graph(np.array([[0.0], [1.0], [3.0], [7.0]]), k=1)
    >>> g.neighbors.tolist(), g.directed_pairs
    ([[1, -1], [0, 2], [1, 3], [2, -1]], 4)
    """
    table = knn_indices(
        X, k, method=method, metric=metric, block_size=block_size, random_state=random_state
    )
    return symmetrize(table)


def fuzzy_knn_graph(
    X: Any, k: int = 15, *, method: str = "auto", random_state: int = 0, block_size: int = 2048
) -> Graph:
    """UMAP's fuzzy k-nearest-neighbour graph: the kNN edges weighted by membership strength.

    For each sample ``i`` with neighbour distances ``d_ij`` (k nearest, self excluded),
    ``rho_i`` is the distance to the nearest neighbour and ``sigma_i`` is found by bisection
    so that ``sum_j exp(-(d_ij - rho_i) / sigma_i) = log2(k + 1)`` (UMAP counts the sample
    itself among its ``n_neighbors``, so this is umap-learn's ``n_neighbors=k + 1``); the
    directed memberships
    ``w_ij = exp(-(d_ij - rho_i) / sigma_i)`` are then combined by the fuzzy union
    ``w + w^T - w * w^T`` (McInnes, Healy & Melville 2018, Sec. 3.1). Every sample's nearest
    neighbour has weight 1. As in UMAP, ``sigma_i`` is at least 1e-3 of the row's mean
    distance. The edges are those of :func:`knn_graph`, less any whose weight underflows to 0
    in float32 (they would never be sampled). ``method`` and ``random_state`` choose the
    (Euclidean) neighbour search as in :func:`drlim.knn.knn_indices`.

    >>> g = fuzzy_knn_graph(np.array([[0.0], [1.0], [3.0], [7.0], [8.0]]), k=2)
    >>> g.neighbors[2].tolist(), [round(float(w), 2) for w in g.weights[2]]
    ([0, 1, 3, 4], [0.83, 1.0, 0.58, 0.58])
    """
    indices = knn_indices(
        X, k=k, method=method, block_size=block_size, random_state=random_state
    ).astype(np.int64)
    n, k = indices.shape
    distances = np.sqrt(_neighbour_sq_distances(X, indices))
    directed = _directed_matrix(_membership_strengths(distances, target=math.log2(k + 1)),
                                indices)
    fuzzy = scipy.sparse.csr_matrix(directed + directed.T - directed.multiply(directed.T))
    fuzzy.data = np.minimum(fuzzy.data, 1.0).astype(np.float32)
    return _graph_from_csr(fuzzy, weighted=True, directed_pairs=n * k)


def perplexity_graph(
    X: Any,
    perplexity: float = 30.0,
    *,
    method: str = "auto",
    random_state: int = 0,
    block_size: int = 2048,
) -> Graph:
    """t-SNE's input affinities as a weighted graph: what InfoNCE needs to be t-SNE.

    For each sample ``i`` and its ``k = min(n - 1, floor(3 * perplexity))`` nearest
    neighbours (self excluded), the conditional probabilities are
    ``p_j|i = exp(-beta_i d_ij^2) / sum_l exp(-beta_i d_il^2)`` with ``beta_i`` bisected so
    that their perplexity ``exp(H(p_.|i))`` equals ``perplexity`` (van der Maaten & Hinton
    2008; the ``3 * perplexity`` neighbours of Barnes-Hut t-SNE, van der Maaten 2014). The
    edge weights are the symmetrised ``p_ij = (p_j|i + p_i|j) / 2``, divided by the largest
    so that they lie in ``(0, 1]``: edge sampling draws pairs in proportion to ``p_ij``, as
    t-SNE's attraction weighs them (Damrich et al., ICLR 2023). Edges whose weight
    underflows to 0 in float32 are left out. ``method`` and ``random_state`` choose the
    (Euclidean) neighbour search as in :func:`drlim.knn.knn_indices`.

    >>> g = perplexity_graph(np.array([[0.0], [1.0], [3.0], [7.0], [8.0]]), perplexity=2.0)
    >>> g.neighbors[0].tolist(), [round(float(w), 2) for w in g.weights[0]]
    ([1, 2, 3, 4], [0.83, 0.35, 0.01, 0.01])
    """
    n = X.shape[0] if scipy.sparse.issparse(X) else (len(X) if np.ndim(X) else 0)
    if n < 2:
        raise ValueError(f"X must hold at least 2 samples, got {n}")
    perplexity = check_number(perplexity, "perplexity", 1.0, n - 1)
    k = min(n - 1, math.floor(3 * perplexity))
    indices = knn_indices(
        X, k=k, method=method, block_size=block_size, random_state=random_state
    ).astype(np.int64)
    conditional = conditional_probabilities(_neighbour_sq_distances(X, indices), perplexity)
    directed = _directed_matrix(conditional, indices)
    joint = scipy.sparse.csr_matrix(directed + directed.T)
    joint.data = (joint.data / joint.data.max()).astype(np.float32)
    return _graph_from_csr(joint, weighted=True, directed_pairs=n * k)


def graph_from_sparse(matrix: Any, weights: bool = False) -> Graph:
    """A :class:`Graph` from a SciPy sparse ``(n, n)`` matrix, such as scikit-learn's
    ``kneighbors_graph`` or umap-learn's ``graph_``.

    Every stored nonzero ``(i, j)`` off the diagonal is a similar pair; the pattern is
    symmetrised (``i ~ j`` if either entry is stored). The values become edge weights only
    when ``weights`` is true (they must then be symmetric and in ``(0, 1]``, as UMAP's fuzzy
    memberships are): nothing in a matrix tells memberships from distances, and the
    symmetrised distances of ``kneighbors_graph(mode="distance")`` on small features look
    just like them.

    >>> import scipy.sparse
    >>> m = scipy.sparse.csr_matrix(np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]]))
    >>> graph_from_sparse(m).neighbors.tolist()
    [[1, -1], [0, 2], [1, -1]]
    """
    if not scipy.sparse.issparse(matrix):
        raise ValueError(f"matrix must be a SciPy sparse matrix, got {type(matrix).__name__}")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (n, n), got shape {matrix.shape}")
    if weights not in (True, False):
        raise ValueError(f"weights must be True or False, got {weights!r}")
    csr = scipy.sparse.csr_matrix(matrix, dtype=np.float64)
    csr.setdiag(0)
    csr.eliminate_zeros()
    if not np.all(np.isfinite(csr.data)):
        raise ValueError("matrix must hold finite values, got NaN or inf")
    if weights:
        if not (np.all((csr.data > 0) & (csr.data <= 1)) and (csr != csr.T).nnz == 0):
            raise ValueError(
                "matrix must be symmetric with values in (0, 1] to be read as weights, got "
                "others"
            )
        return _graph_from_csr(csr.astype(np.float32), weighted=True)
    pattern = csr.copy()
    pattern.data = np.ones_like(pattern.data)
    symmetric = scipy.sparse.csr_matrix(pattern.maximum(pattern.T))
    return _graph_from_csr(symmetric.astype(np.float32), weighted=False)


def _graph_from_csr(
    csr: scipy.sparse.csr_matrix, weighted: bool, directed_pairs: int | None = None
) -> Graph:
    """The :class:`Graph` of a symmetric CSR matrix without diagonal, its values as weights
    when ``weighted``."""
    csr = scipy.sparse.csr_matrix(csr)
    csr.eliminate_zeros()
    csr.sort_indices()
    n = csr.shape[0]
    counts = np.diff(csr.indptr)
    rows = np.repeat(np.arange(n), counts)
    cols = np.arange(csr.nnz) - csr.indptr[rows]
    table = np.full((n, int(counts.max(initial=0))), -1, dtype=np.int32)
    table[rows, cols] = csr.indices
    if not weighted:
        return Graph(table, directed_pairs=directed_pairs)
    weights = np.zeros(table.shape, dtype=np.float32)
    weights[rows, cols] = csr.data
    return Graph(table, directed_pairs=directed_pairs, weights=weights)


def _directed_matrix(values: np.ndarray, indices: np.ndarray) -> scipy.sparse.csr_matrix:
    """The ``(n, n)`` CSR matrix holding ``values[i, j]`` at ``(i, indices[i, j])``."""
    n, k = indices.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    return scipy.sparse.csr_matrix((values.ravel(), (rows, indices.ravel())), shape=(n, n))


def _neighbour_sq_distances(X: Any, indices: np.ndarray, max_floats: int = 2**24) -> np.ndarray:
    """``(n, k)`` float64 squared Euclidean distances from each sample to its ``indices``,
    in blocks of rows of about ``max_floats`` gathered values (all rows at once would hold
    ``n * k * d``); a sparse ``X`` is made dense one block at a time."""
    n, k = indices.shape
    sparse = scipy.sparse.issparse(X)
    data = (scipy.sparse.csr_matrix(X, dtype=np.float32) if sparse
            else np.asarray(X, dtype=np.float32).reshape(n, -1))
    d = data.shape[1]
    rows = max(1, max_floats // max(1, k * d))
    out = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, rows):
        block = slice(start, start + rows)
        anchors, neighbours = data[block], data[indices[block].ravel()]
        if sparse:
            anchors, neighbours = anchors.toarray(), neighbours.toarray()
        diff = neighbours.reshape(-1, k, d) - anchors[:, None, :]
        out[block] = np.einsum("nkd,nkd->nk", diff, diff, dtype=np.float64)
    return out


def _membership_strengths(distances: np.ndarray, target: float, iterations: int = 64) -> np.ndarray:
    """``exp(-(d - rho) / sigma)`` per row, ``sigma`` bisected so that each row sums to
    ``target`` (all rows at once; ``rho`` is the row's smallest positive distance)."""
    positive = np.where(distances > 0, distances, np.inf)
    rho = np.min(positive, axis=1, keepdims=True)
    rho = np.where(np.isfinite(rho), rho, 0.0)
    excess = np.maximum(distances - rho, 0.0)
    floor = 1e-3 * distances.sum(axis=1, keepdims=True) / (distances.shape[1] + 1)
    sigma = _bisect_rows(
        lambda sigma: np.exp(-excess / sigma).sum(axis=1, keepdims=True) <= target,
        len(distances), iterations,
    )
    return np.exp(-excess / np.maximum(sigma, floor))


def _bisect_rows(too_small: Any, rows: int, iterations: int) -> np.ndarray:
    """Per row, the positive ``x`` (a column) where ``too_small(x)`` turns from true to
    false: ``x`` doubles from 1 until the row is bracketed, then the bracket is halved."""
    lo = np.zeros((rows, 1))
    hi = np.full((rows, 1), np.inf)
    x = np.ones((rows, 1))
    for _ in range(iterations):
        small = too_small(x)
        lo = np.where(small, x, lo)
        hi = np.where(small, hi, x)
        x = np.where(np.isinf(hi), x * 2, (lo + hi) / 2)
    return x


def conditional_probabilities(
    sq_distances: np.ndarray, perplexity: float, iterations: int = 100
) -> np.ndarray:
    """Per row, ``exp(-beta d^2)`` normalised, ``beta`` bisected so that the row's
    perplexity is ``perplexity`` (all rows at once): t-SNE's conditional affinities of each
    sample to its neighbours, from their squared distances ``(n, k)``.

    >>> p = conditional_probabilities(np.array([[1.0, 4.0, 9.0, 16.0]]), 2.0)
    >>> round(float(np.exp(-np.sum(p * np.log(p)))), 6), bool(np.all(np.diff(p) < 0))
    (2.0, True)
    """
    shifted = sq_distances - sq_distances.min(axis=1, keepdims=True)  # same p, no overflow
    # beta in units of 1 / the row's median spread (its mean where that is 0), so that the
    # bisection's range (2^-100 to 2^100) holds it even beside a far outlier.
    scale = np.median(shifted, axis=1, keepdims=True)
    scale = np.where(scale > 0, scale, shifted.mean(axis=1, keepdims=True))
    shifted = shifted / np.where(scale > 0, scale, 1.0)
    def too_flat(beta: np.ndarray) -> np.ndarray:  # entropy above log(perplexity)
        weights = np.exp(-beta * shifted)
        total = weights.sum(axis=1, keepdims=True)
        entropy = np.log(total) + beta * (weights * shifted).sum(axis=1, keepdims=True) / total
        return entropy > math.log(perplexity)

    beta = _bisect_rows(too_flat, len(shifted), iterations)
    weights = np.exp(-beta * shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def symmetrize(neighbors: Any) -> Graph:
    """A symmetric :class:`Graph` from a directed neighbour table (n, k), ``-1`` = none.

    ``i ~ j`` if ``j`` appears in row ``i`` or ``i`` in row ``j``. Self entries are dropped,
    so a table that lists every sample as its own first neighbour (as scikit-learn's
    ``kneighbors(X)`` does) can be passed as is. ``directed_pairs`` counts the distinct
    non-self entries. A :class:`Graph` is returned unchanged (it is symmetric already).

    >>> symmetrize(np.array([[1], [2], [1]])).neighbors.tolist()
    [[1, -1], [0, 2], [1, -1]]
    """
    if isinstance(neighbors, Graph):
        return neighbors
    table = as_int_array(neighbors, "neighbors", ndim=2).astype(np.int64)
    n = table.shape[0]
    if n == 0:
        raise ValueError("neighbors must have at least one row, got shape (0, ...)")
    if table.size and (table.min() < -1 or table.max() >= n):
        raise ValueError(
            f"neighbors must hold ids in [0, {n}) or -1, got range [{table.min()}, {table.max()}]"
        )
    rows, cols = np.nonzero(table >= 0)
    src, dst = rows.astype(np.int64), table[rows, cols]
    keep = src != dst
    directed = np.unique(src[keep] * n + dst[keep]).size
    return _graph_from_edges(src, dst, n, directed_pairs=directed)


def label_graph(labels: Any) -> Graph:
    """Supervised DrLIM: samples with the same label are similar.

    Stored as groups (O(n) memory) with an empty (n, 0) neighbour table. Labels may be
    any values that :func:`numpy.unique` can sort (ints, strings); NaN is refused.

    >>> g = label_graph([4, 9, 4])
    >>> g.groups.tolist(), g.degree.tolist()
    ([0, 1, 0], [1, 0, 1])
    """
    values = np.asarray(labels)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {values.shape}")
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ValueError("labels must not contain NaN or inf")
    _, groups = np.unique(values, return_inverse=True)
    table = np.empty((values.size, 0), dtype=np.int32)
    return Graph(table, groups=groups.astype(np.int32).reshape(-1))


def grid_graph(
    azimuth: Any,
    elevation: Any,
    azimuth_step: float = 20.0,
    elevation_step: float = 5.0,
    circular_azimuth: bool = True,
    instance: Any = None,
) -> Graph:
    """Pose graph for factor grids like NORB: similar when within one step in both factors.

    Two samples are similar when their azimuths differ by at most one ``azimuth_step``
    (circularly: 340 deg is next to 0 deg) and their elevations by at most one
    ``elevation_step``, whatever the other factors (lighting): the 3 x 3 block of poses
    around a sample, its own pose included. On NORB's 18 x 9 x 6 grid this gives 53 similar
    images per image (35 at the lowest and highest elevation) and, for 660 random training
    images, about 10,975 similar pairs on average (the paper reports 10,989). Angles are in
    degrees and must lie on the grid (multiples of the step). With ``instance`` given, only
    samples of the same instance (object) are similar.

    >>> g = grid_graph([0, 340, 20, 0], [30, 30, 30, 40])
    >>> g.neighbors.tolist()
    [[1, 2], [0, -1], [0, -1], [-1, -1]]
    """
    az = as_vector(azimuth, "azimuth")
    el = as_vector(elevation, "elevation")
    n = az.size
    if el.size != n:
        raise ValueError(f"elevation must have the length of azimuth ({n}), got {el.size}")
    az_step = check_number(azimuth_step, "azimuth_step", 0, closed="right")
    el_step = check_number(elevation_step, "elevation_step", 0, closed="right")
    az_idx = _grid_index(az, az_step, "azimuth")
    el_idx = _grid_index(el, el_step, "elevation")
    el_idx -= el_idx.min()
    if circular_azimuth:
        n_az = 360.0 / azimuth_step
        if abs(n_az - round(n_az)) > 1e-6:
            raise ValueError(
                f"azimuth_step must divide 360 when circular_azimuth is true, got {azimuth_step}"
            )
        n_az = round(n_az)
        az_idx %= n_az
    else:
        az_idx -= az_idx.min()
        n_az = int(az_idx.max()) + 3  # room for the -1 and +1 offsets without wrapping
        az_idx += 1
    n_el = int(el_idx.max()) + 3
    el_idx += 1
    if instance is None:
        inst = np.zeros(n, dtype=np.int64)
    else:
        inst = as_int_array(instance, "instance", ndim=1).astype(np.int64)
        if inst.size != n:
            raise ValueError(f"instance must have the length of azimuth ({n}), got {inst.size}")
        inst = np.unique(inst, return_inverse=True)[1].reshape(-1).astype(np.int64)
    keys = (inst * n_az + az_idx) * n_el + el_idx
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    src_parts, dst_parts = [], []
    for d_az in (-1, 0, 1):
        target_az = (az_idx + d_az) % n_az
        for d_el in (-1, 0, 1):
            target = (inst * n_az + target_az) * n_el + el_idx + d_el
            lo = np.searchsorted(sorted_keys, target, side="left")
            hi = np.searchsorted(sorted_keys, target, side="right")
            counts = hi - lo
            src_parts.append(np.repeat(np.arange(n, dtype=np.int64), counts))
            dst_parts.append(order[_expand_ranges(lo, counts)])
    return _graph_from_edges(np.concatenate(src_parts), np.concatenate(dst_parts), n)


def sequence_graph(n: int, window: int, sequence_ids: Any = None) -> Graph:
    """Temporal neighbours: samples ``i`` and ``j`` are similar when ``0 < |i - j| <= window``.

    With ``sequence_ids`` (n,) given, pairs whose samples belong to different sequences are
    dropped (positions still count in the whole array, so keep each sequence contiguous).
    A window of ``n`` or more links every pair.

    >>> sequence_graph(4, window=2).neighbors.tolist()
    [[1, 2, -1], [0, 2, 3], [0, 1, 3], [1, 2, -1]]
    """
    n = check_int(n, "n", minimum=1)
    window = min(check_int(window, "window", minimum=1), max(n - 1, 1))
    ids = None
    if sequence_ids is not None:
        ids = as_int_array(sequence_ids, "sequence_ids", ndim=1)
        if ids.size != n:
            raise ValueError(f"sequence_ids must have length n={n}, got {ids.size}")
    src_parts, dst_parts = [], []
    for offset in range(1, window + 1):
        src = np.arange(n - offset, dtype=np.int64)
        dst = src + offset
        if ids is not None:
            same = ids[src] == ids[dst]
            src, dst = src[same], dst[same]
        src_parts.append(src)
        dst_parts.append(dst)
    return _graph_from_edges(np.concatenate(src_parts), np.concatenate(dst_parts), n)


def orbit_graph(graph: Graph, orbit_ids: Any) -> Graph:
    """The paper's shift-invariance rule: similarity lifted to orbits of transformed copies.

    ``orbit_ids`` (n,) says which samples are transformed copies of one original (same id,
    same orbit). ``i ~ j`` when they are in the same orbit, or ``j`` is a neighbour of ``i``
    in ``graph``, or ``j``'s orbit contains a neighbour (in ``graph``) of some member of
    ``i``'s orbit. With the 5-NN graph of the originals and 5 shifted positions per digit,
    each sample is similar to its 4 translations, its 5 nearest neighbours and the 4
    translations of each of them, and each copy likewise (paper, Sec. 4.2). Groups of
    ``graph`` are kept; each orbit must then lie within one group.

    >>> base = pairs_graph([0], [1], n=4)        # originals 0 and 1 are neighbours
    >>> g = orbit_graph(base, [0, 1, 0, 1])      # 2 is a copy of 0, 3 a copy of 1
    >>> g.neighbors.tolist()
    [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"graph must be a Graph, got {type(graph).__name__}")
    raw = as_int_array(orbit_ids, "orbit_ids", ndim=1)
    n = graph.n
    if raw.size != n:
        raise ValueError(f"orbit_ids must have length graph.n={n}, got {raw.size}")
    orbit = np.unique(raw, return_inverse=True)[1].reshape(-1).astype(np.int64)
    members = np.argsort(orbit, kind="stable").astype(np.int64)
    sizes = np.bincount(orbit)
    starts = np.cumsum(sizes) - sizes
    if graph.groups is not None:
        group_sorted = graph.groups[members]
        if np.any(
            np.minimum.reduceat(group_sorted, starts) != np.maximum.reduceat(group_sorted, starts)
        ):
            raise ValueError("orbit_ids: every orbit must lie within one group of graph.groups")
    # Within each orbit: every member with every member.
    within_src = np.repeat(np.arange(n, dtype=np.int64), sizes[orbit])
    within_dst = members[_expand_ranges(starts[orbit], sizes[orbit])]
    # Across orbits: each pair of orbits joined by an edge, all members with all members.
    src, dst = edges(graph)
    oa, ob = orbit[src], orbit[dst]
    oa, ob = np.minimum(oa, ob)[oa != ob], np.maximum(oa, ob)[oa != ob]
    linked = np.unique(oa * len(sizes) + ob)
    oa, ob = linked // len(sizes), linked % len(sizes)
    across_src = members[_expand_ranges(starts[oa], sizes[oa])]
    pair_ob = np.repeat(ob, sizes[oa])
    across_dst = members[_expand_ranges(starts[pair_ob], sizes[pair_ob])]
    across_src = np.repeat(across_src, sizes[pair_ob])
    return _graph_from_edges(
        np.concatenate([within_src, across_src]),
        np.concatenate([within_dst, across_dst]),
        n,
        groups=graph.groups,
    )


def copies_graph(graph: Graph, copies: int) -> Graph:
    """The shift prior at scale: neighbours within each copy, plus each sample's own orbit.

    For ``n`` originals (``graph`` over them) and ``copies`` transformed versions of each,
    laid out as :func:`drlim.data.shift_images` lays them out (sample ``c * n + i`` is copy
    ``c`` of original ``i``), sample ``c * n + i`` is similar to ``c * n + j`` for every
    neighbour ``j`` of ``i`` in ``graph`` (same copy), and to every other copy of ``i`` (a
    group per original). This is :func:`orbit_graph` without the edges from a sample to
    the copies of its neighbours at other shifts, which are two steps away through the
    orbit: ``copies * n * (copies - 1 + mean degree)`` directed relations instead of
    about ``copies * n * (copies - 1 + copies * mean degree)``, and a table only as wide as
    ``graph``'s -- built by tiling, in O(copies * n * width) time and memory.

    >>> base = pairs_graph([0], [1], n=2)        # originals 0 and 1 are neighbours
    >>> g = copies_graph(base, copies=2)         # 2 is a copy of 0, 3 a copy of 1
    >>> g.neighbors.tolist(), g.groups.tolist()
    ([[1], [0], [3], [2]], [0, 1, 0, 1])
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"graph must be a Graph, got {type(graph).__name__}")
    if graph.groups is not None or graph.weights is not None:
        raise ValueError("graph must have no groups and no weights, got a graph with them")
    copies = check_int(copies, "copies", minimum=1)
    n = graph.n
    if copies * n >= np.iinfo(np.int32).max:
        raise ValueError(f"copies * graph.n must be < 2**31 - 1, got {copies * n}")
    table = np.tile(graph.neighbors, (copies, 1))
    offsets = np.repeat(np.arange(copies, dtype=np.int32) * np.int32(n), n)
    table += np.where(table >= 0, offsets[:, None], np.int32(0))
    groups = np.tile(np.arange(n, dtype=np.int32), copies)
    return Graph(table, groups=groups if copies > 1 else None)


def pairs_graph(i: Any, j: Any, n: int) -> Graph:
    """A graph from user-given similar pairs ``(i[t], j[t])`` over ``n`` samples.

    Order, repeats and self pairs do not matter (a sample is never its own pair).

    >>> pairs_graph([0, 2], [1, 1], n=4).neighbors.tolist()
    [[1, -1], [0, 2], [1, -1], [-1, -1]]
    """
    n = check_int(n, "n", minimum=1)
    src = as_int_array(i, "i", ndim=1).astype(np.int64)
    dst = as_int_array(j, "j", ndim=1).astype(np.int64)
    if src.shape != dst.shape:
        raise ValueError(f"i and j must have the same length, got {src.size} and {dst.size}")
    for name, ids in (("i", src), ("j", dst)):
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ValueError(
                f"{name} must hold ids in [0, {n}), got range [{ids.min()}, {ids.max()}]"
            )
    return _graph_from_edges(src, dst, n)


def union(*graphs: Graph) -> Graph:
    """Samples similar in any of the graphs are similar. At most one graph may have groups,
    and none may be weighted (a union of similar pairs has no one weight for a pair).

    >>> g = union(label_graph([0, 0, 1]), pairs_graph([1], [2], n=3))
    >>> g.to_dense().astype(int).tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    """
    if not graphs:
        raise ValueError("graphs must hold at least one graph, got none")
    for position, graph in enumerate(graphs):
        if not isinstance(graph, Graph):
            raise ValueError(f"graphs[{position}] must be a Graph, got {type(graph).__name__}")
    weighted = [position for position, graph in enumerate(graphs) if graph.weights is not None]
    if weighted:
        raise ValueError(
            f"graphs must be unweighted, got weights in graphs[{weighted[0]}] (the union would "
            "drop them); unite the unweighted graphs and weigh the result yourself"
        )
    n = graphs[0].n
    sizes = [graph.n for graph in graphs]
    if any(size != n for size in sizes):
        raise ValueError(f"graphs must all have the same number of samples, got {sizes}")
    with_groups = [graph.groups for graph in graphs if graph.groups is not None]
    if len(with_groups) > 1:
        raise ValueError(
            f"graphs must include at most one graph with groups, got {len(with_groups)} "
            "(a union of two partitions is not a partition; use edges(include_groups=True))"
        )
    pairs = [edges(graph) for graph in graphs]
    return _graph_from_edges(
        np.concatenate([p[0] for p in pairs]),
        np.concatenate([p[1] for p in pairs]),
        n,
        groups=with_groups[0] if with_groups else None,
    )


def _graph_from_edges(
    src: np.ndarray,
    dst: np.ndarray,
    n: int,
    groups: np.ndarray | None = None,
    directed_pairs: int | None = None,
) -> Graph:
    """Symmetrise, drop self loops, duplicates and edges inside a group, and pad the rows."""
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = src != dst
    if groups is not None:
        keep &= ~((groups[src] >= 0) & (groups[src] == groups[dst]))
    keys = np.unique(src[keep] * n + dst[keep])
    src, dst = keys // n, keys % n
    counts = np.bincount(src, minlength=n)
    width = int(counts.max()) if keys.size else 0
    starts = np.cumsum(counts) - counts
    table = np.full((n, width), -1, dtype=np.int32)
    table[src, np.arange(keys.size) - starts[src]] = dst
    return Graph(table, groups=groups, directed_pairs=directed_pairs)


def _group_pairs(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs i < j inside each group."""
    ids = np.flatnonzero(groups >= 0).astype(np.int64)
    order = ids[np.argsort(groups[ids], kind="stable")]
    sizes = np.bincount(groups[ids])
    starts = np.cumsum(sizes) - sizes
    g = groups[order]
    # Pair each member with the members after it in its group.
    position = np.arange(order.size) - starts[g]
    after = sizes[g] - position - 1
    src = np.repeat(order, after)
    dst = order[_expand_ranges(starts[g] + position + 1, after)]
    swap = src > dst
    src, dst = np.where(swap, dst, src), np.where(swap, src, dst)
    return src, dst


def _expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for every (s, c), without a Python loop."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(counts)
    shift = np.repeat(np.asarray(starts, np.int64) - (ends - counts), counts)
    return np.arange(total, dtype=np.int64) + shift


def _check_weights(weights: Any, table: np.ndarray) -> np.ndarray:
    """Weights as float32, aligned with ``table``: in (0, 1] on edges, 0 on padding, symmetric."""
    try:
        w = np.asarray(weights, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"weights must be numeric, got {type(weights).__name__}") from error
    if w.shape != table.shape:
        raise ValueError(f"weights must have the shape of neighbors {table.shape}, got {w.shape}")
    valid = table >= 0
    if not np.all(np.isfinite(w)) or np.any(w[valid] <= 0) or np.any(w[valid] > 1):
        bad = w[valid][~((w[valid] > 0) & (w[valid] <= 1))]
        shown = bad[0] if bad.size else w[~np.isfinite(w)][0]
        raise ValueError(f"weights must be finite and in (0, 1] on every edge, got {shown}")
    if np.any(w[~valid] != 0):
        raise ValueError(
            f"weights must be 0 on the -1 padding of neighbors, got {w[~valid][w[~valid] != 0][0]}"
        )
    n = table.shape[0]
    rows, cols = np.nonzero(valid)
    dst = table[rows, cols].astype(np.int64)
    forward = np.argsort(rows * n + dst)
    backward = np.argsort(dst * n + rows)
    edge_weights = w[rows, cols]
    if not np.array_equal(edge_weights[forward], edge_weights[backward]):
        first = forward[np.argmax(edge_weights[forward] != edge_weights[backward])]
        i, j = int(rows[first]), int(dst[first])
        raise ValueError(
            f"weights must be symmetric (w_ij == w_ji), got w_{i},{j} = {edge_weights[first]} "
            f"and w_{j},{i} = {w[j, table[j] == i][0]}"
        )
    return np.array(w)


def _check_ids(table: np.ndarray) -> None:
    """Check that a neighbour table, of any integer type, holds row ids or -1."""
    n = table.shape[0]
    if table.size and (table.min() < -1 or table.max() >= n):
        raise ValueError(
            f"neighbors must hold ids in [0, {n}) or -1, got range [{table.min()}, {table.max()}]"
        )


def _check_table(table: np.ndarray) -> None:
    """Check the other Graph invariants of an int32 table whose ids :func:`_check_ids`
    passed: -1 padding at the end, sorted rows without duplicates or self loops, symmetry."""
    n = table.shape[0]
    if table.size == 0:
        return
    valid = table >= 0
    early_padding = np.any(valid[:, 1:] & ~valid[:, :-1], axis=1)
    if np.any(early_padding):
        raise ValueError(
            "neighbors must have its -1 padding at the end of each row, "
            f"got an id after -1 in row {int(np.argmax(early_padding))}"
        )
    unsorted = np.any(valid[:, 1:] & (np.diff(table, axis=1) <= 0), axis=1)
    if np.any(unsorted):
        raise ValueError(
            "neighbors must have sorted rows without duplicates, "
            f"got row {int(np.argmax(unsorted))}"
        )
    rows, cols = np.nonzero(valid)
    dst = table[rows, cols].astype(np.int64)
    if np.any(rows == dst):
        loop = int(rows[rows == dst][0])
        raise ValueError(f"neighbors must not contain self loops, got {loop} in row {loop}")
    forward = np.sort(rows * n + dst)
    backward = np.sort(dst * n + rows)
    if not np.array_equal(forward, backward):
        i, j = divmod(int(np.setdiff1d(forward, backward)[0]), n)
        raise ValueError(
            "neighbors must be symmetric (j in row i exactly when i in row j), "
            f"got {j} in row {i} but not {i} in row {j}"
        )


def _grid_index(values: np.ndarray, step: float, name: str) -> np.ndarray:
    """Integer grid positions ``values / step``; refuses values off the grid."""
    scaled = values / step
    index = np.round(scaled)
    if np.any(np.abs(scaled - index) > 1e-6 * np.maximum(1.0, np.abs(scaled))):
        bad = values[np.argmax(np.abs(scaled - index))]
        raise ValueError(f"{name} must be multiples of its step {step}, got {bad}")
    return index.astype(np.int64)


__all__ = [
    "Graph",
    "describe",
    "edges",
    "fuzzy_knn_graph",
    "conditional_probabilities",
    "graph_from_sparse",
    "grid_graph",
    "knn_graph",
    "knn_indices",
    "label_graph",
    "copies_graph",
    "orbit_graph",
    "pairs_graph",
    "perplexity_graph",
    "sequence_graph",
    "symmetrize",
    "union",
]
