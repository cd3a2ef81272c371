"""The `drlim` command and the experiment runner, end to end at --quick sizes."""

import json

import numpy as np
import pytest

from drlim.cli import experiment_config, load_experiments, main
from drlim.experiment import ExperimentConfig, override
from drlim.figures import check_targets

PAPER_EXPERIMENTS = {
    "loss-curves", "mnist-4-9", "mnist-shift-nn", "mnist-shift-lle", "mnist-shift-invariant",
    "mnist-shift-augment", "norb-airplane", "norb-lle",
}
PAPER_FIGURES = {
    "fig1_loss_curves.png", "fig4_mnist_4_9.png", "fig4_mnist_4_9_thumbnails.png",
    "fig5_shift_nn.png", "fig6_shift_lle.png", "fig7_shift_invariant.png",
    "fig8_norb_cylinder.png", "fig9_norb_weights.png", "fig10_norb_lle.png", "data_norb.png",
    "training_mnist-4-9.png", "training_mnist-shift-nn.png",
    "training_mnist-shift-invariant.png", "training_norb-airplane.png", "metrics.json",
}


def test_list_names_every_experiment(capsys):
    main(["list"])
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert listed == PAPER_EXPERIMENTS == set(load_experiments())


def test_every_experiment_file_starts_with_its_command():
    for name, module in load_experiments().items():
        assert f"Run: drlim run {name}" in module.__doc__


def test_overrides_reach_nested_training_fields():
    config = experiment_config("mnist-4-9", quick=True, steps="7", n_neighbors="3", seed=5)
    assert (config.train.steps, config.n_neighbors, config.train.seed) == (7, 3, 5)
    assert override(config, {"shifts": "-2,2"}).shifts == (-2, 2)
    with pytest.raises(ValueError, match="unknown config field 'stepz'"):
        override(config, {"stepz": 3})
    with pytest.raises(ValueError, match="dataset"):
        ExperimentConfig("x", dataset="cifar")


def test_targets_are_checked_against_values_and_other_metrics():
    result = {"a": 0.9, "b": {"a": 0.95}, "c": 0.2}
    checked = check_targets(result, [["a", ">=", 0.85], ["a", ">=", "b.a"], ["c", "<=", 0.1]])
    assert [t["met"] for t in checked] == [True, False, False]
    assert checked[1]["bound"] == 0.95


def test_run_writes_its_directory(tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", "mnist-4-9", "--quick", "--out", str(out), "--steps", "20",
          "--baselines", "", "--log_every", "10"])
    assert "mnist-4-9: wrote" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["steps"] == 20 and config["baselines"] == []
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20]
    assert {"loss_similar", "loss_dissimilar", "inside_margin"} <= set(rows[0])
    emb = np.load(out / "embeddings.npz")
    assert emb["z_test"].shape == (200, 2) and emb["label_test"].shape == (200,)
    assert set(np.unique(emb["label_test"])) == {4, 9}
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.5 < metrics["trustworthiness_5"] <= 1.0
    assert (out / "checkpoint.msgpack").exists()


def test_reproduce_quick_writes_every_figure_and_number(tmp_path):
    """The CI smoke test of `drlim reproduce --quick` (quality targets are for full runs)."""
    figures, runs = tmp_path / "figures", tmp_path / "runs"
    main(["reproduce", "--quick", "--out", str(figures), "--runs", str(runs)])
    assert PAPER_FIGURES <= {p.name for p in figures.iterdir()}
    summary = json.loads((figures / "metrics.json").read_text())
    assert set(summary) == PAPER_EXPERIMENTS
    for name in PAPER_EXPERIMENTS - {"loss-curves"}:
        assert (runs / name / "embeddings.npz").exists()
    assert 0 <= summary["mnist-shift-nn"]["shift_accuracy"] <= 1
    assert summary["norb-airplane"]["graph"]["n_samples"] == 660
    assert all("met" in t for t in summary["norb-airplane"]["targets"])


def test_compare_config_comes_from_the_experiment_file(tmp_path):
    from drlim import compare
    from drlim.cli import compare_config

    config = compare_config()
    assert isinstance(config, compare.CompareConfig)
    assert set(config.datasets) == set(compare.DATASETS)
    assert compare_config(quick=True) == compare.QUICK
    (tmp_path / "compare.py").write_text(
        "from drlim.compare import CompareConfig\n"
        "CONFIG = CompareConfig(max_test=100)\n"
        "QUICK = CompareConfig(max_test=50)\n"
    )
    assert compare_config(directory=tmp_path).max_test == 100
    assert compare_config(quick=True, directory=tmp_path).max_test == 50
    (tmp_path / "compare.py").write_text("CONFIG = {'max_test': 100}\n")
    with pytest.raises(SystemExit, match="must define CONFIG = CompareConfig"):
        compare_config(directory=tmp_path)
    with pytest.raises(SystemExit, match="is missing"):
        compare_config(directory=tmp_path / "nowhere")
