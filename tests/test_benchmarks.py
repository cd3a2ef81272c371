"""The benchmark runner works at tiny sizes, renders its results and skips PyTorch cleanly."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"

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


def bench(name: str):
    """Import a module of benchmarks/ (a folder of scripts, not a package)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module(name)


def fake_record(name: str, status_value: float, met: bool) -> dict:
    common = bench("bench_common")
    record = common.result(name, f"Title of {name}", ["a", "b"], [[1, None], ["x|y", 2.5]],
                           notes=["a note"])
    common.add_target(record, "speed", ">= 2x", status_value, met, unit="x", limit="the CPU")
    return record


def test_read_cpuinfo_takes_the_first_processor():
    info = bench("bench_common").read_cpuinfo(INTEL_AVX512)
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
    peak = bench("bench_common").peak_flops(info, cores=3)
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
    assert bench("bench_utilisation").analytic_flops_per_pair() == expected
    assert 5.1e6 < expected < 5.2e6  # the issue's "about 5.2 MFLOP per pair"


def test_fastest_torch_threads_keeps_the_faster_setting(monkeypatch):
    common = bench("bench_common")
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

    step = bench("bench_train_step")
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


def test_train_step_reports_a_skip_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    step = bench("bench_train_step")
    monkeypatch.setitem(step.SIZES, "smoke", {"batches": (8,), "chunk": 2, "repeats": 1})
    record = step.run(smoke=True)
    assert "PyTorch is not installed" in record["skipped"]
    (row,) = record["rows"]
    assert row[0] == 8 and row[1] > 0 and row[2] is None and row[3] is None
    assert [t["status"] for t in record["targets"]] == ["not judged"]
    text = bench("run_all").render_markdown(bench("bench_common").machine(), [record], True)
    assert "Partly skipped: PyTorch is not installed" in text


def test_markdown_lists_targets_in_issue_order():
    run_all = bench("run_all")
    records = [fake_record("memory", 1.2, True), fake_record("train_step", 1.1, False)]
    text = run_all.render_markdown(bench("bench_common").machine("Test GPU"), records, False)
    assert text.startswith("# drlim benchmarks — Test GPU")
    assert text.index("## 1. Title of train_step") < text.index("## 5. Title of memory")
    assert "| train_step: speed | >= 2x | 1.1x | missed |" in text
    assert "**missed** (1.1x; target >= 2x) — limited by the CPU" in text
    assert "| 1 | — |" in text and "x\\|y" in text  # None and pipes in cells


def test_merge_keeps_other_benchmarks_of_the_same_machine(tmp_path):
    run_all, common = bench("run_all"), bench("bench_common")
    info = common.machine()
    path = tmp_path / "results.json"
    old = [fake_record("knn", 3.0, True), fake_record("memory", 1.0, True)]
    path.write_text(json.dumps({"machine": info, "smoke": True, "results": old}))
    new = [fake_record("knn", 4.0, True)]
    merged = run_all.merge_previous(path, info, new, smoke=True)
    assert [(r["name"], r["targets"][0]["value"]) for r in merged] == [("memory", 1.0),
                                                                      ("knn", 4.0)]
    assert run_all.merge_previous(path, info, new, smoke=False) == new
    assert run_all.merge_previous(path, {**info, "label": "other"}, new, smoke=True) == new


def test_a_failing_benchmark_is_reported_not_raised(monkeypatch):
    run_all = bench("run_all")
    monkeypatch.setitem(run_all.BENCHMARKS, "knn", "no_such_benchmark_module")
    record = run_all.run_one("knn", smoke=True)
    assert record["failed"] and "ModuleNotFoundError" in record["skipped"]
    with pytest.raises(ValueError, match="name must be one of"):
        run_all.run_one("nope", smoke=True)


def test_runner_smoke_writes_markdown_and_json(tmp_path):
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "run_all.py"), "--smoke", "--only", "knn",
         "--device-label", "test box", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["smoke"] and saved["machine"]["label"] == "test box"
    (record,) = saved["results"]
    assert record["name"] == "knn" and record["measurements"]["same_sets"] == 1.0
    assert "## 3. Neighbour graph" in out.read_text()


@pytest.mark.slow
def test_runner_smoke_runs_every_benchmark(tmp_path):
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "run_all.py"), "--smoke", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads(out.with_suffix(".json").read_text())
    assert {r["name"] for r in saved["results"]} == set(bench("run_all").BENCHMARKS)
    assert not any(r.get("failed") for r in saved["results"])
