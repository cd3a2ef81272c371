"""The benchmarks package works at tiny sizes, states every target's status, renders its
results, skips PyTorch cleanly and uses drlim's public API only."""

from __future__ import annotations

import ast
import doctest
import importlib
import json
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import benchmarks
from benchmarks import bench_common, bench_train_step, bench_utilisation, run_all, scale_results

REPO_DIR = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_DIR / "benchmarks"
MODULES = sorted(info.name for info in pkgutil.iter_modules(benchmarks.__path__))

INTEL_AVX512 = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Intel Xeon Test
cpu MHz\t\t: 2000.000
flags\t\t: fpu sse avx avx2 fma avx512f

processor\t: 1
vendor_id\t: GenuineIntel
flags\t\t: something else
"""


def fake_record(name: str, value: float | None, issue: int = 5) -> dict:
    record = bench_common.result(name, f"Title of {name}", ["a", "b"],
                                 [[1, None], ["x|y", 2.5]], notes=["a note"])
    bench_common.add_target(record, f"speed of {name}", value, minimum=2.0, unit="x",
                            limit="the CPU", issue=issue, not_run="make it")
    return record


def test_read_cpuinfo_takes_the_first_processor():
    info = bench_common.read_cpuinfo(INTEL_AVX512)
    assert info["model"] == "Intel Xeon Test"
    assert info["vendor"] == "GenuineIntel" and info["family"] == 6
    assert info["mhz"] == 2000.0
    assert "avx512f" in info["flags"] and "something" not in info["flags"]


@pytest.mark.parametrize(
    ("vendor", "family", "flags", "lanes_times_fma"),
    [
        ("GenuineIntel", 6, ["avx512f", "fma"], 16 * 2),
        ("AuthenticAMD", 25, ["avx512f", "avx2", "fma"], 8 * 2),  # Zen 4: 256-bit units
        ("AuthenticAMD", 23, ["avx2", "fma"], 8 * 2),
        ("GenuineIntel", 6, ["sse2"], 4 * 1),
    ],
)
def test_peak_flops_is_cores_clock_units_lanes_two(vendor, family, flags, lanes_times_fma):
    info = {"vendor": vendor, "family": family, "mhz": 2500.0, "flags": flags, "model": "m"}
    peak = bench_common.peak_flops(info, cores=3)
    assert peak["peak_flops"] == pytest.approx(3 * 2.5e9 * lanes_times_fma * 2)
    assert peak["assumption"]


def test_analytic_flops_follow_the_network_shapes():
    import jax
    import jax.numpy as jnp

    from drlim.models import LeNetDrLIM

    params = LeNetDrLIM().init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))["params"]
    macs = (np.prod(params["C1"]["kernel"].shape) * 27 * 27  # one kernel per output pixel
            + np.prod(params["C3"]["kernel"].shape) + np.prod(params["F5"]["kernel"].shape))
    expected = 3 * 2 * 2 * macs  # fwd + bwd = 3 x fwd; 2 images; multiply + add
    assert bench_utilisation.analytic_flops_per_pair() == expected
    assert 5.1e6 < expected < 5.2e6  # the issue's "about 5.2 MFLOP per pair"


def test_fastest_torch_threads_keeps_the_faster_setting(monkeypatch):
    common = bench_common
    monkeypatch.setattr(common, "cpu_count", lambda: 4)

    class FakeTorch:
        threads = 0

        def set_num_threads(self, n):
            self.threads = n

    torch = FakeTorch()

    def probe():  # slower with 4 threads, as on an oversubscribed machine
        time.sleep(0.002 if torch.threads == 1 else 0.02)

    assert common.fastest_torch_threads(torch, probe, repeats=2) == 1
    assert torch.threads == 1


def test_torch_network_and_loss_match_drlim():
    torch = pytest.importorskip("torch")
    import jax
    import jax.numpy as jnp

    from drlim.loss import contrastive_loss
    from drlim.models import LeNetDrLIM

    step = bench_train_step
    images = np.random.default_rng(0).random((6, 32, 32, 1), dtype=np.float32)
    params = LeNetDrLIM().init(jax.random.key(1), jnp.asarray(images[:1]))
    net = step.torch_lenet(torch)
    step.copy_params(torch, net, params)
    with torch.no_grad():
        theirs = net(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    ours = np.asarray(LeNetDrLIM().apply(params, images))
    np.testing.assert_allclose(theirs, ours, atol=1e-5)

    similar = np.array([True, False, False])
    with torch.no_grad():
        loss = step.torch_contrastive_loss(torch, torch.from_numpy(theirs[:3]),
                                           torch.from_numpy(theirs[3:]),
                                           torch.from_numpy(similar), 1.0)
    reference = contrastive_loss(ours[:3], ours[3:], jnp.asarray(similar), 1.0,
                                 reduction="mean")
    assert float(loss) == pytest.approx(float(reference), rel=1e-5)


def test_targets_say_met_missed_by_how_much_not_run_or_not_judged():
    record = bench_common.result("demo", "Demo", [], [])
    add = bench_common.add_target
    add(record, "fast", 3.0, minimum=2.0, unit="x", limit="unused")
    add(record, "slow", 1.6, minimum=2.0, unit="x", limit="the CPU")
    add(record, "time", 45.0, maximum=30.0, unit="min")
    add(record, "recall", 0.9, minimum=0.95)
    add(record, "absent", None, maximum=12.0, unit="GB", not_run="make bench-scale")
    add(record, "other hardware", 1.0, minimum=1.5, unit="x", judged=False)
    statuses = [bench_common.target_status(t) for t in record["targets"]]
    assert statuses == ["met", "missed (needs 1.25x more)", "missed (1.5x over)",
                        "missed (0.05 below)", "not run: make bench-scale", "not judged"]
    assert record["targets"][0]["limit"] == "" and record["targets"][1]["limit"] == "the CPU"
    with pytest.raises(ValueError, match="exactly one of minimum and maximum"):
        add(record, "both", 1.0, minimum=1.0, maximum=2.0)


def test_compile_log_counts_compilations_once_per_shape():
    import jax
    import jax.numpy as jnp

    function = jax.jit(lambda x: jnp.sin(x) * 2)
    with bench_common.CompileLog() as first:
        function(jnp.ones(11)).block_until_ready()
    with bench_common.CompileLog() as again:
        function(jnp.ones(11)).block_until_ready()
    with bench_common.CompileLog() as other_shape:
        function(jnp.ones(12)).block_until_ready()
    assert first.compiles >= 1 and first.seconds > 0
    assert again.compiles == 0
    assert other_shape.compiles >= 1
    assert any(count >= 1 for _, count, _ in first.as_dict()["top"])


def test_rounds_timing_takes_turns_and_warms_each_function_up(monkeypatch):
    order = []
    clock = iter(range(100))
    monkeypatch.setattr(bench_common.time, "perf_counter", lambda: next(clock))
    seconds = bench_common.rounds_median_seconds(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 2, rounds=2)
    assert order == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3  # one untimed call, two timed
    assert seconds == {"a": 1.0, "b": 1.0}  # each timed call spans one tick of the fake clock
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        bench_common.rounds_median_seconds({"a": lambda: None}, 1, rounds=0)


def test_write_atomic_replaces_the_whole_file(tmp_path):
    path = tmp_path / "deep" / "results.md"
    bench_common.write_atomic(path, "first\n")
    bench_common.write_atomic(path, "second\n")
    assert path.read_text() == "second\n"
    assert [p.name for p in path.parent.iterdir()] == ["results.md"]


def test_train_step_reports_a_skip_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    monkeypatch.setitem(bench_train_step.SIZES, "quick",
                        {"batches": (8,), "chunk": 2, "repeats": 1})
    record = bench_train_step.run(quick=True)
    assert "PyTorch is not installed" in record["skipped"]
    (row,) = record["rows"]
    assert row[0] == 8 and row[1] > 0 and row[2] is None and row[3] is None
    assert [t["status"] for t in record["targets"]] == ["not run"]
    text = run_all.render_markdown(bench_common.machine(), [record], True)
    assert "Partly skipped: PyTorch is not installed" in text


def test_drlim_loop_times_the_second_chunk_of_each_train_call():
    import jax.numpy as jnp

    from drlim.models import LeNetDrLIM
    from drlim.neighbors import knn_graph
    from drlim.train import init_params

    images = np.random.default_rng(0).random((40, 32, 32, 1), dtype=np.float32)
    graph = knn_graph(images.reshape(40, -1), k=3)
    loop = bench_train_step.DrlimLoop(jnp.asarray(images), graph, 8, 3,
                                      init_params(LeNetDrLIM(), images[0], seed=0))
    start = loop.params
    seconds = loop.run_chunk()
    assert 0 < seconds < loop.first_call_s
    assert loop.compiles[0] >= 1  # the first call with these shapes compiles
    assert loop.params is not start  # the loop continues from the trained parameters


def test_summary_lists_every_target_by_issue_number_with_the_gpu_row():
    records = [fake_record("memory", 1.2, issue=None), fake_record("knn", 3.0, issue=3),
               fake_record("time_to_quality", None, issue=1)]
    text = run_all.render_markdown(bench_common.machine("Test GPU"), records, False)
    assert text.startswith("# drlim benchmarks — Test GPU")
    summary = text[text.index("## Targets"):text.index("## 1.")]
    order = ["speed of time_to_quality", "speed of knn", "| 6 |", "speed of memory"]
    assert [summary.index(what) for what in order] == sorted(summary.index(w) for w in order)
    assert "| 1 | speed of time_to_quality | >= 2x | — | not run: make it |" in summary
    assert "| — | speed of memory | >= 2x | 1.2x | missed (needs 1.67x more) |" in summary
    assert "| 3 | speed of knn | >= 2x | 3x | met |" in summary
    assert "not run: no device in this run" in summary
    assert text.index("## 1. Title of time_to_quality") < text.index("## 2. Title of knn")
    assert "**missed (needs 1.67x more)** (1.2x; target >= 2x) — limited by the CPU" in text
    assert "| 1 | — |" in text and "x\\|y" in text  # None and pipes in cells


def test_merge_keeps_other_benchmarks_of_the_same_machine(tmp_path):
    info = bench_common.machine()
    path = tmp_path / "results.json"
    old = [fake_record("knn", 3.0), fake_record("memory", 1.0)]
    path.write_text(json.dumps({"machine": info, "quick": True, "results": old}))
    new = [fake_record("knn", 4.0)]
    merged = run_all.merge_previous(path, info, new, quick=True)
    assert [(r["name"], r["targets"][0]["value"]) for r in merged] == [("memory", 1.0),
                                                                      ("knn", 4.0)]
    assert run_all.merge_previous(path, info, new, quick=False) == new
    assert run_all.merge_previous(path, {**info, "label": "other"}, new, quick=True) == new
    other_clock = {**info, "clock_mhz": (info["clock_mhz"] or 0) + 150.0}
    assert run_all.merge_previous(path, other_clock, new, quick=True) == new


def test_a_failing_benchmark_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(run_all.BENCHMARKS, "knn", "no_such_benchmark_module")
    record = run_all.run_one("knn", quick=True)
    assert record["failed"] and "ModuleNotFoundError" in record["skipped"]
    with pytest.raises(ValueError, match="name must be one of"):
        run_all.run_one("nope", quick=True)


def test_scale_results_are_read_from_the_json_of_make_bench_scale(tmp_path):
    missing = scale_results.run(path=tmp_path / "absent.json")
    assert [bench_common.target_status(t) for t in missing["targets"]] == [
        "not run: make bench-scale", "not run: make bench-scale"]
    path = tmp_path / "results_scale.json"
    stages = [{"name": "graph", "seconds": 600.0}, {"name": "train", "seconds": 1500.0}]
    path.write_text(json.dumps({"stages": stages, "total_seconds": 2100.0,
                                "peak_rss_gb": 9.5, "targets": {}}))
    record = scale_results.run(path=path)
    assert record["rows"] == [["graph", 600.0], ["train", 1500.0]]
    time_target, memory_target = record["targets"]
    assert time_target["value"] == pytest.approx(35.0) and time_target["status"] == "missed"
    assert "train (1500 s)" in time_target["limit"]
    assert memory_target["status"] == "met"
    assert memory_target["value"] == pytest.approx(9.5 * 2**30 / 1e9)  # an old file's GiB
    assert "run at an earlier date" in record["notes"][0]
    path.write_text(json.dumps({"stages": stages, "total_seconds": 2100.0, "peak_rss_gb": 12.5,
                                "memory_unit_bytes": 10**9, "targets": {}}))
    memory_target = scale_results.run(path=path)["targets"][1]
    assert memory_target["value"] == 12.5 and memory_target["status"] == "missed"
    path.write_text(json.dumps({"stages": stages, "total_seconds": 2100.0, "peak_rss_gb": 9.5,
                                "targets": {}, "machine": {"date": "2026-12-05 14:00 UTC"}}))
    assert "run 2026-12-05 14:00 UTC" in scale_results.run(path=path)["notes"][0]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_of_every_module_run(name):
    module = importlib.import_module(f"benchmarks.{name}")
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0


def public_names(module: str) -> set[str]:
    """A drlim module's public names: its ``__all__`` (empty for a private module)."""
    if any(part.startswith("_") for part in module.split(".")):
        return set()
    return set(getattr(importlib.import_module(module), "__all__", ()))


