"""Compilation is paid once: a second run with the same shapes and settings compiles nothing.

Counted with JAX's own monitoring event for XLA compilations, not by timing.
"""

import contextlib

import jax
import numpy as np
import pytest

from drlim._xla import FAST_COMPILE
from drlim.estimator import DrLIM
from drlim.models import MLP, LeNetDrLIM
from drlim.neighbors import knn_graph
from drlim.train import TrainConfig, embed, init_params, initial_params, train

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def compilations():
    """The names of the programs XLA compiles inside the block."""
    names = []

    def listener(event, duration, **kwargs):
        if event == BACKEND_COMPILE:
            names.append(kwargs.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@pytest.fixture(scope="module")
def blobs():
    return np.random.default_rng(5).normal(size=(90, 6)).astype(np.float32)


def test_the_counter_sees_a_compilation():
    with compilations() as names:
        jax.jit(lambda x: x * 3.0 + 1.0)(np.arange(7.0))
    assert len(names) == 1


def test_second_train_compiles_nothing(blobs):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=20, batch_size=16, log_every=10)
    with compilations() as first:
        train(MLP(n_components=2), blobs, graph, config)
    # compiled ahead, while the parameters are initialised, and found again by the call
    assert first.count("jit(run_steps)") == 1
    other = np.random.default_rng(6).normal(size=blobs.shape).astype(np.float32)
    with compilations() as second:  # new data and graph, another seed: the same program
        train(MLP(n_components=2), other, knn_graph(other, k=4),
              TrainConfig(steps=30, batch_size=16, log_every=10, seed=4))
    assert second == []


def test_second_fit_on_same_shapes_compiles_nothing(blobs):
    DrLIM(epochs=1, batch_size=8, random_state=0).fit(blobs)
    other = np.random.default_rng(7).normal(size=blobs.shape)
    with compilations() as second:
        DrLIM(epochs=1, batch_size=8, random_state=1).fit(other)
    assert second == []


def test_a_named_augment_function_reuses_its_compilation(blobs):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=10, batch_size=16, log_every=10)

    def jitter(key, x):
        return x + 0.01 * jax.random.normal(key, x.shape)

    train(MLP(n_components=2), blobs, graph, config, augment=jitter)
    with compilations() as second:
        train(MLP(n_components=2), blobs, graph, config, augment=jitter)
    assert second == []


def test_transform_of_any_length_compiles_at_most_four_programs(blobs):
    params = init_params(MLP(n_components=2), blobs[0], 0)
    with compilations() as first:
        embed(MLP(n_components=2), params, np.zeros((15 * 256, 6), np.float32))  # 8, 4, 2, 1
    with compilations() as later:
        out = embed(MLP(n_components=2), params, np.tile(blobs, (70, 1))[:5000])
        embed(MLP(n_components=2), params, blobs[:3])
        embed(MLP(n_components=2), params, np.zeros((0, 6), np.float32))
    assert len(first) <= 4
    assert later == []
    assert out.shape == (5000, 2)


def test_rows_mapped_in_several_calls_match_the_network_on_all_of_them(blobs):
    params = init_params(MLP(n_components=2), blobs[0], 0)
    rows = np.tile(blobs, (2, 1))[:75]  # 19 batches of 4: calls of 8, 8, 2 and 1 batches
    expected = MLP(n_components=2).apply(params, rows)
    np.testing.assert_allclose(embed(MLP(n_components=2), params, rows, batch_size=4),
                               expected, rtol=1e-5, atol=1e-6)


def test_padding_leaves_the_mapped_rows_unchanged(blobs):
    params = init_params(MLP(n_components=2), blobs[0], 0)
    whole = embed(MLP(n_components=2), params, blobs, batch_size=90)
    ragged = embed(MLP(n_components=2), params, blobs, batch_size=64)
    np.testing.assert_allclose(ragged, whole, rtol=1e-6, atol=1e-7)


def test_uint8_images_train_as_their_float_scaling():
    """uint8 pixels stay uint8 on the device and are scaled per batch: same parameters as
    the same images passed as float32 / 255."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(80, 6, 6, 1), dtype=np.uint8)
    graph = knn_graph(pixels.reshape(80, -1).astype(np.float32), k=4)
    scaled = pixels.astype(np.float32) / 255
    for config in (TrainConfig(steps=20, batch_size=8, log_every=10),
                   TrainConfig(steps=20, batch_size=8, mode="block", log_every=10),
                   TrainConfig(steps=20, batch_size=8, loss="infonce", log_every=10,
                               augment="shift:1")):
        as_uint8 = train(MLP(n_components=2), pixels, graph, config).params
        as_float = train(MLP(n_components=2), scaled, graph, config).params
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                     as_uint8, as_float)
    z8 = embed(MLP(n_components=2), as_uint8, pixels)
    np.testing.assert_allclose(z8, embed(MLP(n_components=2), as_uint8, scaled), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize(("network", "shape"), [(LeNetDrLIM(), (32, 32)),
                                                (LeNetDrLIM(), (12, 12)), (MLP(), (64,))])
def test_a_fit_starts_from_init_params_bitwise(network, shape):
    """initial_params compiles at FAST_COMPILE's level (drlim._xla), init_params at XLA's
    default: the parameters are bitwise the same."""
    assert FAST_COMPILE["xla_backend_optimization_level"] < 3
    samples = np.random.default_rng(2).random((3, *shape)).astype(np.float32)
    jax.tree.map(np.testing.assert_array_equal, initial_params(network, samples, 4),
                 init_params(network, samples[0], 4))


def test_init_params_may_be_traced_inside_jit():
    sample = np.ones(6, np.float32)
    traced = jax.jit(lambda s: init_params(MLP(n_components=2), s, 1))(sample)
    jax.tree.map(np.testing.assert_array_equal, traced, init_params(MLP(n_components=2), sample, 1))


def test_the_neighbour_search_of_other_data_of_one_shape_compiles_nothing():
    """Two data sets of one shape with different all-zero columns (200 and 220 non-zero of
    300) score 256 columns each, so the second search reuses the first one's program."""
    rng = np.random.default_rng(6)
    first, second = rng.random((2, 120, 300)).astype(np.float32)
    first[:, 200:], second[:, :80] = 0.0, 0.0
    with compilations() as first_names:
        knn_graph(first, k=3, method="exact")
    with compilations() as names:
        knn_graph(second, k=3, method="exact")
    assert "jit(_knn_block)" in first_names  # the name the check below looks for
    assert "jit(_knn_block)" not in names
