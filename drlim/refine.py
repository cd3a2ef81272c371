"""Refining maps after the network: the training map, then each new sample against it.

A network maps an unseen sample as well as it generalises, and on held-out samples that
is the gap between DrLIM and the tools that place new samples by optimisation (openTSNE's
and umap-learn's ``transform``). :func:`refine_embedding` starts each new sample where the
network put it and moves it to lower its own t-SNE objective against the training map, held
fixed: the Kullback-Leibler divergence between the sample's affinities to its nearest
training samples in input space (perplexity calibrated, as t-SNE's) and the Cauchy kernel
``1 / (1 + d^2)`` to every training sample on the map, normalised over them all (the
objective openTSNE's ``transform`` optimises, here at perplexity 30; Poličar, Stražar &
Zupan, 2019). Each sample
moves alone, so where it lands never depends on which other samples are refined with it.

The map held fixed is the network's map of the training samples, itself refined first by
:func:`refine_map`: each training sample's place becomes a free parameter and the places
are trained directly on the network's loss and graph, as a non-parametric embedding
(Damrich et al., 2023, compare the two), starting where the network put them. A network
smooths its map; the free places keep finer neighbourhoods (the training map's own T@5 on
MNIST 4/9 rises from 0.919 to 0.973), and held-out samples refined against them land among
better neighbours.

Pulling samples toward their input-space neighbours undoes what a map learned to forget:
refine maps of neighbourhoods, not invariant maps (``augment``, orbit graphs).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from drlim.config import TrainConfig
from drlim.metrics import spread
from drlim.neighbors import Graph, conditional_probabilities
from drlim.train import pad_rows, train
from drlim.validation import as_samples, check_int, check_number

# t-SNE's usual perplexity (scikit-learn's and openTSNE's for fitting; openTSNE's transform
# defaults to 5 with an exaggeration of 1.5, which starts from a mean of neighbours' places
# rather than from a network's map). On validation splits (InfoNCE maps, 100 steps; held-out
# T@5 / 5-NN at perplexity 5, 10, 15, 30, 50): MNIST 4/9 0.908 / 0.974, 0.914 / 0.978, 0.915 /
# 0.977, 0.916 / 0.974, 0.916 / 0.975; 8x8 digits 0.974 / 0.980, 0.977 / 0.980, 0.977 / 0.983,
# 0.979 / 0.983, 0.981 / 0.976. Measured again against maps refined by refine_map (300
# epochs; perplexity 5, 10, 15, 20, 30, 50): MNIST 4/9 (1,000 held out) 0.927 / 0.975, 0.931 /
# 0.978, 0.934 / 0.977, 0.933 / 0.976, 0.937 / 0.978, 0.939 / 0.979; all ten digits (2,000)
# 0.951 / 0.968, 0.955 / 0.970, 0.957 / 0.970, 0.957 / 0.969, 0.957 / 0.965, 0.957 / 0.962;
# 8x8 digits (297) 0.971 / 0.976, 0.975 / 0.987, 0.977 / 0.987, 0.978 / 0.983, 0.978 / 0.987,
# 0.979 / 0.987. 50 leads T@5 on all three but loses 5-NN on all ten digits (0.962 against
# 0.965 at 30); 10-20 gain 5-NN there but lose T@5 on MNIST 4/9 (0.931-0.934 against 0.937).
# 30 stays. Again against maps refined with refine_map's neighbourhood-scaled step (split 0;
# perplexity 30, 20, 15, 10): all ten digits 0.962 / 0.967, 0.960 / 0.965, 0.960 / 0.966,
# 0.958 / 0.966; MNIST 4/9 0.940 / 0.980, 0.935 / 0.980, 0.934 / 0.979, 0.931 / 0.977.
REFINE_PERPLEXITY = 30.0
# Adam's step in units of the training map's standard deviation. On validation splits of the
# comparison's training samples (InfoNCE maps, 100 steps), 0.01, 0.03 and 0.1 gave T@5 within
# 0.001 of each other on MNIST 4/9; 0.03 settled fastest on the 8x8 digits.
REFINE_LEARNING_RATE = 0.03
# New samples refined at a time: the (block, n_reference) kernel matrix is the memory.
REFINE_BLOCK = 256
# Epochs of refine_map (each training sample once an anchor per epoch, on average). On
# validation splits of the comparison's training samples (InfoNCE maps; held-out samples
# refined 100 steps against the map; T@5 / 5-NN, network's map -> refined map): MNIST 4/9
# (5,000 fitted, 1,000 held out) 0.917 / 0.976 -> 0.938 / 0.979 after 300 epochs; all ten
# digits (58,000 / 2,000) 0.957 / 0.960 -> 0.958 / 0.964 after 150, 0.957 / 0.965 after 300
# (198 s on 2 cores); 8x8 digits (1,000 / 297) 0.979 / 0.980 -> 0.977 / 0.983 after 100,
# 0.978 / 0.987 after 300, 0.975 / 0.980 after 1,000. Longer runs keep raising the training
# map's own trustworthiness, but held-out samples then land worse.
REFINE_MAP_EPOCHS = 300.0
# refine_map's step (SGD with momentum, decayed to zero by a cosine), in units of the network
# map's local scale (local_scale: the median distance to the 15th nearest place) times the batch
# size (the loss is a mean over a step's anchors, so a place's gradient shrinks as 1 / batch). Not
# Adam: most places get no gradient in most steps, and Adam moves each one by some 30 learning
# rates after every gradient it does get, whatever its size (MNIST-10's 58,000 places went from
# T@5 0.955 to 0.875 in 50 epochs).
# Until 2026-12-06 the unit was the map's standard deviation, at 0.01 (0.03 did worse: MNIST 4/9
# 0.932 / 0.973, all ten digits 0.941 / 0.959). But the spread grows with the number of samples
# while the kernel holds neighbourhoods near 1 (spread / local scale: 10.8, 10.2 and 78.5 for the
# InfoNCE maps of 1,000 8x8 digits, 5,000 and 58,000 MNIST digits), so all ten digits took steps
# 7x larger against their neighbourhoods. Validation splits (held-out T@5 / 5-NN; spread units):
# all ten digits, split 0: 0.01 0.957 / 0.965, 0.005 0.961 / 0.966, 0.003 0.963 / 0.964, 0.002
# 0.962 / 0.966; split 1: 0.01 0.958 / 0.963, 0.005 0.961 / 0.963; MNIST 4/9 flat from 0.002 to
# 0.02 (T@5 0.936-0.938, 5-NN 0.975-0.978); 8x8 digits within a few of the 297 held-out digits. In
# local units: all ten digits 0.1 0.962 / 0.967 (split 0) and 0.962 / 0.966 (split 1), 0.15 0.963
# / 0.965 (split 0); MNIST 4/9 0.1 0.940 / 0.980, 0.15 0.937 / 0.979, 0.2 0.936 / 0.978, 0.3 0.935
# / 0.977. 0.1 is within 2% (4/9) and 7% (8x8) of the old step on the smaller sets.
REFINE_MAP_LEARNING_RATE = 0.1
# SGD's momentum in refine_map (the learning rate above was measured with it).
MOMENTUM = 0.9
# local_scale's neighbour (the 15 of the comparison's graphs) and how many places it samples.
LOCAL_SCALE_NEIGHBOURS = 15
LOCAL_SCALE_SAMPLES = 10_000
# Row numbers travel as float32 samples through drlim.train: exact up to 2**24.
MAX_PLACES = 2**24


def refine_embedding(
    Z: Any,
    X: Any,
    X_reference: Any,
    Z_reference: Any,
    steps: int = 100,
    *,
    perplexity: float = REFINE_PERPLEXITY,
    learning_rate: float = REFINE_LEARNING_RATE,
    from_nearest: bool = False,
) -> np.ndarray:
    """Move the new samples ``X``, mapped to ``Z``, to lower their t-SNE objective against
    the fixed map ``Z_reference`` of ``X_reference``; returns the refined ``Z`` (float64).

    A sample that starts in the wrong cluster can stay there: the objective has a minimum
    in each cluster it has neighbours in. With ``from_nearest``, each sample is also refined
    from the place of its nearest training sample in input space, and keeps whichever of
    its two results has the lower objective (twice the refinement steps).

    Args:
      Z: (m, p) starting positions of the new samples (the network's map of ``X``).
      X: (m, ...) the new samples, compared with ``X_reference`` by Euclidean distance.
      X_reference: (n, ...) the training samples, n >= 2.
      Z_reference: (n, p) their map, held fixed.
      steps: Adam steps per sample (0 returns ``Z`` unchanged).
      perplexity: of each sample's affinities to its ``3 * perplexity`` nearest training
        samples (at most ``max((n - 1) / 3, 1)`` is used).
      learning_rate: Adam's step, in units of ``Z_reference``'s standard deviation.
      from_nearest: also refine from the nearest training sample's place (see above).

    >>> rng = np.random.default_rng(0)
    >>> X_ref = rng.normal(size=(60, 3)); Z_ref = X_ref[:, :2]
    >>> X_new = X_ref[:5] + 0.01
    >>> Z_new = refine_embedding(np.zeros((5, 2)), X_new, X_ref, Z_ref, steps=200)
    >>> bool(np.all(np.linalg.norm(Z_new - Z_ref[:5], axis=1) < 0.5))
    True
    """
    Z = as_samples(Z, "Z", dtype=np.float64)
    Z_reference = as_samples(Z_reference, "Z_reference", min_samples=2, dtype=np.float32)
    X = as_samples(X, "X", dtype=np.float32)
    X_reference = as_samples(X_reference, "X_reference", min_samples=2, dtype=np.float32)
    steps = check_int(steps, "steps", 0)
    perplexity = check_number(perplexity, "perplexity", 1.0)
    learning_rate = check_number(learning_rate, "learning_rate", 0.0)
    _check_shapes(Z, X, X_reference, Z_reference)
    if steps == 0:
        return Z
    Z = Z.astype(np.float32)
    neighbours, affinities = input_affinities(X, X_reference, perplexity)
    centre = Z_reference.mean(axis=0)  # the kernel's squared distances lose less far from 0
    reference = jnp.asarray(Z_reference - centre)
    rate = learning_rate * float(np.std(Z_reference))
    starts = [Z - centre] + ([Z_reference[neighbours[:, 0]] - centre] if from_nearest else [])
    out = np.empty_like(Z)
    for start in range(0, len(Z), REFINE_BLOCK):
        rows = slice(start, start + REFINE_BLOCK)
        count = len(Z[rows])
        block = [pad_rows(a[rows], REFINE_BLOCK) for a in (neighbours, affinities)]
        moved = [_refine_block(pad_rows(z[rows], REFINE_BLOCK), *block, reference, steps, rate)
                 for z in starts]
        best = moved[0] if len(moved) == 1 else _lowest_objective(moved, reference, *block)
        out[rows] = np.asarray(best)[:count] + centre
    return out.astype(np.float64)


@jax.jit
def _lowest_objective(candidates: list[jax.Array], reference: jax.Array,
                      neighbours: jax.Array, affinities: jax.Array) -> jax.Array:
    """Each row of whichever of ``candidates`` (the same rows placed differently) has the
    lowest :func:`kl_divergence`; the first of them on ties."""
    divergences = jnp.stack([kl_divergence(z, reference, neighbours, affinities)
                             for z in candidates])
    best = jnp.argmin(divergences, axis=0)
    return jnp.stack(candidates)[best, jnp.arange(best.shape[0])]


def input_affinities(X: np.ndarray, X_reference: np.ndarray,
                     perplexity: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``X``'s ``min(n - 1, 3 * perplexity)`` nearest rows of ``X_reference``
    and its t-SNE affinities to them (Gaussian, bandwidth set to the perplexity, rows summing
    to 1): ``(m, k)`` int32 and float32.

    >>> ids, p = input_affinities(np.zeros((1, 1)), np.array([[1.0], [3.0], [-2.0]]), 1.0)
    >>> ids.tolist(), round(float(p.sum()), 6)
    ([[0, 2]], 1.0)
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(X_reference)
    k = min(n - 1, math.floor(3 * perplexity))
    index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X_reference)
    distances, neighbours = index.kneighbors(X)
    affinities = conditional_probabilities(distances.astype(np.float64) ** 2,
                                           min(perplexity, max(k / 3, 1.0)))
    return neighbours.astype(np.int32), affinities.astype(np.float32)


def kl_divergence(z: jax.Array, reference: jax.Array, neighbours: jax.Array,
                  affinities: jax.Array) -> jax.Array:
    """Each row's ``KL(P_i || Q_i)`` (b,), the objective :func:`kl_gradient` differentiates:
    ``P_i`` the ``affinities`` (b, k) on the rows ``neighbours`` (b, k) of ``reference``
    (n, p), ``Q_i`` the Cauchy kernel from ``z_i`` (b, p) to every reference row, normalised.

    >>> reference = jnp.array([[0.0, 0.0], [3.0, 0.0]])
    >>> near, far = jnp.array([[0.0, 0.0]]), jnp.array([[3.0, 0.0]])
    >>> args = (reference, jnp.array([[0]]), jnp.array([[1.0]]))
    >>> bool(kl_divergence(near, *args)[0] < kl_divergence(far, *args)[0])
    True
    """
    log_normaliser = jnp.log(jnp.sum(1.0 / (1.0 + _squared_distances(z, reference)), axis=1))
    offsets = z[:, None, :] - reference[neighbours]
    log_kernel = -jnp.log1p(jnp.sum(offsets * offsets, axis=-1))
    negative_entropy = jnp.sum(jax.scipy.special.xlogy(affinities, affinities), axis=1)
    return negative_entropy - jnp.sum(affinities * log_kernel, axis=1) + log_normaliser


def kl_gradient(z: jax.Array, reference: jax.Array, neighbours: jax.Array,
                affinities: jax.Array) -> jax.Array:
    """Gradient in ``z`` (b, p) of each row's ``KL(P_i || Q_i)``: ``P_i`` the ``affinities``
    (b, k) on the rows ``neighbours`` (b, k) of ``reference`` (n, p), ``Q_i`` the Cauchy
    kernel from ``z_i`` to every reference row, normalised over them.

    With ``q_ij = 1 / (1 + |z_i - y_j|^2)`` and ``Z_i = sum_j q_ij`` (P's rows sum to 1), the
    gradient is ``2 sum_j p_ij q_ij (z_i - y_j) - 2 sum_j q_ij^2 (z_i - y_j) / Z_i``; the
    second sum, over all n rows, is two matrix products.
    """
    offsets = z[:, None, :] - reference[neighbours]
    kernel = 1.0 / (1.0 + jnp.sum(offsets * offsets, axis=-1))
    attraction = 2.0 * jnp.sum((affinities * kernel)[..., None] * offsets, axis=1)
    q = 1.0 / (1.0 + _squared_distances(z, reference))
    q2 = q * q
    repulsion = 2.0 * (z * jnp.sum(q2, axis=1, keepdims=True) - q2 @ reference)
    return attraction - repulsion / jnp.sum(q, axis=1, keepdims=True)


def _squared_distances(z: jax.Array, reference: jax.Array) -> jax.Array:
    """(b, n) squared distances from each row of ``z`` to each of ``reference``, as one matrix
    product (never below 0, where rounding would put them)."""
    sq = (jnp.sum(z * z, axis=1)[:, None] + jnp.sum(reference * reference, axis=1)[None, :]
          - 2.0 * z @ reference.T)
    return jnp.maximum(sq, 0.0)


@functools.partial(jax.jit, static_argnames=("steps",))
def _refine_block(z: jax.Array, neighbours: jax.Array, affinities: jax.Array,
                  reference: jax.Array, steps: int, rate: float) -> jax.Array:
    """``steps`` Adam steps on the rows of ``z`` (each row's update is its own)."""
    optimizer = optax.adam(rate)

    def step(carry, _):
        z, state = carry
        updates, state = optimizer.update(kl_gradient(z, reference, neighbours, affinities),
                                          state)
        return (optax.apply_updates(z, updates), state), None

    (z, _), _ = jax.lax.scan(step, (z, optimizer.init(z)), None, length=steps)
    return z


class Places(nn.Module):
    """The map of ``n_samples`` samples as free parameters: a "network" whose input is a
    sample's row number and whose output is row ``i`` of the table ``places``.

    >>> table = jnp.arange(6.0).reshape(3, 2)
    >>> Places(3, 2).apply({"params": {"places": table}}, jnp.array([[2.0], [0.0]])).tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """

    n_samples: int
    n_components: int

    @nn.compact
    def __call__(self, rows: jax.Array) -> jax.Array:
        places = self.param("places", nn.initializers.zeros,
                            (self.n_samples, self.n_components))
        return places[rows.reshape(rows.shape[0], -1)[:, 0].astype(jnp.int32)]


def refine_map(
    Z: Any,
    graph: Graph,
    config: TrainConfig,
    epochs: float = REFINE_MAP_EPOCHS,
    *,
    learning_rate: float = REFINE_MAP_LEARNING_RATE,
    progress: bool | None = None,
) -> np.ndarray:
    """Train the places ``Z`` of ``graph``'s samples directly on ``config``'s loss, from
    where they are; returns the new places (float64).

    A non-parametric embedding started from a network's map: the same loss, graph, batch
    size, negatives and seed as ``config``, for ``epochs`` passes, SGD with momentum at
    ``learning_rate`` times ``Z``'s neighbourhood scale (:func:`local_scale`) times the batch
    size, decayed to zero (cosine). It runs ``epochs * n / batch_size`` steps (on 58,000
    MNIST digits, 300 epochs of 256 edges take some 200 s on 2 cores). The network is no
    longer involved, so nothing here learns an invariance ``config.augment`` names.

    >>> from drlim.neighbors import knn_graph
    >>> X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    >>> config = TrainConfig(steps=0, epochs=1.0, batch_size=16, loss="infonce", seed=0)
    >>> refine_map(X[:, :2], knn_graph(X, 5), config, epochs=20.0).shape
    (60, 2)
    """
    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    check_number(epochs, "epochs", 0.0)
    check_number(learning_rate, "learning_rate", 0.0, closed="neither")
    if len(Z) != graph.n:
        raise ValueError(f"Z must have one row per sample of the graph ({graph.n}), got {len(Z)}")
    if config.mode == "all":
        raise ValueError("refine_map needs a config that draws batches (mode 'block' or "
                         "'pairs'), got mode 'all'")
    if epochs == 0:
        return Z
    if len(Z) > MAX_PLACES:
        raise ValueError(f"refine_map takes at most {MAX_PLACES} samples, got {len(Z)}")
    if spread(Z) == 0:
        raise ValueError("Z has every sample at one place: there is no map to refine")
    config = dataclasses.replace(
        config, steps=0, epochs=float(epochs), optimizer="sgd", momentum=MOMENTUM,
        schedule="cosine", augment="", checkpoint_every=0,
        learning_rate=learning_rate * config.batch_size * local_scale(Z))
    rows = np.arange(len(Z), dtype=np.float32)[:, None]
    result = train(Places(len(Z), Z.shape[1]), rows, graph, config,
                   params={"params": {"places": jnp.asarray(Z, jnp.float32)}},
                   progress=progress)
    return np.asarray(result.params["params"]["places"], np.float64)


def local_scale(Z: Any, k: int = LOCAL_SCALE_NEIGHBOURS,
                max_samples: int = LOCAL_SCALE_SAMPLES) -> float:
    """The scale of neighbourhoods on the map ``Z``: the median distance from a place to its
    ``k``-th nearest other place (over ``max_samples`` places drawn with seed 0, against all
    of them), or the root mean square spread where that is 0 (places that coincide).

    The loss's kernel sets this scale, so it stays near 1 while the map's spread grows with
    the number of samples (the InfoNCE maps of 1,000, 5,000 and 58,000 digits: 1.5, 1.1 and
    0.95 against spreads of 16, 11 and 75).

    >>> grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    >>> local_scale(grid, k=4), local_scale(3 * grid, k=4)
    (1.0, 3.0)
    """
    from sklearn.neighbors import NearestNeighbors

    Z = as_samples(Z, "Z", min_samples=2, dtype=np.float64)
    k = min(check_int(k, "k", 1), len(Z) - 1)
    max_samples = check_int(max_samples, "max_samples", 1)
    rows = np.random.default_rng(0).permutation(len(Z))[:max_samples]
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z[rows])
    scale = float(np.median(distances[:, k]))
    return scale if scale > 0 else spread(Z)


def _check_shapes(Z: np.ndarray, X: np.ndarray, X_reference: np.ndarray,
                  Z_reference: np.ndarray) -> None:
    if len(X) != len(Z):
        raise ValueError(f"X must have one row per row of Z ({len(Z)}), got {len(X)}")
    if len(Z_reference) != len(X_reference):
        raise ValueError(f"Z_reference must have one row per row of X_reference "
                         f"({len(X_reference)}), got {len(Z_reference)}")
    if Z.shape[1] != Z_reference.shape[1]:
        raise ValueError(f"Z must have {Z_reference.shape[1]} columns like Z_reference, "
                         f"got {Z.shape[1]}")
    if len(X) and X.shape[1] != X_reference.shape[1]:
        raise ValueError(f"X must have {X_reference.shape[1]} features like X_reference, "
                         f"got {X.shape[1]}")


__all__ = ["LOCAL_SCALE_NEIGHBOURS", "LOCAL_SCALE_SAMPLES", "REFINE_LEARNING_RATE",
           "REFINE_MAP_EPOCHS", "REFINE_MAP_LEARNING_RATE", "REFINE_PERPLEXITY", "Places",
           "input_affinities", "kl_divergence", "kl_gradient", "local_scale", "refine_embedding",
           "refine_map"]
