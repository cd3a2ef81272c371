"""Neighbourhood graphs against brute-force references written out here, and their errors."""

import itertools

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from drlim.neighbors import (
    Graph,
    describe,
    edges,
    fuzzy_knn_graph,
    grid_graph,
    knn_graph,
    label_graph,
    orbit_graph,
    pairs_graph,
    sequence_graph,
    symmetrize,
    union,
)


def dense_from_directed(table: np.ndarray) -> np.ndarray:
    n = len(table)
    dense = np.zeros((n, n), dtype=bool)
    for i, row in enumerate(table):
        dense[i, row[row >= 0]] = True
    np.fill_diagonal(dense, False)
    return dense | dense.T


def test_knn_graph_is_the_symmetrised_knn_relation():
    X = np.random.default_rng(2).random((200, 8))
    g = knn_graph(X, k=5, block_size=64)
    table = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(X).kneighbors()[1]
    reference = dense_from_directed(table)
    np.testing.assert_array_equal(g.to_dense(), reference)
    info = describe(g)
    assert info["similar_directed"] == 200 * 5
    assert info["similar_undirected"] == reference.sum() // 2
    assert info["dissimilar"] == 200 * 199 // 2 - reference.sum() // 2
    assert info["degree_min"] >= 5
    assert info["degree_max"] == g.neighbors.shape[1] == info["width"]


def test_paper_mnist_protocol_counts():
    from sklearn.neighbors import NearestNeighbors

    from drlim.data import mnist

    try:
        split = mnist.mnist_4_9(n_train_per_digit=3000, seed=0)
    except FileNotFoundError:
        pytest.skip("MNIST data not installed")
    g = knn_graph(split.x_train, k=5)
    info = describe(g)
    assert info["n_samples"] == 6000
    assert info["similar_directed"] == 30_000
    flat = split.x_train.reshape(6000, -1)
    _, idx = NearestNeighbors(n_neighbors=6).fit(flat).kneighbors(flat)
    pairs = {(min(i, j), max(i, j)) for i, row in enumerate(idx[:, 1:]) for j in row.tolist()}
    assert abs(info["similar_undirected"] - len(pairs)) <= 10  # ties may be broken either way
    assert info["dissimilar"] == 6000 * 5999 // 2 - info["similar_undirected"]


def norb_factors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    az, el, light = np.meshgrid(
        np.arange(0, 360, 20), np.arange(30, 75, 5), np.arange(6), indexing="ij"
    )
    return az.ravel(), el.ravel(), light.ravel()


def reference_pose_graph(az: np.ndarray, el: np.ndarray) -> np.ndarray:
    gap = np.abs(az[:, None] - az[None, :]) % 360
    near = (np.minimum(gap, 360 - gap) <= 20) & (np.abs(el[:, None] - el[None, :]) <= 5)
    np.fill_diagonal(near, False)
    return near


def test_grid_graph_on_the_norb_grid():
    az, el, light = norb_factors()
    assert az.size == 972
    g = grid_graph(az, el)
    dense = g.to_dense()
    np.testing.assert_array_equal(dense, reference_pose_graph(az, el))

    def sample(a, e, lighting):
        return np.flatnonzero((az == a) & (el == e) & (light == lighting))[0]

    assert dense[sample(340, 50, 0), sample(0, 50, 3)]
    assert dense[sample(0, 50, 0), sample(340, 55, 5)]
    assert not dense[sample(0, 30, 0), sample(0, 70, 0)]
    assert not dense[sample(0, 30, 0), sample(0, 40, 0)]
    assert not dense[sample(0, 50, 0), sample(40, 50, 0)]
    # 3 x 3 poses x 6 lightings minus itself; 2 x 3 x 6 - 1 at the lowest/highest elevation.
    expected_degree = np.where((el == 30) | (el == 70), 35, 53)
    np.testing.assert_array_equal(g.degree, expected_degree)


def test_grid_graph_random_660_subsets_match_the_paper():
    az, el, _ = norb_factors()
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(100):
        subset = rng.choice(972, size=660, replace=False)
        info = describe(grid_graph(az[subset], el[subset]))
        assert info["dissimilar"] == 660 * 659 // 2 - info["similar_undirected"]
        counts.append(info["similar_undirected"])
    counts = np.array(counts)
    full = describe(grid_graph(az, el))["similar_undirected"]
    assert full == (756 * 53 + 216 * 35) // 2
    expected_mean = full * (660 * 659) / (972 * 971)  # about 10,974.6
    assert abs(counts.mean() - expected_mean) < 4 * counts.std() / np.sqrt(counts.size)
    assert abs(counts.mean() - 10_970) < 30
    assert abs(10_989 - counts.mean()) < 3 * counts.std()  # the paper's draw is typical


