"""Quality figures for embeddings: neighbourhood preservation, invariance, geometry.

Every function takes NumPy or JAX arrays of embeddings (and, where needed, the inputs
or the known factors of variation of the same samples) and returns plain Python floats,
so results can go straight into ``metrics.json``. They are meant for test samples: the
figures of the paper are about how well the learned mapping treats data it never saw.

- :func:`trustworthiness` / :func:`continuity`: are embedded neighbours true neighbours,
  and are true neighbours kept close (Venna & Kaski 2001)?
- :func:`knn_accuracy` / :func:`split_knn_accuracy`: can a k-NN classifier read a factor
  (digit class, shift) off the map?
- :func:`orbit_spread_ratio`, :func:`lighting_spread_ratio`: how well a transformation
  (shift, lighting) has been forgotten.
- :func:`cylinder_fit`: does a 3-D map look like the paper's NORB cylinder (Fig. 8)?
- :func:`coinciding_fraction`: has the map collapsed samples onto one another (which
  trustworthiness, ranking samples a hair apart as if apart, cannot see)?
- :func:`transform_stability`: does a sample's place on the map depend on which other samples
  were mapped with it?
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import spearmanr
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from drlim.validation import as_samples, as_vector, check_int, check_number, check_same_shape

__all__ = [
    "coinciding_fraction",
    "continuity",
    "cylinder_fit",
    "fisher_lee_correlation",
    "knn_accuracy",
    "lighting_spread_ratio",
    "orbit_spread_ratio",
    "split_knn_accuracy",
    "spread",
    "transform_stability",
    "trustworthiness",
]


def _rank_penalty(rank_space: np.ndarray, neighbors: np.ndarray, block_size: int) -> float:
    """Sum over i and j in ``neighbors[i]`` of ``max(0, r(i, j) - k)``.

    ``r(i, j)`` is the rank of j among all other samples by Euclidean distance from i in
    ``rank_space`` (1 = nearest). Samples at exactly j's distance share its place in random
    order, so a tied j's penalty is its mean over the ranks the tie spans (the expectation
    of scikit-learn's arbitrary order). Giving ties the best rank instead would reward a map
    that collapses samples onto one point with a perfect continuity. Works ``block_size``
    rows at a time: memory is O(block_size * n), never O(n^2).
    """
    n, k = neighbors.shape
    sq_norms = np.einsum("ij,ij->i", rank_space, rank_space)
    total = 0.0
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        rows = np.arange(start, stop)
        # Squared distances rank the same as distances.
        dist = sq_norms[start:stop, None] + sq_norms[None, :] - 2.0 * (
            rank_space[start:stop] @ rank_space.T
        )
        dist[rows - start, rows] = np.inf
        nb_dist = np.take_along_axis(dist, neighbors[start:stop], axis=1)
        for j in range(k):
            closer = np.count_nonzero(dist < nb_dist[:, j : j + 1], axis=1)
            tied = np.count_nonzero(dist == nb_dist[:, j : j + 1], axis=1)  # j included
            total += float(np.sum(_mean_excess(closer + 1, closer + tied, k)))
    return total


def _near_unit(space: np.ndarray) -> np.ndarray:
    """``space`` less its mean rounded to whole numbers, times a power of two that brings its
    largest value into [0.5, 1): the distances rank as before, integer data stay exact (so
    its ties stay ties), and ``|a|^2 + |b|^2 - 2 a.b`` (here and in scikit-learn's neighbour
    search) neither loses small distances to a large offset nor overflows.

    >>> _near_unit(np.array([[1e8 + 1.0], [1e8 + 3.0]])).ravel().tolist()
    [-0.5, 0.5]
    """
    shifted = space - np.round(space.mean(axis=0))
    largest = np.max(np.abs(shifted))
    return np.ldexp(shifted, -np.frexp(largest)[1]) if largest > 0 else shifted


def _mean_excess(first: np.ndarray, last: np.ndarray, k: int) -> np.ndarray:
    """Mean of ``max(0, r - k)`` over the ranks r = first, ..., last."""
    def excess_sum(m: np.ndarray) -> np.ndarray:  # sum of max(0, r - k) over r = 1 .. m
        over = np.maximum(m - k, 0)
        return over * (over + 1) / 2.0

    return (excess_sum(last) - excess_sum(first - 1)) / (last - first + 1)


def _neighbourhood_score(
    rank_space: np.ndarray, neighbor_space: np.ndarray, k: int, block_size: int
) -> float:
    """Shared body of trustworthiness and continuity (roles of the spaces as named)."""
    n = rank_space.shape[0]
    rank_space, neighbor_space = _near_unit(rank_space), _near_unit(neighbor_space)
    neighbors = NearestNeighbors(n_neighbors=k).fit(neighbor_space).kneighbors(
        return_distance=False
    )
    penalty = _rank_penalty(rank_space, neighbors, block_size)
    return float(1.0 - penalty * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


def _check_pair(X, Z, k: int, block_size: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Validate the common arguments of trustworthiness and continuity."""
    X = as_samples(X, "X", min_samples=3, dtype=np.float64)
    Z = as_samples(Z, "Z", min_samples=3, dtype=np.float64)
    check_same_shape(X, Z, ("X", "Z"), axis=0)
    k = check_int(k, "k", 1, (X.shape[0] - 1) // 2)  # k < n / 2
    block_size = check_int(block_size, "block_size", 1)
    return X, Z, k, block_size


def trustworthiness(X, Z, k: int = 5, block_size: int = 1024) -> float:
    r"""Trustworthiness of embedding ``Z`` of inputs ``X`` (Venna & Kaski 2001).

    .. math::
        T(k) = 1 - \frac{2}{nk(2n - 3k - 1)} \sum_i \sum_{j \in U_i^k} \max(0, r(i, j) - k)

    where :math:`U_i^k` are the k nearest neighbours of i in the embedding and
    :math:`r(i, j)` is the rank of j by Euclidean distance from i in input space. It
    penalises points that look close on the map but are far apart in the data. Same
    definition as ``sklearn.manifold.trustworthiness`` (Euclidean metric), computed
    ``block_size`` rows at a time so that 10,000 points need about
    ``block_size * n * 8`` bytes instead of several n x n matrices. Samples at exactly the
    same input distance (common with integer pixels) are ranked in random order, in
    expectation; on tie-free data the value equals scikit-learn's.

    Args:
      X: inputs, (n, d) or images (n, H, W, C) (flattened).
      Z: embeddings of the same samples, (n, p).
      k: neighbourhood size, 1 <= k < n / 2 (so that the value lies in [0, 1]).
      block_size: rows of the input-space distance matrix held at once.

    Returns:
      A float in [0, 1]; 1 means every embedded neighbour is a true k-neighbour.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 10))
    >>> trustworthiness(X, X[:, :2], k=5) < trustworthiness(X, X, k=5) == 1.0
    True
    """
    X, Z, k, block_size = _check_pair(X, Z, k, block_size)
    return _neighbourhood_score(X, Z, k, block_size)


def continuity(X, Z, k: int = 5, block_size: int = 1024) -> float:
    r"""Continuity of embedding ``Z`` of inputs ``X`` (Venna & Kaski 2001).

    Trustworthiness with the roles of the two spaces swapped:

    .. math::
        C(k) = 1 - \frac{2}{nk(2n - 3k - 1)} \sum_i \sum_{j \in V_i^k} \max(0, \hat r(i, j) - k)

    where :math:`V_i^k` are the k nearest neighbours of i in input space (Euclidean) and
    :math:`\hat r(i, j)` is the rank of j by distance from i in the embedding. It
    penalises true neighbours that the map tears apart. Equals
    ``trustworthiness(Z, X, k)``. Samples that coincide on the map are ranked in random
    order, in expectation, so a map gains nothing by collapsing: all samples on one point
    score about 0.5, as a random map does, not 1.

    Args:
      X: inputs, (n, d) or images (n, H, W, C) (flattened).
      Z: embeddings of the same samples, (n, p).
      k: neighbourhood size, 1 <= k < n / 2.
      block_size: rows of the embedding distance matrix held at once.

    Returns:
      A float in [0, 1]; 1 means every true k-neighbour stays among the k nearest on the map.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 10))
    >>> continuity(X, X, k=5)
    1.0
    """
    X, Z, k, block_size = _check_pair(X, Z, k, block_size)
    return _neighbourhood_score(Z, X, k, block_size)


def knn_accuracy(Z_train, y_train, Z_test, y_test, k: int = 5) -> float:
    """Accuracy of a k-NN classifier (Euclidean, majority vote) fitted on ``Z_train``.

    Measures how much of a factor (digit class, shift, ...) can be read off the map: high
    for a factor the map keeps, near chance for a factor it has forgotten.

    Args:
      Z_train: (n_train, p) embeddings with labels ``y_train`` (n_train,).
      Z_test: (n_test, p) embeddings with labels ``y_test`` (n_test,).
      k: number of neighbours that vote, 1 <= k <= n_train.

    Returns:
      Fraction of test samples whose predicted label equals ``y_test``.

    >>> import numpy as np
    >>> Z = np.array([[0.0], [0.1], [5.0], [5.1]]); y = np.array([0, 0, 1, 1])
    >>> knn_accuracy(Z, y, Z + 0.05, y, k=1)
    1.0
    """
    Z_train = as_samples(Z_train, "Z_train", dtype=np.float64)
    Z_test = as_samples(Z_test, "Z_test", dtype=np.float64)
    y_train = as_vector(y_train, "y_train", length=Z_train.shape[0], numeric=False)
    y_test = as_vector(y_test, "y_test", length=Z_test.shape[0], numeric=False)
    check_same_shape(Z_train, Z_test, ("Z_train", "Z_test"), axis=1)
    k = check_int(k, "k", 1, Z_train.shape[0])
    kinds = {_label_kind(y_train), _label_kind(y_test)}
    if kinds == {"number", "text"}:
        # 3 == "3" is False: mixed kinds would score 0 without an error.
        raise ValueError(f"y_train and y_test must hold labels of one kind (numbers or text), "
                         f"got {y_train.dtype} and {y_test.dtype}")
    classifier = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train)
    return float(np.mean(classifier.predict(Z_test) == y_test))


