"""Random transformations drawn inside jit: against the host shift, and their parsing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

from drlim.augment import (
    augment_batch,
    parse_augment,
    random_rotation,
    random_shift,
)
from drlim.data.shift import shift_horizontal


def _which_shift(out: np.ndarray, image: np.ndarray, max_shift: int) -> int:
    matches = [s for s in range(-max_shift, max_shift + 1)
               if np.array_equal(out, shift_horizontal(image[None], s)[0])]
    assert len(matches) == 1
    return matches[0]


def test_shift_is_the_host_shift_with_a_uniform_draw():
    image = np.random.default_rng(0).random((6, 9, 1)).astype(np.float32) + 0.1
    outs = jax.jit(jax.vmap(lambda k: random_shift(k, image, 3)))(
        jax.random.split(jax.random.key(0), 2100))
    shifts = np.array([_which_shift(np.asarray(o), image, 3) for o in outs])
    counts = np.bincount(shifts + 3, minlength=7)
    assert counts.min() > 200 and counts.max() < 400  # 300 expected each


def test_rotation_keeps_centre_and_radial_images_and_a_tiny_angle_keeps_the_image():
    y, x = np.mgrid[:15, :15] - 7.0
    disc = np.exp(-(x**2 + y**2) / 8.0).astype(np.float32)
    rotated = random_rotation(jax.random.key(1), disc, 40.0)
    np.testing.assert_allclose(rotated, disc, atol=0.03)
    image = np.random.default_rng(1).random((10, 10, 2)).astype(np.float32)
    tiny = random_rotation(jax.random.key(2), image, 1e-6)
    np.testing.assert_allclose(tiny, image, atol=1e-4)


def test_rotation_by_a_known_angle_matches_scipy():
    """With max_degrees chosen so that the draw is the angle, compare with scipy's rotate."""
    image = np.zeros((21, 21), np.float32)
    image[5:16, 9:12] = 1.0
    key = jax.random.key(3)
    angle = float(jax.random.uniform(key, (), minval=-30.0, maxval=30.0))
    got = np.asarray(random_rotation(key, image, 30.0))
    expected = scipy.ndimage.rotate(image, -angle, reshape=False, order=1)
    assert np.abs(got - expected).mean() < 0.02


def test_batch_draws_each_image_apart_and_parse():
    columns = jnp.broadcast_to(jnp.arange(1.0, 8.0)[None, None, :, None], (64, 5, 7, 1))
    out = np.asarray(augment_batch(jax.random.key(4), columns, parse_augment("shift:3")))
    # Each of the 7 shifts in [-3, 3] leaves another set of columns: another sum.
    assert len({float(o.sum()) for o in out}) == 7
    assert parse_augment("") is None


@pytest.mark.parametrize("spec", ["flip:1", "shift", "shift:x", "shift:0", "shift:1.5", 3,
                                  "shift:inf", "rotate:inf", "rotate:nan"])
def test_bad_specs_raise(spec):
    with pytest.raises(ValueError, match="augment"):
        parse_augment(spec)
