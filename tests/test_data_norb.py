"""NORB data: the rendered airplane, its cache, the small-NORB reader and the 660/312 split."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from drlim.data import norb
from drlim.data.norb import (
    N_IMAGES,
    downsample,
    factor_grid,
    load_small_norb,
    norb_airplane,
    read_norb_matrix,
    render_airplane,
    write_norb_matrix,
)

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
    monkeypatch.setenv(norb.CACHE_ENV, str(tmp_path))
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


def test_render_is_deterministic():
    solids = norb._airplane()
    first = norb._render_pose(solids, 140.0, 45.0, 24)
    np.testing.assert_array_equal(first, norb._render_pose(solids, 140.0, 45.0, 24))


def test_render_airplane_validates_size(tmp_path):
    with pytest.raises(ValueError, match="image_size: expected an integer"):
        render_airplane(4, cache_dir=tmp_path)


def test_downsample_matches_block_mean_and_hand_values():
    images = np.random.default_rng(0).random((3, 12, 12, 1)).astype(np.float32)
    expected = images.reshape(3, 4, 3, 4, 3, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(downsample(images, 4), expected, rtol=1e-6)
    row = np.tile(np.array([0.0, 3.0, 6.0, 9.0, 12.0]), (5, 1))[None]
    # output cells cover input [0, 2.5) and [2.5, 5): (0 + 3 + 3) / 2.5 and (3 + 9 + 12) / 2.5
    np.testing.assert_allclose(downsample(row, 2)[0], [[2.4, 9.6], [2.4, 9.6]], rtol=1e-12)
    assert downsample(np.ones((1, 96, 96), np.uint8), 40).dtype == np.float32
    with pytest.raises(ValueError, match=r"size: expected an integer in \[1, 12\]"):
        downsample(images, 13)


def norb_bytes(magic: int, array: np.ndarray, dtype: str) -> bytes:
    """A small-NORB matrix written by hand from the format description."""
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    header = struct.pack("<ii", magic, array.ndim) + struct.pack(f"<{len(dims)}i", *dims)
    return header + array.astype(dtype).tobytes()


@pytest.mark.parametrize("suffix", [".mat", ".mat.gz"])
def test_norb_matrix_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (4, 2, 5, 5), dtype=np.uint8),
              rng.integers(-9, 9, (6, 4)).astype(np.int32), np.arange(3, dtype=np.int32)]
    for k, array in enumerate(arrays):
        path = write_norb_matrix(tmp_path / f"m{k}{suffix}", array)
        back = read_norb_matrix(path)
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_norb_reader_agrees_with_hand_written_files(tmp_path):
    cat = np.array([2, 0, 2], np.int32)
    (tmp_path / "a-cat.mat").write_bytes(norb_bytes(0x1E3D4C54, cat, "<i4"))
    assert (tmp_path / "a-cat.mat").stat().st_size == 8 + 3 * 4 + 3 * 4  # 3 sizes even for 1-D
    np.testing.assert_array_equal(read_norb_matrix(tmp_path / "a-cat.mat"), cat)
    images = np.arange(3 * 2 * 4 * 4, dtype=np.uint8).reshape(3, 2, 4, 4)
    (tmp_path / "a-dat.mat.gz").write_bytes(gzip.compress(norb_bytes(0x1E3D4C55, images, "u1")))
    np.testing.assert_array_equal(read_norb_matrix(tmp_path / "a-dat.mat.gz"), images)
    assert write_norb_matrix(tmp_path / "b-cat.mat", cat).read_bytes() == \
        (tmp_path / "a-cat.mat").read_bytes()


def test_norb_reader_rejects_bad_files(tmp_path):
    good = norb_bytes(0x1E3D4C54, np.arange(6, dtype=np.int32).reshape(3, 2), "<i4")
    cases = {"magic": struct.pack("<i", 0x1E3D4C99) + good[4:], "short": good[:-3],
             "long": good + b"\0\0\0\0", "header": good[:10]}
    for name, raw in cases.items():
        (tmp_path / f"{name}.mat").write_bytes(raw)
        with pytest.raises(ValueError, match=f"{name}.mat"):
            read_norb_matrix(tmp_path / f"{name}.mat")


def write_small_norb(folder, rng, image_size=8):
    """Two fake small-NORB sets; returns the left images of (category 2, instance 4) by key."""
    azimuth, elevation, lighting = factor_grid()
    grid_info = np.stack([(elevation - 30) // 5, azimuth // 10, lighting], axis=1)
    expected = {}
    for prefix, members in (("set-training", [(2, 4), (0, 4), (2, 6)]),
                            ("set-testing", [(2, 1), (3, 1)])):
        cat, info = [], []
        for category, instance in members:
            cat.append(np.full(N_IMAGES, category))
            info.append(np.column_stack([np.full(N_IMAGES, instance), grid_info]))
        cat, info = np.concatenate(cat), np.concatenate(info)
        order = rng.permutation(cat.size)
        cat, info = cat[order].astype(np.int32), info[order].astype(np.int32)
        dat = rng.integers(0, 256, (cat.size, 2, image_size, image_size), dtype=np.uint8)
        write_norb_matrix(folder / f"{prefix}-dat.mat", dat)
        write_norb_matrix(folder / f"{prefix}-cat.mat.gz", cat)
        write_norb_matrix(folder / f"{prefix}-info.mat", info)
        for row in range(cat.size):
            expected[(int(cat[row]), int(info[row, 0]), int(info[row, 2]) * 10,
                      30 + 5 * int(info[row, 1]), int(info[row, 3]))] = dat[row, 0]
    return expected


def test_load_small_norb_selects_one_instance_in_canonical_order(tmp_path, rendered):
    expected = write_small_norb(tmp_path, np.random.default_rng(2))
    data = load_small_norb(tmp_path, category=2, instance=4)
    assert data.images.shape == (N_IMAGES, 8, 8, 1) and data.images.dtype == np.float32
    for mine, theirs in zip((data.azimuth, data.elevation, data.lighting),
                            (rendered.azimuth, rendered.elevation, rendered.lighting), strict=True):
        np.testing.assert_array_equal(mine, theirs)  # same structure as the rendered airplane
    for k in (0, 1, 500, N_IMAGES - 1):
        key = (2, 4, int(data.azimuth[k]), int(data.elevation[k]), int(data.lighting[k]))
        np.testing.assert_array_equal(np.rint(data.images[k, ..., 0] * 255), expected[key])
    smallest = load_small_norb(tmp_path)  # category 2 by default, smallest instance (1)
    key = (2, 1, 340, 70, 5)
    np.testing.assert_array_equal(np.rint(smallest.images[-1, ..., 0] * 255), expected[key])


def test_load_small_norb_errors(tmp_path):
    write_small_norb(tmp_path, np.random.default_rng(3), image_size=4)
    with pytest.raises(ValueError, match=r"instance: expected one of \[1, 4, 6\]"):
        load_small_norb(tmp_path, instance=5)
    with pytest.raises(ValueError, match="category: no images of category 1"):
        load_small_norb(tmp_path, category=1)
    with pytest.raises(ValueError, match="directory: expected small-NORB files"):
        load_small_norb(tmp_path / "..", instance=4)
    info = read_norb_matrix(tmp_path / "set-training-info.mat").copy()
    info[info[:, 0] == 6, 0] = 4  # instance 4 now has every pose twice
    write_norb_matrix(tmp_path / "set-training-info.mat", info)
    with pytest.raises(ValueError, match="each of the 972"):
        load_small_norb(tmp_path, instance=4)


def test_norb_airplane_split_from_small_norb(tmp_path):
    write_small_norb(tmp_path, np.random.default_rng(4), image_size=8)
    split = norb_airplane(tmp_path, seed=0, image_size=8, instance=6)
    again = norb_airplane(tmp_path, seed=0, image_size=8, instance=6)
    other = norb_airplane(tmp_path, seed=1, image_size=8, instance=6)
    assert split.x_train.shape == (660, 8, 8, 1) and split.x_test.shape == (312, 8, 8, 1)
    assert len(set(split.index_train) | set(split.index_test)) == N_IMAGES
    np.testing.assert_array_equal(split.index_train, again.index_train)
    assert not np.array_equal(split.index_train, other.index_train)
    full = load_small_norb(tmp_path, instance=6)
    np.testing.assert_array_equal(split.x_test, full.images[split.index_test])
    np.testing.assert_array_equal(split.azimuth_train, full.azimuth[split.index_train])
    np.testing.assert_array_equal(split.lighting_test, full.lighting[split.index_test])
    np.testing.assert_array_equal(split.elevation_test, full.elevation[split.index_test])
    half = norb_airplane(tmp_path, seed=0, image_size=4, instance=6)
    np.testing.assert_allclose(half.x_train, downsample(split.x_train, 4), rtol=1e-6)


def test_norb_airplane_rendered_source(tmp_path, monkeypatch):
    grid = factor_grid()
    fake = norb.NorbData(np.random.default_rng(5).random((N_IMAGES, 96, 96, 1), np.float32), *grid)
    monkeypatch.setattr(norb, "render_airplane", lambda size, cache_dir: fake)
    split = norb_airplane("rendered", seed=3, image_size=32)
    assert split.x_train.shape == (660, 32, 32, 1) and split.x_test.shape == (312, 32, 32, 1)
    np.testing.assert_allclose(split.x_train, downsample(fake.images[split.index_train], 32),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="seed: expected an integer"):
        norb_airplane(seed=0.5)
    with pytest.raises(ValueError, match=r"image_size: expected an integer in \[1, 96\]"):
        norb_airplane(image_size=128)


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