def test_grid_graph_options_and_errors():
    az = np.array([0, 340, 0, 0])
    el = np.array([30, 30, 30, 35])
    linear = grid_graph(az, el, circular_azimuth=False).to_dense()
    assert not linear[0, 1]
    by_instance = grid_graph(az, el, instance=[0, 0, 1, 1]).to_dense()
    assert by_instance[0, 1] and not by_instance[0, 2] and by_instance[2, 3]
    with pytest.raises(ValueError, match="azimuth must be multiples"):
        grid_graph([0, 10], [30, 30])
    with pytest.raises(ValueError, match="azimuth_step must divide 360"):
        grid_graph([0, 70], [30, 30], azimuth_step=70)
    with pytest.raises(ValueError, match="elevation must have the length"):
        grid_graph([0, 20], [30])
    with pytest.raises(ValueError, match="azimuth must be finite"):
        grid_graph([0, np.nan], [30, 30])
    with pytest.raises(ValueError, match=r"azimuth must be a non-empty 1-D array, got shape"):
        grid_graph([], [])
    with pytest.raises(ValueError, match="elevation_step must be a finite number > 0, got 0"):
        grid_graph([0], [30], elevation_step=0)
    with pytest.raises(ValueError, match="azimuth_step must be a finite number > 0, got True"):
        grid_graph([0], [30], azimuth_step=True)
    with pytest.raises(ValueError, match="azimuth must hold real numbers, got dtype <U1"):
        grid_graph(["a"], [30])


def test_label_graph_uses_groups():
    labels = np.array([4, 9, 4, 4, 9, 7])
    g = label_graph(labels)
    assert g.neighbors.shape == (6, 0)
    reference = (labels[:, None] == labels[None, :]) & ~np.eye(6, dtype=bool)
    np.testing.assert_array_equal(g.to_dense(), reference)
    info = describe(g)
    assert info["similar_undirected"] == 3 + 1  # C(3, 2) fours + C(2, 2) nines
    assert info["dissimilar"] == 15 - 4
    assert info["degree_min"] == 0 and info["degree_max"] == 2
    i, j = edges(g, include_groups=True)
    np.testing.assert_array_equal(np.stack([i, j], 1), np.argwhere(np.triu(reference)))
    with pytest.raises(ValueError, match="labels must"):
        label_graph([])
    with pytest.raises(ValueError, match="labels must not contain NaN"):
        label_graph([1.0, np.nan])


def test_sequence_graph():
    g = sequence_graph(7, window=2, sequence_ids=[0, 0, 0, 0, 1, 1, 1])
    pos = np.arange(7)
    ids = np.array([0, 0, 0, 0, 1, 1, 1])
    gap = np.abs(pos[:, None] - pos[None, :])
    reference = (gap >= 1) & (gap <= 2) & (ids[:, None] == ids[None, :])
    np.testing.assert_array_equal(g.to_dense(), reference)
    assert describe(sequence_graph(5, window=9))["dissimilar"] == 0
    with pytest.raises(ValueError, match="window must"):
        sequence_graph(5, window=0)
    with pytest.raises(ValueError, match="n must"):
        sequence_graph(0, window=1)
    with pytest.raises(ValueError, match="sequence_ids must have length"):
        sequence_graph(5, window=1, sequence_ids=[0, 1])


def test_orbit_graph_hand_made_example():
    # Originals 0, 1, 2; copies 3, 4 of 0; 5, 6 of 1; 7, 8 of 2. Original 0 is a
    # neighbour of original 1, and the copy 8 of 2 happens to be a neighbour of original 2.
    orbit_ids = [0, 1, 2, 0, 0, 1, 1, 2, 2]
    base = pairs_graph([0, 8], [1, 2], n=9)
    g = orbit_graph(base, orbit_ids)
    a, b, c = {0, 3, 4}, {1, 5, 6}, {2, 7, 8}
    expected = {}
    for member in a | b:
        # its own copies; its neighbour's orbit (0 ~ 1, so copies of 0 ~ copies of 1)
        expected[member] = (a | b) - {member}
    for member in c:
        # 8 ~ 2 lies inside one orbit: nothing new beyond the orbit itself
        expected[member] = c - {member}
    got = {i: set(row[row >= 0].tolist()) for i, row in enumerate(g.neighbors)}
    assert got == expected
    assert describe(g)["similar_undirected"] == 15 + 3


