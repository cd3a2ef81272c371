"""The contrastive loss of DrLIM (Hadsell, Chopra & LeCun, CVPR 2006, Eq. 4).

For a pair of embeddings with Euclidean distance ``D``::

    L = 1/2 D^2                      if the pair is similar     (the paper's Y = 0)
    L = 1/2 max(0, margin - D)^2     if the pair is dissimilar  (the paper's Y = 1)

Similar pairs behave like attract-only springs of rest length 0 (``dL/dD = D``) and
dissimilar pairs like repulse-only springs of rest length ``margin``
(``dL/dD = -(margin - D)`` for ``D < margin``, zero beyond).

The API takes a boolean ``similar`` array so that nobody has to remember which way the
paper's ``Y`` points; :func:`similar_from_labels` converts 0/1 labels with the convention
named explicitly.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS = ("none", "mean", "sum")
CONVENTIONS = {
    # name: the label value that means "similar"
    "paper": 0,
    "one_is_similar": 1,
}


def squared_distance(z1: jax.Array, z2: jax.Array) -> jax.Array:
    """Squared Euclidean distance between paired embeddings along the last axis.

    >>> squared_distance(jnp.array([[0.0, 0.0]]), jnp.array([[3.0, 4.0]]))
    Array([25.], dtype=float32)
    """
    _check_pair_shapes(z1, z2)
    diff = jnp.asarray(z1) - jnp.asarray(z2)
    return jnp.sum(diff * diff, axis=-1)


def pair_distance(z1: jax.Array, z2: jax.Array) -> jax.Array:
    """Euclidean distance per pair, with a finite (zero) gradient at ``D = 0``.

    The square root's derivative is infinite at zero, so the root is only taken where the
    squared distance is positive (the "double where" trick keeps NaNs out of the backward
    pass as well as the forward one).

    >>> pair_distance(jnp.array([[0.0, 0.0], [1.0, 1.0]]), jnp.array([[3.0, 4.0], [1.0, 1.0]]))
    Array([5., 0.], dtype=float32)
    """
    d2 = squared_distance(z1, z2)
    positive = d2 > 0
    safe = jnp.where(positive, d2, jnp.ones_like(d2))
    return jnp.where(positive, jnp.sqrt(safe), jnp.zeros_like(d2))


def similar_loss(d: jax.Array) -> jax.Array:
    """Partial loss L_S of a similar pair at distance ``d``: ``1/2 d^2``.

    >>> similar_loss(jnp.array([0.0, 2.0]))
    Array([0., 2.], dtype=float32)
    """
    d = jnp.asarray(d)
    return 0.5 * d * d


def dissimilar_loss(d: jax.Array, margin: float = 1.0) -> jax.Array:
    """Partial loss L_D of a dissimilar pair at distance ``d``: ``1/2 max(0, margin - d)^2``.

    >>> dissimilar_loss(jnp.array([0.0, 0.5, 2.0]), margin=1.0)
    Array([0.5  , 0.125, 0.   ], dtype=float32)
    """
    _check_margin(margin)
    d = jnp.asarray(d)
    gap = jnp.maximum(margin - d, 0)
    return 0.5 * gap * gap


def contrastive_loss(
    z1: jax.Array,
    z2: jax.Array,
    similar: jax.Array,
    margin: float = 1.0,
    reduction: Reduction = "none",
) -> jax.Array:
    """DrLIM's contrastive loss (Eq. 4 of the paper) for paired embeddings.

    Args:
      z1, z2: embeddings ``(..., n_components)`` of the two members of each pair.
      similar: boolean ``z1.shape[:-1]``; True for a similar pair (the paper's Y = 0).
      margin: the radius ``m > 0`` inside which dissimilar pairs are pushed apart.
      reduction: ``"none"`` (per-pair values), ``"mean"`` or ``"sum"`` over all pairs.

    The similar term uses the squared distance directly, so its gradient is exact at
    ``D = 0``; the dissimilar term uses the NaN-safe :func:`pair_distance`.

    >>> z1 = jnp.array([[0.0, 0.0], [0.0, 0.0]])
    >>> z2 = jnp.array([[0.6, 0.8], [0.3, 0.4]])
    >>> contrastive_loss(z1, z2, jnp.array([True, False]))
    Array([0.5  , 0.125], dtype=float32)
    """
    _check_pair_shapes(z1, z2)
    similar = _check_similar(similar, jnp.shape(z1)[:-1])
    _check_margin(margin)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    d2 = squared_distance(z1, z2)
    d = pair_distance(z1, z2)
    per_pair = jnp.where(similar, 0.5 * d2, dissimilar_loss(d, margin))
    if reduction == "mean":
        return jnp.mean(per_pair)
    if reduction == "sum":
        return jnp.sum(per_pair)
    return per_pair


def similar_from_labels(labels: jax.Array | np.ndarray, *, convention: str) -> jax.Array:
    """Turn 0/1 pair labels into the boolean ``similar`` array, with the convention named.

    Conventions:
      ``"paper"``: Hadsell et al. 2006, Y = 0 means similar, Y = 1 dissimilar.
      ``"one_is_similar"``: the TensorFlow snippet of the seed text and Keras' siamese
      example, y = 1 means similar.

    >>> similar_from_labels(np.array([0, 1]), convention="paper")
    Array([ True, False], dtype=bool)
    >>> similar_from_labels(np.array([0, 1]), convention="one_is_similar")
    Array([False,  True], dtype=bool)
    """
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be one of {tuple(CONVENTIONS)}, got {convention!r}"
        )
    labels = jnp.asarray(labels)
    if not isinstance(labels, jax.core.Tracer):
        values = np.unique(np.asarray(labels))
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(f"labels must hold only 0 and 1, got values {values[:10].tolist()}")
    return labels == CONVENTIONS[convention]


def _check_pair_shapes(z1: jax.Array, z2: jax.Array) -> None:
    s1, s2 = jnp.shape(z1), jnp.shape(z2)
    if s1 != s2:
        raise ValueError(f"z1 and z2 must have the same shape, got z1 {s1} and z2 {s2}")
    if len(s1) == 0:
        raise ValueError("z1 must have at least one axis (the embedding axis), got a scalar")


def _check_similar(similar: jax.Array, expected_shape: tuple[int, ...]) -> jax.Array:
    similar = jnp.asarray(similar)
    if similar.dtype != jnp.bool_:
        raise ValueError(
            f"similar must be a boolean array (True = similar pair), got dtype {similar.dtype}; "
            "use similar_from_labels() to convert 0/1 labels"
        )
    if similar.shape != tuple(expected_shape):
        raise ValueError(
            f"similar must have shape {tuple(expected_shape)} (one flag per pair), "
            f"got {similar.shape}"
        )
    return similar


def _check_margin(margin: float) -> None:
    if isinstance(margin, jax.core.Tracer):
        return
    if not np.all(np.asarray(margin) > 0):
        raise ValueError(f"margin must be > 0, got {margin!r}")
