"""Tests for drlim.models: parameter counts, shapes, fast == nn.Conv reference, validation."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drlim import models
from drlim.models import (
    MLP,
    LeNetDrLIM,
    LeNetDrLIMMapping,
    LeNetDrLIMReference,
    _biased_maps,
    _im2col,
    _mean_pool,
    _reshaped_biased_maps,
    _reshaped_mean_pool,
    _windows,
    count_params,
    default_network,
    for_mapping,
    lecun_normal_hwio,
    resolve_activation,
)


def lenet_param_count(height: int, width: int, channels: int, n_components: int) -> int:
    """C1 6x6xCx15 + bias, C3 over the whole pooled map x30 + bias, F5 30 -> n + bias."""
    pooled_h, pooled_w = (height - 5) // 3, (width - 5) // 3
    c1 = 6 * 6 * channels * 15 + 15
    c3 = pooled_h * pooled_w * 15 * 30 + 30
    return c1 + c3 + 30 * n_components + n_components


def perturbed(params, seed: int):
    """Every leaf replaced by random normal values, so that biases are non-zero too."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda leaf: (0.3 * rng.standard_normal(leaf.shape)).astype(np.float32), params
    )


def uniform(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """Random float32 images in [0, 1) (NumPy: no JAX compilation per shape)."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_lenet_has_the_papers_37097_parameters():
    net = LeNetDrLIM()
    params = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, 32, 32, 1)))["params"]
    assert count_params(params) == 15 * 36 + 15 + 30 * 15 * 81 + 30 + 30 * 2 + 2 == 37097
    shapes = jax.tree_util.tree_map(jnp.shape, params)
    assert shapes == {
        "C1": {"kernel": (6, 6, 1, 15), "bias": (15,)},
        "C3": {"kernel": (9, 9, 15, 30), "bias": (30,)},
        "F5": {"kernel": (30, 2), "bias": (2,)},
    }


@pytest.mark.parametrize(
    ("shape", "n_components"),
    [((32, 32, 1), 2), ((20, 26, 1), 3), ((8, 8, 1), 2), ((17, 14, 3), 4), ((40, 36), 2)],
)
def test_lenet_shapes_and_counts_for_other_image_sizes(shape, n_components):
    net = LeNetDrLIM(n_components=n_components)
    x = jnp.zeros((5, *shape))
    out, variables = jax.eval_shape(net.init_with_output, jax.random.key(0), x)
    channels = shape[2] if len(shape) == 3 else 1
    assert count_params(variables) == lenet_param_count(*shape[:2], channels, n_components)
    assert out.shape == (5, n_components)
    assert out.dtype == jnp.float32


def test_lenet_jit_matches_eager_and_channel_axis_is_optional():
    net = LeNetDrLIM()
    x = uniform((2, 12, 12), seed=1)
    variables = perturbed(jax.eval_shape(net.init, jax.random.key(0), x), seed=1)
    eager = net.apply(variables, x)
    np.testing.assert_allclose(
        jax.jit(net.apply)(variables, x[..., None]), eager, atol=1e-6, rtol=1e-6
    )


def test_fast_and_reference_share_parameter_tree_and_initialisation():
    @jax.jit
    def both(key):
        x = jnp.zeros((1, 32, 32, 1))
        return LeNetDrLIM().init(key, x), LeNetDrLIMReference().init(key, x)

    fast, ref = both(jax.random.key(3))
    assert jax.tree_util.tree_structure(fast) == jax.tree_util.tree_structure(ref)
    for a, b in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(ref), strict=True):
        np.testing.assert_array_equal(a, b)
    kernel = np.asarray(fast["params"]["C1"]["kernel"])
    assert abs(kernel.std() - 1 / 6) < 0.05
    np.testing.assert_array_equal(fast["params"]["C1"]["bias"], 0.0)


@pytest.mark.parametrize("shape", [(6, 6, 1, 15), (9, 9, 15, 30), (3, 5, 2, 4), (1, 1, 7, 3)])
def test_hwio_initialiser_draws_the_values_of_flax_lecun_normal(shape):
    key = jax.random.key(11)
    np.testing.assert_array_equal(
        lecun_normal_hwio(key, shape), nn.initializers.lecun_normal()(key, shape)
    )


@pytest.mark.parametrize(
    ("shape", "size", "tile"),
    [((2, 8, 8, 1), 6, 1), ((3, 7, 9, 2), 3, 1), ((1, 4, 5, 3), 4, 1), ((2, 8, 8, 1), 6, 3),
     ((3, 7, 9, 2), 3, 7), ((1, 6, 7, 3), 2, 2)],
)
def test_im2col_rows_are_the_patches_a_loop_reads(shape, size, tile):
    x = uniform(shape, seed=4)
    batch, height, width, channels = shape
    span = size + tile - 1
    expected = [
        x[b, r : r + size, c : c + span, :].reshape(-1)
        for b in range(batch)
        for r in range(height - size + 1)
        for c in range(0, width - size + 1, tile)
    ]
    np.testing.assert_array_equal(_im2col(jnp.asarray(x), size, tile), np.stack(expected))


@pytest.mark.parametrize("shape", [(4, 27, 27, 15), (2, 10, 11, 3), (3, 9, 9, 1)])
def test_mean_pool_and_its_gradient_are_bitwise_the_reshaped_mean(shape):
    """The window reduction gives the reshape-and-mean's values and derivatives exactly
    (ragged edges dropped), so that either formulation trains the same network."""
    x = jnp.tanh(jnp.asarray(np.random.default_rng(3).normal(size=shape).astype(np.float32)))
    weights = jnp.asarray(np.random.default_rng(4).normal(
        size=(shape[0], shape[1] // 3, shape[2] // 3, shape[3])).astype(np.float32))
    np.testing.assert_array_equal(_mean_pool(x, 3), _reshaped_mean_pool(x, 3))
    grad = jax.grad(lambda x, pool: jnp.sum(jnp.sin(pool(x, 3)) * weights), argnums=0)
    np.testing.assert_array_equal(grad(x, _mean_pool), grad(x, _reshaped_mean_pool))
    tangent = jnp.cos(x)  # forward mode too: the tangent is pooled like the values
    np.testing.assert_array_equal(jax.jvp(lambda x: _mean_pool(x, 3), (x,), (tangent,))[1],
                                  _reshaped_mean_pool(tangent, 3))
    np.testing.assert_allclose(  # and both are the mean of each window
        _mean_pool(x, 3)[0, 0, 0], np.asarray(x)[0, :3, :3].mean(axis=(0, 1)), rtol=1e-6)


@pytest.mark.parametrize(("shape", "tile"), [((4, 27, 27, 15), 3), ((2, 5, 6, 4), 2)])
def test_biased_maps_and_their_derivatives_are_bitwise_the_reshaped_sum(shape, tile):
    """The bias tiled onto the matmul's rows gives the reshaped maps plus the bias exactly,
    in values, gradients and forward-mode tangents."""
    batch, height, width, features = shape
    rng = np.random.default_rng(5)
    rows = jnp.asarray(rng.normal(size=(batch * height * width // tile, tile * features))
                       .astype(np.float32))
    bias = jnp.asarray(rng.normal(size=features).astype(np.float32))
    expected = np.asarray(rows).reshape(shape) + np.asarray(bias)  # NumPy, independently
    np.testing.assert_array_equal(_biased_maps(rows, bias, shape[:3]), expected)
    np.testing.assert_array_equal(_reshaped_biased_maps(rows, bias, shape[:3]), expected)
    weights = jnp.asarray(rng.normal(size=shape).astype(np.float32))
    grad = jax.grad(lambda rows, bias, maps: jnp.sum(jnp.tanh(maps(rows, bias, shape[:3]))
                                                     * weights), argnums=(0, 1))
    jax.tree.map(np.testing.assert_array_equal, grad(rows, bias, _biased_maps),
                 grad(rows, bias, _reshaped_biased_maps))
    tangents = (jnp.cos(rows), jnp.sin(bias))
    np.testing.assert_array_equal(
        jax.jvp(lambda r, b: _biased_maps(r, b, shape[:3]), (rows, bias), tangents)[1],
        _reshaped_biased_maps(*tangents, shape[:3]))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="bitwise on XLA's CPU backend")
def test_training_steps_are_bitwise_those_of_the_bias_added_after_the_reshape(monkeypatch):
    """Three SGD steps of the paper's network (32x32 input, C1's width whole) give bitwise
    the same losses and parameters whichever way C1's bias is added."""
    images = jnp.asarray(uniform((8, 32, 32, 1), seed=6))
    params = perturbed(LeNetDrLIM().init(jax.random.key(0), images[:1])["params"], 7)

    def loss(p):
        z = LeNetDrLIM().apply({"params": p}, images)
        return jnp.mean(jnp.sum((z[:4] - z[4:]) ** 2, axis=-1))

    def three_steps() -> tuple:
        @jax.jit
        def run(p):
            losses = []
            for _ in range(3):
                value, grads = jax.value_and_grad(loss)(p)
                p = jax.tree.map(lambda a, g: a - 0.1 * g, p, grads)
                losses.append(value)
            return jnp.stack(losses), p

        return run(params)

    def custom_rules() -> int:  # _mean_pool's, and _biased_maps' unless patched out
        return str(jax.make_jaxpr(lambda p: loss(p))(params)).count("custom_jvp_call")

    tiled = three_steps()
    assert custom_rules() == 2
    monkeypatch.setattr(models, "_biased_maps", _reshaped_biased_maps)
    assert custom_rules() == 1
    jax.tree.map(np.testing.assert_array_equal, tiled, three_steps())


