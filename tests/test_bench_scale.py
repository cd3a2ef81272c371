"""The million-sample benchmark at a tiny size: the stages run and the results file is whole."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_scale

ROOT = Path(__file__).resolve().parents[1]


def check_results(results: dict, samples: int) -> None:
    """The schema run_all reads, with values that follow from the run."""
    names = [row["name"] for row in results["stages"]]
    assert names[:2] == ["load MNIST", "shift (uint8)"] and "train" in names
    assert names[-2:] == ["transform test", "evaluate"]
    assert all(row["seconds"] >= 0 for row in results["stages"])
    assert results["total_seconds"] >= sum(row["seconds"] for row in results["stages"]) - 0.1
    assert {t["name"] for t in results["targets"]} == {"total wall time (s)",
                                                       "peak resident memory (GB)"}
    for target in results["targets"]:
        assert target["status"] == ("met" if target["value"] <= target["target"] else "missed")
    settings = results["settings"]
    assert settings["samples"] == samples and settings["images_dtype"] == "uint8"
    assert settings["graph_similar_directed"] < settings["full_rule_similar_directed"]
    quality = results["quality"]
    assert quality["shift_chance"] == pytest.approx(1 / 17, abs=1e-4)
    for name in ("digit_5nn_accuracy", "shift_5nn_accuracy", "test_trustworthiness_5"):
        assert 0.0 <= quality[name] <= 1.0
    assert results["peak_rss_gb"] > 0 and results["machine"]["cores"] >= 1


def test_tiny_run_writes_json_and_markdown(tmp_path):
    out = tmp_path / "scale"
    results = bench_scale.main(["--originals", "120", "--test-originals", "40", "--steps", "20",
                                "--out", str(out)])
    check_results(results, samples=120 * 17)
    assert json.loads(out.with_suffix(".json").read_text()) == results
    markdown = out.with_suffix(".md").read_text()
    assert "| train |" in markdown and "| **total** |" in markdown
    assert not list(tmp_path.glob("*.tmp"))


def test_full_rule_edge_count_matches_its_definition():
    # 3 originals in a path 0-1-2 (2 undirected edges), 4 copies: C(4, 2) per orbit, 16 per edge.
    assert bench_scale.full_rule_edges(2, n=3, copies=4) == 3 * 6 + 16 * 2


@pytest.mark.slow
def test_quick_mode_as_a_module(tmp_path):
    out = tmp_path / "quick"
    subprocess.run([sys.executable, "-m", "benchmarks.bench_scale", "--quick", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    check_results(json.loads(out.with_suffix(".json").read_text()), samples=2_000 * 17)
