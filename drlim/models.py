"""Mapping networks G_W of DrLIM (Hadsell, Chopra & LeCun, CVPR 2006), in Flax linen.

Two networks from the paper and a helper that picks one for a given input shape:

- :class:`LeNetDrLIM`, the convolutional network of the MNIST experiments, written in a form
  that trains fast on CPU (banded im2col + one matmul, window pooling, C3 as a dense layer);
- :class:`LeNetDrLIMMapping`, the same network in the form that maps (forward passes)
  soonest, which :func:`for_mapping` picks and :func:`drlim.train.embed` uses;
- :class:`LeNetDrLIMReference`, the same network written with ``nn.Conv`` and ``nn.avg_pool``.
  It consumes the same parameter tree and exists to prove the fast forms right (see the tests);
- :class:`MLP`, the fully connected network of the NORB experiment;
- :func:`default_network` and :func:`count_params`.

Every network maps a batch to ``(batch, n_components)`` with a linear last layer.

>>> import jax, jax.numpy as jnp
>>> net = LeNetDrLIM(n_components=2)
>>> params = net.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))["params"]
>>> count_params(params)
37097
>>> net.apply({"params": params}, jnp.zeros((5, 32, 32, 1))).shape
(5, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Number
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drlim.validation import check_int

Activation = str | Callable[[jax.Array], jax.Array]

ACTIVATIONS: Mapping[str, Callable[[jax.Array], jax.Array]] = {"tanh": jnp.tanh, "relu": nn.relu}

C1_FEATURES = 15
C1_SIZE = 6
POOL_SIZE = 3
C3_FEATURES = 30
MIN_IMAGE_SIZE = C1_SIZE + POOL_SIZE - 1
# Outputs per banded im2col row (see _im2col); C1 pads a width that it does not divide.
CONV_TILE = 3
# float32 values per vector register on AVX-512 (two on AVX2): _PooledConv pads C1's
# features to this many, so that each output pixel is one aligned vector.
LANES = 16


def resolve_activation(activation: Activation) -> Callable[[jax.Array], jax.Array]:
    """Return the activation function named by ``activation`` ("tanh", "relu") or the callable.

    >>> resolve_activation("relu")(jnp.array([-1.0, 2.0]))
    Array([0., 2.], dtype=float32)
    """
    if callable(activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    raise ValueError(
        f"activation must be one of {sorted(ACTIVATIONS)} or a callable, got {activation!r}"
    )


def _as_nhwc(x: jax.Array) -> jax.Array:
    """Return ``x`` as float32 NHWC, adding a channel axis to (B, H, W) input."""
    x = jnp.asarray(x, dtype=jnp.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            "x must have shape (batch, height, width) or (batch, height, width, channels), "
            f"got shape {x.shape}"
        )
    height, width = x.shape[1:3]
    if height < MIN_IMAGE_SIZE or width < MIN_IMAGE_SIZE:
        raise ValueError(f"x must have height and width >= {MIN_IMAGE_SIZE}, got shape {x.shape}")
    return x


def pooled_size(height: int, width: int, size: int = C1_SIZE,
                pool: int = POOL_SIZE) -> tuple[int, int]:
    """Spatial size of the S2 map for an input image of ``height`` x ``width``.

    C1 (6x6, valid) removes 5 pixels per axis, S2 (3x3, stride 3) divides by 3 rounding down;
    ``size`` and ``pool`` name other kernel and pooling sizes.

    >>> pooled_size(32, 32), pooled_size(32, 32, size=5, pool=2)
    ((9, 9), (14, 14))
    """
    return (height - size + 1) // pool, (width - size + 1) // pool


def lecun_normal_hwio(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """``nn.initializers.lecun_normal()`` for an HWIO convolution kernel, the same values.

    Drawn as the ``(H * W * I, O)`` matrix and reshaped: the fan-in is the same and JAX's
    random bits follow the flattened index whatever the shape, so the values are those of
    the 4-D draw (checked in the tests), but XLA compiles the 2-D draw about three times
    faster on CPU (0.24 s against 0.74 s here), which a cold fit pays once.

    >>> key = jax.random.key(0)
    >>> bool((lecun_normal_hwio(key, (3, 3, 2, 4))
    ...       == nn.initializers.lecun_normal()(key, (3, 3, 2, 4))).all())
    True
    """
    *receptive_field, features = shape
    matrix = nn.initializers.lecun_normal()(key, (int(np.prod(receptive_field)), features), dtype)
    return matrix.reshape(shape)


def _im2col(x: jax.Array, size: int, tile: int) -> jax.Array:
    """Valid ``size``-row patches of NHWC ``x``, ``tile`` neighbouring outputs wide, as rows:
    (B * Ho * Wo / tile, size * (size + tile - 1) * C).

    With ``tile = 1`` a row is one output's ``size`` x ``size`` patch (classic im2col); wider
    tiles share the overlapping columns of ``tile`` neighbouring outputs, so the patch matrix
    is smaller (2.25x at ``tile = 3``, ``size = 6``) and its matmul against the banded kernel
    of :func:`_shifted_kernels` has ``tile`` times more output columns. With C1 at 3 outputs
    a row the paper's network mapped 256 images sooner than at 1, 2, 4 or 9 (measured before
    mapping moved to :class:`LeNetDrLIMMapping`; training uses this form).
    """
    _, height, width, _ = x.shape
    out_h, out_w = height - size + 1, width - size + 1
    if out_w % tile:
        raise ValueError(f"tile must divide the output width {out_w}, got {tile}")
    return _windows(x, (size, size + tile - 1), (1, tile), (out_h, out_w // tile))


def _windows(x: jax.Array, span: tuple[int, int], step: tuple[int, int],
             count: tuple[int, int]) -> jax.Array:
    """The ``span`` windows of NHWC ``x`` whose corners lie ``step`` apart, ``count`` of them
    down and across, as rows: (B * count_h * count_w, span_h * span_w * C).

    The column order is (row offset, column offset, channel), the window's order in memory,
    so that a row is ``span_h`` contiguous runs of the image, fetched by a gather of whole
    runs per image: 256 padded digits in a median 0.55 ms on 2 AMD EPYC cores, against 1.0 ms
    gathering value by value. (One gather over the whole flattened batch took 0.3 ms but made
    each training step 6-10% slower; 36 stacked slices took 0.6 s to compile.)
    """
    batch, height, width, channels = x.shape
    run = span[1] * channels
    row = step[0] * np.arange(count[0])[:, None, None] + np.arange(span[0])[None, None, :]
    col = step[1] * np.arange(count[1])[None, :, None]
    starts = ((row * width + col) * channels).reshape(-1, 1).astype(np.int32)
    numbers = jax.lax.GatherDimensionNumbers(
        offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(0,)
    )

    def image_runs(image: jax.Array) -> jax.Array:
        return jax.lax.gather(image, starts, numbers, slice_sizes=(run,),
                              mode="promise_in_bounds")

    return jax.vmap(image_runs)(x.reshape(batch, -1)).reshape(-1, span[0] * run)


def _shifted_kernels(kernel: jax.Array, rows: int, cols: int) -> jax.Array:
    """An HWIO kernel as the matrix that maps a :func:`_windows` row covering ``rows`` x
    ``cols`` neighbouring outputs to those outputs:
    ((size + rows - 1) * (size + cols - 1) * C, rows * cols * features), output (i, j)'s
    columns holding the kernel shifted down by ``i`` and right by ``j``, zeros elsewhere."""
    features = kernel.shape[-1]
    shifted = [jnp.pad(kernel, ((i, rows - 1 - i), (j, cols - 1 - j), (0, 0), (0, 0)))
               for i in range(rows) for j in range(cols)]
    return jnp.stack(shifted, axis=3).reshape(-1, rows * cols * features)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _mean_pool(x: jax.Array, size: int) -> jax.Array:
    """Non-overlapping ``size`` x ``size`` mean pooling of NHWC ``x``; drops the ragged edge.

    Bitwise the values of :func:`_reshaped_mean_pool`, computed by XLA's window reduction:
    on 2 AMD EPYC cores that pooled C1's 256 x 27 x 27 x 15 maps (with their bias and tanh)
    in a median 2.0 ms against 3.7 ms, and the whole network mapped 1,982 digits about 5%
    sooner (when mapping used this form; training does). The derivative is
    :func:`_reshaped_mean_pool`'s (pooling is linear), as XLA's window-reduction gradient is
    slow on CPU.
    """
    window = (1, size, size, 1)
    return jax.lax.reduce_window(x, 0.0, jax.lax.add, window, window, "VALID") / (size * size)


@_mean_pool.defjvp
def _mean_pool_jvp(size: int, primals: tuple, tangents: tuple) -> tuple[jax.Array, jax.Array]:
    (x,), (tangent,) = primals, tangents
    return _mean_pool(x, size), _reshaped_mean_pool(tangent, size)


def _reshaped_mean_pool(x: jax.Array, size: int) -> jax.Array:
    """:func:`_mean_pool` as a reshape and a mean."""
    batch, height, width, channels = x.shape
    out_h, out_w = height // size, width // size
    x = x[:, : out_h * size, : out_w * size, :]
    return x.reshape(batch, out_h, size, out_w, size, channels).mean(axis=(2, 4))


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _biased_maps(rows: jax.Array, bias: jax.Array, shape: tuple[int, int, int]) -> jax.Array:
    """The banded matmul's ``rows`` as (batch, height, width, features) maps, ``shape`` being
    (batch, height, width), plus ``bias``, for a width that :data:`CONV_TILE` divides.

    Bitwise the values of :func:`_reshaped_biased_maps`, with the bias added to the rows as
    the matmul leaves them, tiled across their :data:`CONV_TILE` outputs: XLA then fuses the
    addition and the activation over rows of 45 values instead of 15. A training step of the
    paper's network (32x32 input) took 6.3, 5.5 and 6.4 ms against 7.0, 6.3 and 7.9 ms at 64
    pairs, and 24.3 and 27.7 against 27.0 and 29.7 ms at 256 pairs (alternating 20-step runs
    on 2 Intel Xeon cores), with bitwise the same losses and gradients on XLA's CPU backend
    (tested; a GPU's compiler may fuse the two forms differently). Where C1's width
    needs padding, as for 28x28 input, it was no faster, so :class:`_Im2colConv` adds the
    bias after the slice there. The derivative is :func:`_reshaped_biased_maps`' (the
    function is linear), so the gradients are computed as before.
    """
    batch, height, width = shape
    features = bias.shape[0]
    maps = rows + jnp.tile(bias, rows.shape[1] // features)
    return maps.reshape(batch, height, width, features)


@_biased_maps.defjvp
def _biased_maps_jvp(shape: tuple[int, int, int], primals: tuple,
                     tangents: tuple) -> tuple[jax.Array, jax.Array]:
    (rows, bias), (rows_tangent, bias_tangent) = primals, tangents
    return _biased_maps(rows, bias, shape), _reshaped_biased_maps(rows_tangent, bias_tangent,
                                                                  shape)


def _reshaped_biased_maps(rows: jax.Array, bias: jax.Array,
                          shape: tuple[int, int, int]) -> jax.Array:
    """The banded matmul's ``rows`` as (batch, height, width, features) maps plus ``bias``, by
    a reshape, a slice (dropping the outputs of padded columns) and a broadcast addition."""
    batch, height, width = shape
    return rows.reshape(batch, height, -1, bias.shape[0])[:, :, :width] + bias


class _Im2colConv(nn.Module):
    """Stride-1 valid convolution computed as banded im2col + one matmul (see :func:`_im2col`);
    nn.Conv's parameter layout. An output width that :data:`CONV_TILE` does not divide is
    reached by padding the input with zero columns and dropping the extra outputs."""

    features: int
    size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, height, width, channels = x.shape
        kernel = self.param(
            "kernel",
            lecun_normal_hwio,
            (self.size, self.size, channels, self.features),
        )
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        out_h, out_w = height - self.size + 1, width - self.size + 1
        extra = -out_w % CONV_TILE
        padded = jnp.pad(x, ((0, 0), (0, 0), (0, extra), (0, 0)))
        rows = _im2col(padded, self.size, CONV_TILE) @ _shifted_kernels(kernel, 1, CONV_TILE)
        biased_maps = _reshaped_biased_maps if extra else _biased_maps
        return biased_maps(rows, bias, (batch, out_h, out_w))


class _PooledConv(nn.Module):
    """C1, its activation and S2 in one, for mapping: (B, H', W', ``lanes``) pooled maps
    whose channels after the first ``features`` are padding (the activation of 0, which
    :class:`_WholeMapConv` meets with zeros); nn.Conv's parameter layout.

    Each row of one matmul is the (size + pool - 1)-square window that one pooled output
    reads, and its columns are the pool x pool outputs that it averages (see
    :func:`_windows`, :func:`_shifted_kernels`), so the activations are pooled by a reshaped
    mean with no window reduction. Padding the features to whole vector registers
    (:data:`LANES`) makes every row of the matmul's output aligned.
    """

    features: int
    size: int
    pool: int
    lanes: int
    activation: Callable[[jax.Array], jax.Array]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, height, width, channels = x.shape
        kernel = self.param(
            "kernel", lecun_normal_hwio, (self.size, self.size, channels, self.features)
        )
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        extra = self.lanes - self.features
        kernel = jnp.pad(kernel, ((0, 0), (0, 0), (0, 0), (0, extra)))
        bias = jnp.tile(jnp.pad(bias, (0, extra)), self.pool * self.pool)
        pooled = pooled_size(height, width, self.size, self.pool)
        span = self.size + self.pool - 1
        rows = _windows(x, (span, span), (self.pool, self.pool), pooled)
        h = self.activation(rows @ _shifted_kernels(kernel, self.pool, self.pool) + bias)
        return h.reshape(batch, *pooled, self.pool * self.pool, self.lanes).mean(axis=3)


class _WholeMapConv(nn.Module):
    """A valid convolution whose kernel covers the whole input map, i.e. a dense layer.

    Output (B, features); the parameters have nn.Conv's layout (H, W, C, features). The
    kernel has ``channels`` input channels; any further channels of the input are padding
    (see :class:`_PooledConv`), met with zeros.
    """

    features: int
    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, height, width, lanes = x.shape
        kernel = self.param(
            "kernel", lecun_normal_hwio, (height, width, self.channels, self.features)
        )
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        if lanes > self.channels:
            kernel = jnp.pad(kernel, ((0, 0), (0, 0), (0, lanes - self.channels), (0, 0)))
        return x.reshape(batch, -1) @ kernel.reshape(-1, self.features) + bias


class _LeNetSettings(nn.Module):
    """The settings both formulations of the paper's network share, checked on creation."""

    n_components: int = 2
    activation: Activation = "tanh"

    def __post_init__(self) -> None:
        check_int(self.n_components, "n_components", 1)
        resolve_activation(self.activation)
        super().__post_init__()


