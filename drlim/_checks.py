"""Argument checks shared by the graph modules; every message says "name must be ..., got ..."."""

from __future__ import annotations

import operator
from typing import Any


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as a Python int >= ``minimum`` (any integer type, not a float; ``True`` is 1).

    >>> check_int(3, "k", minimum=1)
    3
    >>> check_int(2.0, "k", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: k must be an int >= 1, got 2.0
    """
    try:
        number = operator.index(value)
    except TypeError as error:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}") from error
    if number < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {number}")
    return number


__all__ = ["check_int"]
