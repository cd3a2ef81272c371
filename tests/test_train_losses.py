"""Training with UMAP's loss and InfoNCE, and with invariances drawn on the fly."""

import json

import numpy as np
import pytest

from drlim.augment import random_shift
from drlim.config import config_to_dict
from drlim.loss import umap_ab
from drlim.models import MLP
from drlim.neighbors import fuzzy_knn_graph, knn_graph
from drlim.train import TrainConfig, embed, initial_params, train


@pytest.fixture(scope="module")
def blobs():
    """Three well separated clusters in 8-D."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(3, 8))
    labels = np.repeat(np.arange(3), 60)
    return (centres[labels] + rng.normal(size=(180, 8))).astype(np.float32), labels


@pytest.mark.parametrize("loss", ["umap", "infonce", "neg"])
def test_new_losses_learn_and_log_both_parts(blobs, loss):
    x, labels = blobs
    graph = fuzzy_knn_graph(x, k=10) if loss == "umap" else knn_graph(x, k=10)
    config = TrainConfig(steps=200, batch_size=64, loss=loss, negatives=4, log_every=50)
    result = train(MLP(hidden=(32,), n_components=2), x, graph, config)
    first, last = result.history[0], result.history[-1]
    for row in result.history:
        assert row["loss"] == pytest.approx(row["loss_similar"] + row["loss_dissimilar"], rel=1e-5)
    assert last["loss"] < first["loss"]
    z = embed(MLP(hidden=(32,), n_components=2), result.params, x)
    within = np.mean([np.linalg.norm(z[labels == c] - z[labels == c].mean(0), axis=1).mean()
                      for c in range(3)])
    between = np.linalg.norm(z[:, None] - z[None], axis=-1).mean()
    assert within < 0.5 * between


@pytest.mark.parametrize("loss", ["umap", "neg"])
def test_first_step_losses_match_their_expectation_under_the_sampling(blobs, loss):
    """The logged parts of step 1 (at the initial weights) against their expectation computed
    here in NumPy over every edge and every pair: edges drawn in proportion to their weight,
    negatives uniform over all samples, the repulsion summed over ``negatives`` per edge.
    Within 5 standard errors of the sampling (4,096 edges, 5 negatives each)."""
    x, _ = blobs
    graph = fuzzy_knn_graph(x, k=10) if loss == "umap" else knn_graph(x, k=10)
    config = TrainConfig(steps=1, batch_size=4096, loss=loss, negatives=5, log_every=1)
    network = MLP(hidden=(32,), n_components=2)
    (row,) = train(network, x, graph, config).history
    z = np.asarray(embed(network, initial_params(network, x, 0), x), np.float64)
    d2 = ((z[:, None] - z[None]) ** 2).sum(-1)
    if loss == "umap":
        a, b = umap_ab(config.min_dist)
        power = a * d2**b
        attract, repel = np.log1p(power), -np.log(np.maximum(power / (1 + power), 1e-4))
    else:
        attract, repel = np.log(2 + d2), np.log1p(1 / (1 + d2))
    weights = graph.to_sparse().toarray()  # w_ij, or 1 per edge without weights
    edge_p = weights / weights.sum()
    anchor_p = edge_p.sum(axis=1)  # an anchor's chance is its row's share of the weight
    mean_attract = (edge_p * attract).sum()
    se_attract = np.sqrt((edge_p * (attract - mean_attract) ** 2).sum() / 4096)
    pair_p = anchor_p[:, None] / len(x)  # anchor by weight, negative uniform
    mean_repel = (pair_p * repel).sum()
    se_repel = np.sqrt((pair_p * (repel - mean_repel) ** 2).sum() / (4096 * 5))
    assert abs(row["loss_similar"] - mean_attract) < 5 * se_attract + 1e-6
    assert abs(row["loss_dissimilar"] - 5 * mean_repel) < 5 * 5 * se_repel + 1e-6


def test_new_losses_are_reproducible(blobs):
    x, _ = blobs
    config = TrainConfig(steps=20, batch_size=16, loss="umap", log_every=10)
    runs = [train(MLP(n_components=2), x, knn_graph(x, k=5), config).history for _ in range(2)]
    assert [r["loss"] for r in runs[0]] == [r["loss"] for r in runs[1]]


@pytest.mark.parametrize("loss", ["drlim", "umap", "infonce", "neg"])
def test_augment_runs_with_every_loss_and_stays_serialisable(loss):
    images = np.random.default_rng(1).random((40, 8, 8, 1)).astype(np.float32)
    graph = knn_graph(images.reshape(40, -1), k=3)
    config = TrainConfig(steps=4, batch_size=8, loss=loss, augment="shift:2+rotate:5",
                         mode="block", log_every=2)
    assert json.loads(json.dumps(config_to_dict(config)))["augment"] == "shift:2+rotate:5"
    history = train(MLP(n_components=2), images, graph, config).history
    assert np.isfinite(history[-1]["loss"])


def test_augment_callable_changes_training_and_the_identity_does_not():
    images = np.random.default_rng(2).random((40, 8, 8, 1)).astype(np.float32)
    graph = knn_graph(images.reshape(40, -1), k=3)

    def identity(key, image):
        return image

    def shift(key, image):
        return random_shift(key, image, 3)

    # UMAP's loss: any augment gives each sample a self-loop, so both runs draw the same
    # edges and only the transformed images can tell them apart.
    edges = TrainConfig(steps=2, batch_size=8, loss="umap", log_every=1)
    same = train(MLP(n_components=2), images, graph, edges, augment=identity).history
    shifted = train(MLP(n_components=2), images, graph, edges, augment=shift).history
    assert same[0]["loss"] != shifted[0]["loss"]
    # DrLIM's pairs are drawn apart from the augmentations: the identity changes nothing.
    pairs = TrainConfig(steps=2, batch_size=8, log_every=1)
    plain = train(MLP(n_components=2), images, graph, pairs).history
    unchanged = train(MLP(n_components=2), images, graph, pairs, augment=identity).history
    assert [r["loss"] for r in unchanged] == pytest.approx([r["loss"] for r in plain], rel=1e-6)
    moved = train(MLP(n_components=2), images, graph, pairs, augment=shift).history
    assert moved[0]["loss"] != plain[0]["loss"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "tsne"}, "loss"),
        ({"negatives": 0}, "negatives"),
        ({"min_dist": -0.1}, "min_dist"),
        ({"augment": "flip:1"}, "augment"),
        ({"augment": "shift:1.5"}, "augment"),
    ],
)
def test_bad_loss_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)
