"""Refining new samples against the training map: the gradient against automatic
differentiation of the objective written out, what refining does to the objective and to
held-out neighbourhoods, independence of the other samples, the estimator's refine, errors.
Refining the training map itself: what it does to the map's neighbourhoods, the loss and
graph it trains on, errors."""

import dataclasses
import functools
import json

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from drlim import DrLIM, TrainConfig, knn_accuracy, knn_graph, trustworthiness
from drlim.refine import (
    REFINE_PERPLEXITY,
    input_affinities,
    kl_divergence,
    kl_gradient,
    local_scale,
    refine_embedding,
    refine_map,
)


def kl_objective(z, reference, neighbours, affinities):
    """Sum over rows of KL(P_i || Q_i), Q_i the normalised Cauchy kernel to every reference row."""
    sq = jnp.sum((z[:, None, :] - reference[None, :, :]) ** 2, axis=-1)
    log_q = -jnp.log1p(sq) - jnp.log(jnp.sum(1.0 / (1.0 + sq), axis=1, keepdims=True))
    log_q_neighbours = jnp.take_along_axis(log_q, neighbours, axis=1)
    return jnp.sum(affinities * (jnp.log(affinities) - log_q_neighbours))


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X_reference = rng.normal(size=(300, 6)).astype(np.float32)
    Z_reference = (X_reference[:, :2] * 3).astype(np.float32)
    X = X_reference[:40] + rng.normal(scale=0.1, size=(40, 6)).astype(np.float32)
    return X, X_reference, Z_reference


def test_gradient_matches_automatic_differentiation_of_the_objective(problem):
    X, X_reference, Z_reference = problem
    neighbours, affinities = input_affinities(X, X_reference, 10.0)
    z = jnp.asarray(np.random.default_rng(1).normal(size=(40, 2)), jnp.float32)
    args = (jnp.asarray(Z_reference), jnp.asarray(neighbours), jnp.asarray(affinities))
    expected = jax.grad(kl_objective)(z, *args)
    np.testing.assert_allclose(kl_gradient(z, *args), expected, rtol=2e-4, atol=1e-6)


def test_each_row_s_divergence_is_its_kl_written_out(problem):
    X, X_reference, Z_reference = problem
    neighbours, affinities = input_affinities(X, X_reference, 10.0)
    z = jnp.asarray(np.random.default_rng(1).normal(size=(40, 2)), jnp.float32)
    args = (jnp.asarray(Z_reference), jnp.asarray(neighbours), jnp.asarray(affinities))
    expected = [float(kl_objective(z[i:i + 1], args[0], args[1][i:i + 1], args[2][i:i + 1]))
                for i in range(len(z))]
    np.testing.assert_allclose(kl_divergence(z, *args), expected, rtol=1e-4, atol=1e-5)
    assert np.all(np.asarray(kl_divergence(z, *args)) > 0)


def test_from_nearest_frees_samples_caught_in_the_wrong_cluster():
    rng = np.random.default_rng(4)
    centres = np.array([[0.0] * 6, [8.0] * 6])
    X_reference = np.concatenate([c + rng.normal(size=(60, 6)) for c in centres])
    Z_reference = np.concatenate([[0.0, 0.0] + rng.normal(size=(60, 2)),
                                  [100.0, 0.0] + rng.normal(size=(60, 2))])
    X = centres[0] + rng.normal(size=(10, 6))  # neighbours in cluster 0, started in 1
    start = np.tile([100.0, 0.0], (10, 1))
    args = (X.astype(np.float32), X_reference.astype(np.float32),
            Z_reference.astype(np.float32))
    stuck = refine_embedding(start, *args, steps=300)  # a local minimum: cluster 1 repels
    freed = refine_embedding(start, *args, steps=300, from_nearest=True)
    assert np.all(stuck[:, 0] > 100) and np.all(np.abs(freed[:, 0]) < 20)
    neighbours, affinities = input_affinities(*args[:2], REFINE_PERPLEXITY)
    kl = functools.partial(kl_divergence, reference=jnp.asarray(Z_reference, jnp.float32),
                           neighbours=neighbours, affinities=affinities)
    assert np.all(kl(jnp.asarray(freed, jnp.float32)) < kl(jnp.asarray(stuck, jnp.float32)))
    alone = np.concatenate([refine_embedding(start[i:i + 1], args[0][i:i + 1], *args[1:],
                                             steps=300, from_nearest=True) for i in (0, 9)])
    np.testing.assert_allclose(alone, freed[[0, 9]], rtol=0, atol=1e-5)


