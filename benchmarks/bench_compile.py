"""Compile once: first and second ``DrLIM().fit`` in one process, and in a second process that
shares the first one's persistent compilation cache (issue 15, target 2).

    python -m benchmarks.bench_compile [--quick]

Two fresh Python processes, one after the other, share a new, empty ``DRLIM_CACHE`` folder
(drlim keeps JAX's persistent compilation cache under it). Each times two fits of
``DrLIM(n_components=2)`` with the defaults on the 6,000 MNIST 4s and 9s (the measuring
child of :mod:`benchmarks.bench_time_to_quality`) and counts, with JAX's monitoring events,
the XLA compilations of each fit, their seconds and the persistent-cache hits. A second fit
with the same shapes should compile nothing; the second process should find the first one's
compilations in the cache instead of compiling them.
"""

from __future__ import annotations

import tempfile

from benchmarks.bench_common import add_target, module_main, result, run_child

MAX_SECOND_FIT_COMPILES = 0
MAX_SECOND_PROCESS_SHARE = 0.1


def run(quick: bool = False) -> dict:
    """Both processes' fits: seconds, XLA compilations, compile seconds, cache hits."""
    payload = {"quick": quick, "second_fit": True}
    with tempfile.TemporaryDirectory(prefix="drlim-cache-") as cache:
        first = run_child("bench_time_to_quality", payload, env={"DRLIM_CACHE": cache})
        second = run_child("bench_time_to_quality", payload, env={"DRLIM_CACHE": cache})
    rows = []
    for label, out in (("process 1 (empty cache)", first), ("process 2 (cache of 1)", second)):
        for fit, seconds, log in (("first fit", out["fit_s"], out["compile"]),
                                  ("second fit", out["second_fit_s"], out["second_compile"])):
            rows.append([label, fit, round(seconds, 2), log["compiles"],
                         round(log["compile_s"], 2), log["cache_hits"]])
    notes = [
        f"{first['n_train']} training images, DrLIM(n_components=2) defaults "
        f"({first['steps']} steps); a fit's seconds include validation, graph and training.",
        "Most compile seconds, process 1's first fit: " + top(first["compile"]) + "; its "
        "second fit: " + (top(first["second_compile"]) or "none") + "; process 2's first fit: "
        + (top(second["compile"]) or "none") + ".",
    ]
    record = result("compile_once", "Compile once (first and second fit, in and across "
                    "processes)", ["process", "fit", "seconds", "XLA compilations",
                                   "compile s", "persistent-cache hits"], rows, notes)
    record["measurements"] = {"process_1": first, "process_2": second}
    again = first["second_compile"]
    add_target(record, "XLA compilations in a second fit with the same shapes",
               again["compiles"], maximum=MAX_SECOND_FIT_COMPILES, issue=2,
               limit=f"the second fit compiled {top(again)}")
    share = second["compile"]["compile_s"] / max(first["compile"]["compile_s"], 1e-9)
    add_target(record, "second process's XLA compile seconds / first process's", share,
               maximum=MAX_SECOND_PROCESS_SHARE, issue=2,
               limit=f"{second['compile']['cache_hits']} persistent-cache hits; process 2 "
               f"still compiled {top(second['compile'])}")
    return record


def top(log: dict) -> str:
    """The jitted functions that took the most compile seconds, as text.

    >>> top({"top": [["run", 2, 3.5]]})
    'run (2x, 3.5 s)'
    """
    return ", ".join(f"{name} ({count}x, {seconds} s)" for name, count, seconds in log["top"])


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