class LeNetDrLIM(_LeNetSettings):
    """The paper's MNIST network, fast on CPU.

    Layers for a 32x32 input (MNIST padded by 2):

    - C1: 15 feature maps, 6x6 kernels, valid -> 27x27x15, then the activation;
    - S2: 3x3 mean subsampling, stride 3 -> 9x9x15, no trainable parameters;
    - C3: 30 feature maps, 9x9 kernels -> 1x1x30, then the activation. Its kernel covers the
      whole S2 map, so it is a dense layer over the flattened 9x9x15 map;
    - F5: fully connected 30 -> ``n_components``, linear.

    That is 37,097 parameters for 2 outputs. Other sizes H, W >= 8 work: C1 gives
    (H - 5, W - 5), S2 divides by 3 rounding down, and C3's kernel grows or shrinks to cover
    the S2 map (so the parameter count depends on the image size). Input is NHWC float32 in
    [0, 1]; (B, H, W) gets a channel axis. The parameter tree is
    ``{"C1", "C3": {"kernel" (HWIO), "bias"}, "F5": {"kernel", "bias"}}``, the layout of
    ``nn.Conv`` / ``nn.Dense``, shared with :class:`LeNetDrLIMReference`.

    Why not nn.Conv: on CPU, XLA's convolution and pooling backward passes are slow; one
    banded im2col matmul, a window pooling with a reshape-mean derivative and a dense C3
    train 4.9x to 6.5x faster on 2 AMD EPYC cores and 3.8x to 5.3x on 2 Intel Xeon cores
    (batch 256 and 64 pairs, ``benchmarks/bench_models.py``).

    :class:`LeNetDrLIMMapping` is the same network in the form that maps soonest.

    >>> net = LeNetDrLIM(n_components=2, activation="tanh")
    >>> variables = net.init(jax.random.key(0), jnp.zeros((1, 32, 32)))
    >>> net.apply(variables, jnp.ones((3, 32, 32))).shape
    (3, 2)
    """

    # Class-level, not a field: the training form's repr (which identifies a run to resume)
    # stays what it was before the mapping form existed.
    forward_only: ClassVar[bool] = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = resolve_activation(self.activation)
        x = _as_nhwc(x)
        if self.forward_only:
            h = _PooledConv(C1_FEATURES, C1_SIZE, POOL_SIZE, LANES, act, name="C1")(x)
        else:
            h = _mean_pool(act(_Im2colConv(C1_FEATURES, C1_SIZE, name="C1")(x)), POOL_SIZE)
        h = act(_WholeMapConv(C3_FEATURES, C1_FEATURES, name="C3")(h))
        return nn.Dense(self.n_components, name="F5")(h)


