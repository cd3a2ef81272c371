"""Figures from run directories: one run per experiment and per file, titles that say the graph."""

import json
from pathlib import Path

import flax.serialization
import numpy as np
import pytest

import drlim.report as report
from drlim.cli import experiment_config
from drlim.config import config_to_dict
from drlim.data.smallnorb import factor_grid
from drlim.report import make_figures

TRAINING_LOG = json.dumps({"step": 10, "loss": 0.1, "loss_similar": 0.1,
                           "loss_dissimilar": 0.1, "inside_margin": 0.5}) + "\n"


def fake_run(run: Path, config: dict, arrays: dict, metrics: dict | None = None) -> Path:
    """A finished run directory: its config, embeddings, training log and numbers."""
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    np.savez(run / "embeddings.npz", **arrays)
    (run / "metrics.jsonl").write_text(TRAINING_LOG)
    (run / "metrics.json").write_text(json.dumps(metrics or {}))
    return run


def shift_run(run: Path, name: str, **changes) -> Path:
    """A run of the paper's mnist-shift experiment ``name`` with config ``changes``."""
    config = config_to_dict(experiment_config(name, quick=True, **changes))
    rng = np.random.default_rng(0)
    return fake_run(run, config, {"z_test": rng.normal(size=(20, 2)),
                                  "shift_test": np.arange(20) % 5})


def norb_run(run: Path, name: str) -> Path:
    """A run of the NORB MLP experiment, renamed ``name`` (its cylinder figure too), with
    its first-layer weights."""
    config = config_to_dict(experiment_config("norb-airplane", quick=True))
    config |= {"name": name, "figure": f"{name}_cylinder"}
    azimuth, elevation, lighting = (f[:30] for f in factor_grid())
    z = np.random.default_rng(0).normal(size=(30, 3))
    fake_run(run, config, {"z_test": z, "azimuth_test": azimuth,
                           "elevation_test": elevation, "lighting_test": lighting})
    size = config["image_size"]
    kernel = np.zeros((size * size, config["hidden"][0]), np.float32)
    state = {"params": {"params": {"hidden_0": {"kernel": kernel}}}}
    (run / "checkpoint.msgpack").write_bytes(flax.serialization.msgpack_serialize(state))
    return run


def test_two_runs_of_one_experiment_are_refused_and_nothing_is_written(tmp_path):
    """They would collapse into one figure and one entry of metrics.json / results.md."""
    first = shift_run(tmp_path / "a", "mnist-shift-lle")
    second = shift_run(tmp_path / "b", "mnist-shift-lle")
    out = tmp_path / "figures"
    with pytest.raises(ValueError, match=(
            f"^run directories must not share experiment 'mnist-shift-lle', "
            f"got it in both {first} and {second}$")):
        make_figures([first, second], out)
    assert not out.exists()


def test_two_runs_drawing_one_file_are_refused(tmp_path):
    """Two NORB MLP experiments both draw fig9_norb_weights.png: one would replace the other."""
    first, second = norb_run(tmp_path / "a", "norb-a"), norb_run(tmp_path / "b", "norb-b")
    with pytest.raises(ValueError, match=(
            f"^run directories must not share figure file fig9_norb_weights.png, "
            f"got it in both {first} and {second}$")):
        make_figures([first, second], tmp_path / "figures")
    written = {p.name for p in make_figures([first], tmp_path / "figures")}
    assert {"fig9_norb_weights.png", "norb-a_cylinder.png"} <= written


@pytest.mark.parametrize(("name", "changes", "title"), [
    # The paper's runs keep the titles they always had.
    ("mnist-shift-nn", {}, "DrLIM, 5-NN graph (test samples)"),
    ("mnist-shift-lle", {}, "LLE, 5-NN graph (training samples)"),
    ("mnist-shift-invariant", {}, "DrLIM, 5-NN + translations graph (test samples)"),
    ("mnist-shift-augment", {},
     "DrLIM, 5-NN graph, augment shift:6 drawn each step (test samples)"),
    # Other runs say the graph and loss they trained on.
    ("mnist-shift-nn", {"n_neighbors": "15", "loss": "umap"},
     "DrLIM, UMAP's fuzzy 15-NN graph, loss umap (test samples)"),
    ("mnist-shift-nn", {"n_neighbors": "10", "loss": "infonce"},
     "DrLIM, 10-NN graph, loss infonce (test samples)"),
    ("mnist-shift-invariant", {"n_neighbors": "3"},
     "DrLIM, 3-NN + translations graph (test samples)"),
])
def test_a_figure_title_names_the_graph_the_run_trained_on(tmp_path, monkeypatch, name,
                                                           changes, title):
    titles, draw = [], report.embedding_figure
    monkeypatch.setattr(report, "embedding_figure",
                        lambda z, c, t, *a: titles.append(t) or draw(z, c, t, *a))
    make_figures([shift_run(tmp_path / "run", name, **changes)], tmp_path / "figures")
    assert titles == [title]
