"""The contrastive loss against independent NumPy formulations, its springs and its errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drlim.loss import (
    cauchy_similarity,
    contrastive_loss,
    dissimilar_loss,
    infonce_loss,
    infonce_parts,
    neg_loss,
    pair_distance,
    similar_from_labels,
    similar_loss,
    umap_ab,
    umap_loss,
    umap_similarity,
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


# --- UMAP's loss, NEG and InfoNCE ---------------------------------------------------------------


def _numpy_umap(z1, z2, similar, a, b, eps):
    """UMAP's fuzzy cross-entropy per pair, written from the paper with float64 NumPy."""
    d = np.linalg.norm(z1.astype(np.float64) - z2, axis=-1)
    q = 1.0 / (1.0 + a * d ** (2 * b))
    return np.where(similar, -np.log(q), -np.log(np.maximum(1.0 - q, eps)))


def _numpy_infonce(anchor, positive, negatives):
    """-log(q_pos / (q_pos + sum_m q_neg_m)) with the Cauchy kernel, float64 NumPy."""
    anchor, positive, negatives = (np.asarray(x, np.float64) for x in (anchor, positive, negatives))
    q_pos = 1.0 / (1.0 + ((anchor - positive) ** 2).sum(-1))
    q_neg = 1.0 / (1.0 + ((anchor[:, None, :] - negatives) ** 2).sum(-1))
    return -np.log(q_pos / (q_pos + q_neg.sum(-1)))


def _numpy_neg(z1, z2, similar):
    """Negative sampling as a logistic classifier of log q (Cauchy kernel), float64 NumPy."""
    d2 = ((z1.astype(np.float64) - z2) ** 2).sum(-1)
    p = 1.0 / (1.0 + np.exp(-np.log(1.0 / (1.0 + d2))))  # sigmoid(log q) = q / (q + 1)
    return np.where(similar, -np.log(p), -np.log(1.0 - p))


@pytest.mark.parametrize("min_dist", [0.0, 0.1, 0.5])
def test_umap_ab_matches_umap_learn(min_dist):
    find_ab_params = pytest.importorskip("umap.umap_").find_ab_params
    expected = find_ab_params(1.0, min_dist)
    np.testing.assert_allclose(umap_ab(min_dist), expected, rtol=1e-3)


def test_umap_ab_default_values():
    a, b = umap_ab(0.1)
    assert abs(a - 1.577) < 2e-3 and abs(b - 0.895) < 2e-3


