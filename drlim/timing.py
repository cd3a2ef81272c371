"""Wall-clock timing that a busy machine disturbs as little as possible, and the CPU it ran on."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from drlim.validation import check_int

__all__ = ["read_cpuinfo", "timed_call", "utc_timestamp"]

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


def read_cpuinfo(text: str | None = None) -> dict:
    """Model name, vendor, family, clock (MHz) and flags of the first CPU in /proc/cpuinfo.

    >>> read_cpuinfo("vendor_id : AuthenticAMD\\ncpu family : 25\\nflags : fma avx2")["flags"]
    ['fma', 'avx2']
    """
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            text = ""
    info: dict[str, Any] = {"model": platform.processor() or platform.machine(), "vendor": "",
                            "family": None, "mhz": None, "flags": []}
    for line in text.splitlines():
        if not line.strip():
            if info["flags"]:
                break  # first processor block done
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name":
            info["model"] = value
        elif key == "vendor_id":
            info["vendor"] = value
        elif key == "cpu family" and value.isdigit():
            info["family"] = int(value)
        elif key == "cpu MHz":
            info["mhz"] = float(value)
        elif key == "flags":
            info["flags"] = value.split()
    return info


def utc_timestamp() -> str:
    """Now, in UTC, as ISO 8601 to the second (``2026-12-06T13:58:04Z``): when a run was
    measured, comparable across machines' time zones.

    >>> len(utc_timestamp()), utc_timestamp().endswith("Z")
    (20, True)
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