def test_from_nearest_keeps_each_sample_s_start_with_the_lower_objective():
    rng = np.random.default_rng(5)
    X_reference = rng.normal(size=(200, 6)).astype(np.float32)
    Z_reference = rng.normal(scale=5.0, size=(200, 2)).astype(np.float32)  # unrelated to X
    X = X_reference[:40] + rng.normal(scale=0.3, size=(40, 6)).astype(np.float32)
    start = rng.normal(scale=5.0, size=(40, 2))
    args = (X, X_reference, Z_reference)
    neighbours, affinities = input_affinities(X, X_reference, REFINE_PERPLEXITY)
    from_network = refine_embedding(start, *args, steps=20)
    from_nearest = refine_embedding(Z_reference[neighbours[:, 0]], *args, steps=20)
    kl = functools.partial(kl_divergence, reference=jnp.asarray(Z_reference),
                           neighbours=neighbours, affinities=affinities)
    gap = np.asarray(kl(jnp.asarray(from_nearest, jnp.float32))
                     - kl(jnp.asarray(from_network, jnp.float32)))
    clear = np.abs(gap) > 1e-3  # rows whose choice rounding cannot flip
    assert clear.sum() > 30 and 0 < (gap[clear] < 0).sum() < clear.sum()
    both = refine_embedding(start, *args, steps=20, from_nearest=True)
    expected = np.where((gap < 0)[:, None], from_nearest, from_network)
    np.testing.assert_allclose(both[clear], expected[clear], rtol=0, atol=1e-5)


def test_affinities_are_rows_of_the_asked_perplexity_on_the_nearest_samples(problem):
    X, X_reference, _ = problem
    neighbours, affinities = input_affinities(X, X_reference, 10.0)
    assert neighbours.shape == affinities.shape == (40, 30)
    distances = np.linalg.norm(X[:, None, :] - X_reference[None, :, :], axis=-1)
    np.testing.assert_array_equal(np.sort(neighbours, axis=1),
                                  np.sort(np.argsort(distances, axis=1)[:, :30], axis=1))
    np.testing.assert_allclose(affinities.sum(axis=1), 1.0, rtol=1e-5)
    entropy = -np.sum(affinities * np.log(affinities), axis=1)
    np.testing.assert_allclose(np.exp(entropy), 10.0, rtol=1e-3)


def test_refining_lowers_every_sample_s_objective_and_zero_steps_change_nothing(problem):
    X, X_reference, Z_reference = problem
    start = np.random.default_rng(2).normal(scale=3, size=(40, 2))
    assert np.array_equal(refine_embedding(start, X, X_reference, Z_reference, steps=0), start)
    refined = refine_embedding(start, X, X_reference, Z_reference, steps=200, perplexity=10.0)
    neighbours, affinities = input_affinities(X, X_reference, 10.0)
    args = (jnp.asarray(Z_reference), jnp.asarray(neighbours), jnp.asarray(affinities))

    def each(z):
        return [float(kl_objective(jnp.asarray(z[i:i + 1], jnp.float32), args[0],
                                   args[1][i:i + 1], args[2][i:i + 1])) for i in range(len(z))]

    assert np.all(np.array(each(refined)) < np.array(each(start)))
    # A sample near training sample i lands near i's place on the map.
    near = np.linalg.norm(refined - Z_reference[:40], axis=1)
    assert np.median(near) < 0.2 * np.std(Z_reference)


