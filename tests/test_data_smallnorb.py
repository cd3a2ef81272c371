"""Small NORB: the binary matrix reader and writer, one toy's images in canonical order, and
the paper's NORB experiment run on small-NORB files the tests write."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest

from drlim.data.norb import downsample, norb_airplane
from drlim.data.smallnorb import (
    N_IMAGES,
    factor_grid,
    load_small_norb,
    read_norb_matrix,
    write_norb_matrix,
)


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


def test_load_small_norb_selects_one_instance_in_canonical_order(tmp_path):
    expected = write_small_norb(tmp_path, np.random.default_rng(2))
    data = load_small_norb(tmp_path, category=2, instance=4)
    assert data.images.shape == (N_IMAGES, 8, 8, 1) and data.images.dtype == np.float32
    for mine, canonical in zip((data.azimuth, data.elevation, data.lighting), factor_grid(),
                               strict=True):
        np.testing.assert_array_equal(mine, canonical)  # the rendered airplane's order too
    for k in (0, 1, 500, N_IMAGES - 1):
        key = (2, 4, int(data.azimuth[k]), int(data.elevation[k]), int(data.lighting[k]))
        np.testing.assert_array_equal(np.rint(data.images[k, ..., 0] * 255), expected[key])
    smallest = load_small_norb(tmp_path)  # category 2 by default, smallest instance (1)
    key = (2, 1, 340, 70, 5)
    np.testing.assert_array_equal(np.rint(smallest.images[-1, ..., 0] * 255), expected[key])


def test_a_set_kept_unpacked_and_gzipped_counts_once(tmp_path):
    """After `gunzip -k` both X-dat.mat and X-dat.mat.gz are there: one set, not two (which
    had held each pose twice and failed)."""
    write_small_norb(tmp_path, np.random.default_rng(2))
    alone = load_small_norb(tmp_path, category=2, instance=4)
    for path in list(tmp_path.glob("*-dat.mat")):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
    both = load_small_norb(tmp_path, category=2, instance=4)
    np.testing.assert_array_equal(alone.images, both.images)


def test_load_small_norb_errors(tmp_path):
    write_small_norb(tmp_path, np.random.default_rng(3), image_size=4)
    with pytest.raises(ValueError, match=r"instance must be one of \[1, 4, 6\]"):
        load_small_norb(tmp_path, instance=5)
    with pytest.raises(ValueError, match="category must be present in .*, got 1"):
        load_small_norb(tmp_path, category=1)
    with pytest.raises(ValueError, match="instance must be an int >= 0, got True"):
        load_small_norb(tmp_path, instance=True)
    with pytest.raises(ValueError, match=r"category must be in \[0, 4\], got 5"):
        load_small_norb(tmp_path, category=5)
    with pytest.raises(ValueError, match="directory must hold small-NORB files"):
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




def test_norb_experiment_config_reads_small_norb_files(tmp_path):
    """`--norb-source PATH` reaches the data: the experiment's split is the reader's airplane."""
    from drlim.cli import experiment_config
    from drlim.runs import experiment_data

    write_small_norb(tmp_path, np.random.default_rng(7), image_size=8)
    assert experiment_config("norb-airplane").norb_source == "rendered"
    config = experiment_config("norb-airplane", seed=2, norb_source=str(tmp_path), image_size=4)
    data = experiment_data(config)
    full = load_small_norb(tmp_path)  # airplane, smallest instance
    split = norb_airplane(tmp_path, seed=2, image_size=8)
    np.testing.assert_allclose(data.x_train, downsample(full.images[split.index_train], 4),
                               rtol=1e-6)
    np.testing.assert_array_equal(data.factors_test["lighting"], full.lighting[split.index_test])
    assert data.x_train.shape == (660, 4, 4, 1) and data.x_test.shape == (312, 4, 4, 1)


@pytest.mark.slow
def test_norb_experiment_runs_on_small_norb_files(tmp_path):
    """`drlim run norb-airplane --norb-source PATH`: the paper's NORB experiment (Fig. 8) on
    small-NORB files, with the airplane's 972 images split 660/312 as for the rendered one."""
    from drlim.cli import main

    folder = tmp_path / "smallnorb"
    folder.mkdir()
    expected = write_small_norb(folder, np.random.default_rng(6), image_size=32)
    run = tmp_path / "run"
    main(["run", "norb-airplane", "--quick", "--out", str(run), "--norb-source", str(folder),
          "--steps", "10", "--log-every", "5", "--image-size", "16"])
    config = json.loads((run / "config.json").read_text())
    assert config["norb_source"] == str(folder) and config["image_size"] == 16
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["graph"]["n_samples"] == 660
    assert {"azimuth_circular_corr", "elevation_spearman", "lighting_spread_ratio"} <= set(metrics)
    saved = np.load(run / "embeddings.npz")
    assert saved["z_train"].shape == (660, 3) and saved["z_test"].shape == (312, 3)
    test_rows = np.sort(np.random.default_rng(0).permutation(N_IMAGES)[660:])
    for name, factor in zip(("azimuth", "elevation", "lighting"), factor_grid(), strict=True):
        np.testing.assert_array_equal(saved[f"{name}_test"], factor[test_rows])
    # the smallest airplane instance (1), left camera, 2x2 block means (32 -> 16 pixels)
    for k in (0, 100, 311):
        key = (2, 1, int(saved["azimuth_test"][k]), int(saved["elevation_test"][k]),
               int(saved["lighting_test"][k]))
        reference = expected[key].reshape(16, 2, 16, 2).mean(axis=(1, 3))
        assert np.abs(saved["images_test"][k].astype(np.float64) - reference).max() <= 0.5
