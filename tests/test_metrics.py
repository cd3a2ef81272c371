"""Tests for drlim.metrics: values against scikit-learn or brute force, invariances, errors."""

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import special_ortho_group
from sklearn.manifold import trustworthiness as sklearn_trustworthiness

from drlim import metrics


def _random_data(n=120, d=12, p=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Z = X[:, :p] + 0.5 * rng.normal(size=(n, p))
    return X, Z


def _brute_continuity(X, Z, k):
    """Continuity straight from the definition, with full n x n rank matrices."""
    n = X.shape[0]
    dist_x = cdist(X, X)
    dist_z = cdist(Z, Z)
    np.fill_diagonal(dist_x, np.inf)
    np.fill_diagonal(dist_z, np.inf)
    penalty = 0
    for i in range(n):
        rank_in_z = np.empty(n, dtype=int)
        rank_in_z[np.argsort(dist_z[i])] = np.arange(1, n + 1)
        for j in np.argsort(dist_x[i])[:k]:
            penalty += max(0, rank_in_z[j] - k)
    return 1.0 - 2.0 * penalty / (n * k * (2 * n - 3 * k - 1))


@pytest.mark.parametrize("k", [1, 5, 12])
@pytest.mark.parametrize("block_size", [1, 17, 1024])
def test_trustworthiness_matches_sklearn(k, block_size):
    X, Z = _random_data()
    expected = sklearn_trustworthiness(X, Z, n_neighbors=k)
    assert metrics.trustworthiness(X, Z, k=k, block_size=block_size) == pytest.approx(
        expected, abs=1e-6
    )


def test_trustworthiness_flattens_images_and_is_one_for_identity():
    rng = np.random.default_rng(1)
    images = rng.random((60, 4, 4, 1)).astype(np.float32)
    flat = images.reshape(60, -1)
    Z = flat[:, :2]
    assert metrics.trustworthiness(images, Z, k=3) == pytest.approx(
        sklearn_trustworthiness(flat, Z, n_neighbors=3), abs=1e-6
    )
    assert metrics.trustworthiness(images, flat, k=3) == 1.0
    assert isinstance(metrics.trustworthiness(images, Z), float)


@pytest.mark.parametrize("k", [1, 4, 10])
@pytest.mark.parametrize("block_size", [5, 1024])
def test_continuity_matches_brute_force(k, block_size):
    X, Z = _random_data(n=90, seed=2)
    expected = _brute_continuity(X, Z, k)
    assert metrics.continuity(X, Z, k=k, block_size=block_size) == pytest.approx(
        expected, abs=1e-9
    )
    assert metrics.continuity(X, Z, k=k) != pytest.approx(metrics.trustworthiness(X, Z, k=k))


def _mean_over_tie_orders(rank_space, neighbor_space, k):
    """The score of rank_space's ranks (neighbours from the tie-free neighbor_space), averaged
    over every order in which its ties could be broken: each permutation of the samples is a
    secondary sort key."""
    n = len(rank_space)
    dist = cdist(rank_space, rank_space)
    neighbors = np.argsort(cdist(neighbor_space, neighbor_space) + np.diag(np.full(n, np.inf)),
                           axis=1)[:, :k]
    scores = []
    for order in itertools.permutations(range(n)):
        penalty = 0
        for i in range(n):
            others = [j for j in range(n) if j != i]
            ranked = sorted(others, key=lambda j: (dist[i, j], order[j]))
            rank = {j: r for r, j in enumerate(ranked, start=1)}
            penalty += sum(max(0, rank[j] - k) for j in neighbors[i])
        scores.append(1.0 - 2.0 * penalty / (n * k * (2 * n - 3 * k - 1)))
    return float(np.mean(scores))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_tied_distances_are_ranked_in_random_order_in_expectation(k):
    rng = np.random.default_rng(4)
    tie_free = rng.normal(size=(7, 3))
    tied = rng.integers(0, 2, size=(7, 2)).astype(float)  # many equal distances, duplicates
    assert metrics.continuity(tie_free, tied, k=k, block_size=3) == pytest.approx(
        _mean_over_tie_orders(tied, tie_free, k), abs=1e-12)
    assert metrics.trustworthiness(tied, tie_free, k=k) == pytest.approx(
        _mean_over_tie_orders(tied, tie_free, k), abs=1e-12)


def test_neighbourhood_scores_ignore_a_large_offset_and_survive_large_values():
    """|a|^2 + |b|^2 - 2 a.b on coordinates near 1e8 loses distances of 1e-3 to rounding, and
    values near 1e155 overflow it to inf - inf = NaN; neither may change a score."""
    X, Z = _random_data(n=60)
    for score in (metrics.trustworthiness, metrics.continuity):
        expected = score(X, Z, k=4)
        assert score(X + 1e8, Z + 1e8, k=4) == expected
        assert score(X * 1e155, Z * 1e-3, k=4) == expected
        # integer data keep their exact ties when shifted
        tied = np.random.default_rng(1).integers(0, 2, size=(60, 2)).astype(float)
        assert score(tied + 1e8, Z, k=4) == score(tied, Z, k=4)


def test_a_collapsed_map_scores_like_a_random_one_not_perfectly():
    X, _ = _random_data(n=101)
    n, k = len(X), 10
    # Every other sample ties on a collapsed map: a neighbour's rank is uniform on 1..n-1.
    mean_penalty = np.mean(np.maximum(np.arange(1, n) - k, 0))
    expected = 1.0 - 2.0 * n * k * mean_penalty / (n * k * (2 * n - 3 * k - 1))
    assert metrics.continuity(X, np.zeros((n, 2)), k=k) == pytest.approx(expected, abs=1e-12)
    assert 0.45 < expected < 0.55


def test_neighbourhood_scores_reject_bad_input():
    X, Z = _random_data(n=20)
    with pytest.raises(ValueError, match="k must be"):
        metrics.trustworthiness(X, Z, k=10)
    with pytest.raises(ValueError, match="k must be"):
        metrics.continuity(X, Z, k=0)
    with pytest.raises(ValueError, match="X and Z must have the same size along axis 0"):
        metrics.trustworthiness(X, Z[:-1])
    bad = Z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Z must be finite"):
        metrics.trustworthiness(X, bad)
    with pytest.raises(ValueError, match="block_size"):
        metrics.continuity(X, Z, block_size=0)
    with pytest.raises(ValueError, match=r"k must be in \[1, 9\], got 10"):
        metrics.trustworthiness(X, Z, k=10)
    with pytest.raises(ValueError, match="k must be an int in .*, got True"):
        metrics.trustworthiness(X, Z, k=True)
    with pytest.raises(ValueError, match="X must hold real numbers"):
        metrics.trustworthiness(X.astype(str), Z)


def _blobs(n_per_class=60, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    Z = np.concatenate([c + rng.normal(size=(n_per_class, 2)) for c in centres])
    return Z, np.repeat(np.arange(3), n_per_class)


def test_knn_accuracy_separable_and_random_labels():
    Z, y = _blobs()
    Z_test, y_test = _blobs(seed=1)
    assert metrics.knn_accuracy(Z, y, Z_test, y_test, k=5) == 1.0
    rng = np.random.default_rng(3)
    Z_noise = rng.normal(size=(2000, 2))
    y_noise = rng.integers(0, 4, size=2000)
    chance = metrics.split_knn_accuracy(Z_noise, y_noise, k=5, seed=0)
    assert abs(chance - 0.25) < 0.05


@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")
def test_split_knn_accuracy_uses_disjoint_halves():
    # With k=1 every test point's nearest training point is a different sample, so
    # labels unique to each sample can never be predicted.
    Z, _ = _blobs()
    assert metrics.split_knn_accuracy(Z, np.arange(len(Z)), k=1) == 0.0
    Z, y = _blobs()
    assert metrics.split_knn_accuracy(Z, y, k=5, seed=4) == 1.0


def test_split_knn_accuracy_by_groups_keeps_each_group_in_one_half():
    rng = np.random.default_rng(0)
    originals = rng.normal(size=(300, 2))
    source = np.repeat(np.arange(300), 4)
    digit = rng.integers(0, 3, size=300)[source]
    collapsed = originals[source]  # copies coincide; the digit is not on the map
    assert metrics.split_knn_accuracy(collapsed, digit) > 0.5
    assert abs(metrics.split_knn_accuracy(collapsed, digit, groups=source) - 1 / 3) < 0.06
    # Each group in one half: with k=1 a test sample's own group is never its neighbour.
    assert metrics.split_knn_accuracy(collapsed, source, k=1, groups=source) == 0.0
    Z, y = _blobs()  # a map that keeps the factor still scores it, whatever the groups
    assert metrics.split_knn_accuracy(Z, y, groups=np.arange(len(y)) // 3) == 1.0
    with pytest.raises(ValueError, match="groups must name at least 2 groups, got 1"):
        metrics.split_knn_accuracy(Z, y, groups=np.zeros(len(y)))
    with pytest.raises(ValueError, match="groups must have shape"):
        metrics.split_knn_accuracy(Z, y, groups=np.arange(5))


def test_knn_accuracy_rejects_bad_input():
    Z, y = _blobs()
    with pytest.raises(ValueError, match="labels of one kind .* got int64 and <U21"):
        metrics.knn_accuracy(Z, y, Z, y.astype(str))
    names = np.array(["a", "b", "c"])[y]
    assert metrics.knn_accuracy(Z, names, Z, names.astype(object)) == 1.0
    with pytest.raises(ValueError, match="y_train must have shape"):
        metrics.knn_accuracy(Z, y[:-1], Z, y)
    with pytest.raises(ValueError, match="k must be"):
        metrics.knn_accuracy(Z[:4], y[:4], Z, y, k=5)
    with pytest.raises(ValueError, match="Z_train and Z_test must have the same size along axis 1"):
        metrics.knn_accuracy(Z, y, Z[:, :1], y)
    with pytest.raises(ValueError, match="k must be"):
        metrics.split_knn_accuracy(Z[:6], y[:6], k=4)


def test_orbit_spread_ratio():
    rng = np.random.default_rng(0)
    originals = rng.normal(size=(100, 2))
    ids = np.repeat(np.arange(100), 5)
    assert metrics.orbit_spread_ratio(np.repeat(originals, 5, axis=0), ids) == 0.0
    # Unrelated points: copies are no closer than random pairs.
    scattered = rng.normal(size=(500, 2))
    assert metrics.orbit_spread_ratio(scattered, ids) == pytest.approx(1.0, abs=0.1)
    # Exact value on a tiny case: one orbit {0, 1} at distance 1, random pairs mean 4/3.
    Z = np.array([[0.0], [1.0], [2.0]])
    expected = 1.0 / (4.0 / 3.0)
    assert metrics.orbit_spread_ratio(Z, [7, 7, 8], n_pairs=200_000) == pytest.approx(
        expected, rel=0.02
    )


def test_orbit_spread_ratio_rejects_bad_input():
    Z = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="at least one id twice"):
        metrics.orbit_spread_ratio(Z, np.arange(10))
    with pytest.raises(ValueError, match="orbit_ids must have shape"):
        metrics.orbit_spread_ratio(Z, np.zeros(9))


def _brute_fisher_lee(a, b):
    i, j = np.triu_indices(len(a), k=1)
    sa, sb = np.sin(a[i] - a[j]), np.sin(b[i] - b[j])
    return np.sum(sa * sb) / np.sqrt(np.sum(sa**2) * np.sum(sb**2))


def test_fisher_lee_matches_pairwise_definition_and_invariances():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 2 * np.pi, 50)
    b = a + rng.normal(scale=0.8, size=50)
    value = metrics.fisher_lee_correlation(a, b)
    assert value == pytest.approx(_brute_fisher_lee(a, b), abs=1e-12)
    assert metrics.fisher_lee_correlation(a + 1.3, b - 0.4) == pytest.approx(value, abs=1e-12)
    assert metrics.fisher_lee_correlation(a, -b) == pytest.approx(-value, abs=1e-12)


def _cylinder(seed=0, radius=3.0, height=1.0):
    """Paper-like NORB poses on a cylinder longer around than along, randomly rotated."""
    azimuth = np.repeat(np.arange(0, 360, 20), 9).astype(float)
    elevation = np.tile(np.arange(30, 75, 5), 18).astype(float)
    angle = np.deg2rad(azimuth)
    along = height * (elevation - 50.0) / 40.0
    Z = np.stack([radius * np.cos(angle), radius * np.sin(angle), along], axis=1)
    rotation = special_ortho_group.rvs(3, random_state=seed)
    return Z @ rotation.T + np.array([1.0, -2.0, 0.5]), azimuth, elevation, rotation


@pytest.mark.parametrize("seed", [0, 1])
def test_cylinder_fit_on_perfect_cylinder(seed):
    Z, azimuth, elevation, rotation = _cylinder(seed)
    fit = metrics.cylinder_fit(Z, azimuth, elevation)
    assert fit["azimuth_circular_corr"] == pytest.approx(1.0, abs=1e-9)
    # 18 samples share each elevation; rounding noise along the axis must not break ties.
    assert fit["elevation_spearman"] == pytest.approx(1.0, abs=1e-9)
    # The axis (rotated z) is the least-varying principal axis here, not the first.
    assert abs(np.dot(fit["axis"], rotation[:, 2])) == pytest.approx(1.0, abs=1e-9)
    # Reversed direction of travel around the axis gives the same fit.
    mirrored = metrics.cylinder_fit(Z, -azimuth, elevation)
    assert mirrored["azimuth_circular_corr"] == pytest.approx(1.0, abs=1e-9)


def test_cylinder_fit_is_exact_without_ties():
    rng = np.random.default_rng(2)
    azimuth = rng.uniform(0, 360, 200)
    elevation = rng.uniform(30, 70, 200)
    angle = np.deg2rad(azimuth)
    Z = np.stack([np.cos(angle), np.sin(angle), elevation / 100.0], axis=1)
    Z = Z @ special_ortho_group.rvs(3, random_state=3).T
    fit = metrics.cylinder_fit(Z, azimuth, elevation)
    # Uneven azimuths tilt the principal axes very slightly off the true axis.
    assert fit["azimuth_circular_corr"] == pytest.approx(1.0, abs=1e-4)
    assert fit["elevation_spearman"] == pytest.approx(1.0, abs=1e-9)


def test_cylinder_fit_on_noise_is_low():
    Z, azimuth, elevation, _ = _cylinder()
    noise = np.random.default_rng(5).normal(size=Z.shape)
    fit = metrics.cylinder_fit(noise, azimuth, elevation)
    assert fit["azimuth_circular_corr"] < 0.3
    assert fit["elevation_spearman"] < 0.3
    assert len(fit["axis"]) == 3


def test_cylinder_fit_rejects_bad_input():
    Z, azimuth, elevation, _ = _cylinder()
    with pytest.raises(ValueError, match=r"Z must have shape \(n, 3\)"):
        metrics.cylinder_fit(Z[:, :2], azimuth, elevation)
    with pytest.raises(ValueError, match="elevation_deg must have shape"):
        metrics.cylinder_fit(Z, azimuth, elevation[:-1])
    with pytest.raises(ValueError, match="azimuth_deg must be finite"):
        metrics.cylinder_fit(Z, np.full(len(Z), np.nan), elevation)


def test_lighting_spread_ratio():
    rng = np.random.default_rng(0)
    poses = np.repeat(np.arange(20), 6)
    lighting = np.tile(np.arange(6), 20)
    centres = rng.normal(size=(20, 3))
    assert metrics.lighting_spread_ratio(centres[poses], poses, lighting) == pytest.approx(
        0.0, abs=1e-12
    )
    # Hand-computed case: two poses at -1 and +1 (each centroid at distance 1 from the
    # global centroid), lightings spread +-0.5 around them.
    Z = np.array([[-1.5], [-0.5], [0.5], [1.5]])
    assert metrics.lighting_spread_ratio(Z, [0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.5)


def test_lighting_spread_ratio_rejects_bad_input():
    Z = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match="at least 2 poses"):
        metrics.lighting_spread_ratio(Z, np.zeros(6), np.arange(6))
    with pytest.raises(ValueError, match="lighting must vary"):
        metrics.lighting_spread_ratio(Z, np.arange(6), np.zeros(6))
    with pytest.raises(ValueError, match="lighting must have shape"):
        metrics.lighting_spread_ratio(Z, np.arange(6), np.zeros(5))


def test_coinciding_fraction_matches_brute_force_and_ignores_scale():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 2))
    Z[100:160] = Z[:60]  # 60 exact copies: 120 samples sit on another
    Z[200:205] = Z[200] + 1e-7  # a tight knot of 5
    distances = cdist(Z, Z)
    np.fill_diagonal(distances, np.inf)
    spread = np.sqrt(np.mean(np.sum((Z - Z.mean(0)) ** 2, axis=1)))
    expected = np.mean(distances.min(axis=1) < 1e-4 * spread)
    assert expected == pytest.approx(125 / 300)
    assert metrics.coinciding_fraction(Z) == pytest.approx(expected)
    assert metrics.coinciding_fraction(1e3 * Z + 7.0) == pytest.approx(expected)
    assert metrics.coinciding_fraction(rng.normal(size=(300, 2))) == 0.0
    assert metrics.coinciding_fraction(np.ones((10, 3))) == 1.0
    with pytest.raises(ValueError, match="rtol must be a finite number > 0"):
        metrics.coinciding_fraction(Z, rtol=0.0)
    with pytest.raises(ValueError, match="rtol must be a finite number > 0, got nan"):
        metrics.coinciding_fraction(Z, rtol=float("nan"))
    with pytest.raises(ValueError, match="n >= 2"):
        metrics.coinciding_fraction(Z[:1])


