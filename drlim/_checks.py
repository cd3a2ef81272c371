"""Argument checks shared by the modules; every message says "name must be ..., got ..."."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]`` (any integer type; not a float,
    not a bool: ``True`` is no count).

    >>> check_int(3, "k", minimum=1)
    3
    >>> check_int(2.0, "k", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: k must be an int >= 1, got 2.0
    """
    expected = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be an int {expected}, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError as error:
        raise ValueError(f"{name} must be an int {expected}, got {value!r}") from error
    if number < minimum or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {expected}, got {number}")
    return number


def as_samples(name: str, a: Any) -> np.ndarray:
    """``a`` as a finite float array (n, d); images (n, ...) are flattened.

    >>> as_samples("X", [[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    arr = np.asarray(a)
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, d) or (n, ...) with n >= 1, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    arr = arr.reshape(arr.shape[0], -1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {int(np.sum(~np.isfinite(arr)))} NaN/inf")
    return arr


__all__ = ["as_samples", "check_int"]
