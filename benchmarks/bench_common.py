"""Shared pieces of the benchmarks: the result record, timing, the machine, torch, child runs.

Every benchmark module has ``run(smoke: bool = False) -> dict`` returning a result made by
:func:`result` (a JSON-ready dict) that ``run_all.py`` turns into a markdown section:

>>> r = result("demo", "A demo", ["x", "y"], [[1, 2]])
>>> add_target(r, "y below 3", "<= 3", value=2, met=2 <= 3)
>>> r["targets"][0]["status"]
'met'
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent


def result(
    name: str,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
    skipped: str | None = None,
) -> dict:
    """A benchmark's outcome: a table (``columns`` and ``rows``), notes and targets.

    ``skipped`` holds the reason when the benchmark (or its comparison side) could not run.
    """
    if not name or not title:
        raise ValueError(f"name and title must be non-empty, got {name!r} and {title!r}")
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"rows must have {len(columns)} cells like columns, got {len(row)}")
    return {
        "name": name,
        "title": title,
        "columns": list(columns),
        "rows": [list(row) for row in rows],
        "notes": list(notes),
        "targets": [],
        "skipped": skipped,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average": load_average(),
    }


def add_target(
    record: dict,
    what: str,
    target: str,
    value: float | None,
    met: bool | None,
    unit: str = "",
    limit: str = "",
) -> None:
    """Append a target to ``record``: ``met`` True / False, or None when it could not be judged.

    ``limit`` says what holds the value back; it is shown when the target is missed.
    """
    if met is None:
        status = "not judged"
    else:
        status = "met" if met else "missed"
    record["targets"].append(
        {
            "what": what,
            "target": target,
            "value": None if value is None else float(value),
            "unit": unit,
            "status": status,
            "limit": limit if status != "met" else "",
        }
    )


def median_seconds(function: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``function`` (which must block until done)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS does not say)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return []


def cpu_count() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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


def peak_flops(cpuinfo: dict | None = None, cores: int | None = None) -> dict:
    """The CPU's peak float32 FLOP/s = cores x clock x FMA units x lanes x 2, with assumptions.

    Lanes come from the widest vector flag (AVX-512: 16, AVX2: 8, else SSE: 4). Two FMA
    units per core are assumed (most server cores since Haswell / Zen 2); AMD family 25
    (Zen 3 / Zen 4) executes 512-bit instructions on 256-bit units, so it counts 8 lanes.
    The clock is /proc/cpuinfo's "cpu MHz" (the nominal clock in a VM; turbo is ignored).

    >>> p = peak_flops({"vendor": "GenuineIntel", "family": 6, "mhz": 2000.0,
    ...                 "flags": ["avx512f", "fma"], "model": "x"}, cores=2)
    >>> p["peak_flops"] / 1e9
    256.0
    """
    info = read_cpuinfo() if cpuinfo is None else cpuinfo
    cores = cpu_count() if cores is None else cores
    flags = set(info.get("flags", []))
    if "avx512f" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags or "avx" in flags:
        lanes, isa = 8, "AVX2" if "avx2" in flags else "AVX"
    else:
        lanes, isa = 4, "SSE"
    fma_units = 2 if "fma" in flags or isa == "AVX-512" else 1
    notes = [f"{isa}: {lanes} float32 lanes", f"{fma_units} FMA unit(s) per core assumed"]
    if isa == "AVX-512" and info.get("vendor") == "AuthenticAMD" and info.get("family") == 25:
        lanes = 8
        notes = ["AVX-512 on Zen 3/4 runs on 256-bit units: 8 float32 lanes",
                 "2 FMA units per core"]
    mhz = info.get("mhz") or 0.0
    peak = cores * mhz * 1e6 * fma_units * lanes * 2
    notes.append(f"clock {mhz:.0f} MHz from /proc/cpuinfo (no turbo)")
    return {"cores": cores, "clock_ghz": mhz / 1e3, "fma_units": fma_units, "lanes": lanes,
            "isa": isa, "peak_flops": peak, "assumption": "; ".join(notes)}


def torch_module() -> Any:
    """The ``torch`` module, or None when it is not installed (the benchmark extra)."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


TORCH_MISSING = "PyTorch is not installed (`pip install torch==2.13.0`, the `bench` extra)"


def jax_device() -> dict:
    """JAX's backend, device count and device kind."""
    import jax

    devices = jax.devices()
    return {"backend": jax.default_backend(), "count": len(devices),
            "kind": getattr(devices[0], "device_kind", str(devices[0]))}


def machine(device_label: str | None = None) -> dict:
    """What the numbers were measured on: CPU, cores, versions, JAX device, date, load."""
    import jax

    torch = torch_module()
    info = read_cpuinfo()
    return {
        "label": device_label or "",
        "cpu": info["model"],
        "cores": cpu_count(),
        "clock_mhz": info["mhz"],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_device": jax_device(),
        "torch": torch.__version__ if torch is not None else None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_average": load_average(),
    }


def run_child(script: Path, payload: dict, timeout: float = 1800) -> dict:
    """Run ``script --child JSON`` in a fresh Python and return the JSON its last line prints.

    A fresh process gives a cold start (nothing compiled, nothing cached) and its own peak
    memory. Raises RuntimeError with the child's stderr tail when it fails.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_DIR), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run(
        [sys.executable, str(script), "--child", json.dumps(payload)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_DIR,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{script.name} child failed (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return json.loads(lines[-1])


def digits_4_9(smoke: bool = False, pad_to_32: bool = True):
    """The paper's MNIST 4s and 9s (6,000 train, 1,982 test); 200 + 100 of them for ``smoke``."""
    from drlim.data.mnist import mnist_4_9

    if smoke:
        return mnist_4_9(n_train_per_digit=100, n_test_per_digit=50, pad_to_32=pad_to_32)
    return mnist_4_9(pad_to_32=pad_to_32)


def fastest_torch_threads(torch: Any, probe: Callable[[], Any], repeats: int = 3) -> int:
    """Set PyTorch to its faster thread count for ``probe``: 1 or all cores, and return it.

    On a shared, oversubscribed machine PyTorch's OpenMP threads can spin against other
    processes and run several times slower with all cores than with one; comparing against
    its better setting keeps the comparison fair to PyTorch.
    """
    best, best_seconds = 1, float("inf")
    for threads in sorted({1, cpu_count()}):
        torch.set_num_threads(threads)
        probe()  # warm-up at this thread count
        seconds = median_seconds(probe, repeats)
        if seconds < best_seconds:
            best, best_seconds = threads, seconds
    torch.set_num_threads(best)
    return best


def module_main(run, doc: str, argv: list[str] | None = None, child=None) -> None:
    """Command line of one benchmark module: run it (``--smoke``: tiny sizes), print the table.

    ``child`` is the module's measuring function for a fresh process (``--child JSON``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    if child is not None:
        parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if child is not None and args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    record = run(smoke=args.smoke)
    print(record["columns"])
    for row in record["rows"]:
        print(row)
    for note in record["notes"]:
        print(note)
    print(record.get("targets", []))