class LeNetDrLIMMapping(LeNetDrLIM):
    """:class:`LeNetDrLIM` computing C1 and S2 in the form that maps samples soonest: one
    matmul row per window that a pooled output reads (:class:`_PooledConv`).

    The same function of the same parameters, equal to float rounding, for an elementwise
    activation that is finite at 0, and differentiable. In two runs of
    ``python -m benchmarks.bench_models`` on 2 Intel Xeon cores it mapped 128 images 13-17%
    and 512 images 35-39% faster than :class:`LeNetDrLIM`; its training step ran 26-29%
    slower at 64 pairs (the paper's batch) and 15-21% faster at 256. Training keeps
    :class:`LeNetDrLIM`, whose float rounding every saved result has. :func:`for_mapping`
    picks this form; :func:`drlim.train.embed` maps with it.

    >>> net, mapper = LeNetDrLIM(), LeNetDrLIMMapping()
    >>> x = jnp.ones((3, 32, 32))
    >>> variables = net.init(jax.random.key(0), x)
    >>> bool(jnp.allclose(mapper.apply(variables, x), net.apply(variables, x), atol=1e-6))
    True
    """

    forward_only: ClassVar[bool] = True


def for_mapping(network: nn.Module) -> nn.Module:
    """``network`` in the form that maps samples soonest, with the same parameters:
    :class:`LeNetDrLIMMapping` for a :class:`LeNetDrLIM` whose activation is one of
    :data:`ACTIVATIONS` (elementwise, zero at 0), any other network as it is (a callable
    activation, which might not be elementwise, or a subclass, which might compute otherwise).

    >>> type(for_mapping(LeNetDrLIM(n_components=3))).__name__
    'LeNetDrLIMMapping'
    >>> type(for_mapping(LeNetDrLIM(activation=jnp.tanh))).__name__
    'LeNetDrLIM'
    """
    if type(network) is LeNetDrLIM and isinstance(network.activation, str):
        return LeNetDrLIMMapping(n_components=network.n_components,
                                 activation=network.activation)
    return network


