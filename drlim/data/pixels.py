"""Pixels: the data sets keep images as uint8 and hand them to the networks as float32."""

from __future__ import annotations

import numpy as np


def to_float_images(pixels: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, h, w)`` as float32 ``(n, h, w, 1)`` in [0, 1], the layout and range
    in which MNIST and NORB data are held.

    >>> to_float_images(np.array([[[0, 255]]], np.uint8)).tolist()
    [[[[0.0], [1.0]]]]
    """
    return np.asarray(pixels)[..., None].astype(np.float32) / np.float32(255)


__all__ = ["to_float_images"]