def non_public_imports(source: str) -> list[str]:
    """What ``source`` imports from drlim that is not public: a name outside its module's
    ``__all__``, or a module whose dotted path has an underscore part."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("drlim")
                      and any(part.startswith("_") for part in alias.name.split("."))]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("drlim"):
            public = public_names(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names
                      if alias.name not in public]
    return found


def test_the_public_api_check_finds_private_imports():
    source = ("import drlim._io\nfrom drlim.train import _make_chunk_runner, train\n"
              "from drlim._io import write_json\nfrom drlim.knn import knn_indices\n")
    assert non_public_imports(source) == ["drlim._io", "drlim.train._make_chunk_runner",
                                          "drlim._io.write_json"]


@pytest.mark.parametrize("name", MODULES)
def test_benchmarks_use_the_public_api_only_and_no_sys_path(name):
    source = (BENCH_DIR / f"{name}.py").read_text()
    assert "sys.path" not in source and "PYTHONPATH" not in source
    assert non_public_imports(source) == []


def test_runner_quick_writes_markdown_and_json(tmp_path):
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--only", "knn", "scale",
         "--device-label", "test box", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO_DIR,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["quick"] and saved["machine"]["label"] == "test box"
    knn = next(r for r in saved["results"] if r["name"] == "knn")
    assert knn["measurements"]["same_sets"] == 1.0
    text = out.read_text()
    assert "## Targets (issue 15)" in text and "Neighbour graph" in text
    assert "| 3 | NN-descent recall of the exact 5-NN | >= 0.95 | — | not run: quick run" in text


@pytest.mark.slow
def test_runner_quick_runs_every_benchmark(tmp_path):
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=1500, cwd=REPO_DIR,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads(out.with_suffix(".json").read_text())
    assert {r["name"] for r in saved["results"]} == set(run_all.BENCHMARKS)
    assert not any(r.get("failed") for r in saved["results"])
    text = out.read_text()
    for number in range(1, 7):
        assert f"| {number} |" in text


@pytest.mark.slow  # two fits: about a minute on a loaded 2-core machine
def test_a_replay_retraces_the_prefix_of_a_longer_fit(monkeypatch):
    from benchmarks import bench_time_to_quality as ttq
    from drlim.estimator import DrLIM

    split = bench_common.digits_4_9(quick=True, pad_to_32=False)
    X, X_test = split.x_train[..., 0], split.x_test[..., 0]
    settings = {**ttq.estimator_settings(quick=True),
                "epochs": ttq.replay_epochs(150, len(X), quick=True)}
    model = DrLIM(**settings).fit(X)
    assert [r["step"] for r in model.history_] == [50, 100, 150]
    monkeypatch.setattr(ttq, "QUALITY", 0.0)  # stop at the first replayed step
    (point,) = ttq.quality_curve(model, X, X_test.reshape(len(X_test), -1), model.history_,
                                 quick=True)
    assert point["step"] == point["replayed_steps"] == 100
    assert point["same_trajectory"]
    assert point["seconds"] == model.history_[1]["seconds"] and 0 < point["trust"] <= 1


def test_first_reaching_and_the_breakdown_add_up():
    from benchmarks import bench_time_to_quality as ttq

    curve = [{"step": 100, "trust": 0.8}, {"step": 150, "trust": 0.84}]
    assert ttq.first_reaching(curve)["step"] == 150
    assert ttq.first_reaching(curve, quality=0.9) is None
    ours = {"import_s": 2.0, "setup_s": 5.0, "graph_warm_s": 1.5, "setup_compile_s": 1.0,
            "compile": {"compile_s": 3.0}, "train_s": 20.0, "steps": 1000,
            "transform_cold_s": 0.3, "transform_warm_s": 0.1,
            "transform_compile": {"compile_s": 0.2}}
    for setup_s in (5.0, 2.0):  # graph and compilation one after the other, or 0.5 s side by side
        stages = dict(ttq.breakdown({**ours, "setup_s": setup_s}))
        fit_stages = [seconds for name, seconds in stages.items()
                      if not name.startswith(("import", "transform", "  "))]
        assert sum(fit_stages) == pytest.approx(setup_s + ours["train_s"])
        parts = [seconds for name, seconds in stages.items() if name.startswith("  of which")]
        overlap = stages["  graph and compilation side by side (counted in both lines above)"]
        assert sum(parts) - overlap == pytest.approx(setup_s)
        assert overlap == pytest.approx(max(1.5 + 1.0 - setup_s, 0.0))


def test_pytorch_checks_every_few_steps_retrace_the_quarter_epoch_run(monkeypatch):
    """Checking more often changes nothing in the seeded run; until_quality stops at the end
    of the epoch in which a check reaches QUALITY; another seed is another run; given
    threads, no probe."""
    torch = pytest.importorskip("torch")
    from benchmarks import bench_time_to_quality as ttq

    def no_probe(torch, images):
        raise AssertionError("threads were given: no probe")

    split = bench_common.digits_4_9(quick=True)
    monkeypatch.setattr(ttq, "pick_threads", no_probe)
    full = ttq.torch_protocol(torch, split, epochs=2, threads=1)
    fine = ttq.torch_protocol(torch, split, epochs=2, every=2, threads=1)
    assert [p["step"] for p in full["curve"]] == list(range(4, 33, 4))
    assert [p["step"] for p in fine["curve"]] == list(range(2, 33, 2))
    at_quarters = {p["step"]: p["trust"] for p in fine["curve"] if p["step"] % 4 == 0}
    assert at_quarters == {p["step"]: p["trust"] for p in full["curve"]}
    assert len({p["trust"] for p in full["curve"]}) > 1  # the map moves between checks
    monkeypatch.setattr(ttq, "QUALITY", full["curve"][1]["trust"])  # reached by step 8
    until = ttq.torch_protocol(torch, split, epochs=2, every=2, threads=1, until_quality=True)
    assert [(p["step"], p["trust"]) for p in until["curve"]] == [
        (p["step"], p["trust"]) for p in fine["curve"][:8]]  # the first epoch's 8 checks
    other = ttq.torch_protocol(torch, split, epochs=2, threads=1, seed=1)
    assert [p["trust"] for p in other["curve"]] != [p["trust"] for p in full["curve"]]


def test_a_pytorch_child_stops_at_its_first_check_reaching_the_quality(monkeypatch):
    pytest.importorskip("torch")
    from benchmarks import bench_time_to_quality as ttq

    monkeypatch.setattr(ttq, "QUALITY", 0.0)  # the first check reaches it
    out = ttq.child({"quick": True, "torch": True, "seed": 0, "threads": 1})
    assert [p["step"] for p in out["curve"]] == [ttq.TORCH_CHECK_EVERY]
    assert out["reached"] == out["curve"][0] and out["threads"] == 1
    assert out["reached"]["seconds"] > out["graph_s"] > 0


def test_step_limit_does_not_split_a_step_its_parts_outlast():
    """Parts jitted apart took 39.4 ms against a 22.3 ms loop step on the Xeon: clamping the
    difference to 0 had printed a split that did not add up."""
    names = bench_utilisation.PARTS

    def measurement(loop_ms, parts_ms):
        parts = [{"part": name, "seconds": ms / 1e3, "flops": None, "bytes": None}
                 for name, ms in zip(names, parts_ms, strict=True)]
        return {"batch": 256, "loop_step_s": loop_ms / 1e3, "parts": parts}

    split = bench_utilisation.step_limit(measurement(10.0, (3.0, 7.0, 8.0)), None)
    assert "forward 3.0 ms, backward 4.0 ms, update 1.0 ms, sampling + loop 2.0 ms" in split
    whole = bench_utilisation.step_limit(measurement(22.3, (7.8, 31.5, 39.4)), None)
    assert "less than its parts jitted apart (39.4 ms" in whole and "sampling" not in whole