class LeNetDrLIMReference(_LeNetSettings):
    """:class:`LeNetDrLIM` written plainly with ``nn.Conv`` and ``nn.avg_pool``.

    Same layers, same parameter tree, same initialisation for the same key. Slower on CPU,
    both to train and (since im2col became one gather) to map; the tests use it to check the
    fast formulation.

    >>> fast, ref = LeNetDrLIM(), LeNetDrLIMReference()
    >>> x = jnp.ones((2, 32, 32, 1))
    >>> variables = fast.init(jax.random.key(0), x)
    >>> bool(jnp.allclose(fast.apply(variables, x), ref.apply(variables, x), atol=1e-5))
    True
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = resolve_activation(self.activation)
        x = _as_nhwc(x)
        pooled = pooled_size(x.shape[1], x.shape[2])
        h = act(nn.Conv(C1_FEATURES, (C1_SIZE, C1_SIZE), padding="VALID", name="C1")(x))
        h = nn.avg_pool(h, (POOL_SIZE, POOL_SIZE), strides=(POOL_SIZE, POOL_SIZE))
        h = act(nn.Conv(C3_FEATURES, pooled, padding="VALID", name="C3")(h))
        return nn.Dense(self.n_components, name="F5")(h.reshape(h.shape[0], C3_FEATURES))


class MLP(nn.Module):
    """Fully connected network; the paper's NORB network is ``MLP(hidden=(20,), n_components=3)``.

    Any input (B, ...) is flattened to (B, d). Each hidden layer is followed by the activation;
    the output layer is linear. Parameters: ``{"hidden_0", ..., "output": {"kernel", "bias"}}``;
    ``params["hidden_0"]["kernel"]`` is (d, hidden[0]), whose columns are the first layer's
    weights that Fig. 9 shows as images.

    >>> net = MLP(hidden=(20,), n_components=3)
    >>> variables = net.init(jax.random.key(0), jnp.zeros((1, 96, 96)))
    >>> net.apply(variables, jnp.ones((4, 96, 96))).shape
    (4, 3)
    """

    hidden: Sequence[int] = (20,)
    n_components: int = 3
    activation: Activation = "tanh"

    def __post_init__(self) -> None:
        check_int(self.n_components, "n_components", 1)
        if isinstance(self.hidden, str | bytes) or not isinstance(self.hidden, Sequence):
            raise ValueError(f"hidden must be a sequence of positive integers, got {self.hidden!r}")
        for index, width in enumerate(self.hidden):
            check_int(width, f"hidden[{index}]", 1)
        resolve_activation(self.activation)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = resolve_activation(self.activation)
        x = jnp.asarray(x, dtype=jnp.float32)
        if x.ndim < 2:
            raise ValueError(f"x must have shape (batch, ...) with ndim >= 2, got shape {x.shape}")
        h = x.reshape(x.shape[0], -1)
        for i, width in enumerate(self.hidden):
            h = act(nn.Dense(width, name=f"hidden_{i}")(h))
        return nn.Dense(self.n_components, name="output")(h)


def default_network(input_shape: Sequence[int], n_components: int = 2) -> nn.Module:
    """Pick the paper's network for samples of ``input_shape`` (one sample, no batch axis).

    - images (H, W) or (H, W, C) with H, W >= 8: :class:`LeNetDrLIM` (the MNIST network);
    - flat vectors (d,), or images smaller than 8x8: ``MLP(hidden=(20,))`` on the flattened
      sample, the paper's NORB network. One tanh layer of 20 units is small enough to train
      in seconds and, as the NORB experiment shows, enough to unfold a 2-3 dimensional
      manifold; pass your own module for anything harder.

    >>> type(default_network((32, 32), 2)).__name__, type(default_network((10,), 2)).__name__
    ('LeNetDrLIM', 'MLP')
    """
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if (
        shape is None
        or not 1 <= len(shape) <= 3
        or any(isinstance(s, bool) or not isinstance(s, Integral) or s < 1 for s in shape)
    ):
        raise ValueError(
            "input_shape must be (d,), (height, width) or (height, width, channels) with "
            f"positive integers, got {input_shape!r}"
        )
    check_int(n_components, "n_components", 1)
    if len(shape) >= 2 and min(shape[:2]) >= MIN_IMAGE_SIZE:
        return LeNetDrLIM(n_components=int(n_components))
    return MLP(hidden=(20,), n_components=int(n_components))


def count_params(params: object) -> int:
    """Total number of scalars in a parameter tree (or any pytree of arrays).

    >>> count_params({"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)})
    16
    """
    total = 0
    for leaf in jax.tree_util.tree_leaves(params):
        if not (hasattr(leaf, "shape") or isinstance(leaf, Number)):
            raise ValueError(f"params must be a pytree of arrays, got a leaf {leaf!r}")
        total += int(np.size(leaf))
    return total


__all__ = [
    "LeNetDrLIM",
    "LeNetDrLIMMapping",
    "LeNetDrLIMReference",
    "MLP",
    "count_params",
    "default_network",
    "for_mapping",
    "pooled_size",
    "resolve_activation",
]
