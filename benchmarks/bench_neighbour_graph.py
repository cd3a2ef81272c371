"""Neighbour graph: ``knn_graph`` on 60,000 MNIST digits against scikit-learn, as a result record.

    .venv/bin/python benchmarks/bench_neighbour_graph.py [--smoke]

The measurement itself is ``bench_knn.py``'s (its data loading, timing and agreement
check); this module runs it at the runner's sizes and states the target. drlim's time
includes JIT compilation and the symmetrisation into a graph.
"""

from __future__ import annotations

import bench_knn
from bench_common import add_target, module_main, result

TARGET_RATIO = 2.0
SIZES = {"full": 60_000, "smoke": 2_000}
K = 5


def run(smoke: bool = False) -> dict:
    """Seconds of drlim's kNN graph and of scikit-learn's NearestNeighbors (auto and brute)."""
    from drlim.neighbors import knn_graph

    data, X = bench_knn.load_data("mnist", SIZES["smoke" if smoke else "full"], seed=0)
    ours_s, graph = bench_knn.time_call(knn_graph, X, k=K)
    default_s, default_idx = bench_knn.time_call(bench_knn.sklearn_knn, X, K, "auto")
    brute_s, _ = bench_knn.time_call(bench_knn.sklearn_knn, X, K, "brute")
    agreement = bench_knn.same_sets(graph.neighbors, default_idx)
    rows = [
        ["drlim knn_graph", round(ours_s, 2), 1.0],
        ['scikit-learn NearestNeighbors (default, "auto")', round(default_s, 2),
         round(default_s / ours_s, 2)],
        ['scikit-learn NearestNeighbors (algorithm="brute")', round(brute_s, 2),
         round(brute_s / ours_s, 2)],
    ]
    notes = [f"{len(X)} {data} images ({X.shape[1]} values), k = {K}, self excluded; "
             f"symmetrised neighbour sets equal to scikit-learn's for {100 * agreement:.2f}% "
             "of the samples."]
    record = result("knn", "Neighbour graph (k = 5) vs scikit-learn",
                    ["method", "seconds", "drlim speed-up"], rows, notes)
    record["measurements"] = {"n": len(X), "data": data, "drlim_s": ours_s,
                              "sklearn_default_s": default_s, "sklearn_brute_s": brute_s,
                              "same_sets": agreement}
    for label, seconds in (("default", default_s), ("brute", brute_s)):
        ratio = seconds / ours_s
        add_target(record, f"speed-up vs scikit-learn {label}", f">= {TARGET_RATIO:g}x", ratio,
                   ratio >= TARGET_RATIO, unit="x",
                   limit="the n^2 d distance products, which both sides compute as matrix "
                   "products on the same cores; drlim adds top-k selection and exact re-ranking")
    return record


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
