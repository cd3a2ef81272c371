"""The estimator with UMAP's loss, InfoNCE and augmentation: defaults, fit, save and errors."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits

from drlim.estimator import DEFAULT_MIN_STEPS, LOSS_DEFAULTS, DrLIM
from drlim.metrics import knn_accuracy
from drlim.models import MLP


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


# UMAP's loss settles slower: after 157 steps at 1e-2 its 5-NN accuracy spread over 0.575 to
# 0.725 across seeds 0-5 (2 AMD EPYC cores), so it trains with its default epochs and learning
# rate (0.78 to 0.86).
@pytest.mark.parametrize("loss, schedule", [
    ("umap", {"epochs": 64.0}),
    ("infonce", {"epochs": 20.0, "learning_rate": 1e-2}),
    ("neg", {"epochs": 20.0, "learning_rate": 1e-2}),
])
def test_new_losses_fit_a_map_that_keeps_classes(digits, loss, schedule):
    X, y = digits
    model = DrLIM(loss=loss, batch_size=128, random_state=0, **schedule).fit(X[:1000])
    assert isinstance(model.network_, MLP) and model.network_.activation == "relu"
    z_train, z_test = model.transform(X[:1000]), model.transform(X[1000:1400])
    assert np.all(np.isfinite(z_test))
    # Far above chance (0.1) and PCA's 2-D map (about 0.55).
    assert knn_accuracy(z_train, y[:1000], z_test, y[1000:1400], 5) > 0.65
    assert model.graph_.weights is not None if loss == "umap" else model.graph_.weights is None


def test_per_loss_defaults_fill_none_and_keep_drlim(digits):
    X, _ = digits
    drlim_config = DrLIM()._train_config(1000)
    assert drlim_config.loss == "drlim" and drlim_config.learning_rate == 1e-2
    assert drlim_config.batch_size == 64  # anchors: 128 images a step
    umap_config = DrLIM(loss="umap", negatives=3, min_dist=0.3)._train_config(1000)
    defaults = LOSS_DEFAULTS["umap"]
    assert umap_config.batch_size == defaults["batch_size"]
    assert umap_config.learning_rate == defaults["learning_rate"]
    assert (umap_config.negatives, umap_config.min_dist) == (3, 0.3)
    assert umap_config.steps == max(DEFAULT_MIN_STEPS,
                                    int(np.ceil(defaults["epochs"] * 1000 / 256)))


def test_augment_string_and_callable_and_save(digits, tmp_path):
    images = digits[0][:200].reshape(200, 8, 8)
    for augment in ("shift:1", lambda key, image: image):
        model = DrLIM(loss="infonce", augment=augment, network="mlp", batch_size=32, epochs=0.5,
                      random_state=0).fit(images)
        assert model.transform(images[:5]).shape == (5, 2)
        loaded = DrLIM.load(model.save(tmp_path / "model.msgpack"))
        np.testing.assert_allclose(loaded.transform(images[:5]), model.transform(images[:5]))
    assert clone(DrLIM(augment="shift:2")).augment == "shift:2"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "tsne"}, "loss"),
        ({"loss": "umap", "negatives": 0}, "negatives"),
        ({"augment": 3}, "augment"),
        ({"augment": "flip:2"}, "augment"),
    ],
)
def test_bad_loss_parameters_raise(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        DrLIM(**kwargs).fit(digits[0][:50])