def _label_kind(labels: np.ndarray) -> str:
    """"number", "text" or "other" (Python objects, which may hold either)."""
    kind = labels.dtype.kind
    return "number" if kind in "biuf" else "text" if kind in "US" else "other"


def spread(Z: np.ndarray) -> float:
    """The map's spread: the root mean square distance of the samples to their centroid.

    >>> spread(np.array([[0.0, 0.0], [2.0, 0.0]]))
    1.0
    """
    return float(np.sqrt(np.mean(np.sum((Z - Z.mean(axis=0)) ** 2, axis=1))))


def coinciding_fraction(Z, rtol: float = 1e-4) -> float:
    """Fraction of samples whose nearest other sample lies on top of them.

    "On top" means closer than ``rtol`` times the map's spread (the root mean square
    distance of the samples to their centroid). Saturated units or a collapsed map put
    many distinct inputs on the same point, or a hair apart; neighbourhood scores do not
    show it (continuity ranks samples a hair apart on the map as if they were apart, and
    exact ties in random order; trustworthiness takes the map's k nearest in scikit-learn's
    order, ties included), this does. A healthy
    continuous map of distinct inputs scores 0.

    >>> import numpy as np
    >>> coinciding_fraction(np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]))
    0.5
    """
    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    rtol = check_number(rtol, "rtol", 0, closed="right")
    scale = spread(Z)
    if scale == 0.0:
        return 1.0
    nearest, _ = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z)
    return float(np.mean(nearest[:, 1] < rtol * scale))


