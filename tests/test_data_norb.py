"""NORB data: the rendered airplane, its cache, downsampling and the 660/312 split."""

from __future__ import annotations

import numpy as np
import pytest

from drlim.data import norb
from drlim.data.norb import downsample, norb_airplane, render_airplane
from drlim.data.smallnorb import N_IMAGES, NorbData, factor_grid

SIZE = 32  # small renders keep the suite fast; the structure does not depend on the size


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("norb-cache")


@pytest.fixture(scope="module")
def rendered(cache_dir):
    return render_airplane(SIZE, cache_dir=cache_dir)


def test_rendered_covers_the_full_factor_grid(rendered):
    assert rendered.images.shape == (N_IMAGES, SIZE, SIZE, 1)
    assert rendered.images.dtype == np.float32
    assert 0.0 <= rendered.images.min() and rendered.images.max() <= 1.0
    combos = set(zip(rendered.azimuth.tolist(), rendered.elevation.tolist(),
                     rendered.lighting.tolist(), strict=True))
    assert combos == {(a, e, light) for a in range(0, 360, 20) for e in range(30, 75, 5)
                      for light in range(6)}
    for mine, canonical in zip((rendered.azimuth, rendered.elevation, rendered.lighting),
                               factor_grid(), strict=True):
        np.testing.assert_array_equal(mine, canonical)


def test_rendered_images_are_all_distinct(rendered):
    flat = rendered.images.reshape(N_IMAGES, -1)
    assert len(np.unique(flat, axis=0)) == N_IMAGES


def by_factors(data, azimuth, elevation, lighting):
    index = np.flatnonzero((data.azimuth == azimuth) & (data.elevation == elevation)
                           & (data.lighting == lighting))
    assert index.size == 1
    return data.images[index[0], ..., 0]


def test_lightings_of_one_pose_differ(rendered):
    for azimuth in (0, 100, 220):
        for elevation in (30, 50, 70):
            views = [by_factors(rendered, azimuth, elevation, light) for light in range(6)]
            for i in range(6):
                for j in range(i + 1, 6):
                    assert np.abs(views[i] - views[j]).mean() > 0.005, (azimuth, elevation, i, j)


def test_lightings_are_combinations_of_fixed_lamps(rendered):
    """Light adds up: switching lamp 2 for lamp 1 changes a view by the same amount whichever
    other lamp stays on, since the lamps stand still while the turntable turns the toy."""
    index = {frozenset(lamps): k for k, (lamps, _) in enumerate(norb.LIGHTINGS)}
    assert len(norb.LAMPS) == 4 and len(index) == 6
    with_0, with_3 = ([index[frozenset((lamp, other))] for lamp in (1, 2)] for other in (0, 3))
    for azimuth, elevation in ((0, 30), (120, 50), (260, 70)):
        views = {k: by_factors(rendered, azimuth, elevation, k).astype(np.float64)
                 for k in with_0 + with_3}
        swap_beside_0 = views[with_0[0]] - views[with_0[1]]
        swap_beside_3 = views[with_3[0]] - views[with_3[1]]
        assert np.abs(swap_beside_0).max() > 0.05  # the two lamps light the toy differently
        np.testing.assert_allclose(swap_beside_0, swap_beside_3, atol=2.5 / 255)


def test_lighting_changes_shading_not_silhouette(rendered):
    """The background is uniform, so the toy's outline is the same under every lighting."""
    background = round(norb.BACKGROUND * 255) / 255
    for azimuth, elevation in ((40, 50), (200, 35)):
        masks = [np.abs(by_factors(rendered, azimuth, elevation, light) - background) > 0.02
                 for light in range(6)]
        for mask in masks[1:]:
            assert (mask != masks[0]).mean() < 0.05


def test_opposite_azimuths_differ(rendered):
    """Nose and tail differ, so a view and the one 180 degrees round are never alike."""
    for azimuth in range(0, 180, 20):
        for elevation in (30, 50, 70):
            for light in (0, 3):
                a = by_factors(rendered, azimuth, elevation, light)
                b = by_factors(rendered, azimuth + 180, elevation, light)
                assert np.abs(a - b).mean() > 0.01, (azimuth, elevation, light)


def test_render_cache_is_reused_and_exact(rendered, cache_dir, monkeypatch):
    path = norb._cache_path(cache_dir, SIZE)
    assert path.parent == cache_dir and path.is_file()

    def fail(size):
        raise AssertionError("rendered again although a cache exists")

    monkeypatch.setattr(norb, "_render_all", fail)
    again = render_airplane(SIZE, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.images, rendered.images)
    np.testing.assert_array_equal(again.lighting, rendered.lighting)


def test_render_cache_from_environment_and_corrupt_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DRLIM_CACHE", str(tmp_path))
    calls = []

    def fake_render(size):
        calls.append(size)
        return np.full((N_IMAGES, size, size), 7, np.uint8)

    monkeypatch.setattr(norb, "_render_all", fake_render)
    path = norb._cache_path(None, 16)
    assert path.parent == tmp_path
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable cache"):
        data = render_airplane(16)
    assert calls == [16] and np.allclose(data.images, 7 / 255)
    assert render_airplane(16).images.shape == (N_IMAGES, 16, 16, 1) and calls == [16]


