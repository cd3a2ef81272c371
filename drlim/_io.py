"""Atomic file writes: a crash never leaves a half-written file behind."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``:
    a reader finds the old file or the whole new one, after a crash or a power cut too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp creates files readable by the owner only
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the rename: no power cut leaves it empty
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_bytes(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically."""
    return atomic_write(path, lambda handle: handle.write(payload))


def write_json(path: str | os.PathLike, content: Any) -> Path:
    """Write ``content`` as indented JSON to ``path`` atomically."""
    return write_bytes(path, (json.dumps(content, indent=2) + "\n").encode())


def array_digest(*arrays: np.ndarray | None) -> str:
    """A short SHA-256 of ``arrays``' types, shapes and values (None counts as itself): what
    tells two data sets, or graphs, of the same size apart.

    >>> array_digest(np.zeros(3)) == array_digest(np.zeros(3))
    True
    >>> array_digest(np.zeros(3)) == array_digest(np.zeros(3, np.int64))
    False
    """
    sha = hashlib.sha256()
    for array in arrays:
        if array is None:
            sha.update(b"None")
            continue
        array = np.ascontiguousarray(array)
        sha.update(str((array.dtype, array.shape)).encode())
        sha.update(array.tobytes())
    return sha.hexdigest()[:16]


def binary_format_code(array: np.ndarray, codes: dict[int, np.dtype]) -> tuple[int, np.dtype]:
    """The format's type code for ``array``'s dtype (IDX, small-NORB), and that dtype in
    native byte order; ``codes`` maps each code to its dtype."""
    by_dtype = {dtype.newbyteorder("="): code for code, dtype in codes.items()}
    native = array.dtype.newbyteorder("=")
    if native not in by_dtype:
        raise ValueError(
            f"array must have a dtype in {sorted(d.name for d in by_dtype)}, got {array.dtype}"
        )
    return by_dtype[native], native


def read_gzip(path: Path) -> bytes:
    """The decompressed contents of the gzip file ``path``; damage raises ``ValueError``."""
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"gzip file {path} must be complete, got a corrupt or truncated one ({error})"
        ) from error


def write_maybe_gzip(path: str | os.PathLike, payload: bytes) -> Path:
    """Write ``payload`` atomically, gzip-compressed (reproducibly) when ``path`` ends in .gz."""
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    return write_bytes(path, payload)


def read_jsonl(path: str | os.PathLike, torn_tail: bool = False) -> list[dict]:
    """The JSON rows of a ``.jsonl`` file, one per non-empty line.

    A line that is not JSON raises a ``ValueError`` naming the file and the line number,
    except, with ``torn_tail``, an unfinished last line (no final newline: a crash while
    appending), which is dropped.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = path.write_text('{"step": 1}\\n{"step": 2, "lo')
    >>> read_jsonl(path, torn_tail=True)
    [{'step': 1}]
    >>> read_jsonl(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../metrics.jsonl: line 2 is not JSON (Unterminated string starting at)
    """
    path = Path(path)
    text = path.read_text()
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            if torn_tail and number == len(lines) and not text.endswith("\n"):
                break
            raise ValueError(f"{path}: line {number} is not JSON ({error.msg})") from None
    return rows
