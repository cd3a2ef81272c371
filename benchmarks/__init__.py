"""drlim's benchmarks: side-by-side measurements of issue 15's targets, using drlim's public API.

Run them all (``make bench``) or one, from the repository root::

    python -m benchmarks.run_all --out benchmarks/results.md   # every target, full size
    python -m benchmarks.run_all --quick --out /tmp/results.md  # tiny sizes (tests)
    python -m benchmarks.bench_train_step --quick              # one benchmark

Modules (each has ``run(quick) -> dict`` and a command line):

- :mod:`benchmarks.bench_time_to_quality` -- a cold ``DrLIM().fit`` against a PyTorch script,
  to test trustworthiness@5 >= 0.83 (target 1), with the fit's breakdown;
- :mod:`benchmarks.bench_compile` -- first and second fit, in and across processes sharing
  the persistent compilation cache (target 2);
- :mod:`benchmarks.bench_neighbour_graph` (measurements in :mod:`benchmarks.bench_knn`) --
  NN-descent against scikit-learn's exact search on 60,000 digits (target 3);
- :mod:`benchmarks.scale_results` -- the stages ``make bench-scale`` wrote (target 4);
- :mod:`benchmarks.bench_train_step`, :mod:`benchmarks.bench_utilisation`,
  :mod:`benchmarks.bench_transform` -- per step against PyTorch eager, where a step's time
  goes (XLA's cost analysis), transform against Isomap and LLE (target 5);
- :mod:`benchmarks.bench_memory` -- peak memory of training on 60,000 digits;
- :mod:`benchmarks.bench_common` -- the result record, targets, timing, child processes;
- :mod:`benchmarks.bench_models`, :mod:`benchmarks.semi_supervised` -- standalone scripts.

``benchmarks/run_on_gpu.sh`` runs them on a GPU machine into ``results_gpu.md`` (target 6).
"""
