"""Training-step speed of the MNIST network: fast LeNetDrLIM against the nn.Conv reference.

    python -m benchmarks.bench_models --batch 64 256 --repeats 30

One step is a jitted forward + backward of a contrastive loss on B pairs, i.e. 2*B images
(32x32x1), with the parameter gradient; timed warm, reported as the median pairs per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drlim.models import LeNetDrLIM, LeNetDrLIMReference


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


def pairs_per_second(net: nn.Module, batch: int, repeats: int, seed: int = 0) -> float:
    """Median pairs/s over ``repeats`` warm training steps on ``batch`` pairs."""
    keys = jax.random.split(jax.random.key(seed), 3)
    images = jax.random.uniform(keys[0], (2 * batch, 32, 32, 1))
    similar = jax.random.bernoulli(keys[1], 0.5, (batch,))
    params = net.init(keys[2], images[:1])["params"]
    step = make_step(net)
    jax.block_until_ready(step(params, images, similar))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(step(params, images, similar))
        times.append(time.perf_counter() - start)
    return batch / float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    """Print pairs/s of both formulations for each batch size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256], help="pairs per step")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per measurement")
    args = parser.parse_args(argv)
    nets = {"fast (banded im2col)": LeNetDrLIM(), "reference (nn.Conv)": LeNetDrLIMReference()}
    print(f"{'network':22s} {'pairs/step':>10s} {'pairs/s':>10s}")
    for batch in args.batch:
        for name, net in nets.items():
            rate = pairs_per_second(net, batch, args.repeats)
            print(f"{name:22s} {batch:10d} {rate:10.0f}", flush=True)


if __name__ == "__main__":
    main()
