"""Invariances drawn on the fly: random transformations applied inside the jitted step.

DrLIM learns invariance from prior knowledge: a sample and a transformed copy of it are a
similar pair (Hadsell, Chopra & LeCun 2006, Sec. 4.2, where the shifted copies are listed in
an orbit graph). Here the transformation is drawn afresh for every image of every training
step instead, as in contrastive learning of images (Böhm, Berens & Kobak, t-SimCNE, ICLR
2023): graph neighbours seen under independent transformations are similar, and with the
losses that sample edges (``"umap"``, ``"infonce"``, ``"neg"``) each sample is also paired with a
transformed copy of itself.

An augmentation is any jittable ``f(key, image) -> image`` on one image ``(h, w[, c])``; the
built-in ones are named by a JSON-friendly string, so that a :class:`drlim.train.TrainConfig`
stays serialisable: ``"shift:6"`` (horizontal shift of up to 6 pixels, zero fill),
``"rotate:10"`` (rotation of up to 10 degrees), joined with ``+`` to compose them.

>>> import jax, jax.numpy as jnp
>>> f = parse_augment("shift:2")
>>> f(jax.random.key(0), jnp.ones((3, 5))).shape
(3, 5)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from drlim.config import parse_augment_spec

Augment = Callable[[jax.Array, jax.Array], jax.Array]


def random_shift(key: jax.Array, image: jax.Array, max_shift: int) -> jax.Array:
    """Shift ``image`` (h, w[, c]) right by an integer drawn uniformly in ``[-max_shift,
    max_shift]`` (left when negative), with zero fill, as :func:`drlim.data.shift.shift_horizontal`
    does on the host.

    >>> image = jnp.arange(1.0, 6.0)[None]  # one row, 5 columns
    >>> sorted({tuple(random_shift(jax.random.key(s), image, 1)[0].tolist()) for s in range(20)})
    [(0.0, 1.0, 2.0, 3.0, 4.0), (1.0, 2.0, 3.0, 4.0, 5.0), (2.0, 3.0, 4.0, 5.0, 0.0)]
    """
    image = jnp.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must have shape (h, w) or (h, w, c), got {image.shape}")
    width = image.shape[1]
    shift = jax.random.randint(key, (), -max_shift, max_shift + 1)
    moved = jnp.roll(image, shift, axis=1)
    source = jnp.arange(width) - shift
    inside = (source >= 0) & (source < width)
    inside = inside.reshape((1, width) + (1,) * (image.ndim - 2))
    return jnp.where(inside, moved, jnp.zeros_like(moved))


def random_rotation(key: jax.Array, image: jax.Array, max_degrees: float) -> jax.Array:
    """Rotate ``image`` (h, w[, c]) about its centre by an angle drawn uniformly in
    ``[-max_degrees, max_degrees]``; bilinear interpolation, zero outside the frame.

    >>> image = jnp.zeros((5, 5)).at[2, 2].set(1.0)
    >>> float(random_rotation(jax.random.key(0), image, 30.0)[2, 2])
    1.0
    """
    image = jnp.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must have shape (h, w) or (h, w, c), got {image.shape}")
    angle = jax.random.uniform(key, (), minval=-max_degrees, maxval=max_degrees) * math.pi / 180
    height, width = image.shape[:2]
    rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                              jnp.arange(width, dtype=jnp.float32), indexing="ij")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    src_rows = cy + cos * (rows - cy) - sin * (cols - cx)
    src_cols = cx + sin * (rows - cy) + cos * (cols - cx)

    def rotate_plane(plane: jax.Array) -> jax.Array:
        return jax.scipy.ndimage.map_coordinates(plane, [src_rows, src_cols], order=1,
                                                 mode="constant", cval=0.0)

    if image.ndim == 2:
        return rotate_plane(image)
    return jax.vmap(rotate_plane, in_axes=2, out_axes=2)(image)


AUGMENTATIONS: dict[str, Callable[[jax.Array, jax.Array, float], jax.Array]] = {
    "shift": lambda key, image, size: random_shift(key, image, int(size)),
    "rotate": random_rotation,
}


def parse_augment(spec: str) -> Augment | None:
    """The augmentation a string names: ``""`` (none), ``"shift:6"``, ``"rotate:10"``, or
    several joined by ``+`` (applied left to right, each with its own key).

    >>> parse_augment("") is None
    True
    >>> parse_augment("shift:3+rotate:5")(jax.random.key(0), jnp.ones((8, 8, 1))).shape
    (8, 8, 1)
    """
    steps = [(AUGMENTATIONS[name], amount) for name, amount in parse_augment_spec(spec)]
    if not steps:
        return None

    def composed(key: jax.Array, image: jax.Array) -> jax.Array:
        for position, (function, amount) in enumerate(steps):
            image = function(jax.random.fold_in(key, position), image, amount)
        return image

    return composed


def augment_batch(key: jax.Array, images: jax.Array, augment: Augment) -> jax.Array:
    """Apply ``augment`` to every image of a batch, each with its own key (jittable).

    >>> out = augment_batch(jax.random.key(0), jnp.ones((4, 6, 6, 1)), parse_augment("shift:2"))
    >>> out.shape
    (4, 6, 6, 1)
    """
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(augment)(keys, images)


__all__ = [
    "AUGMENTATIONS",
    "augment_batch",
    "parse_augment",
    "random_rotation",
    "random_shift",
]
