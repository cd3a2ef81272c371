"""The contrastive loss of DrLIM (Hadsell, Chopra & LeCun, CVPR 2006, Eq. 4), and its family.

For a pair of embeddings with Euclidean distance ``D``::

    L = 1/2 D^2                      if the pair is similar     (the paper's Y = 0)
    L = 1/2 max(0, margin - D)^2     if the pair is dissimilar  (the paper's Y = 1)

Similar pairs behave like attract-only springs of rest length 0 (``dL/dD = D``) and
dissimilar pairs like repulse-only springs of rest length ``margin``
(``dL/dD = -(margin - D)`` for ``D < margin``, zero beyond).

The API takes a boolean ``similar`` array so that nobody has to remember which way the
paper's ``Y`` points; :func:`similar_from_labels` converts 0/1 labels with the convention
named explicitly.

Three later members of the contrastive family work on the same graph and pairs:

- :func:`umap_loss`: UMAP's fuzzy cross-entropy with negative sampling (McInnes, Healy &
  Melville 2018; parametric UMAP, Sainburg, McInnes & Gentner 2021), with the
  low-dimensional similarity ``q = 1 / (1 + a d^(2b))`` and ``a, b`` from :func:`umap_ab`;
- :func:`infonce_loss`: InfoNCE with the Cauchy kernel ``q = 1 / (1 + d^2)``, the t-SNE-like
  end of Damrich, Böhm, Hamprecht & Kobak, "From t-SNE to UMAP with contrastive learning"
  (ICLR 2023);
- :func:`neg_loss`: plain negative sampling (NEG) with the same kernel, the UMAP-like end of
  that spectrum, per pair like :func:`umap_loss`.

All are written on the squared distance, so their gradients are finite where two
embeddings coincide.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from drlim.validation import check_choice, check_number, check_same_shape

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS = ("none", "mean", "sum")
CONVENTIONS = {
    # name: the label value that means "similar"
    "paper": 0,
    "one_is_similar": 1,
}
# Floor of 1 - q in UMAP's repulsive term, as in parametric UMAP: -log(1 - q) <= 9.2.
UMAP_EPS = 1e-4


def squared_distance(z1: jax.Array, z2: jax.Array) -> jax.Array:
    """Squared Euclidean distance between paired embeddings along the last axis.

    >>> squared_distance(jnp.array([[0.0, 0.0]]), jnp.array([[3.0, 4.0]]))
    Array([25.], dtype=float32)
    """
    _check_pair_shapes(z1, z2, ("z1", "z2"))
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
    _check_pair_shapes(z1, z2, ("z1", "z2"))
    similar = _check_similar(similar, jnp.shape(z1)[:-1])
    _check_margin(margin)
    check_choice(reduction, "reduction", REDUCTIONS)
    d2 = squared_distance(z1, z2)
    d = pair_distance(z1, z2)
    per_pair = jnp.where(similar, 0.5 * d2, dissimilar_loss(d, margin))
    return _reduce(per_pair, reduction)


def umap_ab(min_dist: float = 0.1, spread: float = 1.0) -> tuple[float, float]:
    """UMAP's ``a, b``: the curve ``1 / (1 + a x^(2b))`` fitted to the target similarity.

    The target is 1 up to ``min_dist`` and ``exp(-(x - min_dist) / spread)`` beyond, on
    300 points of ``[0, 3 spread]``, fitted by least squares (McInnes et al. 2018,
    Sec. 3.2 and its definition of Phi). ``min_dist`` sets how tightly neighbours may pack.

    >>> a, b = umap_ab(0.1)
    >>> round(a, 3), round(b, 3)
    (1.577, 0.895)
    """
    check_number(spread, "spread", 0, closed="right")
    check_number(min_dist, "min_dist", 0, spread)
    x = np.linspace(0, 3 * spread, 300)
    target = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))

    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    (a, b), _ = scipy.optimize.curve_fit(curve, x, target)
    return float(a), float(b)


def umap_similarity(d2: jax.Array, a: float, b: float) -> jax.Array:
    """UMAP's low-dimensional similarity ``1 / (1 + a d^(2b))`` from the squared distance.

    ``d^(2b)`` is taken as ``(d^2)^b`` only where ``d^2 > 0`` (the "double where" trick),
    so the gradient is finite, and zero, where two embeddings coincide.

    >>> umap_similarity(jnp.array([0.0, 1.0]), a=1.0, b=1.0)
    Array([1. , 0.5], dtype=float32)
    """
    return 1.0 / (1.0 + a * _safe_power(d2, b))


def umap_loss(
    z1: jax.Array,
    z2: jax.Array,
    similar: jax.Array,
    a: float = 1.577,
    b: float = 0.895,
    eps: float = UMAP_EPS,
    reduction: Reduction = "none",
) -> jax.Array:
    """UMAP's fuzzy cross-entropy per pair: ``-log q`` if similar, ``-log(1 - q)`` if not.

    ``q = 1 / (1 + a d^(2b))`` (:func:`umap_similarity`). A positive edge costs
    ``log(1 + a d^(2b))``, finite for any distance; a negative pair costs
    ``-log(max(1 - q, eps))``, at most ``-log(eps)`` where the points coincide (the floor
    parametric UMAP uses). UMAP weighs each positive edge with ``negative_sample_rate``
    negatives: see :func:`drlim.train.TrainConfig` (``negatives``). The defaults of ``a, b``
    are :func:`umap_ab` at ``min_dist=0.1``. References: McInnes, Healy & Melville,
    arXiv:1802.03426 (2018); Sainburg, McInnes & Gentner, Neural Computation 33 (2021).

    >>> z1 = jnp.zeros((2, 2))
    >>> z2 = jnp.array([[1.0, 0.0], [1.0, 0.0]])
    >>> umap_loss(z1, z2, jnp.array([True, False]), a=1.0, b=1.0)
    Array([0.6931472, 0.6931472], dtype=float32)
    """
    _check_pair_shapes(z1, z2, ("z1", "z2"))
    similar = _check_similar(similar, jnp.shape(z1)[:-1])
    check_choice(reduction, "reduction", REDUCTIONS)
    d2 = squared_distance(z1, z2)
    power = a * _safe_power(d2, b)
    attract = jnp.log1p(power)
    repel = -jnp.log(jnp.maximum(power / (1.0 + power), eps))
    return _reduce(jnp.where(similar, attract, repel), reduction)


def cauchy_similarity(d2: jax.Array) -> jax.Array:
    """The Cauchy (Student-t, one degree of freedom) kernel ``1 / (1 + d^2)`` of t-SNE.

    >>> cauchy_similarity(jnp.array([0.0, 1.0, 3.0]))
    Array([1.  , 0.5 , 0.25], dtype=float32)
    """
    return 1.0 / (1.0 + jnp.asarray(d2))


def infonce_loss(
    anchor: jax.Array,
    positive: jax.Array,
    negatives: jax.Array,
    reduction: Reduction = "none",
) -> jax.Array:
    """InfoNCE with the Cauchy kernel, per anchor: ``-log(q_pos / (q_pos + sum_m q_neg_m))``.

    ``anchor`` and ``positive`` are ``(..., c)``; ``negatives`` is ``(..., m, c)``, or any
    shape that broadcasts against ``anchor[..., None, :]`` -- ``(m, c)`` contrasts every
    anchor with one shared set of ``m`` negatives. ``q = 1 / (1 + d^2)``
    (:func:`cauchy_similarity`). Computed as ``log(q_pos + sum q_neg) - log q_pos`` in log
    space, so it is finite for any distances and its gradient is finite where points
    coincide. With many negatives the map is t-SNE-like, with few UMAP-like (Damrich, Böhm,
    Hamprecht & Kobak, "From t-SNE to UMAP with contrastive learning", ICLR 2023).

    >>> anchor, positive = jnp.zeros((1, 2)), jnp.zeros((1, 2))
    >>> negatives = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])  # two negatives at d = 1
    >>> infonce_loss(anchor, positive, negatives)  # -log(1 / (1 + 1/2 + 1/2))
    Array([0.6931472], dtype=float32)
    """
    positive_part, negative_part = infonce_parts(anchor, positive, negatives)
    check_choice(reduction, "reduction", REDUCTIONS)
    return _reduce(positive_part + negative_part, reduction)


def infonce_parts(
    anchor: jax.Array, positive: jax.Array, negatives: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """InfoNCE split into its attraction ``-log q_pos`` and repulsion ``log(q_pos + sum q_neg)``.

    The two add up to :func:`infonce_loss`; training logs them apart.

    >>> pos, neg = infonce_parts(jnp.zeros((1, 2)), jnp.ones((1, 2)), jnp.ones((1, 3, 2)))
    >>> round(float(pos[0]), 4), round(float(neg[0]), 4)  # log(1 + 2) and log(4 * 1/3)
    (1.0986, 0.2877)
    """
    _check_pair_shapes(anchor, positive, ("anchor", "positive"))
    negatives = jnp.asarray(negatives)
    if negatives.ndim < 2 or negatives.shape[-1] != jnp.shape(anchor)[-1]:
        raise ValueError(
            f"negatives must have shape (..., m, {jnp.shape(anchor)[-1]}), got {negatives.shape}"
        )
    log_q_pos = -jnp.log1p(squared_distance(anchor, positive))
    diff = jnp.asarray(anchor)[..., None, :] - negatives
    log_q_neg = -jnp.log1p(jnp.sum(diff * diff, axis=-1))
    log_q_pos_b = jnp.broadcast_to(log_q_pos[..., None], log_q_neg.shape[:-1] + (1,))
    log_total = jax.nn.logsumexp(jnp.concatenate([log_q_pos_b, log_q_neg], axis=-1), axis=-1)
    return -log_q_pos, log_total


def neg_loss(
    z1: jax.Array,
    z2: jax.Array,
    similar: jax.Array,
    reduction: Reduction = "none",
) -> jax.Array:
    """Negative sampling (NEG) with the Cauchy kernel, per pair: ``-log p`` if similar,
    ``-log(1 - p)`` if not, where ``p = q / (q + 1)`` and ``q = 1 / (1 + d^2)``.

    word2vec's objective (Mikolov et al. 2013: a logistic classifier of ``log q``) on the
    neighbour graph, as Damrich, Böhm, Hamprecht & Kobak (ICLR 2023) define NEG: with the
    same sampling as UMAP (each positive edge against its own uniform negatives) it gives
    UMAP-like maps, and the contrast with :func:`infonce_loss` is the normalisation alone.
    Since ``p = 1 / (2 + d^2)``, a positive costs ``log(2 + d^2)`` and a negative
    ``log(1 + q)``: both finite, with finite gradients, at any distance (no floor needed,
    unlike :func:`umap_loss`).

    >>> z1 = jnp.zeros((2, 2))
    >>> z2 = jnp.array([[1.0, 0.0], [1.0, 0.0]])
    >>> neg_loss(z1, z2, jnp.array([True, False]))  # log 3 and log(3/2)
    Array([1.0986123, 0.4054651], dtype=float32)
    """
    _check_pair_shapes(z1, z2, ("z1", "z2"))
    similar = _check_similar(similar, jnp.shape(z1)[:-1])
    check_choice(reduction, "reduction", REDUCTIONS)
    d2 = squared_distance(z1, z2)
    attract = jnp.log(2.0 + d2)
    repel = jnp.log1p(cauchy_similarity(d2))  # log(1 + q), exact also where it is tiny
    return _reduce(jnp.where(similar, attract, repel), reduction)


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
    check_choice(convention, "convention", tuple(CONVENTIONS))
    labels = jnp.asarray(labels)
    if not isinstance(labels, jax.core.Tracer):
        values = np.unique(np.asarray(labels))
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(f"labels must hold only 0 and 1, got values {values[:10].tolist()}")
    return labels == CONVENTIONS[convention]


def _safe_power(d2: jax.Array, b: float) -> jax.Array:
    """``d2 ** b`` with a zero (not NaN) gradient at ``d2 = 0`` for ``0 < b < 1``."""
    d2 = jnp.asarray(d2)
    positive = d2 > 0
    safe = jnp.where(positive, d2, jnp.ones_like(d2))
    return jnp.where(positive, safe**b, jnp.zeros_like(d2))


def _reduce(per_item: jax.Array, reduction: Reduction) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(per_item)
    if reduction == "sum":
        return jnp.sum(per_item)
    return per_item


def _check_pair_shapes(z1: jax.Array, z2: jax.Array, names: tuple[str, str]) -> None:
    check_same_shape(z1, z2, names)
    if jnp.ndim(z1) == 0:
        raise ValueError(f"{names[0]} must have an embedding axis, got a scalar")


def _check_similar(similar: jax.Array, expected_shape: tuple[int, ...]) -> jax.Array:
    similar = jnp.asarray(similar)
    if similar.dtype != jnp.bool_:
        raise ValueError(
            "similar must be a boolean array (True = similar pair; similar_from_labels() "
            f"converts 0/1 labels), got dtype {similar.dtype}"
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


__all__ = [
    "cauchy_similarity",
    "contrastive_loss",
    "dissimilar_loss",
    "infonce_loss",
    "infonce_parts",
    "neg_loss",
    "pair_distance",
    "similar_from_labels",
    "similar_loss",
    "squared_distance",
    "umap_ab",
    "umap_loss",
    "umap_similarity",
]