def transform_stability(Z, Z_regrouped, index=None) -> float:
    """Largest move of a sample between two groupings of one transform, over the map's spread.

    ``Z`` maps a set of samples in one call; ``Z_regrouped`` maps the samples ``index`` of
    that set (all of them when None) in other calls, e.g. in two halves or one at a time.
    A learned function maps each sample on its own and scores 0 (up to rounding); methods
    whose ``transform`` optimises the new samples together (UMAP, PaCMAP) can place a
    sample differently depending on the other rows of the call. The move of sample i is
    the Euclidean distance ``||Z[index[i]] - Z_regrouped[i]||``; the spread is the root
    mean square distance of the rows of ``Z`` to their centroid (the scale
    :func:`coinciding_fraction` uses), so 1.0 means a sample moved as far as a typical
    sample lies from the centre of the map.

    Args:
      Z: (n, p) embedding of the samples mapped in one call; its spread must be > 0.
      Z_regrouped: (m, p) embedding of the samples ``index`` mapped in another grouping.
      index: (m,) distinct row indices into ``Z``; None means ``m == n`` and the same order.

    Returns:
      ``max_i ||Z[index[i]] - Z_regrouped[i]|| / spread(Z)``.

    >>> import numpy as np
    >>> Z = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # spread sqrt(2)
    >>> transform_stability(Z, Z)
    0.0
    >>> round(transform_stability(Z, Z[[3]] + [0.0, 0.5], index=[3]), 4)
    0.3536
    """
    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    Z_regrouped = as_samples(Z_regrouped, "Z_regrouped", dtype=np.float64)
    if index is None:
        rows = np.arange(Z.shape[0])
    else:
        rows = np.asarray(index)
        if (rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer)
                or np.unique(rows).size != rows.size or rows.size == 0
                or rows.min() < 0 or rows.max() >= Z.shape[0]):
            raise ValueError(
                f"index must be distinct ints in [0, {Z.shape[0]}), got {index!r}"
            )
    if Z_regrouped.shape != (rows.size, Z.shape[1]):
        raise ValueError(
            f"Z_regrouped must have shape ({rows.size}, {Z.shape[1]}), "
            f"got {Z_regrouped.shape}"
        )
    scale = spread(Z)
    if scale == 0.0:
        raise ValueError("Z must have a spread > 0 (distinct points), got all points equal")
    moves = np.sqrt(np.sum((Z[rows] - Z_regrouped) ** 2, axis=1))
    return float(moves.max() / scale)


