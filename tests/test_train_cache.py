"""JAX's persistent compilation cache in drlim's cache directory: a second process loads every
program of a fit and transform instead of compiling it; the off switch and a user's own JAX
cache are obeyed."""

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
    from drlim.estimator import DrLIM
    from drlim.train import use_compilation_cache

    hit, programs = [False], {}

    def on_event(event, **kwargs):
        hit[0] = hit[0] or event == "/jax/compilation_cache/cache_hits"

    def on_duration(event, seconds, **kwargs):  # follows the cache-hit event of its program
        if event == "/jax/core/compile/backend_compile_duration":
            programs.setdefault(kwargs["fun_name"], set()).add("loaded" if hit[0] else "compiled")
            hit[0] = False

    jax.monitoring.register_event_listener(on_event)
    jax.monitoring.register_event_duration_secs_listener(on_duration)
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    DrLIM(n_neighbors=3, epochs=2.0, batch_size=8).fit(X).transform(X[:7])
    folder = use_compilation_cache()
    print(json.dumps({"step": "/".join(sorted(programs.get("jit(run_steps)", ()))),
                      "compiled": sorted(name for name, how in programs.items()
                                         if "compiled" in how),
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


def test_second_process_compiles_nothing(tmp_path):
    first = _child(tmp_path)
    folder = tmp_path / "jax-compilation"
    assert first["step"] == "compiled" and "jit(run_steps)" in first["compiled"]
    assert first["folder"] == first["jax"] == str(folder)
    assert any(name.startswith("jit_run_steps-") for name in _files(folder))
    second = _child(tmp_path)
    assert second["step"] == "loaded"
    assert second["compiled"] == []  # graph, init, eager operations and transform: all loaded


@pytest.mark.parametrize("switch", ["0", "off"])
def test_the_off_switch_writes_nothing(tmp_path, switch):
    result = _child(tmp_path, DRLIM_COMPILATION_CACHE=switch)
    assert (result["step"], result["folder"], result["jax"]) == ("compiled", None, None)
    assert _files(tmp_path) == []


def test_a_cache_directory_set_in_jax_is_left_alone(tmp_path):
    own = tmp_path / "own"
    result = _child(tmp_path / "drlim", JAX_COMPILATION_CACHE_DIR=str(own))
    assert result["folder"] is None and result["jax"] == str(own)
    assert _files(tmp_path / "drlim") == []