@pytest.mark.parametrize("a, b", [(1.577, 0.895), (1.0, 1.0), (1.93, 0.79)])
def test_umap_loss_matches_numpy(batch, a, b):
    z1, z2, similar = batch
    got = umap_loss(z1, z2, similar, a=a, b=b)
    np.testing.assert_allclose(got, _numpy_umap(z1, z2, similar, a, b, 1e-4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        umap_loss(z1, z2, similar, a=a, b=b, reduction="mean"), got.mean(), rtol=1e-6
    )


def test_umap_loss_is_finite_at_zero_and_far():
    z = jnp.zeros((2, 2))
    far = jnp.full((2, 2), 1e15)
    for other in (z, far):
        values = umap_loss(z, other, jnp.array([True, False]))
        assert np.all(np.isfinite(values))
    np.testing.assert_allclose(umap_loss(z, z, jnp.array([True, False])), [0.0, -np.log(1e-4)],
                               rtol=1e-5)
    for similar in (True, False):
        grad = jax.grad(lambda a, s=similar: umap_loss(a, z, jnp.full(2, s), reduction="sum"))(z)
        assert np.all(np.isfinite(grad))


def test_umap_gradients_attract_and_repel():
    """The positive term pulls the pair together, the negative one pushes it apart."""
    direction = jnp.array([0.6, 0.8])

    def loss_at(d, similar):
        return umap_loss(jnp.zeros((1, 2)), (d * direction)[None], jnp.array([similar]),
                         reduction="sum")

    for d in (0.1, 0.5, 2.0):
        assert jax.grad(loss_at)(d, True) > 0
        assert jax.grad(loss_at)(d, False) < 0


def test_umap_similarity_and_cauchy_kernel():
    d2 = np.linspace(0, 4, 9)
    np.testing.assert_allclose(umap_similarity(d2, 1.5, 0.9), 1 / (1 + 1.5 * d2**0.9), rtol=1e-6)
    np.testing.assert_allclose(cauchy_similarity(d2), 1 / (1 + d2), rtol=1e-6)


def test_neg_loss_matches_numpy(batch):
    z1, z2, similar = batch
    far = 4.0 * z2  # distances from about 0 to 10
    for other in (z2, far):
        got = neg_loss(z1, other, similar)
        np.testing.assert_allclose(got, _numpy_neg(z1, other, similar), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(neg_loss(z1, other, similar, "sum"), got.sum(), rtol=1e-5)


def test_neg_loss_finite_at_zero_and_far_and_its_forces():
    z = jnp.zeros((2, 2))
    np.testing.assert_allclose(neg_loss(z, z, jnp.array([True, False])), [np.log(2)] * 2,
                               rtol=1e-6)
    assert np.all(np.isfinite(neg_loss(z, jnp.full((2, 2), 1e15), jnp.array([True, False]))))
    for similar in (True, False):
        grad = jax.grad(lambda a, s=similar: neg_loss(a, z, jnp.full(2, s), reduction="sum"))(z)
        assert np.all(np.isfinite(grad))
    direction = jnp.array([0.6, 0.8])

    def loss_at(d, similar):
        return neg_loss(jnp.zeros((1, 2)), (d * direction)[None], jnp.array([similar]), "sum")

    for d in (0.1, 0.5, 2.0):
        assert jax.grad(loss_at)(d, True) > 0 > jax.grad(loss_at)(d, False)


def test_infonce_matches_numpy():
    rng = np.random.default_rng(1)
    anchor, positive = rng.normal(size=(2, 32, 2)).astype(np.float32) * 2
    negatives = rng.normal(size=(32, 7, 2)).astype(np.float32) * 2
    got = infonce_loss(anchor, positive, negatives)
    np.testing.assert_allclose(got, _numpy_infonce(anchor, positive, negatives), rtol=1e-5)
    pos, neg = infonce_parts(anchor, positive, negatives)
    np.testing.assert_allclose(pos + neg, got, rtol=1e-6)
    np.testing.assert_allclose(infonce_loss(anchor, positive, negatives, "sum"), got.sum(),
                               rtol=1e-5)


def test_infonce_shared_negatives_broadcast():
    rng = np.random.default_rng(2)
    anchor, positive = rng.normal(size=(2, 5, 2)).astype(np.float32)
    shared = rng.normal(size=(9, 2)).astype(np.float32)
    per_anchor = np.broadcast_to(shared, (5, 9, 2))
    np.testing.assert_allclose(infonce_loss(anchor, positive, shared),
                               _numpy_infonce(anchor, positive, per_anchor), rtol=1e-5)


def test_infonce_finite_at_zero_and_far():
    z = jnp.zeros((3, 2))
    for negatives in (jnp.zeros((3, 4, 2)), jnp.full((3, 4, 2), 1e15)):
        assert np.all(np.isfinite(infonce_loss(z, z, negatives)))
        grad = jax.grad(lambda a, n=negatives: infonce_loss(a, z, n, "sum"))(z)
        assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(infonce_loss(z, z, jnp.zeros((3, 4, 2))), np.log(5.0), rtol=1e-6)


def test_new_losses_jit_vmap_equal_unbatched(batch):
    z1, z2, similar = batch
    umap_single = jax.jit(jax.vmap(lambda a, b, s: umap_loss(a, b, s)))
    np.testing.assert_allclose(umap_single(z1, z2, similar), umap_loss(z1, z2, similar),
                               rtol=1e-6)
    neg_single = jax.jit(jax.vmap(lambda a, b, s: neg_loss(a, b, s)))
    np.testing.assert_allclose(neg_single(z1, z2, similar), neg_loss(z1, z2, similar),
                               rtol=1e-6)
    negatives = np.stack([z2[::-1], np.roll(z2, 3, axis=0)], axis=1)
    infonce_single = jax.jit(jax.vmap(lambda a, p, n: infonce_loss(a[None], p[None], n[None])[0]))
    np.testing.assert_allclose(infonce_single(z1, z2, negatives),
                               infonce_loss(z1, z2, negatives), rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: umap_ab(-0.1), "min_dist"),
        (lambda: neg_loss(np.zeros((3, 2)), np.zeros((3, 2)), np.ones(3)), "similar"),
        (lambda: neg_loss(np.zeros((3, 2)), np.zeros((4, 2)), np.ones(3, bool)),
         "z1 and z2 must have the same shape"),
        (lambda: umap_ab(0.1, spread=0.0), "spread"),
        (lambda: umap_loss(np.zeros((3, 2)), np.zeros((3, 2)), np.ones(3)), "similar"),
        (lambda: umap_loss(np.zeros((3, 2)), np.zeros((3, 2)), np.ones(3, bool), reduction="x"),
         "reduction"),
        (lambda: infonce_loss(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 4, 3))),
         "negatives"),
        (lambda: infonce_loss(np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((3, 4, 2))),
         "anchor and positive must have the same shape"),
        (lambda: umap_ab(float("nan")), "min_dist must be a finite number"),
        (lambda: umap_ab(True), "min_dist must be a finite number"),
        (lambda: umap_ab(0.1, spread=float("inf")), "spread must be a finite number > 0"),
        (lambda: umap_ab(2.0, spread=1.0), r"min_dist must be a finite number in \[0, 1.0\]"),
    ],
)
def test_new_losses_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
