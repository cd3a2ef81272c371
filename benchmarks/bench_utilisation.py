"""Utilisation: the training step's achieved FLOP/s as a fraction of the CPU's peak.

    .venv/bin/python benchmarks/bench_utilisation.py [--smoke]

FLOPs per step come from XLA's cost analysis of the compiled step (what actually runs:
forward, the backward the gradient needs -- C1's input gradient is skipped --, loss and
update) and, for comparison with the issue, from the convention "3 x forward" of
:func:`analytic_flops_per_pair` (5.2 MFLOP per pair). The step time is measured like the
training-step benchmark (same compiled chunk, reused when both run in one process). The
peak is cores x clock x FMA units x float32 lanes x 2 (see
``bench_common.peak_flops`` for the assumptions, stated in the results).
"""

from __future__ import annotations

from bench_common import digits_4_9, jax_device, median_seconds, module_main, peak_flops, result
from bench_train_step import SIZES, jax_step

C1 = {"out": 27 * 27, "features": 15, "kernel": 6 * 6}
C3 = {"inputs": 9 * 9 * 15, "features": 30}
F5 = {"inputs": 30, "outputs": 2}


def analytic_flops_per_pair() -> float:
    """3 x the forward FLOPs (multiply + add) of two 32x32 images through ``LeNetDrLIM``.

    >>> round(analytic_flops_per_pair() / 1e6, 2)
    5.16
    """
    forward = 2 * (C1["out"] * C1["features"] * C1["kernel"]
                   + C3["inputs"] * C3["features"]
                   + F5["inputs"] * F5["outputs"])
    return 3 * 2 * forward


def run(smoke: bool = False) -> dict:
    """Achieved FLOP/s of the jitted training step at each batch size, against the peak."""
    from drlim.neighbors import knn_indices

    sizes = SIZES["smoke" if smoke else "full"]
    images = digits_4_9(smoke).x_train
    neighbors = knn_indices(images.reshape(len(images), -1), k=5)
    device = jax_device()
    peak = peak_flops() if device["backend"] == "cpu" else None
    rows, measured = [], []
    for batch in sizes["batches"]:
        step = jax_step(images, neighbors, batch, sizes["chunk"])
        step.run_chunk()
        seconds = median_seconds(step.run_chunk, sizes["repeats"]) / sizes["chunk"]
        xla = step.flops_per_step / seconds if step.flops_per_step else None
        convention = analytic_flops_per_pair() * batch / seconds
        fraction = xla / peak["peak_flops"] if peak and xla else None
        measured.append({"batch": batch, "step_s": seconds, "xla_flops_per_step":
                         step.flops_per_step, "achieved_flops": xla,
                         "convention_flops": convention, "fraction_of_peak": fraction})
        rows.append([
            batch, round(1e3 * seconds, 2),
            None if step.flops_per_step is None else round(step.flops_per_step / batch / 1e6, 2),
            None if xla is None else round(xla / 1e9, 1), round(convention / 1e9, 1),
            None if peak is None else round(peak["peak_flops"] / 1e9, 1),
            None if fraction is None else f"{100 * fraction:.1f}%",
        ])
    notes = [f"Convention: {analytic_flops_per_pair() / 1e6:.2f} MFLOP per pair (3 x forward "
             "of 2 images). XLA's count is lower: C1's input gradient is never computed."]
    if peak is not None:
        notes.append(f"Peak: {peak['cores']} cores x {peak['clock_ghz']:.2f} GHz x "
                     f"{peak['fma_units']} FMA x {peak['lanes']} lanes x 2 = "
                     f"{peak['peak_flops'] / 1e9:.0f} GFLOP/s float32 ({peak['assumption']}).")
    else:
        notes.append(f"JAX runs on {device['backend']} ({device['kind']}): achieved FLOP/s "
                     "only; no CPU peak applies.")
    record = result("utilisation", "Utilisation of the training step (FLOP/s vs peak)",
                    ["batch", "ms/step", "XLA MFLOP/pair", "achieved GFLOP/s (XLA)",
                     "GFLOP/s (5.2 MFLOP/pair)", "peak GFLOP/s", "fraction of peak (XLA)"],
                    rows, notes)
    record["measurements"] = measured
    record["peak"] = peak
    return record


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
