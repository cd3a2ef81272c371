"""A million samples: the stages of ``make bench-scale`` (issue 15, target 4), as a record.

    python -m benchmarks.scale_results

``make bench-scale`` (``benchmarks/bench_scale.py``) embeds 1,000,000 shifted MNIST digits
and writes ``benchmarks/results_scale.json``: ``{"stages": [{"name", "seconds"}],
"total_seconds", "peak_rss_gb", "memory_unit_bytes", "targets"}``. It takes too long for
``make bench``, so this module only reads the file: its stages become the table and its total
time and peak memory (in GB of 10**9 bytes; a file without ``memory_unit_bytes`` counted in
2**30 bytes) are checked against the targets (at most 30 minutes and 12 GB). The graph is
not searched over the million images: NN-descent finds the neighbours among the 60,000
originals and :func:`drlim.neighbors.copies_graph` extends them to the shifts (the paper's
shift prior), as the target's name says. Without the file both targets read "not run".
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_common import BENCH_DIR, add_target, measured_on, module_main, result

RESULTS = BENCH_DIR / "results_scale.json"
MAX_MINUTES = 30.0
MAX_GB = 12.0
NOT_RUN = "make bench-scale"
TIME_TARGET = ("1,000,000 samples (graph: NN-descent on the 60,000 originals, extended to their "
               "shifts), graph to map to transform of the test digits: wall time")
OLD_MEMORY_UNIT = 2**30  # bytes of the GB of files that do not say


def run(quick: bool = False, path: Path = RESULTS) -> dict:
    """The stages of the last ``make bench-scale`` and its two targets (``quick`` unused)."""
    if not path.exists():
        record = result("scale", "A million samples (make bench-scale)", [], [],
                        notes=[f"{path.name} not found: run `make bench-scale`."])
        add_target(record, TIME_TARGET, None, maximum=MAX_MINUTES, unit="min", issue=4,
                   not_run=NOT_RUN)
        add_target(record, "peak resident memory", None, maximum=MAX_GB, unit="GB", issue=4,
                   not_run=NOT_RUN)
        return record
    saved = json.loads(path.read_text())
    rows = [[stage["name"], round(float(stage["seconds"]), 1)] for stage in saved["stages"]]
    # Files written before the date was recorded: a checkout's file time is not the run's.
    run = saved.get("machine", {}).get("date", "at an earlier date (see git log)")
    record = result("scale", "A million samples (make bench-scale)", ["stage", "seconds"], rows,
                    notes=[f"Read from {path.name}, written by `make bench-scale` run {run} "
                           f"on {measured_on(saved.get('machine', {}))} (not rerun by `make "
                           "bench`, so possibly on another machine than the sections above)."])
    record["measurements"] = saved
    slowest = max(saved["stages"], key=lambda stage: float(stage["seconds"]), default=None)
    add_target(record, TIME_TARGET, float(saved["total_seconds"]) / 60, maximum=MAX_MINUTES,
               unit="min", issue=4, limit="" if slowest is None else
               f"the slowest stage, {slowest['name']} ({float(slowest['seconds']):.0f} s)")
    unit = saved.get("memory_unit_bytes", OLD_MEMORY_UNIT)
    add_target(record, "peak resident memory", float(saved["peak_rss_gb"]) * unit / 1e9,
               maximum=MAX_GB, unit="GB", issue=4, limit="see the stages of bench_scale.py")
    return record


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
