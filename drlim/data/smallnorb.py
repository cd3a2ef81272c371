"""Small NORB (LeCun, Huang & Bottou 2004): its factors of variation and a reader for its files.

NORB photographs 50 uniform-coloured toys on a turntable: 18 azimuths (0, 20, ..., 340
degrees) x 9 camera elevations (30 to 70 degrees in steps of 5) x 6 lighting conditions, 972
images per toy, with two cameras. The small-NORB files (``*-dat.mat``, ``*-cat.mat``,
``*-info.mat``, raw or ``.gz``) hold the toys centred on a uniform background at 96x96.

- :func:`factor_grid` and :class:`NorbData`: one toy's 972 images in one canonical order
  (azimuth, then elevation, then lighting), shared with the rendered stand-in of
  :mod:`drlim.data.norb`.
- :func:`read_norb_matrix` / :func:`write_norb_matrix`: the "binary matrix" file format.
- :func:`load_small_norb`: the 972 left-camera images of one instance of one category
  (2 is "airplane").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drlim._io import binary_format_code, read_gzip, write_maybe_gzip
from drlim.data.pixels import to_float_images
from drlim.validation import check_int

__all__ = [
    "AIRPLANE",
    "AZIMUTHS",
    "ELEVATIONS",
    "N_IMAGES",
    "N_LIGHTINGS",
    "NORB_DTYPES",
    "NorbData",
    "factor_grid",
    "load_small_norb",
    "read_norb_matrix",
    "write_norb_matrix",
]

AZIMUTHS = np.arange(0, 360, 20)
ELEVATIONS = np.arange(30, 75, 5)
N_LIGHTINGS = 6
N_IMAGES = AZIMUTHS.size * ELEVATIONS.size * N_LIGHTINGS
AIRPLANE = 2  # small-NORB category: 0 animal, 1 human, 2 airplane, 3 truck, 4 car

# small-NORB "binary matrix" element types; files are little-endian.
NORB_DTYPES = {
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
    0x1E3D4C54: np.dtype("<i4"),
    0x1E3D4C55: np.dtype("u1"),
    0x1E3D4C56: np.dtype("<i2"),
}


@dataclass(frozen=True)
class NorbData:
    """972 images ``(n, s, s, 1)`` float32 in [0, 1] and their factors, in canonical order.

    ``azimuth`` and ``elevation`` are in degrees, ``lighting`` is 0..5 (all int64).
    """

    images: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    lighting: np.ndarray



def factor_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuth (deg), elevation (deg) and lighting of the 972 images, in canonical order.

    The lighting changes fastest, then the elevation, then the azimuth.

    >>> azimuth, elevation, lighting = factor_grid()
    >>> azimuth[:7].tolist(), elevation[:7].tolist(), lighting[:7].tolist()
    ([0, 0, 0, 0, 0, 0, 0], [30, 30, 30, 30, 30, 30, 35], [0, 1, 2, 3, 4, 5, 0])
    """
    azimuth, elevation, lighting = np.meshgrid(
        AZIMUTHS, ELEVATIONS, np.arange(N_LIGHTINGS), indexing="ij"
    )
    return (azimuth.ravel().astype(np.int64), elevation.ravel().astype(np.int64),
            lighting.ravel().astype(np.int64))


