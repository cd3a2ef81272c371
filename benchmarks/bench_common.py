"""Shared pieces of the benchmarks: the result record, targets, timing, the machine, torch,
child processes, XLA compilation counts and atomic writes.

Every benchmark module has ``run(quick: bool = False) -> dict`` returning a result made by
:func:`result` (a JSON-ready dict) that :mod:`benchmarks.run_all` turns into a markdown
section. A target records its value, its bound and, when missed, by how much:

>>> r = result("demo", "A demo", ["x", "y"], [[1, 2]])
>>> add_target(r, "speed-up", 1.2, minimum=1.5, unit="x", issue=5)
>>> r["targets"][0]["status"], r["targets"][0]["short_by"]
('missed', 'needs 1.25x more')
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drlim.timing import read_cpuinfo

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


# Units whose shortfall is a factor ("needs 1.25x more"); others give a difference.
FACTOR_UNITS = ("x", "s", "GB", "min")


def add_target(
    record: dict,
    what: str,
    value: float | None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str = "",
    limit: str = "",
    issue: int | None = None,
    judged: bool = True,
    not_run: str = "",
) -> None:
    """Append a target to ``record``: ``value`` against ``minimum`` or ``maximum``.

    The status is "met", "missed" (``short_by`` says by how much), "not run" (``value`` is
    None; ``not_run`` says why) or "not judged" (``judged`` False: measured, but the two
    sides ran on different hardware or one side is missing). ``limit`` says what holds the
    value back, measured; it is shown when the target is not met. ``issue`` is the number
    of the issue-15 target it belongs to.

    >>> r = result("demo", "A demo", [], [])
    >>> add_target(r, "time", 12.0, maximum=4.0, unit="s")
    >>> add_target(r, "recall", 0.9, minimum=0.95)
    >>> [t["short_by"] for t in r["targets"]]
    ['3x over', '0.05 below']
    """
    if (minimum is None) == (maximum is None):
        raise ValueError(f"give exactly one of minimum and maximum, got {minimum}, {maximum}")
    bound = minimum if minimum is not None else maximum
    target = f"{'>=' if minimum is not None else '<='} {bound:g}{unit}"
    short_by = ""
    if value is None:
        status = "not run"
    elif not judged:
        status = "not judged"
    else:
        met = value >= minimum if minimum is not None else value <= maximum
        status = "met" if met else "missed"
        if not met:
            short_by = shortfall(float(value), minimum, maximum, unit)
    record["targets"].append(
        {
            "what": what,
            "target": target,
            "value": None if value is None else float(value),
            "bound": float(bound),
            "unit": unit,
            "status": status,
            "short_by": short_by,
            "limit": limit if status != "met" else "",
            "not_run": not_run if value is None else "",
            "issue": issue,
        }
    )


def significant(value: float, apart_from: float) -> str:
    """``value`` to 3 significant digits, or up to 6 while fewer would read as ``apart_from``
    (a ratio of 2.996 against a bound of 3 reads "2.996", not "3").

    >>> significant(8.184, 10.0), significant(2.99615, 3.0), significant(1.00128, 1.0)
    ('8.18', '2.996', '1.001')
    """
    digits = 3
    while digits < 6 and f"{value:.{digits}g}" == f"{apart_from:.{digits}g}":
        digits += 1
    return f"{value:.{digits}g}"


def shortfall(value: float, minimum: float | None, maximum: float | None, unit: str) -> str:
    """How far a missed ``value`` is from its bound: a factor for times and ratios, else a
    difference.

    >>> shortfall(1.2, 1.5, None, "x"), shortfall(0.0, 1.5, None, "x")
    ('needs 1.25x more', 'value is 0')
    >>> shortfall(2.99615, 3.0, None, "x")
    'needs 1.001x more'
    """
    if unit in FACTOR_UNITS:
        if minimum is not None:
            return f"needs {significant(minimum / value, 1.0)}x more" if value > 0 else "value is 0"
        return f"{significant(value / maximum, 1.0)}x over" if maximum > 0 else "bound is 0"
    if minimum is not None:
        return f"{minimum - value:.3g} below"
    return f"{value - maximum:.3g} over"


def target_status(target: dict) -> str:
    """The status as the summary shows it: met, "missed (needs 1.2x more)", "not run (why)".

    >>> target_status({"status": "missed", "short_by": "2x over", "not_run": ""})
    'missed (2x over)'
    """
    if target["status"] == "missed":
        return f"missed ({target['short_by']})"
    if target["status"] == "not run" and target["not_run"]:
        return f"not run: {target['not_run']}"
    return target["status"]


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


def rounds_median_seconds(functions: Mapping[str, Callable[[], Any]], repeats: int,
                          rounds: int = 3) -> dict[str, float]:
    """Median over ``rounds`` rounds of each of ``functions``' :func:`median_seconds`, the
    functions taking turns within a round, each first called once untimed.

    A change in the machine's load between rounds then falls on all of them alike, where
    one block of calls each lets it fall on one; the untimed call keeps what the previous
    function left behind (its threads, the caches' contents) out of the timed ones.

    >>> sorted(rounds_median_seconds({"a": lambda: None, "b": lambda: None}, 2))
    ['a', 'b']
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            function()
            times[name].append(median_seconds(function, repeats))
    return {name: float(np.median(seconds)) for name, seconds in times.items()}


def xla_cost(compiled: Any) -> dict:
    """FLOPs and bytes accessed of a compiled program by XLA's cost analysis (None where
    XLA does not say).

    >>> import jax, jax.numpy as jnp
    >>> xla_cost(jax.jit(lambda x: x @ x).lower(jnp.ones((4, 4))).compile())["flops"]
    128.0
    """
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list | tuple):
        analysis = analysis[0] if analysis else {}
    analysis = analysis or {}
    flops, moved = analysis.get("flops"), analysis.get("bytes accessed")
    return {"flops": float(flops) if flops else None, "bytes": float(moved) if moved else None}