def test_a_sample_lands_where_it_would_alone(problem):
    X, X_reference, Z_reference = problem
    start = np.random.default_rng(3).normal(size=(40, 2))
    together = refine_embedding(start, X, X_reference, Z_reference, steps=50)
    alone = np.concatenate([refine_embedding(start[i:i + 1], X[i:i + 1], X_reference,
                                             Z_reference, steps=50) for i in (0, 17, 39)])
    np.testing.assert_allclose(alone, together[[0, 17, 39]], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 2)), np.zeros((4, 6))), "X must have one row per row of Z"),
        ((np.zeros((3, 3)), np.zeros((3, 6))), "Z must have 2 columns"),
        ((np.zeros((3, 2)), np.zeros((3, 5))), "X must have 6 features"),
    ],
)
def test_refine_embedding_refuses_mismatched_shapes(problem, args, match):
    _, X_reference, Z_reference = problem
    with pytest.raises(ValueError, match=match):
        refine_embedding(*args, X_reference, Z_reference)
    with pytest.raises(ValueError, match="Z_reference must have one row per row"):
        refine_embedding(np.zeros((3, 2)), np.zeros((3, 6)), X_reference, Z_reference[:10])


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    return X[:1500], y[:1500], X[1500:], y[1500:]


def test_the_estimator_s_refine_moves_held_out_digits_closer_to_their_neighbours(
        digits_split, tmp_path):
    X, y, X_test, y_test = digits_split
    plain = DrLIM(loss="infonce", epochs=16.0, random_state=0).fit(X)
    refined = DrLIM(loss="infonce", epochs=16.0, refine=100, random_state=0).fit(X)
    network_map = DrLIM(loss="infonce", epochs=16.0, refine=100, refine_epochs=0,
                        random_state=0).fit(X)
    assert not hasattr(plain, "reference_")
    np.testing.assert_array_equal(network_map.embedding_, plain.transform(X).astype(np.float32))
    assert trustworthiness(X, refined.embedding_) > trustworthiness(X, network_map.embedding_)
    Z_plain, Z_refined = plain.transform(X_test), refined.transform(X_test)
    assert trustworthiness(X_test, Z_refined) > trustworthiness(X_test, Z_plain) + 0.01
    assert (knn_accuracy(refined.transform(X), y, Z_refined, y_test)
            > knn_accuracy(plain.transform(X), y, Z_plain, y_test))
    loaded = DrLIM.load(refined.save(tmp_path / "refined.drlim"))
    np.testing.assert_array_equal(loaded.transform(X_test), Z_refined)
    with pytest.raises(ValueError, match="refine=100 needs the training samples"):
        plain.set_params(refine=100).transform(X_test)
    path = refined.set_params(refine_from_nearest=True).save(tmp_path / "nearest.drlim")
    Z_nearest = DrLIM.load(path).transform(X_test)
    assert not np.array_equal(Z_nearest, Z_refined)
    network_Z = refined.set_params(refine=0).transform(X_test)
    np.testing.assert_array_equal(
        Z_nearest, refine_embedding(network_Z, X_test, refined.reference_, refined.embedding_,
                                    100, from_nearest=True))
    payload = flax.serialization.msgpack_restore(path.read_bytes())
    settings = json.loads(payload["settings"])
    del settings["refine_from_nearest"]  # as in files written before it existed
    payload["settings"] = json.dumps(settings)
    path.write_bytes(flax.serialization.msgpack_serialize(payload))
    assert DrLIM.load(path).refine_from_nearest is False


def test_uint8_samples_are_refined_on_the_scale_the_network_reads(digits_split):
    X, _, X_test, _ = digits_split
    pixels = np.round(X * 255).astype(np.uint8)
    test_pixels = np.round(X_test * 255).astype(np.uint8)
    model = DrLIM(loss="infonce", epochs=2.0, refine=20, random_state=0).fit(pixels)
    np.testing.assert_allclose(model.transform(test_pixels[:50]),
                               model.transform(test_pixels[:50].astype(np.float32) / 255),
                               rtol=0, atol=1e-5)