def read_norb_matrix(path: str | os.PathLike) -> np.ndarray:
    """Read a small-NORB binary matrix (``.mat`` or ``.mat.gz``).

    Layout: little-endian int32 magic (0x1E3D4C55 uint8, 0x1E3D4C54 int32, ...), int32
    ``ndim``, ``max(ndim, 3)`` int32 sizes (unused ones are 1), then the data in C order.
    Raw files are memory-mapped, so selecting rows of the 450 MB image files reads only those
    rows; a ``.gz`` file is decompressed into memory whole. A bad magic number, impossible
    sizes or a wrong file length raise ``ValueError``.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "smallnorb-training-info.mat"
    >>> _ = write_norb_matrix(path, np.zeros((24300, 4), np.int32))
    >>> info = read_norb_matrix(path)
    >>> info.shape, info.dtype
    ((24300, 4), dtype('int32'))
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"small-NORB file not found: {path}")
    if path.suffix == ".gz":
        raw = read_gzip(path)
        dtype, shape, header_len = _parse_norb_header(path, raw[:64], len(raw))
        return np.frombuffer(raw, dtype, offset=header_len).reshape(shape)
    with path.open("rb") as stream:
        head = stream.read(64)
    dtype, shape, header_len = _parse_norb_header(path, head, path.stat().st_size)
    return np.memmap(path, dtype=dtype, mode="r", offset=header_len, shape=shape)


def write_norb_matrix(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` in the small-NORB binary matrix format (gzip if ``path`` ends in
    ``.gz``), atomically. Used by the tests; handy for exporting subsets.

    >>> import tempfile
    >>> path = write_norb_matrix(Path(tempfile.mkdtemp()) / "cat.mat", np.array([2, 4], np.int32))
    >>> path.stat().st_size  # magic, ndim, three sizes, two values: 4 bytes each
    28
    """
    array = np.asarray(array)
    magic, native = binary_format_code(array, NORB_DTYPES)
    if array.ndim < 1:
        raise ValueError(f"array must have at least 1 dimension, got {array.ndim}")
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    header = np.array([magic, array.ndim, *dims], "<u4").tobytes()
    payload = header + np.ascontiguousarray(array, native.newbyteorder("<")).tobytes()
    return write_maybe_gzip(path, payload)