def test_orbit_graph_follows_the_rule_on_a_random_graph():
    rng = np.random.default_rng(3)
    n = 30
    orbit = rng.integers(0, 8, size=n)
    base = pairs_graph(rng.integers(0, n, 25), rng.integers(0, n, 25), n=n)
    near = base.to_dense()
    reference = np.zeros((n, n), dtype=bool)
    for i, j in itertools.product(range(n), repeat=2):
        from_copies = any(
            orbit[u] == orbit[j]
            for m in np.flatnonzero(orbit == orbit[i])
            for u in np.flatnonzero(near[m])
        )
        reference[i, j] = i != j and (orbit[i] == orbit[j] or near[i, j] or from_copies)
    np.testing.assert_array_equal(orbit_graph(base, orbit).to_dense(), reference)


def test_orbit_graph_shift_protocol_count():
    originals = np.random.default_rng(4).random((120, 20))
    base = knn_graph(originals, k=5)
    n_orig, n_pos = 120, 5
    lifted = Graph(
        np.concatenate([base.neighbors] + [np.full_like(base.neighbors, -1)] * (n_pos - 1))
    )
    g = orbit_graph(lifted, np.tile(np.arange(n_orig), n_pos))
    undirected = describe(base)["similar_undirected"]
    # C(5, 2) pairs inside each orbit plus 5 x 5 for every pair of neighbouring originals.
    assert describe(g)["similar_undirected"] == n_orig * 10 + 25 * undirected


def test_orbit_graph_keeps_consistent_groups_and_refuses_others():
    labels = label_graph([0, 0, 1, 1])
    g = orbit_graph(labels, [0, 0, 1, 2])
    np.testing.assert_array_equal(g.to_dense(), labels.to_dense())
    with pytest.raises(ValueError, match="orbit_ids: every orbit"):
        orbit_graph(labels, [0, 1, 1, 2])
    with pytest.raises(ValueError, match="orbit_ids must have length"):
        orbit_graph(labels, [0, 1])


def test_pairs_graph_union_and_symmetrize():
    g = pairs_graph([0, 1, 3, 3], [1, 0, 3, 2], n=5)
    assert g.neighbors.tolist() == [[1], [0], [3], [2], [-1]]
    both = union(label_graph([0, 0, 1, 1, 2]), pairs_graph([0, 1], [1, 2], n=5))
    assert both.groups is not None
    assert both.neighbors.tolist() == [[-1], [2], [1], [-1], [-1]]  # 0 ~ 1 is a group edge
    assert describe(both)["similar_undirected"] == 3
    table = np.array([[0, 1], [1, -1], [0, 2]])  # rows list themselves, like sklearn does
    s = symmetrize(table)
    assert s.neighbors.tolist() == [[1, 2], [0, -1], [0, -1]]
    assert s.directed_pairs == 2
    assert symmetrize(s) is s


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pairs_graph([0, 5], [1, 2], n=5), "i must hold ids in"),
        (lambda: pairs_graph([0], [-1], n=5), "j must hold ids in"),
        (lambda: pairs_graph([0, 1], [1], n=5), "i and j must have the same length"),
        (lambda: pairs_graph([0.5], [1], n=5), "i must hold integers"),
        (lambda: pairs_graph([0], [1], n=0), "n must"),
        (lambda: symmetrize(np.array([[1], [2]])), "neighbors must hold ids in"),
        (lambda: symmetrize(np.zeros((0, 2), int)), "neighbors must have at least one row"),
        (lambda: union(), "graphs must hold at least one graph"),
        (lambda: union(sequence_graph(3, 1), sequence_graph(4, 1)), "same number of samples"),
        (lambda: union(label_graph([0, 1]), label_graph([1, 1])), "at most one graph"),
        (lambda: union(sequence_graph(6, 1), fuzzy_knn_graph(np.arange(6.0)[:, None], k=2)),
         r"unweighted, got weights in graphs\[1\]"),
        (lambda: Graph(np.array([[1], [-1]])), "symmetric .*, got 1 in row 0 but not 0 in row 1"),
        (lambda: Graph(np.array([[0]])), "self loops, got 0 in row 0"),
        (lambda: Graph(np.array([[2, 1], [0, -1], [0, -1]])), "sorted .*, got row 0"),
        (lambda: Graph(np.array([[-1, 1], [0, -1]])), "padding .*, got an id after -1 in row 0"),
        (lambda: Graph(np.array([[1], [0]]), groups=np.array([3, 3])), "one group"),
        (lambda: Graph(np.array([[1], [0]]), groups=np.array([0])), "groups must have shape"),
        (lambda: Graph(np.array([[1], [2**32]])), r"neighbors must hold ids in \[0, 2\)"),
        (lambda: Graph(np.array([[2, 1], [0, 2], [0, 1]], np.uint8)), "sorted .*, got row 0"),
        (lambda: Graph(np.empty((3, 0), int), groups=np.array([5, 2**32 + 5, 7])),
         r"groups must lie in \[-1, 2147483647\], got range \[5, 4294967301\]"),
        (lambda: describe("graph"), "graph must be a Graph"),
        (lambda: Graph(np.array([[1], [0]]), weights=[[0.5], [0.4]]),
         "weights must be symmetric .*, got w_0,1 = 0.5 and w_1,0 = 0.4"),
        (lambda: Graph(np.array([[1], [0]]), weights=[[0.5], [1.5]]),
         r"weights must be finite and in \(0, 1\] on every edge, got 1.5"),
        (lambda: sequence_graph(True, 1), "n must be an int >= 1, got True"),
    ],
)
def test_graph_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_graph_is_read_only_and_edges_are_sorted():
    g = sequence_graph(4, window=2)
    with pytest.raises(ValueError):
        g.neighbors[0, 0] = 3
    i, j = edges(g)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [
        (0, 1),
        (0, 2),
        (1, 2),
        (1, 3),
        (2, 3),
    ]


