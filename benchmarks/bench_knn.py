"""Time drlim's approximate kNN (NN-descent) against scikit-learn's exact brute force.

    python -m benchmarks.bench_knn                # 60,000 MNIST training digits
    python -m benchmarks.bench_knn --n 5000       # a quick run
    python -m benchmarks.bench_knn --no-header >> results.md

Issue 15's target 3: on the 60,000 MNIST training digits (784 values in [0, 1], float32),
``knn_indices(X, 5, method="approx")`` finds at least 95 % of the exact 5 nearest neighbours
and is at least 5x faster than ``NearestNeighbors(n_neighbors=6, algorithm="brute")``
(``fit`` + ``kneighbors(X)``, self dropped), which also gives the exact reference. Both are
timed back to back in this process. NN-descent is compiled by numba on its first call in a
process; that compilation is timed apart, by a first call on the first
:data:`WARM_UP_SAMPLES` samples. NN-descent's time is then the median of
:data:`APPROX_CALLS` calls on all of them (one call had varied threefold between runs: 6.5 s
and 2.0 s), scikit-learn's one call (about a minute). The last line printed is a markdown
table row; ``speed-up`` above 1 means drlim is faster.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from drlim.knn import knn_indices

# Samples of NN-descent's first call in a process, which numba's compilation dominates.
WARM_UP_SAMPLES = 2_000
# NN-descent calls timed after it (their median is its time).
APPROX_CALLS = 3
HEADER = (
    "| data | n | d | k | numba first call s | drlim approx s (median) | sklearn brute s "
    "| speed-up | recall | machine | load average |\n"
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
    """Seconds of one call of ``function`` and what it returned."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def sklearn_knn(X: np.ndarray, k: int, algorithm: str) -> np.ndarray:
    """scikit-learn's k nearest neighbours of the fitted samples, self excluded by it."""
    model = NearestNeighbors(n_neighbors=k, algorithm=algorithm).fit(X)
    return model.kneighbors(return_distance=False)


def sklearn_brute(X: np.ndarray, k: int) -> np.ndarray:
    """Exact k nearest neighbours as a user writes it: k + 1 neighbours of X, self dropped."""
    model = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)
    return drop_self(model.kneighbors(X, return_distance=False), k)


def drop_self(table: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` entries of each row that are not the row's own index.

    >>> drop_self(np.array([[0, 2, 1], [0, 1, 2]]), 2).tolist()
    [[2, 1], [0, 2]]
    """
    rows = np.arange(len(table))[:, None]
    others = np.argsort(table == rows, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(table, others, axis=1)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact neighbours that ``found`` also lists.

    >>> recall(np.array([[1, 2], [0, 3]]), np.array([[1, 3], [0, 3]]))
    0.75
    """
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, exact, strict=True))
    return hits / exact.size


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


def measure_approx(X: np.ndarray, k: int, calls: int = APPROX_CALLS) -> dict:
    """NN-descent's numba compilation (a first call on the first :data:`WARM_UP_SAMPLES`
    samples), then the median of ``calls`` calls on ``X``, scikit-learn's exact brute force
    right after, and the recall against it (of the first call); ``"exact"`` holds
    scikit-learn's neighbour table (not JSON: pop it before saving)."""
    compile_s, _ = time_call(knn_indices, X[:WARM_UP_SAMPLES], k, method="approx")
    timed = [time_call(knn_indices, X, k, method="approx") for _ in range(calls)]
    approx_s = float(np.median([seconds for seconds, _ in timed]))
    brute_s, exact = time_call(sklearn_brute, X, k)
    return {"compile_s": compile_s, "approx_s": approx_s,
            "approx_calls_s": [seconds for seconds, _ in timed], "sklearn_brute_s": brute_s,
            "speed_up": brute_s / approx_s, "recall": recall(timed[0][1], exact),
            "exact": exact}


def main(argv: list[str] | None = None) -> None:
    """Measure and print the markdown row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000, help="number of samples")
    parser.add_argument("--k", type=int, default=5, help="neighbours per sample")
    parser.add_argument("--data", choices=("mnist", "random"), default="mnist")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data")
    parser.add_argument("--no-header", action="store_true", help="print the row only")
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error(f"--n must be at least 2, got {args.n}")

    data, X = load_data(args.data, args.n, args.seed)
    m = measure_approx(X, args.k)
    m.pop("exact")
    if not args.no_header:
        print(HEADER)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"| {data} | {args.n} | {X.shape[1]} | {args.k} | {m['compile_s']:.1f} "
        f"| {m['approx_s']:.1f} | {m['sklearn_brute_s']:.1f} | {m['speed_up']:.1f} "
        f"| {m['recall']:.4f} | {machine} | {load} |"
    )


if __name__ == "__main__":
    main()
