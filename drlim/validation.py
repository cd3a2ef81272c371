"""The one place argument checks live: every module validates its arguments with these.

Each checker takes the value first and its name second, returns the value in the form the
caller computes with (a Python ``int``, a ``float``, a NumPy array), and raises ``ValueError``
in one style: ``"name must be <expected>, got <received>"``. A check that only one module
needs (say, the invariants of a graph table) stays in that module, in the same style.

>>> check_int(5, "k", 1)
5
>>> check_number(float("nan"), "rtol", 0, closed="right")
Traceback (most recent call last):
...
ValueError: rtol must be a finite number > 0, got nan
"""

from __future__ import annotations

import math
import operator
from collections.abc import Hashable
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "as_int_array",
    "as_samples",
    "as_vector",
    "check_choice",
    "check_int",
    "check_number",
    "check_same_shape",
]

CLOSED = ("both", "left", "right", "neither")


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]``.

    Any integer type is accepted (``int``, ``np.int64``); a float is not, even ``2.0``, and
    neither is a bool: ``True`` is no count.

    >>> check_int(np.int64(3), "k", minimum=1)
    3
    >>> check_int(2.0, "k", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: k must be an int >= 1, got 2.0
    >>> check_int(True, "k", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: k must be an int >= 1, got True
    >>> check_int(7, "k", 1, 4)
    Traceback (most recent call last):
    ...
    ValueError: k must be in [1, 4], got 7
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


def check_number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    closed: str = "both",
) -> float:
    """``value`` as a finite Python float between ``low`` and ``high`` (None: no bound).

    ``closed`` says which ends belong to the range, as in scikit-learn's ``Interval``:
    ``"both"``, ``"left"`` (``low`` only), ``"right"`` (``high`` only) or ``"neither"``.
    Bools, complex numbers, strings, NaN and infinities are refused.

    >>> check_number(0.5, "similar_fraction", 0, 1, closed="neither")
    0.5
    >>> check_number(0, "spread", 0, closed="neither")
    Traceback (most recent call last):
    ...
    ValueError: spread must be a finite number > 0, got 0
    >>> check_number(True, "margin", 0)
    Traceback (most recent call last):
    ...
    ValueError: margin must be a finite number >= 0, got True
    """
    if closed not in CLOSED:
        raise ValueError(f"closed must be one of {CLOSED}, got {closed!r}")
    low_in, high_in = closed in ("both", "left"), closed in ("both", "right")
    expected = _range_text(low, high, low_in, high_in)
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a finite number{expected}, got {value!r}")
    number = float(value)
    outside = (
        not math.isfinite(number)
        or (low is not None and (number < low or (number == low and not low_in)))
        or (high is not None and (number > high or (number == high and not high_in)))
    )
    if outside:
        raise ValueError(f"{name} must be a finite number{expected}, got {value!r}")
    return number


def _range_text(low: float | None, high: float | None, low_in: bool, high_in: bool) -> str:
    """The range as words for a message: ``" > 0"``, ``" in [0, 1)"`` or ``""``."""
    if low is not None and high is not None:
        return f" in {'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
    if low is not None:
        return f" {'>=' if low_in else '>'} {low}"
    if high is not None:
        return f" {'<=' if high_in else '<'} {high}"
    return ""


def check_choice(value: Any, name: str, choices: tuple) -> Any:
    """``value`` when it is one of ``choices``.

    >>> check_choice("exact", "method", ("exact", "approx"))
    'exact'
    >>> check_choice("fast", "method", ("exact", "approx"))
    Traceback (most recent call last):
    ...
    ValueError: method must be one of ('exact', 'approx'), got 'fast'
    """
    if (
        not isinstance(value, Hashable)
        or isinstance(value, bool | np.bool_)
        or value not in choices
    ):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def as_samples(
    a: Any, name: str, *, min_samples: int = 1, dtype: Any = None
) -> np.ndarray:
    """``a`` as a finite float array (n, d): n >= ``min_samples`` samples, d >= 1 features.

    Images (n, ...) are flattened. The array keeps its float dtype (integers become
    float64) unless ``dtype`` names one; finiteness is checked after that cast.

    >>> as_samples([[1, 2], [3, 4]], "X").dtype
    dtype('float64')
    >>> as_samples(np.zeros((5, 2, 3), np.float32), "X").shape
    (5, 6)
    >>> as_samples([[1.0, float("inf")]], "X")
    Traceback (most recent call last):
    ...
    ValueError: X must be finite, got 1 NaN/inf
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (call as_samples(a, name)), got {type(name)}")
    arr = np.asarray(a)
    if arr.ndim < 2 or arr.shape[0] < min_samples or math.prod(arr.shape[1:]) == 0:
        raise ValueError(
            f"{name} must have shape (n, d) or (n, ...) with n >= {min_samples} and d >= 1, "
            f"got {arr.shape}"
        )
    _check_real(arr, name)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    arr = arr.reshape(arr.shape[0], -1)
    _check_finite(arr, name)
    return arr


def as_vector(
    values: Any,
    name: str,
    *,
    length: int | None = None,
    min_length: int = 1,
    numeric: bool = True,
) -> np.ndarray:
    """``values`` as a 1-D array of ``length`` values (or at least ``min_length``).

    With ``numeric`` (the default) the values must be finite real numbers and come back as
    float64; without, any dtype is kept (labels, ids).

    >>> as_vector([1, 2, 3], "azimuth")
    array([1., 2., 3.])
    >>> as_vector(["a", "b"], "labels", length=3, numeric=False)
    Traceback (most recent call last):
    ...
    ValueError: labels must have shape (3,), got shape (2,)
    """
    arr = np.asarray(values)
    if length is not None and (arr.ndim != 1 or arr.shape[0] != length):
        raise ValueError(f"{name} must have shape ({length},), got shape {arr.shape}")
    if arr.ndim != 1 or arr.shape[0] < min_length:
        expected = (
            "a non-empty 1-D array" if min_length == 1
            else f"a 1-D array of at least {min_length} values"
        )
        raise ValueError(f"{name} must be {expected}, got shape {arr.shape}")
    if numeric:
        _check_real(arr, name)
        arr = arr.astype(np.float64)
        _check_finite(arr, name)
    return arr


def as_int_array(values: Any, name: str, ndim: int) -> np.ndarray:
    """``values`` as an integer array of ``ndim`` dimensions (ids, indices, group numbers).

    Integer arrays come back as they are; floats holding whole numbers and empty arrays
    become int64. Floats beyond int64's range are refused: the cast would silently turn
    them into -2**63.

    >>> as_int_array([0.0, 2.0], "ids", ndim=1)
    array([0, 2])
    >>> as_int_array([0.5], "ids", ndim=1)
    Traceback (most recent call last):
    ...
    ValueError: ids must hold integers, got dtype float64
    >>> as_int_array([1e30], "ids", ndim=1)
    Traceback (most recent call last):
    ...
    ValueError: ids must hold integers in int64's range, got 1e+30
    """
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if array.size == 0:
        return array.astype(np.int64)
    if array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array % 1 == 0):
            return _float_to_int64(array, name)
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    return array


def _float_to_int64(array: np.ndarray, name: str) -> np.ndarray:
    """Whole-number floats as int64, refusing any outside ``[-2**63, 2**63)``."""
    outside = (array < -(2.0**63)) | (array >= 2.0**63)
    if np.any(outside):
        raise ValueError(f"{name} must hold integers in int64's range, "
                         f"got {array[outside].flat[0]:g}")
    return array.astype(np.int64)


def check_same_shape(
    first: Any, second: Any, names: tuple[str, str], axis: int | None = None
) -> None:
    """Refuse two arrays whose shapes differ (or, with ``axis``, whose sizes along it differ).

    >>> check_same_shape(np.zeros((3, 2)), np.zeros((4, 2)), ("X", "Z"), axis=1)
    >>> check_same_shape(np.zeros((3, 2)), np.zeros((4, 2)), ("X", "Z"), axis=0)
    Traceback (most recent call last):
    ...
    ValueError: X and Z must have the same size along axis 0, got 3 and 4
    """
    a, b = names
    s1, s2 = np.shape(first), np.shape(second)
    if axis is None:
        if s1 != s2:
            raise ValueError(f"{a} and {b} must have the same shape, got {a} {s1} and {b} {s2}")
    elif s1[axis] != s2[axis]:
        raise ValueError(
            f"{a} and {b} must have the same size along axis {axis}, got {s1[axis]} and {s2[axis]}"
        )


def _check_real(arr: np.ndarray, name: str) -> None:
    """Refuse arrays that do not hold real numbers (bools, complex, strings, objects)."""
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Refuse NaN and infinities, saying how many there are."""
    bad = int(np.sum(~np.isfinite(arr)))
    if bad:
        raise ValueError(f"{name} must be finite, got {bad} NaN/inf")