def profile_top(function: Callable[[], Any], top: int = 3) -> list[list]:
    """Run ``function`` once under ``cProfile``; the ``top`` functions by own time, as rows
    of (module file name, function name, seconds).

    >>> rows = profile_top(lambda: sorted(range(10**5), key=lambda i: -i), top=1)
    >>> len(rows), len(rows[0])
    (1, 3)
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    function()
    profiler.disable()
    entries = sorted(pstats.Stats(profiler).stats.items(), key=lambda item: -item[1][2])
    return [[Path(path).name, name, round(own, 3)]
            for (path, _, name), (_, _, own, _, _) in entries[:top]]


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


def measured_on(machine: dict) -> str:
    """The CPU a run's ``machine`` record names, or that it names none (older files).

    >>> measured_on({"cpu": "AMD EPYC", "cores": 2, "clock_mhz": 2596.1})
    '2 cores of an AMD EPYC at 2596 MHz'
    >>> measured_on({"cpus": 2})
    '2 CPUs, model not recorded'
    """
    if "cpu" not in machine:
        return f"{machine.get('cpus', '?')} CPUs, model not recorded"
    clock = f" at {machine['clock_mhz']:.0f} MHz" if machine.get("clock_mhz") else ""
    return f"{machine['cores']} cores of an {machine['cpu']}{clock}"


def run_child(module: str, payload: dict, env: dict | None = None,
              timeout: float = 1800) -> dict:
    """Run ``python -m benchmarks.<module> --child JSON`` in a fresh Python; return the JSON
    its last line prints.

    A fresh process gives a cold start (nothing compiled in memory) and its own peak memory.
    It runs in the repository root, so it imports this checkout's ``drlim`` and
    ``benchmarks``; ``env`` adds environment variables (e.g. a fresh ``DRLIM_CACHE``).
    Raises RuntimeError with the child's stderr tail when it fails.
    """
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--child", json.dumps(payload)],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
        cwd=REPO_DIR,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{module} child failed (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return json.loads(lines[-1])


class CompileLog:
    """Counts XLA compilations and persistent-cache hits while it is open, from JAX's
    monitoring events (``jax.monitoring``), with their seconds.

    ``compiles`` counts backend compilations (a persistent-cache hit counts too: JAX's
    compile event wraps the cache lookup); ``cache_hits`` those served by the persistent cache;
    ``seconds`` the compile events' time (for a hit, its cache key and read),
    ``retrieval_seconds`` the cache reads of the hits, and ``trace_seconds`` tracing and
    lowering to MLIR.

    >>> import jax, jax.numpy as jnp
    >>> with CompileLog() as log:
    ...     _ = jax.jit(lambda x: x * 3 + 1)(jnp.arange(7.0))
    >>> log.compiles >= 1 and log.seconds > 0
    True
    """

    BACKEND = "/jax/core/compile/backend_compile_duration"
    TRACE = ("/jax/core/compile/jaxpr_trace_duration",
             "/jax/core/compile/jaxpr_to_mlir_module_duration")
    HIT = "/jax/compilation_cache/cache_hits"
    RETRIEVAL = "/jax/compilation_cache/cache_retrieval_time_sec"

    def __init__(self) -> None:
        self.compiles = 0
        self.cache_hits = 0
        self.seconds = 0.0
        self.trace_seconds = 0.0
        self.retrieval_seconds = 0.0
        self.ends: list[tuple[float, float]] = []  # (perf_counter at the end, seconds)
        self.by_function: dict[str, tuple[int, float]] = {}  # name -> (count, seconds)
        self.lock = threading.Lock()

    def on_duration(self, event: str, duration: float, **kwargs: Any) -> None:
        with self.lock:
            if event == self.BACKEND:
                self.compiles += 1
                self.seconds += duration
                self.ends.append((time.perf_counter(), duration))
                name = str(kwargs.get("fun_name", "?"))
                count, seconds = self.by_function.get(name, (0, 0.0))
                self.by_function[name] = (count + 1, seconds + duration)
            elif event in self.TRACE:
                self.trace_seconds += duration
            elif event == self.RETRIEVAL:
                self.retrieval_seconds += duration

    def on_event(self, event: str, **_: Any) -> None:
        if event == self.HIT:
            with self.lock:
                self.cache_hits += 1

    def __enter__(self) -> CompileLog:
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(self.on_duration)
        jax.monitoring.register_event_listener(self.on_event)
        return self

    def __exit__(self, *exc: object) -> None:
        import jax.monitoring

        jax.monitoring.unregister_event_duration_listener(self.on_duration)
        jax.monitoring.unregister_event_listener(self.on_event)

    def seconds_before(self, moment: float) -> float:
        """Backend compile seconds of the compilations that ended before ``moment``
        (a ``time.perf_counter()`` value)."""
        return sum(duration for end, duration in self.ends if end < moment)

    def as_dict(self, top_functions: int = 5) -> dict:
        """The counts and seconds, JSON-ready, with the ``top_functions`` jitted functions
        that took the most compile seconds (name, compilations, seconds)."""
        top = sorted(self.by_function.items(), key=lambda item: -item[1][1])[:top_functions]
        return {"compiles": self.compiles, "cache_hits": self.cache_hits,
                "compiled": self.compiles - self.cache_hits, "compile_s": self.seconds,
                "retrieval_s": self.retrieval_seconds, "trace_s": self.trace_seconds,
                "top": [[name, count, round(seconds, 3)] for name, (count, seconds) in top]}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename:
    a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def digits_4_9(quick: bool = False, pad_to_32: bool = True):
    """The paper's MNIST 4s and 9s (6,000 train, 1,982 test); 200 + 100 of them if ``quick``."""
    from drlim.data.mnist import mnist_4_9

    if quick:
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


def module_main(run: Callable[..., dict], doc: str, argv: list[str] | None = None,
                child: Callable[[dict], dict] | None = None) -> None:
    """Command line of one benchmark module: run it (``--quick``: tiny sizes), print the table.

    ``child`` is the module's measuring function for a fresh process (``--child JSON``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    if child is not None:
        parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if child is not None and args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    record = run(quick=args.quick)
    print(record["columns"])
    for row in record["rows"]:
        print(row)
    for note in record["notes"]:
        print(note)
    for target in record["targets"]:
        print(f"{target['what']}: {target_status(target)} ({target['value']}; "
              f"target {target['target']})")