def test_sparse_round_trip_keeps_edges_groups_and_weights():
    """Graph -> SciPy CSR -> Graph gives back the same similar pairs (and weights)."""
    import scipy.sparse

    from drlim.neighbors import graph_from_sparse

    X = np.random.default_rng(0).normal(size=(60, 4))
    labelled = label_graph(np.arange(60) % 3)
    dense = labelled.to_sparse().toarray()
    np.testing.assert_array_equal(dense > 0, labelled.to_dense())
    np.testing.assert_array_equal(graph_from_sparse(labelled.to_sparse()).to_dense(),
                                  labelled.to_dense())  # the groups, as explicit edges
    fuzzy = fuzzy_knn_graph(X, k=4)
    matrix = fuzzy.to_sparse()
    assert scipy.sparse.issparse(matrix) and (matrix != matrix.T).nnz == 0
    back = graph_from_sparse(matrix, weights=True)
    np.testing.assert_array_equal(back.neighbors, fuzzy.neighbors)
    np.testing.assert_allclose(back.weights, fuzzy.weights)
    assert graph_from_sparse(matrix).weights is None


def test_graph_from_scikit_learn_kneighbors_graph_is_the_symmetrised_knn_graph():
    """scikit-learn's kneighbors_graph (directed, distances as values) reads as the kNN graph;
    the distances are not taken for weights."""
    from sklearn.neighbors import kneighbors_graph

    from drlim.neighbors import graph_from_sparse

    X = np.random.default_rng(1).normal(size=(80, 5)).astype(np.float32)
    for mode in ("connectivity", "distance"):
        graph = graph_from_sparse(kneighbors_graph(X, 5, mode=mode))
        assert graph.weights is None
        np.testing.assert_array_equal(graph.to_dense(), knn_graph(X, k=5).to_dense())
    # Symmetrised distances of small features lie in (0, 1], like memberships: still no weights.
    distances = kneighbors_graph(X / 100, 5, mode="distance")
    symmetric = distances.maximum(distances.T)
    assert symmetric.max() <= 1
    assert graph_from_sparse(symmetric).weights is None


@pytest.mark.parametrize(
    ("matrix", "kwargs", "named"),
    [
        (np.eye(3), {}, "SciPy sparse"),
        ("rect", {}, "square"),
        ("asym", {"weights": True}, "symmetric"),
        ("nan", {}, "finite"),
        ("asym", {"weights": None}, "True or False"),
    ],
)
def test_graph_from_sparse_refuses_bad_input(matrix, kwargs, named):
    import scipy.sparse

    from drlim.neighbors import graph_from_sparse

    made = {
        "rect": scipy.sparse.csr_matrix(np.ones((2, 3))),
        "asym": scipy.sparse.csr_matrix(np.array([[0, 0.5], [0, 0]])),
        "nan": scipy.sparse.csr_matrix(np.array([[0, np.nan], [np.nan, 0]])),
    }
    with pytest.raises(ValueError, match=named):
        graph_from_sparse(made.get(matrix, matrix) if isinstance(matrix, str) else matrix,
                          **kwargs)
