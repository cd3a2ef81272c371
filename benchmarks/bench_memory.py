"""Memory: peak resident memory while training on all 60,000 MNIST digits with their 5-NN graph.

    python -m benchmarks.bench_memory [--quick]

A fresh Python process loads the 60,000 training digits, pads them to 32x32 float32 in
[0, 1], builds their 5-NN graph (``knn_graph``) and trains ``LeNetDrLIM`` for a few hundred
steps in block mode, batch 128 (the estimator's default step). The peak resident set size
(Linux's ``VmHWM``, else ``ru_maxrss``) is read after each stage, so the table shows which
stage sets the peak. On a GPU this is host memory only.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from benchmarks.bench_common import add_target, module_main, result, run_child

TARGET_BYTES = 2e9
SIZES = {"full": {"n": 60_000, "steps": 300}, "quick": {"n": 2_000, "steps": 20}}


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes.

    Linux's ``VmHWM`` (/proc/self/status) when there is one: ``ru_maxrss`` keeps the
    parent's peak across fork + exec, so a child started by a big parent would report it.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child(payload: dict) -> dict:
    """In a fresh process: load, pad, build the graph, train; the peak RSS after each stage."""
    stages = {"start": peak_rss_bytes()}
    import numpy as np

    from drlim.data.mnist import load_mnist, pad_images
    from drlim.models import LeNetDrLIM
    from drlim.neighbors import knn_graph
    from drlim.train import TrainConfig, train

    stages["imports"] = peak_rss_bytes()
    n = payload["n"]
    images, _ = load_mnist("train")
    data = pad_images(images[:n, :, :, None]).astype(np.float32) / np.float32(255.0)
    stages["data"] = peak_rss_bytes()
    start = time.perf_counter()
    graph = knn_graph(data.reshape(n, -1), k=5, method="exact")
    graph_s = time.perf_counter() - start
    stages["graph"] = peak_rss_bytes()
    config = TrainConfig(steps=payload["steps"], batch_size=64, mode="block")
    start = time.perf_counter()
    train(LeNetDrLIM(), data, graph, config, progress=False)
    train_s = time.perf_counter() - start
    stages["train"] = peak_rss_bytes()
    return {"n": n, "steps": payload["steps"], "stages": stages, "graph_s": graph_s,
            "train_s": train_s, "data_bytes": int(data.nbytes)}


STAGES = ("start", "imports", "data", "graph", "train")


def previous(stage: str) -> str:
    """The stage before ``stage`` ("start" for the first)."""
    return STAGES[max(STAGES.index(stage) - 1, 0)]


def run(quick: bool = False) -> dict:
    """Peak RSS of a training run on the MNIST training digits, stage by stage."""
    sizes = SIZES["quick" if quick else "full"]
    out = run_child("bench_memory", sizes)
    stages = out["stages"]
    rows = [[stage, round(peak / 2**20)] for stage, peak in stages.items()]
    peak = max(stages.values())
    largest = max(STAGES[1:], key=lambda stage: stages[stage] - stages[previous(stage)])
    notes = [f"{out['n']} digits as 32x32 float32 ({out['data_bytes'] / 2**20:.0f} MiB); "
             f"kNN graph {out['graph_s']:.1f} s; {out['steps']} training steps "
             f"(block mode, batch 128) {out['train_s']:.1f} s. Peak = VmHWM after each stage."]
    record = result("memory", "Peak resident memory (training on the MNIST training digits)",
                    ["after stage", "peak RSS MiB"], rows, notes)
    record["measurements"] = out
    add_target(record, "peak resident memory (issue 8)", peak / 1e9, maximum=TARGET_BYTES / 1e9,
               unit="GB", limit=f"the stage that adds most: {largest}")
    return record


def main(argv: list[str] | None = None) -> None:
    """Print the table, or run as the measuring child (``--child JSON``)."""
    module_main(run, __doc__, argv, child=child)


if __name__ == "__main__":
    main()
