"""Speed of the MNIST network's three forms: LeNetDrLIM (training), LeNetDrLIMMapping
(mapping) and the nn.Conv reference, training steps and forward passes.

    python -m benchmarks.bench_models --batch 64 256 --repeats 30

One step is a jitted forward + backward of a contrastive loss on B pairs, i.e. 2*B images
(32x32x1), with the parameter gradient; a forward pass maps the same 2*B images. Both are
timed warm, the forms taking turns in each repeat (so that a change in the machine's load
falls on all of them), and reported as the median pairs or images per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drlim.models import LeNetDrLIM, LeNetDrLIMMapping, LeNetDrLIMReference

FORMS = {"training (banded im2col)": LeNetDrLIM(), "mapping (pooled windows)": LeNetDrLIMMapping(),
         "reference (nn.Conv)": LeNetDrLIMReference()}


def make_step(net: nn.Module) -> Callable:
    """A jitted (params, images, similar) -> (loss, grads) for pairs (images[i], images[B + i])."""

    def loss_fn(params, images, similar):
        z = net.apply({"params": params}, images)
        half = images.shape[0] // 2
        d2 = jnp.sum((z[:half] - z[half:]) ** 2, axis=-1)
        d = jnp.sqrt(jnp.maximum(d2, 1e-12))
        per_pair = jnp.where(similar, 0.5 * d2, 0.5 * jnp.maximum(0.0, 1.0 - d) ** 2)
        return jnp.mean(per_pair)

    return jax.jit(jax.value_and_grad(loss_fn))


def median_rates(batch: int, repeats: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Each form's median (pairs/s in a training step, images/s in a forward pass) on
    ``batch`` pairs, over ``repeats`` rounds in which the forms take turns."""
    keys = jax.random.split(jax.random.key(seed), 3)
    images = jax.random.uniform(keys[0], (2 * batch, 32, 32, 1))
    similar = jax.random.bernoulli(keys[1], 0.5, (batch,))
    params = LeNetDrLIM().init(keys[2], images[:1])["params"]  # one tree serves every form
    calls = {}
    for name, net in FORMS.items():
        step, forward = make_step(net), jax.jit(net.apply)
        calls[name] = (lambda step=step: step(params, images, similar),
                       lambda forward=forward: forward({"params": params}, images))
    seconds = {name: ([], []) for name in FORMS}
    for round_ in range(repeats + 1):  # the first round compiles and is not counted
        for name, pair in calls.items():
            for call, times in zip(pair, seconds[name], strict=True):
                start = time.perf_counter()
                jax.block_until_ready(call())
                if round_:
                    times.append(time.perf_counter() - start)
    return {name: (batch / float(np.median(step)), 2 * batch / float(np.median(forward)))
            for name, (step, forward) in seconds.items()}


def main(argv: list[str] | None = None) -> None:
    """Print each form's pairs/s (training step) and images/s (forward) for each batch size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256], help="pairs per step")
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds per batch size")
    args = parser.parse_args(argv)
    print(f"{'form':26s} {'pairs/step':>10s} {'step pairs/s':>12s} {'forward images/s':>16s}")
    for batch in args.batch:
        for name, (step, forward) in median_rates(batch, args.repeats).items():
            print(f"{name:26s} {batch:10d} {step:12.0f} {forward:16.0f}", flush=True)


if __name__ == "__main__":
    main()