@pytest.mark.slow  # 35 s: make test-slow runs it (in CI too)
def test_refine_pca_compares_samples_on_the_principal_axes(digits_split, tmp_path):
    rng = np.random.default_rng(0)  # jitter: no tied distances for rounding to reorder
    X, X_test = (A + rng.normal(scale=0.01, size=A.shape) for A in digits_split[0::2])
    settings = dict(loss="infonce", epochs=2.0, refine=20, random_state=0)
    pixels = DrLIM(**settings).fit(X)
    rotated = DrLIM(**settings, refine_pca=X.shape[1]).fit(X)  # every axis: distances kept
    sample = rng.choice(len(X), size=(200, 2))

    def distance(A):
        return np.linalg.norm(A[sample[:, 0]] - A[sample[:, 1]], axis=1)

    np.testing.assert_allclose(distance(rotated.reference_), distance(pixels.reference_),
                               rtol=1e-4, atol=1e-5)
    Z = pixels.transform(X_test)
    np.testing.assert_allclose(rotated.transform(X_test), Z, rtol=0, atol=1e-3 * np.std(Z))
    few = DrLIM(**settings, refine_pca=10).fit(X)
    centred = X - X.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2][:10]
    independent = centred @ axes.T  # the axes' signs may differ; distances may not
    assert few.reference_.shape == (len(X), 10) and few.reference_.dtype == np.float32
    np.testing.assert_allclose(distance(few.reference_), distance(independent), rtol=1e-4,
                               atol=1e-5)
    alone = np.concatenate([few.transform(X_test[i:i + 1]) for i in range(10)])
    np.testing.assert_array_equal(alone, few.transform(X_test)[:10])  # whatever the batch
    path = few.save(tmp_path / "few.drlim")
    np.testing.assert_array_equal(DrLIM.load(path).transform(X_test), few.transform(X_test))
    payload = flax.serialization.msgpack_restore(path.read_bytes())
    del payload["pca_mean"]
    damaged = tmp_path / "damaged.drlim"
    damaged.write_bytes(flax.serialization.msgpack_serialize(payload))
    with pytest.raises(ValueError, match="not a drlim model file.*without the other"):
        DrLIM.load(damaged)
    assert path.stat().st_size < pixels.save(tmp_path / "pixels.drlim").stat().st_size
    assert not hasattr(few.set_params(refine_pca=None).fit(X), "pca_components_")


