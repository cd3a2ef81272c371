"""Utilisation: where a training step's time goes, against XLA's cost analysis of it.

    python -m benchmarks.bench_utilisation [--quick]

The step of ``drlim.train.train`` is timed through the public loop (as in
:mod:`benchmarks.bench_train_step`). Its parts are rebuilt from drlim's public pieces --
``LeNetDrLIM``, ``contrastive_loss`` and the optimizer of ``make_optimizer`` -- and jitted
one by one on the same pairs of real digits: the forward pass of the step's 2 x batch
images, forward + backward (loss and gradient), and forward + backward + update. Each is
compiled once (``jax.jit(f).lower(...).compile()``), its ``cost_analysis()`` gives the FLOPs
and bytes XLA counts, and its warm time (median of repeats) gives the achieved FLOP/s and
bytes/s. The loop's step minus the full rebuilt step is what the loop adds: pair sampling
and the scan. The CPU's peak is cores x clock x FMA units x float32 lanes x 2 (see
``benchmarks.bench_common.peak_flops`` for the assumptions, stated in the results).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.bench_common import (
    digits_4_9,
    jax_device,
    median_seconds,
    module_main,
    peak_flops,
    result,
    xla_cost,
)
from benchmarks.bench_train_step import MARGIN, SIZES, DrlimLoop, train_config

C1 = {"out": 27 * 27, "features": 15, "kernel": 6 * 6}
C3 = {"inputs": 9 * 9 * 15, "features": 30}
F5 = {"inputs": 30, "outputs": 2}
PARTS = ("forward", "forward + backward", "forward + backward + update")


def analytic_flops_per_pair() -> float:
    """3 x the forward FLOPs (multiply + add) of two 32x32 images through ``LeNetDrLIM``.

    >>> round(analytic_flops_per_pair() / 1e6, 2)
    5.16
    """
    forward = 2 * (C1["out"] * C1["features"] * C1["kernel"]
                   + C3["inputs"] * C3["features"]
                   + F5["inputs"] * F5["outputs"])
    return 3 * 2 * forward


def step_parts(batch: int, chunk: int) -> dict[str, Any]:
    """The step's parts as plain functions of (params, opt_state, images, similar)."""
    import jax
    import optax

    from drlim.loss import contrastive_loss
    from drlim.models import LeNetDrLIM
    from drlim.train import make_optimizer

    network = LeNetDrLIM()
    optimizer = make_optimizer(train_config(batch, chunk))

    def loss(params, images, similar):
        z1, z2 = jax.numpy.split(network.apply(params, images), 2)
        return contrastive_loss(z1, z2, similar, MARGIN, reduction="mean")

    def forward(params, opt_state, images, similar):
        return network.apply(params, images)

    def gradient(params, opt_state, images, similar):
        return jax.value_and_grad(loss)(params, images, similar)

    def update(params, opt_state, images, similar):
        value, grads = jax.value_and_grad(loss)(params, images, similar)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return {"parts": dict(zip(PARTS, (forward, gradient, update), strict=True)),
            "optimizer": optimizer, "network": network}


