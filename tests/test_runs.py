"""The one pipeline: data by name, one evaluation protocol, one run directory per method."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sklearn_trustworthiness
from sklearn.neighbors import KNeighborsClassifier

import drlim.runs
from drlim.methods import fit_method
from drlim.models import MLP
from drlim.runs import evaluate, load_data, run_method


@pytest.fixture(scope="module")
def digits():
    return load_data("digits-8x8", max_fit=400, max_test=200)


def test_load_data_caps_and_is_deterministic(digits):
    again = load_data("digits-8x8", max_fit=400, max_test=200)
    np.testing.assert_array_equal(digits.x_test, again.x_test)
    np.testing.assert_array_equal(digits.fit_subset, again.fit_subset)
    assert digits.x_test.shape == (200, 64) and digits.n_test_pool == 500
    assert len(digits.fit_subset) == 400 and len(digits.factors_test["label"]) == 200
    with pytest.raises(ValueError, match="name must be one of"):
        load_data("mnist-3-8")
    for n_test in (0, True, 10.0):
        with pytest.raises(ValueError, match=r"^n_test must be (an int )?in \[1, 1697\]"):
            load_data("digits-8x8", n_test=n_test)


def test_evaluate_agrees_with_independent_references(digits):
    rng = np.random.default_rng(0)
    # pixels without tied distances, so that rank conventions cannot differ
    digits = dataclasses.replace(digits, x_test=digits.x_test + rng.normal(0, 0.01, (200, 64)))
    z_fit, z_test = rng.normal(size=(400, 2)), digits.x_test[:, :2] + rng.normal(size=(200, 2))
    scores = evaluate(digits, z_test, ("trustworthiness_7", "knn_accuracy", "coinciding"),
                      z_fit=z_fit, knn_k=3)
    assert list(scores) == ["trustworthiness_7", "knn_accuracy", "coinciding"]
    assert scores["trustworthiness_7"] == pytest.approx(
        sklearn_trustworthiness(digits.x_test, z_test, n_neighbors=7), abs=1e-9)
    y_fit = digits.factors_train["label"][digits.fit_subset]
    predicted = KNeighborsClassifier(n_neighbors=3).fit(z_fit, y_fit).predict(z_test)
    expected = np.mean(predicted == digits.factors_test["label"])
    assert scores["knn_accuracy"] == pytest.approx(expected)
    assert scores["coinciding"] == 0.0
    with pytest.raises(ValueError, match="scores must name numbers of the protocol"):
        evaluate(digits, z_test, ("loveliness",))


def test_run_method_writes_one_run_directory(digits, tmp_path):
    row = run_method("pca", digits, tmp_path, scores=("trustworthiness_5", "knn_accuracy"),
                     stability_singles=2)
    assert json.loads((tmp_path / "metrics.json").read_text()) == row
    assert json.loads((tmp_path / "config.json").read_text())["method"] == "pca"
    with np.load(tmp_path / "embeddings.npz") as saved:
        assert saved["z_test"].shape == (200, 2) and saved["z_fit"].shape == (400, 2)
        np.testing.assert_array_equal(saved["label_fit"],
                                      digits.factors_train["label"][digits.fit_subset])
    assert row["n_fit"] == 1297 and row["transform_stability"] < 1e-5
    assert not (tmp_path / "metrics.jsonl").exists()  # PCA keeps no training log
    assert row["measured"]["cpu"] and row["measured"]["finished"].endswith("Z")


def _never_fit(*args, **kwargs):
    raise RuntimeError("fitted again")


def test_resume_reads_back_only_a_finished_run_of_the_same_settings(digits, tmp_path,
                                                                    monkeypatch):
    settings = {"scores": ("trustworthiness_5",), "stability_singles": 2}
    finished = tmp_path / "finished"
    row = run_method("pca", digits, finished, **settings)
    monkeypatch.setattr(drlim.runs, "fit_method", _never_fit)
    assert run_method("pca", digits, finished, resume=True, **settings) == row
    fewer = load_data("digits-8x8", max_fit=400, max_test=100)
    other_test = load_data("digits-8x8", max_fit=400, max_test=200, seed=1)  # same sizes
    changes = [(fewer, {}), (other_test, {}), (digits, {"knn_k": 3}), (digits, {"seed": 1}),
               (digits, {"scores": ("trustworthiness_5", "knn_accuracy")})]
    for number, (data, change) in enumerate(changes):
        run_dir = tmp_path / str(number)
        shutil.copytree(finished, run_dir)
        with pytest.raises(RuntimeError, match="fitted again"):
            run_method("pca", data, run_dir, resume=True, **{**settings, **change})
        # the failed run left its own config.json: the old numbers are not taken for its own
        assert not (run_dir / "metrics.json").exists()
        with pytest.raises(RuntimeError, match="fitted again"):
            run_method("pca", data, run_dir, resume=True, **{**settings, **change})


def test_a_drlim_run_keeps_its_training_log_and_trains_the_network_it_names(digits, tmp_path):
    row = run_method("drlim", digits, tmp_path, scores=("trustworthiness_5",), epochs=1.0,
                     batch_size=64, hidden=(8, 8), activation="relu")
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert log and {"step", "loss_similar", "loss_dissimilar"} <= set(log[-1])
    assert 0.0 <= row["trustworthiness_5"] <= 1.0 and row["transform_stability"] == 0.0
    fitted = fit_method("drlim", digits.x_test[:100], epochs=1.0, batch_size=64,
                        hidden=(8, 8), activation="relu")
    assert fitted.model.network_ == MLP(hidden=(8, 8), n_components=2, activation="relu")


def test_run_experiment_refuses_to_resume_other_settings_and_drops_a_stale_result(
        tmp_path, monkeypatch):
    from drlim.config import ExperimentConfig, TrainConfig

    curves = ExperimentConfig("curves", kind="loss-curves")
    drlim.runs.run_experiment(curves, tmp_path)
    other = dataclasses.replace(curves, train=TrainConfig(margin=2.0))
    with pytest.raises(ValueError, match=r"it was run with other settings \(margin 1.0 -> 2.0\)"):
        drlim.runs.run_experiment(other, tmp_path, resume=True)
    assert json.loads((tmp_path / "metrics.json").read_text())["margin"] == 1.0

    def no_data(config):
        raise OSError("no data")

    monkeypatch.setattr(drlim.runs, "experiment_data", no_data)
    with pytest.raises(OSError, match="no data"):
        drlim.runs.run_experiment(ExperimentConfig("x", dataset="mnist-4-9"), tmp_path)
    assert not (tmp_path / "metrics.json").exists()  # the old result does not look like this run's


def test_run_method_learns_from_the_labels_of_the_fit_subset(digits, tmp_path):
    row = run_method("drlim", digits, tmp_path, whole=False, labels=True,
                     scores=("knn_accuracy",), epochs=1.0)
    assert row["n_fit"] == len(digits.fit_subset) < len(digits.x_train)
    assert row["knn_accuracy"] > 0.5  # the labels of the right digits: chance is 0.1