@pytest.mark.parametrize("damage", ["truncate", "flip a bit", "empty"])
def test_a_damaged_cache_is_rendered_again(tmp_path, monkeypatch, damage):
    """A cache cut short (a full disk, a killed copy) or with a flipped bit is a bad zip file:
    it is ignored with a warning and replaced, not raised."""
    calls = []

    def fake_render(size):
        calls.append(size)
        return np.full((N_IMAGES, size, size), 7, np.uint8)

    monkeypatch.setattr(norb, "_render_all", fake_render)
    render_airplane(16, cache_dir=tmp_path)
    path = norb._cache_path(tmp_path, 16)
    raw = path.read_bytes()
    middle = len(raw) // 2
    damaged = {"truncate": raw[:middle], "empty": b"",  # np.load raises EOFError on b""
               "flip a bit": raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1:]}
    path.write_bytes(damaged[damage])
    with pytest.warns(UserWarning, match="ignoring unreadable cache"):
        data = render_airplane(16, cache_dir=tmp_path)
    assert calls == [16, 16] and np.allclose(data.images, 7 / 255)
    render_airplane(16, cache_dir=tmp_path)  # the cache is whole again: no third render
    assert calls == [16, 16]


def test_render_is_deterministic():
    solids = norb._airplane()
    first = norb._render_pose(solids, 140.0, 45.0, 24)
    np.testing.assert_array_equal(first, norb._render_pose(solids, 140.0, 45.0, 24))


def test_render_airplane_validates_size(tmp_path):
    with pytest.raises(ValueError, match=r"image_size must be in \[8, 1024\], got 4"):
        render_airplane(4, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"image_size must be an int in \[8, 1024\], got True"):
        render_airplane(True, cache_dir=tmp_path)


def test_downsample_matches_block_mean_and_hand_values():
    images = np.random.default_rng(0).random((3, 12, 12, 1)).astype(np.float32)
    expected = images.reshape(3, 4, 3, 4, 3, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(downsample(images, 4), expected, rtol=1e-6)
    row = np.tile(np.array([0.0, 3.0, 6.0, 9.0, 12.0]), (5, 1))[None]
    # output cells cover input [0, 2.5) and [2.5, 5): (0 + 3 + 3) / 2.5 and (3 + 9 + 12) / 2.5
    np.testing.assert_allclose(downsample(row, 2)[0], [[2.4, 9.6], [2.4, 9.6]], rtol=1e-12)
    assert downsample(np.ones((1, 96, 96), np.uint8), 40).dtype == np.float32
    with pytest.raises(ValueError, match=r"size must be in \[1, 12\], got 13"):
        downsample(images, 13)


def test_norb_airplane_rendered_source(tmp_path, monkeypatch):
    grid = factor_grid()
    fake = NorbData(np.random.default_rng(5).random((N_IMAGES, 96, 96, 1), np.float32), *grid)
    monkeypatch.setattr(norb, "render_airplane", lambda size, cache_dir: fake)
    split = norb_airplane("rendered", seed=3, image_size=32)
    assert split.x_train.shape == (660, 32, 32, 1) and split.x_test.shape == (312, 32, 32, 1)
    np.testing.assert_allclose(split.x_train, downsample(fake.images[split.index_train], 32),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got 0.5"):
        norb_airplane(seed=0.5)
    with pytest.raises(ValueError, match=r"image_size must be in \[1, 96\], got 128"):
        norb_airplane(source=object(), image_size=128)  # refused before the source is read


def test_norb_grid_figure_draws_and_validates(rendered):
    from drlim.plots import norb_grid_figure

    fig = norb_grid_figure(rendered.images, rendered.azimuth, rendered.elevation,
                           rendered.lighting, shown_lighting=2, pose=(40, 50))
    grid, row = (ax.get_images()[0].get_array() for ax in fig.axes)
    gap = max(1, SIZE // 24)
    assert grid.shape == (9 * (SIZE + gap) - gap, 18 * (SIZE + gap) - gap)
    assert row.shape == (SIZE, 6 * (SIZE + gap) - gap)
    # top-left tile: the highest elevation at azimuth 0 under the shown lighting
    np.testing.assert_array_equal(grid[:SIZE, :SIZE], by_factors(rendered, 0, 70, 2))
    np.testing.assert_array_equal(row[:, -SIZE:], by_factors(rendered, 40, 50, 5))
    with pytest.raises(ValueError, match="pose must be"):
        norb_grid_figure(rendered.images, rendered.azimuth, rendered.elevation,
                         rendered.lighting, pose=(45, 50))
    with pytest.raises(ValueError, match="shown_lighting must be one of"):
        norb_grid_figure(rendered.images, rendered.azimuth, rendered.elevation,
                         rendered.lighting, shown_lighting=6)
