"""A million samples: the paper's shifted digits at scale, from the graph to the test map.

    python -m benchmarks.bench_scale            # 60,000 digits x 17 shifts = 1,020,000 images
    python -m benchmarks.bench_scale --quick    # 2,000 digits x 17 shifts, under a minute

The 60,000 MNIST training digits, each at the 17 horizontal shifts from -8 to +8 pixels
(:func:`drlim.data.shift_images`, stored as ``uint8``: 0.8 GB), get the paper's shift prior
(Sec. 4.2, Fig. 7) without a neighbour search over the million images: the k nearest
neighbours among the 60,000 originals only (:func:`drlim.neighbors.knn_graph`, NN-descent),
then :func:`drlim.neighbors.copies_graph`: each sample is similar to its neighbours at its
own shift and to its 16 translations. An MLP 784-256-256-256-2 learns the map with InfoNCE
(Cauchy kernel, the best contrastive loss of the comparison); batches are gathered from the
``uint8`` images inside each training step. The 10,000 test digits at the 17 shifts
(170,000 images) are then mapped, and the map is scored on fixed subsamples: digit 5-NN
accuracy (kept), shift 5-NN accuracy (forgotten: chance is 1/17), trustworthiness@5.

Writes ``<out>.json`` (stages with wall seconds, total, peak resident memory, the targets
of issue 15 -- at most 30 minutes and 12 GB --, quality, settings, machine) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import bench_common
from drlim.config import TrainConfig
from drlim.data import load_mnist, shift_images
from drlim.estimator import EDGE_LOSS_HIDDEN, LOSS_DEFAULTS
from drlim.knn import resolve_method
from drlim.metrics import knn_accuracy, orbit_spread_ratio, trustworthiness
from drlim.models import MLP
from drlim.neighbors import copies_graph, describe, knn_graph
from drlim.train import embed, train

SHIFTS = tuple(s for s in range(-8, 9) if s != 0)
TARGET_SECONDS = 30 * 60
TARGET_GB = 12.0
GB = 10**9  # bytes; results_scale.json written before 2026-12-07 used 2**30
FULL = {"originals": 60_000, "test_originals": 10_000, "steps": 10_000}
QUICK = {"originals": 2_000, "test_originals": 1_000, "steps": 200}
EVAL_TRAIN = 20_000  # training embeddings the k-NN classifiers are fitted on
EVAL_TEST = 10_000  # shifted test embeddings they score
TRUST_SAMPLES = 2_000  # unshifted test digits scored by trustworthiness@5
EMBED_BATCH = 4_096  # images a batch (embed maps up to 8 batches a call)
HERE = Path(__file__).resolve().parent


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB of 10**9 bytes (``ru_maxrss`` is
    KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


class Stages:
    """Times named stages of the run and logs each one as it ends."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def run(self, name: str, work: Callable[[], Any]) -> Any:
        """Run ``work()``, record its wall time under ``name`` and return its result."""
        print(f"[bench_scale] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        self.rows.append({"name": name, "seconds": round(seconds, 2)})
        print(f"[bench_scale] {name}: {seconds:.1f} s, peak memory {peak_rss_gb():.2f} GB",
              file=sys.stderr, flush=True)
        return result


def train_config(steps: int) -> TrainConfig:
    """InfoNCE with the estimator's defaults for it, for ``steps`` steps."""
    defaults = LOSS_DEFAULTS["infonce"]
    return TrainConfig(
        loss="infonce",
        steps=steps,
        batch_size=int(defaults["batch_size"]),
        learning_rate=float(defaults["learning_rate"]),
        negatives=int(defaults["negatives"]),
        log_every=min(500, steps),
        seed=0,
    )


def embed_uint8(network: MLP, params: Any, images: np.ndarray) -> np.ndarray:
    """Map ``uint8`` images; :func:`drlim.train.embed` scales each batch on the device."""
    return embed(network, params, images, batch_size=EMBED_BATCH)


def full_rule_edges(base_undirected: int, n: int, copies: int) -> int:
    """Undirected similar pairs of the paper's full rule (:func:`drlim.neighbors.orbit_graph`):
    every pair inside an orbit, and all ``copies**2`` pairs between neighbouring orbits."""
    return n * copies * (copies - 1) // 2 + copies * copies * base_undirected


def run(originals: int, test_originals: int, steps: int, k: int, seed: int = 0) -> dict:
    """The whole benchmark at the given sizes; returns the results dictionary."""
    stages = Stages()
    started = time.perf_counter()
    copies = len(SHIFTS) + 1

    def load() -> tuple[np.ndarray, ...]:
        train_images, train_labels = load_mnist("train")
        test_images, test_labels = load_mnist("test")
        return (train_images[:originals], train_labels[:originals],
                test_images[:test_originals], test_labels[:test_originals])

    train_images, train_labels, test_images, test_labels = stages.run("load MNIST", load)
    shifted = stages.run("shift (uint8)", lambda: shift_images(train_images, SHIFTS))
    method = resolve_method("auto", originals)
    flat = train_images.reshape(originals, -1).astype(np.float32) / 255
    base = stages.run(f"kNN of the originals ({method})",
                      lambda: knn_graph(flat, k=k, method=method, random_state=seed))
    graph = stages.run("copies graph", lambda: copies_graph(base, copies))
    counts = describe(graph)
    network = MLP(hidden=EDGE_LOSS_HIDDEN, n_components=2, activation="relu")
    config = train_config(steps)
    result = stages.run("train", lambda: train(network, shifted.images, graph, config,
                                               progress=False))
    test_shifted = stages.run("shift test (uint8)", lambda: shift_images(test_images, SHIFTS))
    z_test = stages.run("transform test",
                        lambda: embed_uint8(network, result.params, test_shifted.images))
    rng = np.random.default_rng(seed)
    fit_ids = np.sort(rng.choice(len(shifted.images), min(EVAL_TRAIN, len(shifted.images)),
                                 replace=False))
    test_ids = np.sort(rng.choice(len(z_test), min(EVAL_TEST, len(z_test)), replace=False))
    trust_ids = np.sort(rng.choice(test_originals, min(TRUST_SAMPLES, test_originals),
                                   replace=False))

    def evaluate() -> dict:
        z_fit = embed_uint8(network, result.params, shifted.images[fit_ids])
        fit_labels = train_labels[shifted.source[fit_ids]]
        labels = test_labels[test_shifted.source[test_ids]]
        z, shifts = z_test[test_ids], test_shifted.shift[test_ids]
        unshifted = test_images[trust_ids].reshape(len(trust_ids), -1).astype(np.float32) / 255
        return {
            "digit_5nn_accuracy": round(knn_accuracy(z_fit, fit_labels, z, labels, k=5), 4),
            "shift_5nn_accuracy": round(
                knn_accuracy(z_fit, shifted.shift[fit_ids], z, shifts, k=5), 4),
            "shift_chance": round(1 / copies, 4),
            "test_trustworthiness_5": round(trustworthiness(unshifted, z_test[trust_ids], k=5), 4),
            "test_orbit_spread_ratio": round(
                orbit_spread_ratio(z, test_shifted.source[test_ids], seed=seed), 4),
            "fit_samples": int(len(fit_ids)),
            "scored_samples": int(len(test_ids)),
            "trust_samples": int(len(trust_ids)),
        }

    quality = stages.run("evaluate", evaluate)
    total = time.perf_counter() - started
    peak = peak_rss_gb()
    last = result.history[-1] if result.history else {}
    return {
        "stages": stages.rows,
        "total_seconds": round(total, 2),
        "peak_rss_gb": round(peak, 3),
        "memory_unit_bytes": GB,
        "targets": [
            target_row("total wall time (s)", TARGET_SECONDS, total),
            target_row("peak resident memory (GB)", TARGET_GB, peak),
        ],
        "quality": quality,
        "settings": {
            "samples": int(len(shifted.images)),
            "originals": originals,
            "shifts": list(SHIFTS),
            "test_samples": int(len(test_shifted.images)),
            "images_dtype": str(shifted.images.dtype),
            "images_gb": round(shifted.images.nbytes / GB, 3),
            "knn_k": k,
            "knn_method": method,
            "graph": "copies_graph: k-NN at the same shift + the 16 other shifts (a group)",
            "graph_similar_directed": 2 * counts["similar_undirected"],
            "graph_degree_mean": round(counts["degree_mean"], 2),
            "graph_table_gb": round(graph.neighbors.nbytes / GB, 3),
            "full_rule_similar_directed": 2 * full_rule_edges(
                describe(base)["similar_undirected"], originals, copies),
            "network": f"MLP 784-{'-'.join(map(str, EDGE_LOSS_HIDDEN))}-2 (ReLU)",
            "loss": config.loss,
            "steps": config.steps,
            "batch_size": config.batch_size,
            "negatives": config.negatives,
            "learning_rate": config.learning_rate,
            "images_per_step": config.batch_size * (2 + config.negatives),
            "final_loss": round(float(last.get("loss", float("nan"))), 4),
            "seed": seed,
        },
        "machine": machine(),
    }


def target_row(name: str, target: float, value: float) -> dict:
    """One target of the results file: met when ``value <= target``."""
    return {"name": name, "target": target, "value": round(value, 3),
            "status": "met" if value <= target else "missed"}


def machine() -> dict:
    """What the numbers were measured on: the CPU, its clock and cores, versions, the date."""
    return {**bench_common.machine(),
            "note": "shared machine: timings taken under load from other processes"}


def to_markdown(results: dict) -> str:
    """The results as a short markdown report."""
    s = results["settings"]
    largest = max(results["stages"], key=lambda row: row["seconds"])
    total = max(results["total_seconds"], 1e-9)
    lines = [
        "# A million samples: shifted MNIST at scale (`make bench-scale`)",
        "",
        f"{s['samples']:,} images ({s['originals']:,} digits x {len(s['shifts']) + 1} shifts, "
        f"{s['images_dtype']}, {s['images_gb']} GB); graph: {s['graph']}, "
        f"{s['graph_similar_directed']:,} directed similar pairs (the full rule of Fig. 7 "
        f"would have {s['full_rule_similar_directed']:,}); {s['network']}, {s['loss']}, "
        f"{s['steps']:,} steps of {s['batch_size']} edges x {s['negatives']} negatives. "
        f"{bench_common.measured_on(results['machine'])}; {results['machine']['note']}.",
        "",
        "| stage | seconds |",
        "|---|---:|",
        *(f"| {row['name']} | {row['seconds']:.1f} |" for row in results["stages"]),
        f"| **total** | **{results['total_seconds']:.1f}** |",
        "",
        "| target | goal | measured | status |",
        "|---|---:|---:|---|",
        *(f"| {t['name']} | <= {t['target']} | {t['value']} | {t['status']} |"
          for t in results["targets"]),
        "",
        f"The largest stage is {largest['name']} ({largest['seconds'] / total:.0%} of the wall "
        f"time); memory is in GB of 10**9 bytes (ru_maxrss).",
        "",
        "| quality (test map) | value |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in results["quality"].items()),
        "",
    ]
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)


def main(argv: list[str] | None = None) -> dict:
    """Command line: run the benchmark and write ``<out>.json`` and ``<out>.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 digits x 17 shifts")
    parser.add_argument("--originals", type=int, help="training digits (each at 17 shifts)")
    parser.add_argument("--test-originals", type=int, help="test digits (each at 17 shifts)")
    parser.add_argument("--steps", type=int, help="training steps")
    parser.add_argument("--k", type=int, default=int(LOSS_DEFAULTS["infonce"]["n_neighbors"]),
                        help="neighbours of each original")
    parser.add_argument("--out", type=Path, help="output path without suffix (default: "
                        "benchmarks/results_scale, or results_scale_quick with --quick)")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    for name in sizes:
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    out = args.out or HERE / ("results_scale_quick" if args.quick else "results_scale")
    results = run(sizes["originals"], sizes["test_originals"], sizes["steps"], args.k)
    write_atomic(out.with_suffix(".json"), json.dumps(results, indent=2) + "\n")
    write_atomic(out.with_suffix(".md"), to_markdown(results))
    print(to_markdown(results))
    return results


if __name__ == "__main__":
    main()