@pytest.mark.parametrize(
    ("shape", "span", "step"),
    [((2, 32, 32, 1), (8, 8), (3, 3)), ((1, 14, 17, 3), (8, 8), (3, 3)),
     ((2, 9, 7, 2), (4, 3), (2, 1))],
)
def test_windows_are_the_windows_a_loop_reads(shape, span, step):
    x = uniform(shape, seed=5)
    batch, height, width, _ = shape
    count = ((height - span[0]) // step[0] + 1, (width - span[1]) // step[1] + 1)
    expected = [
        x[b, r : r + span[0], c : c + span[1], :].reshape(-1)
        for b in range(batch)
        for r in range(0, step[0] * count[0], step[0])
        for c in range(0, step[1] * count[1], step[1])
    ]
    np.testing.assert_array_equal(_windows(jnp.asarray(x), span, step, count), np.stack(expected))


def test_im2col_tile_must_divide_the_output_width():
    with pytest.raises(ValueError, match="tile must divide the output width 4"):
        _im2col(jnp.zeros((1, 9, 9, 1)), 6, 3)


@pytest.mark.parametrize(
    ("shape", "activation"),
    # C1's output widths 27, 12, 10 and 5: 3 outputs a row divide the first two, the others pad.
    [((32, 32, 1), "tanh"), ((32, 32, 1), "relu"), ((14, 17, 3), "tanh"), ((12, 15, 2), "tanh"),
     ((9, 10, 1), "relu")],
)
@pytest.mark.parametrize("form", [LeNetDrLIM, LeNetDrLIMMapping])
def test_fast_formulation_matches_nn_conv_reference(shape, activation, form):
    fast = form(n_components=3, activation=activation)
    ref = LeNetDrLIMReference(n_components=3, activation=activation)
    x = uniform((6, *shape), seed=1)
    params = perturbed(jax.eval_shape(fast.init, jax.random.key(0), x)["params"], seed=2)
    weights = np.random.default_rng(4).standard_normal((6, 3)).astype(np.float32)

    @jax.jit
    def outputs_and_grads(p):
        def scalar(net, q):
            return jnp.sum(weights * net.apply({"params": q}, x))

        return (
            fast.apply({"params": p}, x),
            ref.apply({"params": p}, x),
            jax.grad(lambda q: scalar(fast, q))(p),
            jax.grad(lambda q: scalar(ref, q))(p),
        )

    out_fast, out_ref, grad_fast, grad_ref = outputs_and_grads(params)
    np.testing.assert_allclose(out_fast, out_ref, atol=1e-5, rtol=1e-5)
    for name in ("C1", "C3", "F5"):
        for leaf in ("kernel", "bias"):
            np.testing.assert_allclose(
                grad_fast[name][leaf], grad_ref[name][leaf], atol=1e-5, rtol=1e-4
            )


def test_for_mapping_switches_only_the_lenet_with_a_named_activation():
    net = LeNetDrLIM(n_components=3, activation="relu")
    assert for_mapping(net) == LeNetDrLIMMapping(n_components=3, activation="relu")

    class Custom(LeNetDrLIM):
        pass

    for kept in (MLP(hidden=(4,)), LeNetDrLIM(activation=jnp.tanh), Custom()):
        assert for_mapping(kept) is kept


def test_mapping_form_initialises_the_same_parameters_and_keeps_the_training_repr():
    x = jnp.zeros((1, 14, 17, 3))
    both = [form().init(jax.random.key(5), x) for form in (LeNetDrLIM, LeNetDrLIMMapping)]
    assert jax.tree_util.tree_structure(both[0]) == jax.tree_util.tree_structure(both[1])
    for a, b in zip(*map(jax.tree_util.tree_leaves, both), strict=True):
        np.testing.assert_array_equal(a, b)
    # A run is identified by the network's repr: checkpoints written before the mapping form
    # existed name these two attributes only, and must still resume.
    assert "forward_only" not in repr(LeNetDrLIM())


def test_mapping_form_with_an_activation_not_zero_at_zero_matches_the_reference():
    """Its padding lanes hold sigmoid(0) = 0.5, which C3 must meet with zeros."""
    x = uniform((4, 12, 15, 2), seed=6)
    ref = LeNetDrLIMReference(activation=jax.nn.sigmoid)
    params = perturbed(jax.eval_shape(ref.init, jax.random.key(0), x), seed=7)
    np.testing.assert_allclose(LeNetDrLIMMapping(activation=jax.nn.sigmoid).apply(params, x),
                               ref.apply(params, x), atol=1e-5, rtol=1e-5)


def test_relu_variant_differs_from_tanh_and_a_callable_equals_its_name():
    x = uniform((4, 32, 32, 1), seed=1)
    variables = perturbed(jax.eval_shape(LeNetDrLIM().init, jax.random.key(0), x), seed=3)

    @jax.jit
    def outputs(v):
        return [LeNetDrLIM(activation=a).apply(v, x) for a in ("tanh", "relu", jnp.tanh)]

    tanh_out, relu_out, callable_out = outputs(variables)
    assert np.all(np.isfinite(relu_out))
    assert not np.allclose(relu_out, tanh_out)
    np.testing.assert_array_equal(callable_out, tanh_out)


@pytest.mark.parametrize("make", [LeNetDrLIM, LeNetDrLIMReference, MLP])
def test_unknown_activation_string_is_rejected_by_name(make):
    with pytest.raises(ValueError, match=r"activation.*'sigmoidal'"):
        make(activation="sigmoidal")


def test_resolve_activation_returns_the_function():
    assert resolve_activation("relu") is nn.relu
    assert resolve_activation(jnp.sin) is jnp.sin
    with pytest.raises(ValueError, match="activation"):
        resolve_activation(3)


@pytest.mark.parametrize("make", [LeNetDrLIM, MLP])
@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bad_n_components_is_rejected(make, bad):
    with pytest.raises(ValueError, match=f"n_components must be (an int )?>= 1, got {bad!r}"):
        make(n_components=bad)


@pytest.mark.parametrize("shape", [(32, 32), (2, 1, 32, 32, 1), (2, 7, 32, 1), (2, 32, 5)])
def test_lenet_rejects_wrong_rank_or_too_small_images(shape):
    net = LeNetDrLIM()
    with pytest.raises(ValueError, match=r"x must have"):
        net.init(jax.random.key(0), jnp.zeros(shape))


def test_mlp_matches_a_numpy_forward_pass_and_flattens_input():
    net = MLP(hidden=(20,), n_components=3)
    x = uniform((4, 6, 7), seed=1)
    params = perturbed(jax.eval_shape(net.init, jax.random.key(0), x)["params"], seed=5)
    w1, b1 = np.asarray(params["hidden_0"]["kernel"]), np.asarray(params["hidden_0"]["bias"])
    w2, b2 = np.asarray(params["output"]["kernel"]), np.asarray(params["output"]["bias"])
    expected = np.tanh(x.reshape(4, 42) @ w1 + b1) @ w2 + b2
    apply = jax.jit(net.apply)
    np.testing.assert_allclose(apply({"params": params}, x), expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(
        apply({"params": params}, x.reshape(4, 42)), expected, atol=1e-5, rtol=1e-5
    )


def test_mlp_norb_network_parameter_count_and_shape():
    net = MLP(hidden=(20,), n_components=3)
    out, variables = jax.eval_shape(net.init_with_output, jax.random.key(0), jnp.ones((2, 96, 96)))
    assert count_params(variables) == 96 * 96 * 20 + 20 + 20 * 3 + 3
    assert variables["params"]["hidden_0"]["kernel"].shape == (96 * 96, 20)
    assert out.shape == (2, 3)


def test_mlp_relu_and_deeper_and_linear_variants():
    x = uniform((5, 10), seed=1)
    deep = MLP(hidden=(8, 4), n_components=2, activation="relu")
    out, variables = jax.eval_shape(deep.init_with_output, jax.random.key(0), x)
    assert count_params(variables) == 10 * 8 + 8 + 8 * 4 + 4 + 4 * 2 + 2
    assert out.shape == (5, 2)
    linear = MLP(hidden=(), n_components=2)
    variables = perturbed(jax.eval_shape(linear.init, jax.random.key(0), x), seed=6)
    out = linear.apply(variables, x)
    kernel, bias = variables["params"]["output"]["kernel"], variables["params"]["output"]["bias"]
    np.testing.assert_allclose(out, x @ kernel + bias, atol=1e-6)


@pytest.mark.parametrize("bad", [(0,), (20, -3), "20", (2.5,)])
def test_mlp_rejects_bad_hidden(bad):
    with pytest.raises(ValueError, match=r"hidden(\[\d\])? must be .*, got"):
        MLP(hidden=bad)


def test_mlp_rejects_input_without_batch_axis():
    with pytest.raises(ValueError, match=r"x must have shape \(batch"):
        MLP().init(jax.random.key(0), jnp.zeros(10))


@pytest.mark.parametrize(
    ("input_shape", "kind"),
    [((32, 32), LeNetDrLIM), ((28, 28, 1), LeNetDrLIM), ((8, 8), LeNetDrLIM), ((5, 5), MLP)]
    + [((10,), MLP), ((3,), MLP), ((96, 96, 2), LeNetDrLIM)],
)
def test_default_network_picks_by_input_shape(input_shape, kind):
    net = default_network(input_shape, n_components=3)
    assert type(net) is kind
    assert net.n_components == 3
    out_shape = jax.eval_shape(
        net.init_with_output, jax.random.key(0), jnp.zeros((2, *input_shape))
    )[0]
    assert out_shape.shape == (2, 3)


def test_default_network_for_flat_data_is_the_papers_mlp():
    net = default_network(np.zeros((7, 50)).shape[1:], np.int64(2))
    assert isinstance(net, MLP)
    assert tuple(net.hidden) == (20,)
    assert net.n_components == 2


@pytest.mark.parametrize("bad", [(), (1, 2, 3, 4), (0,), (32.0, 32), "abc", None])
def test_default_network_rejects_bad_input_shape(bad):
    with pytest.raises(ValueError, match="input_shape"):
        default_network(bad, 2)


def test_count_params_counts_scalars_and_rejects_non_arrays():
    assert count_params({"w": jnp.zeros((3, 4)), "b": np.zeros(4), "s": 1.0}) == 17
    assert count_params({}) == 0
    with pytest.raises(ValueError, match="params"):
        count_params({"w": "not an array"})
