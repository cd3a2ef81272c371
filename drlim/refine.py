"""Refining where new samples land: t-SNE's objective for each one against the training map.

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

Pulling samples toward their input-space neighbours undoes what a map learned to forget:
refine maps of neighbourhoods, not invariant maps (``augment``, orbit graphs).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from drlim.neighbors import conditional_probabilities
from drlim.train import pad_rows
from drlim.validation import as_samples, check_int, check_number

# t-SNE's usual perplexity (scikit-learn's and openTSNE's for fitting; openTSNE's transform
# defaults to 5 with an exaggeration of 1.5, which starts from a mean of neighbours' places
# rather than from a network's map). On validation splits (InfoNCE maps, 100 steps; held-out
# T@5 / 5-NN at perplexity 5, 10, 15, 30, 50): MNIST 4/9 0.908 / 0.974, 0.914 / 0.978, 0.915 /
# 0.977, 0.916 / 0.974, 0.916 / 0.975; 8x8 digits 0.974 / 0.980, 0.977 / 0.980, 0.977 / 0.983,
# 0.979 / 0.983, 0.981 / 0.976.
REFINE_PERPLEXITY = 30.0
# Adam's step in units of the training map's standard deviation. On validation splits of the
# comparison's training samples (InfoNCE maps, 100 steps), 0.01, 0.03 and 0.1 gave T@5 within
# 0.001 of each other on MNIST 4/9; 0.03 settled fastest on the 8x8 digits.
REFINE_LEARNING_RATE = 0.03
# New samples refined at a time: the (block, n_reference) kernel matrix is the memory.
REFINE_BLOCK = 256


def refine_embedding(
    Z: Any,
    X: Any,
    X_reference: Any,
    Z_reference: Any,
    steps: int = 100,
    *,
    perplexity: float = REFINE_PERPLEXITY,
    learning_rate: float = REFINE_LEARNING_RATE,
) -> np.ndarray:
    """Move the new samples ``X``, mapped to ``Z``, to lower their t-SNE objective against
    the fixed map ``Z_reference`` of ``X_reference``; returns the refined ``Z`` (float64).

    Args:
      Z: (m, p) starting positions of the new samples (the network's map of ``X``).
      X: (m, ...) the new samples, compared with ``X_reference`` by Euclidean distance.
      X_reference: (n, ...) the training samples, n >= 2.
      Z_reference: (n, p) their map, held fixed.
      steps: Adam steps per sample (0 returns ``Z`` unchanged).
      perplexity: of each sample's affinities to its ``3 * perplexity`` nearest training
        samples (at most ``(n - 1) / 3`` is used).
      learning_rate: Adam's step, in units of ``Z_reference``'s standard deviation.

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
    out = np.empty_like(Z)
    for start in range(0, len(Z), REFINE_BLOCK):
        rows = slice(start, start + REFINE_BLOCK)
        count = len(Z[rows])
        block = [pad_rows(a, REFINE_BLOCK) for a in (Z[rows] - centre, neighbours[rows],
                                                    affinities[rows])]
        moved = _refine_block(*block, reference, steps, rate)
        out[rows] = np.asarray(moved)[:count] + centre
    return out.astype(np.float64)


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
    sq = (jnp.sum(z * z, axis=1)[:, None] + jnp.sum(reference * reference, axis=1)[None, :]
          - 2.0 * z @ reference.T)
    q = 1.0 / (1.0 + jnp.maximum(sq, 0.0))
    q2 = q * q
    repulsion = 2.0 * (z * jnp.sum(q2, axis=1, keepdims=True) - q2 @ reference)
    return attraction - repulsion / jnp.sum(q, axis=1, keepdims=True)


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


__all__ = ["REFINE_LEARNING_RATE", "REFINE_PERPLEXITY", "input_affinities", "kl_gradient",
           "refine_embedding"]
