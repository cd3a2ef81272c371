"""What the edge losses' two-stage anchor draw costs against the single draw, at a million rows:
a draw of edges on its own, and a training step.

    python -m benchmarks.bench_anchor_draw --rows 1020000 --rounds 5

Above :data:`drlim.pairs.TWO_STAGE_ANCHORS_ABOVE` rows, :func:`drlim.pairs.sample_edges` draws
its anchors in two stages, a block of rows and then a row in it; the single draw over all the
rows, which the library keeps below that size, is had here by raising the limit while the
programs are traced. Each draw on its own (:func:`~drlim.pairs.sample_edges`: the anchors,
then a partner each) computes the running sums of all the rows' weights.
In :func:`drlim.train.run_steps` the weights are the same at every step of the scan, so XLA
may compute the sums once per call instead (loop-invariant code motion): the training step's
time, an MLP with InfoNCE (256 edges, 5 negatives each) on a temporal graph of the same rows,
shows whether it does. Both forms take turns in each round; medians in milliseconds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import drlim.pairs as pairs  # its limit, TWO_STAGE_ANCHORS_ABOVE, is raised for the single draw
from benchmarks.bench_common import rounds_median_seconds
from drlim.config import TrainConfig
from drlim.models import MLP
from drlim.neighbors import sequence_graph
from drlim.pairs import bucketed, make_sampler, sample_edges
from drlim.train import init_params, make_optimizer, run_steps, step_config

FORMS = {"single draw": 2**62, "two stages": pairs.TWO_STAGE_ANCHORS_ABOVE}
EDGES = 256
STEPS = 50


def compiled(form: str, function: Any, *args: Any, **static: Any) -> Callable[..., Any]:
    """``function`` (jitted) compiled for ``args`` with ``form``'s anchor draw."""
    kept = pairs.TWO_STAGE_ANCHORS_ABOVE
    pairs.TWO_STAGE_ANCHORS_ABOVE = FORMS[form]
    try:
        return function.lower(*args, **static).compile()
    finally:
        pairs.TWO_STAGE_ANCHORS_ABOVE = kept


def calls(rows: int) -> dict[str, Callable[[], Any]]:
    """Each form's draw of :data:`EDGES` edges alone and its :data:`STEPS` training steps."""
    key = jax.random.key(0)
    data = jnp.asarray(np.random.default_rng(1).normal(size=(rows, 4)), jnp.float32)
    sampler = bucketed(make_sampler(sequence_graph(rows, 8)))
    config = step_config(TrainConfig(batch_size=EDGES, loss="infonce", negatives=5))
    params = init_params(MLP(), np.asarray(data[0]), 0)
    state = make_optimizer(config, rows).init(params)
    found = {}
    for form in FORMS:
        one = compiled(form, sample_edges, key, sampler, count=EDGES)
        steps = compiled(form, run_steps, MLP(), config, STEPS, None, data, sampler, params,
                         state, key, 0)
        found[f"{form}: one draw"] = lambda one=one: jax.block_until_ready(one(key, sampler))
        found[f"{form}: {STEPS} training steps"] = lambda steps=steps: jax.block_until_ready(
            steps(data, sampler, params, state, key, 0))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_020_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    seconds = rounds_median_seconds(calls(args.rows), args.repeats, rounds=args.rounds)
    print(f"{args.rows:,} rows, {jax.devices()[0].platform}, median of {args.rounds} rounds")
    for name, value in seconds.items():
        per = STEPS if "steps" in name else 1
        print(f"  {name}: {value * 1e3:.3f} ms ({value * 1e3 / per:.3f} ms each)")


if __name__ == "__main__":
    main()