def _reference_stability(Z, Z_other, rows):
    """Largest displacement over the RMS distance to the centroid, with explicit loops."""
    centroid = [sum(z[j] for z in Z) / len(Z) for j in range(Z.shape[1])]
    spread = (sum(sum((z[j] - centroid[j]) ** 2 for j in range(Z.shape[1])) for z in Z)
              / len(Z)) ** 0.5
    moves = [sum((Z[i, j] - Z_other[r, j]) ** 2 for j in range(Z.shape[1])) ** 0.5
             for r, i in enumerate(rows)]
    return max(moves) / spread


def test_transform_stability_matches_reference_and_is_invariant():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 2))
    moved = Z + rng.normal(scale=0.01, size=Z.shape)
    moved[17] += [0.3, -0.4]
    expected = _reference_stability(Z, moved, range(200))
    assert metrics.transform_stability(Z, moved) == pytest.approx(expected)
    # the same number at any scale, offset and rotation of both maps
    rotation = special_ortho_group.rvs(2, random_state=1)
    assert metrics.transform_stability(3 * Z @ rotation + 5, 3 * moved @ rotation + 5) == (
        pytest.approx(expected))
    # a subset mapped on its own is compared with its own rows only
    rows = np.array([40, 3, 17])
    assert metrics.transform_stability(Z, moved[rows], index=rows) == pytest.approx(
        _reference_stability(Z, moved[rows], rows))
    assert metrics.transform_stability(Z, moved[[3, 40]], index=[3, 40]) < expected


def test_transform_stability_of_a_fixed_function_is_zero():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 8))
    W = rng.normal(size=(8, 2))
    whole = X @ W
    halves = np.concatenate([X[:50] @ W, X[50:] @ W])
    singles = np.stack([x @ W for x in X[:5]])
    assert metrics.transform_stability(whole, halves) == pytest.approx(0.0, abs=1e-12)
    assert metrics.transform_stability(whole, singles, index=np.arange(5)) == pytest.approx(
        0.0, abs=1e-12)


@pytest.mark.parametrize("args, message", [
    ((np.zeros((5, 2)), np.zeros((5, 2))), "spread > 0"),
    ((np.eye(3), np.eye(3)[:2]), r"Z_regrouped must have shape \(3, 3\)"),
    ((np.eye(3), np.eye(3)[:2], [0, 0]), "index must be distinct"),
    ((np.eye(3), np.eye(3)[:2], [0, 3]), "index must be distinct"),
    ((np.eye(3), np.eye(3)[:1], [0.5]), "index must be distinct"),
    ((np.eye(3)[:1], np.eye(3)[:1]), "n >= 2"),
])
def test_transform_stability_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        metrics.transform_stability(*args)
