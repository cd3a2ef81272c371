"""Data-parallel training over 4 simulated CPU devices follows the single-device trajectory."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import jax
    from drlim.models import LeNetDrLIM
    from drlim.neighbors import knn_graph
    from drlim.pairs import make_sampler
    from drlim.train import (TrainConfig, init_params, make_optimizer, run_steps, step_config,
                             train)

    rng = np.random.default_rng(0)
    X = rng.random((64, 32, 32, 1)).astype(np.float32)
    graph = knn_graph(X.reshape(64, -1), k=3)
    out = {"devices": jax.device_count()}
    for mode in ("pairs", "block"):
        for devices in (1, 4):
            config = TrainConfig(steps=20, batch_size=8 if mode == "block" else 16, mode=mode,
                                 log_every=5, devices=devices)
            result = train(LeNetDrLIM(), X, graph, config)
            out[f"{mode}-{devices}"] = [row["loss"] for row in result.history]
        config = step_config(TrainConfig(steps=5, batch_size=8 if mode == "block" else 16,
                                             mode=mode, devices=4))
        params = init_params(LeNetDrLIM(), X[0], 0)
        opt_state = make_optimizer(config).init(params)
        hlo = run_steps.lower(LeNetDrLIM(), config, 5, None, X, make_sampler(graph), params,
                              opt_state, jax.random.key(0), 0).compile().as_text()
        out[f"{mode}-all-reduce"] = "all-reduce" in hlo
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def trajectories():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["pairs", "block"])
def test_four_devices_match_one(trajectories, mode):
    assert trajectories["devices"] == 4
    one, four = trajectories[f"{mode}-1"], trajectories[f"{mode}-4"]
    assert len(one) == len(four) == 4
    assert one == pytest.approx(four, rel=1e-5)
    assert trajectories[f"{mode}-all-reduce"], "the step was not partitioned across devices"