def measure_parts(images: np.ndarray, batch: int, chunk: int, repeats: int) -> list[dict]:
    """Each part's XLA cost and warm seconds on ``batch`` pairs of ``images``."""
    import jax

    from drlim.train import init_params

    built = step_parts(batch, chunk)
    params = init_params(built["network"], images[0], seed=0)
    opt_state = built["optimizer"].init(params)
    rng = np.random.default_rng(0)
    batch_images = jax.numpy.asarray(images[rng.integers(len(images), size=2 * batch)])
    similar = jax.numpy.arange(batch) < batch // 2
    args = (params, opt_state, batch_images, similar)
    out = []
    for name, function in built["parts"].items():
        compiled = jax.jit(function).lower(*args).compile()
        jax.block_until_ready(compiled(*args))
        seconds = median_seconds(lambda c=compiled: jax.block_until_ready(c(*args)),
                                 repeats=max(3, repeats * chunk // 5))
        out.append({"part": name, "seconds": seconds, **xla_cost(compiled)})
    return out


def loop_step_seconds(images: np.ndarray, graph: Any, batch: int, chunk: int,
                      repeats: int) -> float:
    """Seconds per step of ``drlim.train.train`` (median over calls, after a first call)."""
    import jax.numpy as jnp

    from drlim.models import LeNetDrLIM
    from drlim.train import init_params

    loop = DrlimLoop(jnp.asarray(images), graph, batch, chunk,
                     init_params(LeNetDrLIM(), images[0], seed=0))
    loop.run_chunk()
    return float(np.median([loop.run_chunk() for _ in range(max(1, repeats // 2))])) / chunk


def run(quick: bool = False) -> dict:
    """The step's parts: time, XLA FLOPs and bytes, achieved rates, at each batch size."""
    from drlim.neighbors import knn_graph

    sizes = SIZES["quick" if quick else "full"]
    images = digits_4_9(quick).x_train
    graph = knn_graph(images.reshape(len(images), -1), k=5)
    device = jax_device()
    peak = peak_flops() if device["backend"] == "cpu" else None
    rows, measured = [], []
    for batch in sizes["batches"]:
        parts = measure_parts(images, batch, sizes["chunk"], sizes["repeats"])
        loop_s = loop_step_seconds(images, graph, batch, sizes["chunk"], sizes["repeats"])
        measured.append({"batch": batch, "loop_step_s": loop_s, "parts": parts})
        for part in parts:
            rows.append(part_row(batch, part, peak))
        full = parts[-1]
        rows.append([batch, "drlim.train.train step (sampling + scan + the above)",
                     round(1e3 * loop_s, 2), None, None,
                     None if not full["flops"] else round(full["flops"] / loop_s / 1e9, 1),
                     None if not full["bytes"] else round(full["bytes"] / loop_s / 1e9, 1),
                     None if not (peak and full["flops"]) else
                     f"{100 * full['flops'] / loop_s / peak['peak_flops']:.1f}%"])
    notes = [f"Convention: {analytic_flops_per_pair() / 1e6:.2f} MFLOP per pair (3 x forward "
             "of 2 images); XLA's count of the step is lower: C1's input gradient is never "
             "computed."]
    if peak is not None:
        notes.append(f"Peak: {peak['cores']} cores x {peak['clock_ghz']:.2f} GHz x "
                     f"{peak['fma_units']} FMA x {peak['lanes']} lanes x 2 = "
                     f"{peak['peak_flops'] / 1e9:.0f} GFLOP/s float32 ({peak['assumption']}).")
    else:
        notes.append(f"JAX runs on {device['backend']} ({device['kind']}): achieved rates "
                     "only; no CPU peak applies.")
    record = result("utilisation", "Utilisation of the training step (XLA cost analysis)",
                    ["batch", "part", "ms", "XLA GFLOP", "XLA MB accessed", "achieved GFLOP/s",
                     "achieved GB/s", "fraction of peak FLOP/s"], rows, notes)
    record["measurements"] = measured
    record["peak"] = peak
    return record


def part_row(batch: int, part: dict, peak: dict | None) -> list:
    """One table row: a part's time, XLA's FLOPs and bytes, and the rates they give."""
    seconds, flops, moved = part["seconds"], part["flops"], part["bytes"]
    return [batch, part["part"], round(1e3 * seconds, 2),
            None if flops is None else round(flops / 1e9, 3),
            None if moved is None else round(moved / 1e6, 1),
            None if flops is None else round(flops / seconds / 1e9, 1),
            None if moved is None else round(moved / seconds / 1e9, 1),
            None if not (peak and flops) else f"{100 * flops / seconds / peak['peak_flops']:.1f}%"]


def step_limit(measurement: dict, peak: dict | None) -> str:
    """What bounds the loop's step, from the parts' times and XLA's counts (measured)."""
    parts = {p["part"]: p for p in measurement["parts"]}
    forward, gradient, full = (parts[name] for name in PARTS)
    loop_s = measurement["loop_step_s"]
    text = f"at batch {measurement['batch']} the loop's step takes {1e3 * loop_s:.1f} ms: "
    if full["seconds"] > loop_s:
        text += (f"less than its parts jitted apart ({1e3 * full['seconds']:.1f} ms for "
                 f"forward, backward and update, forward alone {1e3 * forward['seconds']:.1f} "
                 "ms), so the parts, timed apart, do not split the step")
    else:
        text += (f"forward {1e3 * forward['seconds']:.1f} ms, backward "
                 f"{1e3 * max(gradient['seconds'] - forward['seconds'], 0.0):.1f} ms, update "
                 f"{1e3 * max(full['seconds'] - gradient['seconds'], 0.0):.1f} ms, sampling + "
                 f"loop {1e3 * (loop_s - full['seconds']):.1f} ms (differences of medians; "
                 "0 where noise made one negative)")
    if full["flops"]:
        rate = full["flops"] / loop_s
        text += f"; XLA counts {full['flops'] / 1e9:.2f} GFLOP: {rate / 1e9:.1f} GFLOP/s"
        if peak:
            text += f" = {100 * rate / peak['peak_flops']:.0f}% of the CPU's peak"
    if full["bytes"]:
        text += f", {full['bytes'] / loop_s / 1e9:.1f} GB/s moved"
    return text


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