def load_small_norb(
    directory: str | os.PathLike, category: int = AIRPLANE, instance: int | None = None
) -> NorbData:
    """The 972 left-camera images of one toy from the real small-NORB files in ``directory``.

    Every ``*-dat.mat[.gz]`` file with matching ``-cat`` and ``-info`` files is searched (the
    training and the testing set hold different instances). ``instance=None`` takes the
    smallest instance of ``category`` found. The info columns are instance, elevation index
    (0..8 -> 30 + 5 i degrees), azimuth (0, 2, ..., 34 -> x 10 degrees) and lighting (0..5).
    Returns images ``(972, 96, 96, 1)`` float32 in [0, 1] in the canonical order of
    :func:`factor_grid`, like :func:`drlim.data.norb.render_airplane`.

    >>> plane = load_small_norb("~/data/smallnorb", category=2, instance=4)  # doctest: +SKIP
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ValueError(f"directory must be a folder with small-NORB files, got {directory}")
    category = check_int(category, "category", 0, 4)
    sets = _find_norb_sets(directory)
    tables = [(dat, read_norb_matrix(cat), read_norb_matrix(info)) for dat, cat, info in sets]
    for dat, cat, info in tables:
        if cat.ndim != 1 or info.shape != (cat.shape[0], 4):
            raise ValueError(
                f"small-NORB set {dat} must have cat (n,) and info (n, 4), got {cat.shape} and "
                f"{info.shape}"
            )
    found = sorted({int(i) for _, cat, info in tables for i in info[cat == category, 0]})
    if instance is None:
        if not found:
            raise ValueError(f"category must be present in {directory}, got {category} (no images)")
        instance = found[0]
    if check_int(instance, "instance", 0) not in found:
        raise ValueError(f"instance must be one of {found} for category {category}, "
                         f"got {instance!r}")
    images, factors = [], []
    for dat, cat, info in tables:
        rows = np.flatnonzero((cat == category) & (info[:, 0] == instance))
        if rows.size:
            images.append(_left_camera(read_norb_matrix(dat), rows, dat))
            factors.append(np.asarray(info[rows, 1:], np.int64))
    return _canonical_order(np.concatenate(images), np.concatenate(factors), directory)


# --- file parsing and ordering ---------------------------------------------------------


def _parse_norb_header(path: Path, head: bytes, file_len: int):
    """Dtype, shape and header length of a small-NORB matrix; ``ValueError`` if inconsistent."""
    if len(head) < 8:
        raise ValueError(f"small-NORB file {path} must hold a header, got {len(head)} bytes")
    magic, ndim = (int(v) for v in np.frombuffer(head, "<i4", count=2))
    if magic not in NORB_DTYPES:
        raise ValueError(
            f"small-NORB file {path} must start with a magic number in "
            f"{[hex(m) for m in NORB_DTYPES]}, got 0x{magic & 0xFFFFFFFF:08X}"
        )
    if not 1 <= ndim <= 12:
        raise ValueError(
            f"small-NORB file {path} must have 1 to 12 dimensions, got {ndim} in its header"
        )
    n_dims_stored = max(ndim, 3)
    header_len = 8 + 4 * n_dims_stored
    if len(head) < header_len:
        raise ValueError(
            f"small-NORB file {path} must hold a complete header, got {len(head)} bytes (truncated)"
        )
    dims = np.frombuffer(head, "<i4", count=n_dims_stored, offset=8)
    if np.any(dims < 0):
        raise ValueError(f"small-NORB file {path} must have sizes >= 0, got {dims.tolist()}")
    shape = tuple(int(d) for d in dims[:ndim])
    dtype = NORB_DTYPES[magic]
    expected = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if file_len != expected:
        raise ValueError(
            f"small-NORB file {path} must hold {expected} bytes for shape {shape} of "
            f"{dtype.name}, got {file_len} (truncated or corrupt)"
        )
    return dtype, shape, header_len


def _find_norb_sets(directory: Path) -> list[tuple[Path, Path, Path]]:
    """``(dat, cat, info)`` paths of every complete small-NORB set in ``directory``; a set
    kept both unpacked and gzipped (``gunzip -k``) counts once, unpacked."""
    prefixes = sorted({match.group(1) for path in directory.iterdir()
                       if (match := re.fullmatch(r"(.*)-dat\.mat(\.gz)?", path.name))})
    sets = []
    for prefix in prefixes:
        found = [_first_existing(directory, prefix, kind) for kind in ("dat", "cat", "info")]
        if all(found):
            sets.append(tuple(found))
    if not sets:
        raise ValueError(
            f"directory must hold small-NORB files *-dat.mat, *-cat.mat, *-info.mat (or .gz), "
            f"got {directory} with none"
        )
    return sets


def _first_existing(directory: Path, prefix: str, kind: str) -> Path | None:
    """``prefix-kind.mat`` or ``prefix-kind.mat.gz`` in ``directory``, if present."""
    for name in (f"{prefix}-{kind}.mat", f"{prefix}-{kind}.mat.gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _left_camera(dat: np.ndarray, rows: np.ndarray, path: Path) -> np.ndarray:
    """Left-camera images of ``rows`` from a ``(n, 2, h, w)`` uint8 image matrix."""
    if dat.ndim != 4 or dat.shape[1] != 2 or dat.dtype != np.uint8:
        raise ValueError(
            f"small-NORB images {path} must be uint8 (n, 2, h, w), got {dat.dtype} {dat.shape}"
        )
    return np.asarray(dat[rows, 0])


def _canonical_order(images: np.ndarray, factors: np.ndarray, where: Path) -> NorbData:
    """Sort small-NORB rows into :func:`factor_grid` order; the full grid must be present once.

    ``factors`` columns are the info file's elevation index, azimuth code and lighting.
    """
    in_range = ((factors[:, 0] >= 0) & (factors[:, 0] < ELEVATIONS.size)
                & (factors[:, 1] >= 0) & (factors[:, 1] <= 34) & (factors[:, 1] % 2 == 0)
                & (factors[:, 2] >= 0) & (factors[:, 2] < N_LIGHTINGS))
    if not in_range.all():
        raise ValueError(
            f"small-NORB info in {where} must have elevation 0..8, azimuth 0, 2, ..., 34 and "
            f"lighting 0..5, got rows like {factors[~in_range][0].tolist()}"
        )
    elevation = ELEVATIONS[0] + 5 * factors[:, 0]
    azimuth = 10 * factors[:, 1]
    lighting = factors[:, 2]
    key = (azimuth // 20) * (ELEVATIONS.size * N_LIGHTINGS) + (elevation - 30) // 5 * N_LIGHTINGS
    key = key + lighting
    if images.shape[0] != N_IMAGES or not np.array_equal(np.sort(key), np.arange(N_IMAGES)):
        raise ValueError(
            f"small-NORB files in {where} must hold each of the {N_IMAGES} poses x lightings "
            f"once for the instance, got {images.shape[0]} images"
        )
    order = np.argsort(key)
    return NorbData(to_float_images(images[order]), azimuth[order], elevation[order],
                    lighting[order])
