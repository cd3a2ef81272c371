"""Horizontally shifted copies of images: the paper's translation experiment (Sec. 4.2).

Applied to the 6,000 training digits of :func:`drlim.data.mnist_4_9` with the default
shifts, :func:`shift_images` gives the paper's 30,000 samples: each digit plus copies moved
by -6, -3, +3 and +6 pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Shifted(NamedTuple):
    """Originals followed by their shifted copies.

    ``images[i]`` is ``images_in[source[i]]`` moved right by ``shift[i]`` pixels (left when
    negative); the first ``n`` rows are the originals with shift 0, then one block of ``n``
    per requested shift, in the order given. Labels line up as ``labels[source]``.
    """

    images: np.ndarray
    shift: np.ndarray
    source: np.ndarray


def shift_horizontal(images: np.ndarray, shift: int) -> np.ndarray:
    """Move images ``(n, h, w[, c])`` right by ``shift`` pixels (left if negative), zero fill.

    Columns pushed out of the frame are lost; nothing wraps around.

    >>> shift_horizontal(np.arange(4.0).reshape(1, 1, 4), 1)
    array([[[0., 0., 1., 2.]]])
    """
    images = _check_images(images)
    width = images.shape[2]
    if not isinstance(shift, int | np.integer) or abs(shift) >= width:
        raise ValueError(f"shift: expected an integer with |shift| < width {width}, got {shift!r}")
    out = np.zeros_like(images)
    if shift >= 0:
        out[:, :, shift:] = images[:, :, : width - shift]
    else:
        out[:, :, :shift] = images[:, :, -shift:]
    return out


def shift_images(images: np.ndarray, shifts: tuple[int, ...] = (-6, -3, 3, 6)) -> Shifted:
    """The originals and one horizontally shifted copy of each image per entry of ``shifts``.

    ``images`` is ``(n, h, w)`` or ``(n, h, w, c)``; the dtype is kept. Shifts must be distinct,
    non-zero (the originals are always included with shift 0) and smaller than the width.

    >>> out = shift_images(np.zeros((6000, 28, 28, 1), np.float32))
    >>> out.images.shape, np.unique(out.shift).tolist()
    ((30000, 28, 28, 1), [-6, -3, 0, 3, 6])
    """
    images = _check_images(images)
    shifts = tuple(shifts)
    if len(set(shifts)) != len(shifts) or 0 in shifts:
        raise ValueError(f"shifts: expected distinct non-zero integers, got {shifts}")
    n = images.shape[0]
    blocks = [images] + [shift_horizontal(images, s) for s in shifts]
    shift = np.repeat(np.array((0, *shifts), dtype=np.int64), n)
    source = np.tile(np.arange(n, dtype=np.int64), len(shifts) + 1)
    return Shifted(images=np.concatenate(blocks), shift=shift, source=source)


def _check_images(images: np.ndarray) -> np.ndarray:
    """``images`` as an array of shape (n, h, w) or (n, h, w, c), else ``ValueError``."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images: expected shape (n, h, w) or (n, h, w, c), got {images.shape}")
    return images


__all__ = [
    "Shifted",
    "shift_horizontal",
    "shift_images",
]
