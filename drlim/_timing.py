"""Wall-clock timing that a busy machine disturbs as little as possible."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from drlim.validation import check_int

T = TypeVar("T")


def timed_call(fn: Callable[[], T], repeats: int = 1) -> tuple[T, float]:
    """Call ``fn`` ``repeats`` times; return its last result and the fastest wall time.

    With several repeats the minimum is the usual estimate of a call's own cost: other
    work on the machine only ever adds time.

    >>> value, seconds = timed_call(lambda: sum(range(1000)), repeats=3)
    >>> value, seconds >= 0.0
    (499500, True)
    """
    repeats = check_int(repeats, "repeats", 1)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return value, best