def split_knn_accuracy(Z, y, k: int = 5, seed: int = 0, groups=None) -> float:
    """k-NN accuracy when training on a random half of ``Z`` and predicting the other half.

    The paper's shift test: "a 5-NN classifier trained on half of the test embedding
    predicts the shift of the other half". The first half of a seeded permutation is the
    training half (the larger one when n is odd).

    With ``groups``, the halves are made of whole groups (the first half of a seeded
    permutation of the group ids), so that the transformed copies of one original never
    vote for each other. Scoring a factor the copies share, such as the digit of shifted
    copies, needs it: a map that collapses each original's copies, wherever it puts them,
    would otherwise find test samples' copies among their neighbours (below: two classes,
    400 originals of 5 copies each at random places, 0.688 where chance is 0.5).

    Args:
      Z: (n, p) embeddings, n >= 2.
      y: (n,) labels.
      k: number of neighbours that vote, 1 <= k <= the training half's size.
      seed: seed of the random split.
      groups: ``None``, or (n,) ids of the original each sample is a copy of (at least 2).

    >>> import numpy as np
    >>> Z = np.repeat([[0.0], [9.0]], 20, axis=0); y = np.repeat([0, 1], 20)
    >>> split_knn_accuracy(Z, y, k=3)
    1.0
    >>> copies = np.repeat(np.random.default_rng(0).normal(size=(400, 2)), 5, axis=0)
    >>> digit, source = np.repeat(np.arange(400) % 2, 5), np.repeat(np.arange(400), 5)
    >>> split_knn_accuracy(copies, digit), split_knn_accuracy(copies, digit, groups=source)
    (0.688, 0.455)
    """
    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    y = as_vector(y, "y", length=Z.shape[0], numeric=False)
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(Z.shape[0])
        train, test = order[: (Z.shape[0] + 1) // 2], order[(Z.shape[0] + 1) // 2 :]
    else:
        groups = as_vector(groups, "groups", length=Z.shape[0], numeric=False)
        ids, which = np.unique(groups, return_inverse=True)
        if len(ids) < 2:
            raise ValueError(f"groups must name at least 2 groups, got {len(ids)}")
        in_train = np.isin(which, rng.permutation(len(ids))[: (len(ids) + 1) // 2])
        train, test = np.flatnonzero(in_train), np.flatnonzero(~in_train)
    k = check_int(k, "k", 1, len(train))
    return knn_accuracy(Z[train], y[train], Z[test], y[test], k=k)


def _mean_random_pair_distance(Z: np.ndarray, n_pairs: int, seed: int) -> float:
    """Mean Euclidean distance over ``n_pairs`` random pairs of distinct rows of ``Z``."""
    rng = np.random.default_rng(seed)
    n = Z.shape[0]
    first = rng.integers(0, n, size=n_pairs)
    second = (first + rng.integers(1, n, size=n_pairs)) % n
    return float(np.mean(np.linalg.norm(Z[first] - Z[second], axis=1)))


def orbit_spread_ratio(Z, orbit_ids, seed: int = 0, n_pairs: int = 100_000) -> float:
    """How close the copies of one original stay, relative to random pairs.

    ``orbit_ids[i]`` names the original that sample i is a transformed copy of (e.g. the
    five shifted versions of one digit share an id). The ratio is the mean Euclidean
    distance over all pairs of samples within an orbit (pooled over orbits) divided by the
    mean distance between ``n_pairs`` random pairs of distinct samples. 0 means the
    transformation is perfectly forgotten; about 1 means copies are no closer than
    strangers.

    Args:
      Z: (n, p) embeddings.
      orbit_ids: (n,) ids; at least one id must occur twice.
      seed: seed for the random pairs.
      n_pairs: number of random pairs in the denominator.

    >>> import numpy as np
    >>> Z = np.random.default_rng(0).normal(size=(50, 2))
    >>> orbit_spread_ratio(np.repeat(Z, 3, axis=0), np.repeat(np.arange(50), 3))
    0.0
    """
    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    orbit_ids = as_vector(orbit_ids, "orbit_ids", length=Z.shape[0], numeric=False)
    n_pairs = check_int(n_pairs, "n_pairs", 1)
    seed = check_int(seed, "seed", 0)
    order = np.argsort(orbit_ids, kind="stable")
    _, starts = np.unique(orbit_ids[order], return_index=True)
    pair_sum = 0.0
    pair_count = 0
    for members in np.split(order, starts[1:]):
        if members.size < 2:
            continue
        first, second = np.triu_indices(members.size, k=1)
        points = Z[members]
        pair_sum += float(np.sum(np.linalg.norm(points[first] - points[second], axis=1)))
        pair_count += first.size
    if pair_count == 0:
        raise ValueError("orbit_ids must contain at least one id twice, got all ids distinct")
    random_mean = _mean_random_pair_distance(Z, n_pairs, seed)
    if random_mean == 0.0:
        raise ValueError("Z must hold distinct points, got all random pairs at distance 0")
    return float(pair_sum / pair_count / random_mean)


def fisher_lee_correlation(alpha, beta) -> float:
    r"""Fisher & Lee (1983) circular correlation between two angle arrays (radians).

    .. math::
        \rho = \frac{\sum_{i<j} \sin(\alpha_i - \alpha_j)\sin(\beta_i - \beta_j)}
        {\sqrt{\sum_{i<j} \sin^2(\alpha_i - \alpha_j) \sum_{i<j} \sin^2(\beta_i - \beta_j)}}

    It needs no circular mean (unlike Jammalamadaka & SenGupta's coefficient, whose mean
    is undefined for evenly spread azimuths), is invariant to rotating either angle, and
    changes sign when one is reflected. Computed in O(n) from sums of products of sines
    and cosines.

    Args:
      alpha, beta: (n,) angles in radians, n >= 2.

    Returns:
      A float in [-1, 1]; +1 when ``beta = alpha + c``, -1 when ``beta = c - alpha``.

    >>> import numpy as np
    >>> a = np.linspace(0, 2 * np.pi, 18, endpoint=False)
    >>> round(fisher_lee_correlation(a, 1.0 - a), 6)
    -1.0
    """
    alpha = as_vector(alpha, "alpha", min_length=2)
    beta = as_vector(beta, "beta", length=alpha.shape[0])
    sa, ca, sb, cb = np.sin(alpha), np.cos(alpha), np.sin(beta), np.cos(beta)
    cross = np.sum(sa * sb) * np.sum(ca * cb) - np.sum(sa * cb) * np.sum(ca * sb)
    spread_a = np.sum(sa * sa) * np.sum(ca * ca) - np.sum(sa * ca) ** 2
    spread_b = np.sum(sb * sb) * np.sum(cb * cb) - np.sum(sb * cb) ** 2
    denominator = np.sqrt(max(spread_a, 0.0) * max(spread_b, 0.0))
    if denominator == 0.0:
        return 0.0
    return float(np.clip(cross / denominator, -1.0, 1.0))


def _circle_centre(u: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Least-squares circle centre of points (u, v) (Kasa's algebraic fit).

    Solves ``u^2 + v^2 = 2 a u + 2 b v + c`` for (a, b, c); unlike the centroid, the
    centre (a, b) stays on the axis when azimuths are sampled unevenly.
    """
    design = np.stack([2.0 * u, 2.0 * v, np.ones_like(u)], axis=1)
    (a, b, _), *_ = np.linalg.lstsq(design, u * u + v * v, rcond=None)
    return float(a), float(b)


def _fit_cylinder(
    points: np.ndarray, axis: np.ndarray, plane: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Refine a cylinder around the start ``axis`` by geometric least squares.

    ``plane`` (2, 3) holds two unit vectors orthogonal to ``axis``. Fits the axis
    direction, a point on the axis and the radius to minimise the squared differences
    between each point's distance from the axis and the radius (principal axes alone
    tilt when poses are sampled unevenly). Returns the unit axis, a point on it, an
    orthonormal basis (2, 3) of the plane across it and the RMS residual / radius.
    """
    centre_u, centre_v = _circle_centre(points @ plane[0], points @ plane[1])
    start_centre = centre_u * plane[0] + centre_v * plane[1]

    def unpack(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        direction = axis + params[0] * plane[0] + params[1] * plane[1]
        return direction / np.linalg.norm(direction), (
            start_centre + params[2] * plane[0] + params[3] * plane[1]
        )

    def residuals(params: np.ndarray) -> np.ndarray:
        direction, centre = unpack(params)
        offsets = points - centre
        across = offsets - np.outer(offsets @ direction, direction)
        return np.linalg.norm(across, axis=1) - params[4]

    radius = float(np.mean(np.linalg.norm(np.outer(points @ axis, axis) - points, axis=1)))
    start = np.array([0.0, 0.0, 0.0, 0.0, radius])
    fit = least_squares(residuals, start, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    direction, centre = unpack(fit.x)
    first = plane[0] - (plane[0] @ direction) * direction
    first /= np.linalg.norm(first)
    relative_error = float(np.sqrt(np.mean(fit.fun**2)) / max(abs(fit.x[4]), 1e-300))
    return direction, centre, np.stack([first, np.cross(direction, first)]), relative_error


def cylinder_fit(Z, azimuth_deg, elevation_deg) -> dict:
    """How well a 3-D embedding forms the paper's NORB cylinder (Fig. 8).

    Each of the three principal axes of the centred embedding starts a candidate fit
    (for a cylinder that is longer around than along, the axis is the *least* varying
    one, so none is assumed), refined by geometric least squares (axis direction, a point
    on the axis, radius). For each candidate the angle of the embedding around its axis
    is compared with the true azimuth by the Fisher & Lee circular correlation (absolute
    value, so the direction of travel does not matter; see
    :func:`fisher_lee_correlation`); the candidate with the highest value is kept, ties
    going to the smaller fit residual. Along that axis, the position is compared with
    elevation by the absolute Spearman rank correlation; positions are first rounded to
    1e-6 of their range so that rounding noise does not break the ties of a perfect map
    (equal elevations).

    Args:
      Z: (n, 3) embeddings, n >= 3.
      azimuth_deg: (n,) true azimuths in degrees.
      elevation_deg: (n,) true elevations, at least two distinct values.

    Returns:
      ``{"azimuth_circular_corr": float, "elevation_spearman": float,
      "axis": [x, y, z] (unit vector in embedding coordinates),
      "axis_component": int (principal axis the fit started from, 0 = largest variance)}``.

    >>> import numpy as np
    >>> az = np.repeat(np.arange(0, 360, 20), 9); el = np.tile(np.arange(30, 75, 5), 18)
    >>> t = np.deg2rad(az)
    >>> Z = np.stack([np.cos(t), np.sin(t), el / 100], axis=1)
    >>> fit = cylinder_fit(Z, az, el)
    >>> round(fit["azimuth_circular_corr"], 6), round(fit["elevation_spearman"], 6)
    (1.0, 1.0)
    """
    Z = as_samples(Z, "Z", min_samples=3, dtype=np.float64)
    if Z.shape[1] != 3:
        raise ValueError(f"Z must have shape (n, 3), got shape {Z.shape}")
    n = Z.shape[0]
    azimuth = np.deg2rad(as_vector(azimuth_deg, "azimuth_deg", length=n))
    elevation = as_vector(elevation_deg, "elevation_deg", length=n)
    if np.ptp(elevation) == 0.0:
        raise ValueError("elevation_deg must take at least two distinct values, got one")
    centred = Z - Z.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    candidates = []
    for index in range(3):
        axis, centre, plane, error = _fit_cylinder(
            centred, axes[index], np.delete(axes, index, axis=0)
        )
        offsets = centred - centre
        angle = np.arctan2(offsets @ plane[1], offsets @ plane[0])
        corr = abs(fisher_lee_correlation(angle, azimuth))
        candidates.append((round(corr, 9), -error, corr, index, axis, offsets @ axis))
    # Highest correlation; among equal ones (fits from several starts can reach the same
    # cylinder) the one whose points lie closest to the cylinder surface.
    *_, corr, index, axis, along = max(candidates, key=lambda c: (c[0], c[1]))
    if np.ptp(along) > 0:
        rho = spearmanr(np.round(along / np.ptp(along), 6), elevation).statistic
    else:
        rho = 0.0
    return {
        "azimuth_circular_corr": float(corr),
        "elevation_spearman": float(abs(rho)),
        "axis": [float(v) for v in axis],
        "axis_component": int(index),
    }


def lighting_spread_ratio(Z, pose_ids, lighting) -> float:
    """Spread of each pose over its lightings, relative to the spread between poses.

    Numerator: for every pose seen under at least two distinct lighting conditions, the
    mean Euclidean distance of its embeddings to the pose's centroid; averaged over those
    poses. Denominator: the mean distance of all pose centroids to their mean (each pose
    weighted equally). 0 means the map is exactly lighting-invariant; values well below
    1 mean lighting moves a sample much less than a change of pose does.

    Args:
      Z: (n, p) embeddings.
      pose_ids: (n,) pose of each sample (e.g. an azimuth/elevation index); >= 2 poses.
      lighting: (n,) lighting condition of each sample.

    >>> import numpy as np
    >>> Z = np.repeat(np.eye(3), 6, axis=0)
    >>> lighting_spread_ratio(Z, np.repeat([0, 1, 2], 6), np.tile(np.arange(6), 3))
    0.0
    """
    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    n = Z.shape[0]
    pose_ids = as_vector(pose_ids, "pose_ids", length=n, numeric=False)
    lighting = as_vector(lighting, "lighting", length=n, numeric=False)
    poses, pose_index = np.unique(pose_ids, return_inverse=True)
    if poses.size < 2:
        raise ValueError(f"pose_ids must name at least 2 poses, got {poses.size}")
    counts = np.bincount(pose_index, minlength=poses.size)
    centroids = np.zeros((poses.size, Z.shape[1]))
    np.add.at(centroids, pose_index, Z)
    centroids /= counts[:, None]
    _, lighting_index = np.unique(lighting, return_inverse=True)
    distinct_pairs = np.unique(np.stack([pose_index, lighting_index]), axis=1)
    lightings_per_pose = np.bincount(distinct_pairs[0], minlength=poses.size)
    varied = lightings_per_pose >= 2
    if not np.any(varied):
        raise ValueError("lighting must vary within at least one pose, got one lighting per pose")
    to_centroid = np.linalg.norm(Z - centroids[pose_index], axis=1)
    per_pose = np.bincount(pose_index, weights=to_centroid, minlength=poses.size) / counts
    within = float(np.mean(per_pose[varied]))
    between = float(np.mean(np.linalg.norm(centroids - centroids.mean(axis=0), axis=1)))
    if between == 0.0:
        raise ValueError("Z must separate poses, got all pose centroids at one point")
    return within / between
