"""The contrastive loss against independent NumPy formulations, its springs and its errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drlim.loss import (
    contrastive_loss,
    dissimilar_loss,
    pair_distance,
    similar_from_labels,
    similar_loss,
)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(64, 3)).astype(np.float32) * 0.5
    z2 = rng.normal(size=(64, 3)).astype(np.float32) * 0.5
    similar = rng.random(64) < 0.5
    return z1, z2, similar


def test_matches_paper_eq4_with_y(batch):
    z1, z2, similar = batch
    margin = 1.3
    y = (~similar).astype(np.float64)  # paper: Y = 0 similar
    d = np.sqrt(((z1.astype(np.float64) - z2) ** 2).sum(-1))
    expected = (1 - y) * 0.5 * d**2 + y * 0.5 * np.maximum(0, margin - d) ** 2
    got = contrastive_loss(z1, z2, similar, margin=margin)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_matches_seed_tensorflow_snippet(batch):
    z1, z2, similar = batch
    y = similar.astype(np.float64)  # seed snippet: y = 1 similar, margin 1
    d = np.linalg.norm(z1.astype(np.float64) - z2, axis=-1)
    tmp = y * d**2
    tmp2 = (1 - y) * np.maximum(1 - d, 0) ** 2
    expected = np.sum(tmp + tmp2) / len(y) / 2
    got = contrastive_loss(z1, z2, similar, margin=1.0, reduction="mean")
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_matches_relu_formulation_and_sum(batch):
    z1, z2, similar = batch
    y = similar.astype(np.float64)
    d = np.linalg.norm(z1.astype(np.float64) - z2, axis=-1)
    per_pair = 0.5 * (y * d**2 + (1 - y) * np.clip(2.0 - d, 0, None) ** 2)
    np.testing.assert_allclose(
        contrastive_loss(z1, z2, similar, margin=2.0, reduction="mean"), per_pair.mean(), rtol=1e-5
    )
    np.testing.assert_allclose(
        contrastive_loss(z1, z2, similar, margin=2.0, reduction="sum"), per_pair.sum(), rtol=1e-5
    )


def test_partial_losses_are_the_two_branches():
    d = jnp.linspace(0, 3, 31)
    np.testing.assert_allclose(similar_loss(d), 0.5 * d**2, rtol=1e-6)
    np.testing.assert_allclose(
        dissimilar_loss(d, 2.0), 0.5 * np.maximum(2.0 - np.asarray(d), 0) ** 2, rtol=1e-6
    )
    assert float(dissimilar_loss(jnp.array(2.5), 2.0)) == 0.0


def test_distance_gradient_at_zero_is_finite():
    z = jnp.ones((4, 2))
    grad = jax.grad(lambda a: pair_distance(a, z).sum())(z)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad, 0.0)
    for similar in (True, False):
        g = jax.grad(
            lambda a, s=similar: contrastive_loss(a, z, jnp.full(4, s), reduction="sum")
        )(z)
        assert np.all(np.isfinite(g))


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_spring_forces(margin):
    """dL/dD = D for similar pairs; -(m - D) for dissimilar pairs inside the margin, 0 beyond."""
    direction = jnp.array([0.6, 0.8])

    def loss_at(d, similar):
        return contrastive_loss(
            jnp.zeros((1, 2)), (d * direction)[None], jnp.array([similar]), margin, "sum"
        )

    for d in (0.1, 0.4, 0.9, 1.5, 2.5):
        np.testing.assert_allclose(jax.grad(loss_at)(d, True), d, rtol=1e-5)
        expected = -(margin - d) if d < margin else 0.0
        np.testing.assert_allclose(jax.grad(loss_at)(d, False), expected, rtol=1e-5, atol=1e-7)


def test_jit_vmap_equals_unbatched(batch):
    z1, z2, similar = batch
    single = jax.jit(jax.vmap(lambda a, b, s: contrastive_loss(a, b, s, 1.5)))
    np.testing.assert_allclose(
        single(z1, z2, similar), contrastive_loss(z1, z2, similar, 1.5), rtol=1e-6
    )


def test_bfloat16_runs_and_is_close(batch):
    z1, z2, similar = batch
    got = jax.jit(lambda a, b: contrastive_loss(a, b, similar, reduction="mean"))(
        z1.astype(jnp.bfloat16), z2.astype(jnp.bfloat16)
    )
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        float(got), float(contrastive_loss(z1, z2, similar, reduction="mean")), rtol=3e-2
    )
    grad = jax.grad(
        lambda a: contrastive_loss(a, z2.astype(jnp.bfloat16), similar, reduction="sum")
    )(z1.astype(jnp.bfloat16))
    assert grad.dtype == jnp.bfloat16 and np.all(np.isfinite(np.asarray(grad, np.float32)))


def test_label_conventions():
    labels = np.array([0, 1, 1, 0])
    np.testing.assert_array_equal(
        similar_from_labels(labels, convention="paper"), [True, False, False, True]
    )
    np.testing.assert_array_equal(
        similar_from_labels(labels, convention="one_is_similar"), [False, True, True, False]
    )
    with pytest.raises(ValueError, match="convention"):
        similar_from_labels(labels, convention="keras?")
    with pytest.raises(ValueError, match="labels"):
        similar_from_labels(np.array([0, 2]), convention="paper")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"margin": 0.0}, "margin"),
        ({"margin": -1.0}, "margin"),
        ({"reduction": "max"}, "reduction"),
        ({"similar": np.array([1, 0, 1])}, "similar"),
        ({"similar": np.array([True, False])}, "similar"),
        ({"z2": np.zeros((3, 3))}, "z1 and z2"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = {
        "z1": np.zeros((3, 2)),
        "z2": np.ones((3, 2)),
        "similar": np.array([True, False, True]),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        contrastive_loss(**args)
    if "margin" in kwargs:
        with pytest.raises(ValueError, match="margin"):
            dissimilar_loss(jnp.ones(3), kwargs["margin"])
