"""Training with UMAP's loss and InfoNCE, and with invariances drawn on the fly."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from drlim.augment import random_shift
from drlim.config import config_to_dict
from drlim.models import MLP
from drlim.neighbors import fuzzy_knn_graph, knn_graph
from drlim.train import TrainConfig, embed, train


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


def test_augment_callable_changes_training_and_none_does_not(blobs):
    images = np.random.default_rng(2).random((40, 8, 8, 1)).astype(np.float32)
    graph = knn_graph(images.reshape(40, -1), k=3)
    config = TrainConfig(steps=2, batch_size=8, loss="umap", log_every=1)
    plain = train(MLP(n_components=2), images, graph, config).history
    same = train(MLP(n_components=2), images, graph, config,
                 augment=lambda key, image: image).history
    shifted = train(MLP(n_components=2), images, graph, config,
                    augment=lambda key, image: random_shift(key, image, 3)).history
    assert plain[0]["loss"] != shifted[0]["loss"]
    # The identity transformation only adds self loops: the loss stays finite and comparable.
    assert np.isfinite(same[0]["loss"]) and jnp.isfinite(shifted[-1]["loss"])


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
