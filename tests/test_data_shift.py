"""Shifted digits: zero-filled horizontal translations and the bookkeeping around them."""

from __future__ import annotations

import numpy as np
import pytest

from drlim.data.shift import shift_horizontal, shift_images


def reference_shift(image: np.ndarray, shift: int) -> np.ndarray:
    """Pixel-by-pixel translation of one (h, w[, c]) image, written independently."""
    out = np.zeros_like(image)
    width = image.shape[1]
    for column in range(width):
        target = column + shift
        if 0 <= target < width:
            out[:, target] = image[:, column]
    return out


def random_images(n=5, height=28, width=28, channels=None, ink=(8, 20), seed=0):
    """Random 'digits' whose ink lies only in columns ``ink[0]:ink[1]``."""
    rng = np.random.default_rng(seed)
    shape = (n, height, width) + (() if channels is None else (channels,))
    images = np.zeros(shape, np.float32)
    images[:, :, ink[0]:ink[1]] = rng.random((n, height, ink[1] - ink[0]) + shape[3:])
    return images


def test_shift_then_unshift_restores_columns_inside_frame():
    images = random_images(ink=(0, 28))  # ink everywhere, so some falls off the edge
    there_and_back = shift_horizontal(shift_horizontal(images, 3), -3)
    np.testing.assert_array_equal(there_and_back[:, :, :25], images[:, :, :25])
    assert not there_and_back[:, :, 25:].any()  # columns pushed out come back as zeros
    back_and_there = shift_horizontal(shift_horizontal(images, -3), 3)
    np.testing.assert_array_equal(back_and_there[:, :, 3:], images[:, :, 3:])
    assert not back_and_there[:, :, :3].any()


def test_shift_matches_reference_and_never_wraps():
    images = random_images(n=3, ink=(0, 28), seed=1)
    for shift in (-6, -3, -1, 1, 3, 6):
        shifted = shift_horizontal(images, shift)
        for image, out in zip(images, shifted, strict=True):
            np.testing.assert_array_equal(out, reference_shift(image, shift))
    edge = np.zeros((1, 2, 5), np.float32)
    edge[0, :, -1] = 1.0  # ink in the last column must vanish, not reappear on the left
    assert shift_horizontal(edge, 2).sum() == 0


def test_mass_preserved_when_ink_stays_inside():
    images = random_images(ink=(6, 22))  # room for 6 columns on either side
    out = shift_images(images)
    np.testing.assert_allclose(out.images.sum(axis=(1, 2)), images[out.source].sum(axis=(1, 2)),
                               rtol=1e-6)
    clipped = shift_images(random_images(ink=(0, 28)), shifts=(6,))
    assert np.all(clipped.images[5:].sum(axis=(1, 2)) < clipped.images[:5].sum(axis=(1, 2)))


@pytest.mark.parametrize("channels", [None, 1, 3])
def test_shift_images_layout_and_labels(channels):
    images = random_images(n=7, channels=channels, seed=2).astype(np.float32)
    labels = np.array([4, 9, 9, 4, 4, 9, 4])
    out = shift_images(images)
    assert out.images.shape == (35,) + images.shape[1:] and out.images.dtype == images.dtype
    assert out.shift.tolist() == [0] * 7 + [-6] * 7 + [-3] * 7 + [3] * 7 + [6] * 7
    assert out.source.tolist() == list(range(7)) * 5
    np.testing.assert_array_equal(out.images[:7], images)
    for i in range(35):
        np.testing.assert_array_equal(out.images[i],
                                      reference_shift(images[out.source[i]], out.shift[i]))
    assert labels[out.source].tolist() == labels.tolist() * 5


def test_paper_sized_set():
    out = shift_images(np.zeros((6000, 28, 28, 1), np.uint8))
    assert out.images.shape == (30_000, 28, 28, 1) and out.images.dtype == np.uint8
    assert np.bincount(out.source).tolist() == [5] * 6000


def test_shift_inputs_are_validated():
    images = random_images(n=2)
    with pytest.raises(ValueError, match="shifts must be distinct non-zero"):
        shift_images(images, shifts=(0, 3))
    with pytest.raises(ValueError, match="shifts must be distinct non-zero"):
        shift_images(images, shifts=(3, 3))
    with pytest.raises(ValueError, match="shift: expected an integer with .* 28"):
        shift_images(images, shifts=(28,))
    with pytest.raises(ValueError, match="shift: expected an integer"):
        shift_horizontal(images, 1.5)
    with pytest.raises(ValueError, match=r"images must have shape .* got \(28, 28\)"):
        shift_images(np.zeros((28, 28)))


def test_uint8_output_matches_float_path():
    images = random_images(n=6, ink=(0, 28), seed=3)
    shifts = tuple(range(-8, 0)) + tuple(range(1, 9))
    as_float = shift_images(images, shifts)
    as_uint8 = shift_images(images, shifts, dtype=np.uint8)
    assert as_uint8.images.dtype == np.uint8 and as_uint8.images.shape == (6 * 17, 28, 28)
    np.testing.assert_array_equal(as_uint8.images, np.rint(as_float.images * 255).astype(np.uint8))
    np.testing.assert_array_equal(as_uint8.shift, as_float.shift)
    np.testing.assert_array_equal(as_uint8.source, as_float.source)


def test_uint8_input_shifts_like_its_float_version():
    pixels = (random_images(n=4, ink=(0, 28), seed=4) * 255).astype(np.uint8)
    shifted = shift_images(pixels, (-8, -2, 5, 8))
    assert shifted.images.dtype == np.uint8
    np.testing.assert_array_equal(shifted.images.astype(np.float32) / 255,
                                  shift_images(pixels.astype(np.float32) / 255,
                                               (-8, -2, 5, 8)).images)
    for i in range(len(shifted.images)):
        np.testing.assert_array_equal(shifted.images[i],
                                      reference_shift(pixels[shifted.source[i]], shifted.shift[i]))


def test_uint8_output_needs_unit_range():
    with pytest.raises(ValueError, match=r"images must hold values in \[0, 1\] for dtype uint8"):
        shift_images(np.full((1, 2, 4), 2.0), shifts=(1,), dtype=np.uint8)


def test_other_integer_outputs_and_non_finite_pixels_are_refused():
    """uint16 from images in [0, 1] would have truncated every pixel to 0; NaN passed the
    range check of nanmin / nanmax and became an arbitrary byte."""
    images = random_images(n=2)
    with pytest.raises(ValueError, match=r"^dtype must be the images' own \(float32\), a float "
                                         r"type or uint8, got uint16$"):
        shift_images(images, shifts=(1,), dtype=np.uint16)
    images[0, 3, 4] = np.nan
    with pytest.raises(ValueError, match="^images must be finite, got NaN or inf$"):
        shift_images(images, shifts=(1,), dtype=np.uint8)
    finite = images.astype(np.float64)[1:]
    assert shift_images(finite, shifts=(1,), dtype=np.float32).images.dtype == np.float32
