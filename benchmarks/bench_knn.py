"""Time ``drlim.neighbors.knn_graph`` against scikit-learn's ``NearestNeighbors``.

    .venv/bin/python benchmarks/bench_knn.py                # 60,000 MNIST training digits
    .venv/bin/python benchmarks/bench_knn.py --n 5000       # a quick run
    .venv/bin/python benchmarks/bench_knn.py --no-header >> results.md

Both sides find the exact k nearest neighbours of every sample, self excluded, on the same
float32 data (MNIST train split flattened to 784 values in [0, 1]; random uniform data when
MNIST is not installed or ``--data random``). scikit-learn is timed with its default
algorithm and with ``algorithm="brute"`` (``fit`` + ``kneighbors()``); ours includes the JIT
compilation and the symmetrisation into a graph. The last line printed is a markdown table
row; ratios above 1 mean ours is faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from drlim.neighbors import knn_graph

HEADER = (
    "| data | n | d | k | drlim s | sklearn default s | sklearn brute s "
    "| speed-up vs default | speed-up vs brute | same neighbour sets | machine |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def load_data(name: str, n: int, seed: int) -> tuple[str, np.ndarray]:
    """``n`` samples as (n, d) float32: MNIST train digits in [0, 1], or uniform noise."""
    if name == "mnist":
        try:
            from drlim.data.mnist import load_mnist

            images, _ = load_mnist("train")
        except (ImportError, FileNotFoundError):
            name = "random"
        else:
            if n > len(images):
                raise ValueError(f"--n must be at most {len(images)} for MNIST, got {n}")
            return "mnist", images[:n].reshape(n, -1).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    return "random", rng.random((n, 784), dtype=np.float32)


def time_call(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def sklearn_knn(X: np.ndarray, k: int, algorithm: str) -> np.ndarray:
    model = NearestNeighbors(n_neighbors=k, algorithm=algorithm).fit(X)
    return model.kneighbors(return_distance=False)


def same_sets(graph_rows: np.ndarray, reference: np.ndarray) -> float:
    """Share of samples whose symmetrised neighbour set equals the reference's."""
    n = len(reference)
    dense_rows = [set() for _ in range(n)]
    for i, row in enumerate(reference):
        for j in row:
            dense_rows[i].add(int(j))
            dense_rows[int(j)].add(i)
    agree = sum(set(row[row >= 0].tolist()) == dense_rows[i] for i, row in enumerate(graph_rows))
    return agree / n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000, help="number of samples")
    parser.add_argument("--k", type=int, default=5, help="neighbours per sample")
    parser.add_argument("--block-size", type=int, default=2048, help="rows per block (ours)")
    parser.add_argument("--data", choices=("mnist", "random"), default="mnist")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data")
    parser.add_argument("--no-header", action="store_true", help="print the row only")
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error(f"--n must be at least 2, got {args.n}")

    data, X = load_data(args.data, args.n, args.seed)
    ours_s, graph = time_call(knn_graph, X, k=args.k, block_size=args.block_size)
    default_s, default_idx = time_call(sklearn_knn, X, args.k, "auto")
    brute_s, _ = time_call(sklearn_knn, X, args.k, "brute")
    agreement = same_sets(graph.neighbors, default_idx)

    if not args.no_header:
        print(HEADER)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(
        f"| {data} | {args.n} | {X.shape[1]} | {args.k} | {ours_s:.1f} | {default_s:.1f} "
        f"| {brute_s:.1f} | {default_s / ours_s:.2f} | {brute_s / ours_s:.2f} "
        f"| {agreement:.4f} | {machine} |"
    )


if __name__ == "__main__":
    main()
