"""JAX's persistent compilation cache in drlim's cache directory: a second process loads the
training step instead of compiling it; the off switch and a user's own JAX cache are obeyed."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    import numpy as np
    from drlim.models import MLP
    from drlim.neighbors import knn_graph
    from drlim.train import TrainConfig, train, use_compilation_cache

    hit, programs = [False], {}

    def on_event(event, **kwargs):
        hit[0] = hit[0] or event == "/jax/compilation_cache/cache_hits"

    def on_duration(event, seconds, **kwargs):  # follows the cache-hit event of its program
        if event == "/jax/core/compile/backend_compile_duration":
            programs[kwargs["fun_name"]] = "loaded" if hit[0] else "compiled"
            hit[0] = False

    jax.monitoring.register_event_listener(on_event)
    jax.monitoring.register_event_duration_secs_listener(on_duration)
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    train(MLP(n_components=2), X, knn_graph(X, k=3), TrainConfig(steps=10, log_every=5))
    folder = use_compilation_cache()
    print(json.dumps({"step": programs.get("jit(run_steps)"),
                      "folder": None if folder is None else str(folder),
                      "jax": jax.config.jax_compilation_cache_dir}))
    """
)


def _child(cache, **env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("JAX_COMPILATION_CACHE_DIR", "DRLIM_COMPILATION_CACHE")}
    environ.update({"DRLIM_CACHE": str(cache), "JAX_PLATFORMS": "cpu", **env})
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=environ, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_second_process_loads_the_compiled_step(tmp_path):
    first = _child(tmp_path)
    folder = tmp_path / "jax-compilation"
    assert first == {"step": "compiled", "folder": str(folder), "jax": str(folder)}
    assert any(name.startswith("jit_run_steps-") for name in _files(folder))
    assert _child(tmp_path)["step"] == "loaded"


@pytest.mark.parametrize("switch", ["0", "off"])
def test_the_off_switch_writes_nothing(tmp_path, switch):
    result = _child(tmp_path, DRLIM_COMPILATION_CACHE=switch)
    assert result == {"step": "compiled", "folder": None, "jax": None}
    assert _files(tmp_path) == []


def test_a_cache_directory_set_in_jax_is_left_alone(tmp_path):
    own = tmp_path / "own"
    result = _child(tmp_path / "drlim", JAX_COMPILATION_CACHE_DIR=str(own))
    assert result["folder"] is None and result["jax"] == str(own)
    assert _files(tmp_path / "drlim") == []