def test_refine_pca_reads_uint8_images_as_the_network_does():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(120, 28, 28), dtype=np.uint8)
    model = DrLIM(loss="infonce", epochs=2.0, refine=10, refine_pca=20, random_state=0)
    model.fit(images[:100])
    assert model.pca_components_.shape == (20, 32 * 32)  # the network's zero-padded digits
    many = rng.integers(0, 256, size=(1100, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"refine_pca must be at most .* = 1024, got 1025"):
        model.set_params(refine_pca=1025).fit(many)
    np.testing.assert_allclose(model.transform(images[100:]),
                               model.transform(images[100:].astype(np.float32) / 255),
                               rtol=0, atol=1e-5)


def test_refine_pca_refuses_more_axes_than_the_samples_have(digits_split):
    X = digits_split[0]
    with pytest.raises(ValueError, match=r"refine_pca must be at most .* = 64, got 65"):
        DrLIM(loss="infonce", refine=20, refine_pca=65).fit(X)
    with pytest.raises(ValueError, match=r"refine_pca must be at most .* = 30, got 31"):
        DrLIM(loss="infonce", refine=20, refine_pca=31).fit(X[:30])


@pytest.fixture(scope="module")
def digits_graph(digits_split):
    X = digits_split[0][:600]
    return X, knn_graph(X, 15)


INFONCE = TrainConfig(steps=0, epochs=1.0, batch_size=64, loss="infonce", seed=0)


def test_refining_the_map_brings_back_neighbourhoods_the_start_lost(digits_graph):
    X, graph = digits_graph
    start = np.random.default_rng(5).normal(size=(len(X), 2))  # a map that keeps nothing
    refined = refine_map(start, graph, INFONCE, epochs=100.0)
    assert refined.shape == start.shape and refined.dtype == np.float64
    assert trustworthiness(X, refined) > trustworthiness(X, start) + 0.25  # 0.51 -> 0.87
    # Graph neighbours end closer than random pairs, by far.
    rows, cols = np.nonzero(graph.neighbors >= 0)
    linked = np.linalg.norm(refined[rows] - refined[graph.neighbors[rows, cols]], axis=1)
    shuffled = np.linalg.norm(refined[rows] - refined[np.random.default_rng(0).permutation(rows)],
                              axis=1)
    assert np.median(linked) < 0.25 * np.median(shuffled)  # 0.14


@pytest.mark.parametrize("loss", ["infonce", "umap", "neg", "drlim"])
def test_refining_the_map_is_reproducible_ignores_augment_and_zero_epochs_change_nothing(
        digits_graph, loss):
    X, graph = digits_graph
    config = dataclasses.replace(INFONCE, loss=loss, mode="block" if loss == "drlim" else "pairs")
    start = np.random.default_rng(4).normal(size=(len(X), 2))
    np.testing.assert_array_equal(refine_map(start, graph, config, epochs=0.0), start)
    once = refine_map(start, graph, config, epochs=5.0)
    again = refine_map(start, graph, dataclasses.replace(config, augment="shift:2"), epochs=5.0)
    np.testing.assert_array_equal(once, again)
    assert not np.allclose(once, start)
    # No place is thrown far off (UMAP's repulsion is unbounded near zero distance).
    assert np.abs(once - start.mean(axis=0)).max() < 10 * np.abs(start).max()


@pytest.mark.parametrize(
    ("Z", "match"),
    [(np.zeros((599, 2)), r"Z must have one row per sample of the graph \(600\), got 599"),
     (np.full((600, 2), np.nan), "Z must be finite")],
)
def test_refine_map_refuses_a_map_that_does_not_fit_the_graph(digits_graph, Z, match):
    with pytest.raises(ValueError, match=match):
        refine_map(Z, digits_graph[1], INFONCE)


@pytest.mark.parametrize(
    ("Z", "config", "learning_rate", "match"),
    [(np.ones((600, 2)), INFONCE, 0.01, "every sample at one place"),
     (None, dataclasses.replace(INFONCE, steps=10, epochs=0.0, mode="all"), 0.01, "got mode 'all'"),
     (None, INFONCE, 0.0, "learning_rate must be")],
)
def test_refine_map_refuses_what_it_cannot_refine(digits_graph, Z, config, learning_rate,
                                                  match):
    Z = np.random.default_rng(6).normal(size=(600, 2)) if Z is None else Z
    with pytest.raises(ValueError, match=match):
        refine_map(Z, digits_graph[1], config, learning_rate=learning_rate)


def test_local_scale_is_the_median_distance_to_the_kth_nearest_other_place():
    from scipy.spatial.distance import cdist

    Z = np.random.default_rng(7).normal(size=(500, 2)) * [1.0, 3.0]
    kth = np.sort(cdist(Z, Z), axis=1)[:, 15]  # column 0 is the place itself
    assert local_scale(Z, k=15) == pytest.approx(np.median(kth), rel=1e-12)
    assert local_scale(5.0 * Z, k=15) == pytest.approx(5.0 * np.median(kth), rel=1e-12)
    assert local_scale(Z, k=15, max_samples=200) == pytest.approx(np.median(kth), rel=0.15)
    # a denser map of the same spread has a smaller scale: what the step should follow
    dense = np.random.default_rng(8).normal(size=(5000, 2)) * [1.0, 3.0]
    assert local_scale(dense) < 0.4 * local_scale(Z)
    # most places on top of one another: the spread, not 0
    stacked = np.vstack([np.zeros((400, 2)), Z[:100]])
    spread = np.sqrt(np.mean(np.sum((stacked - stacked.mean(0)) ** 2, axis=1)))
    assert local_scale(stacked) == pytest.approx(spread)
