"""The comparison runner: its QUICK run writes a complete, truthful report; its parts are right."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from drlim import compare
from drlim.compare import QUICK, CompareConfig, load_data, markdown_report

TRANSDUCTIVE = {"spectral", "tsne"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    result = compare.main(quick=True, out=root / "figures", runs=root / "runs")
    return result, root


def _rows(result):
    return [(entry, row) for entry in result["datasets"] for row in entry["methods"]]


def test_quick_writes_every_file(quick_run):
    _, root = quick_run
    for name in ("comparison.md", "comparison.json", "comparison.png"):
        assert (root / "figures" / name).stat().st_size > 0
    assert (root / "figures" / "comparison.png").stat().st_size < 1_500_000
    assert (root / "runs" / "compare" / "results.json").is_file()
    assert not list((root / "figures").glob(".*"))  # no temporary files left behind


def test_table_has_a_row_per_method_and_data_set(quick_run):
    result, root = quick_run
    text = (root / "figures" / "comparison.md").read_text()
    expected = {
        "mnist-4-9": ["drlim", *compare.BASELINES],
        "mnist-10": ["drlim", "drlim-labels", *compare.BASELINES],
        "digits-8x8": ["drlim", *compare.BASELINES],
    }
    assert [e["name"] for e in result["datasets"]] == list(expected)
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    assert len(sections) == 3
    for section, (name, methods) in zip(sections, expected.items(), strict=True):
        assert f"`{name}`" in section.splitlines()[0]
        table = [line for line in section.splitlines() if line.startswith("| ")][1:]
        assert [line.split(" | ")[0][2:] for line in table] == [
            compare.METHOD_TITLES[m] for m in methods
        ]
    assert json.loads((root / "figures" / "comparison.json").read_text()) == result
    assert text.count("DrLIM ran as `DrLIM(epochs=1.0, batch_size=16)`, the estimator's "
                      "defaults otherwise.") == 3
    assert "the fastest of 3 calls" in text


def test_numbers_are_in_range_and_flags_right(quick_run):
    result, _ = quick_run
    for entry, row in _rows(result):
        for key in ("trustworthiness_5", "trustworthiness_10", "trustworthiness_20",
                    "continuity_10", "knn_accuracy", "coinciding"):
            assert 0.0 <= row[key] <= 1.0, (entry["name"], row["method"], key)
        assert row["fit_seconds"] > 0
        transductive = row["method"] in TRANSDUCTIVE
        assert row["out_of_sample"] is not transductive
        if transductive:
            assert row["transform_seconds_per_1000"] is None
        else:
            assert row["transform_seconds_per_1000"] > 0
        # the same scored test samples for every method; whole or capped training sets
        assert row["n_test"] == entry["n_test"] == min(entry["n_test_pool"], QUICK.max_test)
        whole = row["method"] in compare.SCALABLE
        assert row["n_fit"] == (entry["n_train"] if whole else entry["n_fit_subsample"])
    # digit labels are far above chance on the supervised map
    mnist10 = {row["method"]: row for row in result["datasets"][1]["methods"]}
    assert mnist10["drlim-labels"]["knn_accuracy"] > 0.3


def test_transductive_rows_are_marked_in_the_table(quick_run):
    _, root = quick_run
    for line in (root / "figures" / "comparison.md").read_text().splitlines():
        if line.startswith("| t-SNE") or line.startswith("| Spectral"):
            cells = line.strip("| ").split(" | ")
            assert cells[1] == "no" and "+ 60 test" in cells[2] and cells[-1] == "—"
        elif line.startswith("| PCA") or line.startswith("| DrLIM"):
            assert line.split(" | ")[1] == "yes"


def _reference_trustworthiness(X, Z, k):
    """Brute-force trustworthiness; a tie in input distance gets the best rank."""
    n = len(X)
    dx = np.linalg.norm(X[:, None] - X[None], axis=-1)
    dz = np.linalg.norm(Z[:, None] - Z[None], axis=-1)
    np.fill_diagonal(dz, np.inf)
    penalty = 0
    for i in range(n):
        others = np.delete(dx[i], i)
        for j in np.argsort(dz[i], kind="stable")[:k]:
            rank = 1 + np.sum(others < dx[i, j])
            penalty += max(0, rank - k)
    return 1 - 2 * penalty / (n * k * (2 * n - 3 * k - 1))


def test_scores_agree_with_independent_references(quick_run):
    """Recompute trustworthiness and 5-NN accuracy from the saved embeddings."""
    result, root = quick_run
    data = load_data("digits-8x8", QUICK)
    x_test = data.x_test.astype(np.float64)
    for row in result["datasets"][2]["methods"]:
        path = root / "runs" / "compare" / "digits-8x8" / f"{row['method']}.npz"
        with np.load(path) as saved:
            z_fit, y_fit = saved["z_fit"], saved["y_fit"]
            z_test, y_test = saved["z_test"], saved["y_test"]
        np.testing.assert_array_equal(y_test, data.y_test)
        np.testing.assert_array_equal(y_fit, data.y_train[data.fit_subset])
        for k in (5, 10, 20):
            reference = _reference_trustworthiness(x_test, z_test, k)
            assert row[f"trustworthiness_{k}"] == pytest.approx(reference, abs=1e-9)
        predicted = KNeighborsClassifier(n_neighbors=5).fit(z_fit, y_fit).predict(z_test)
        assert row["knn_accuracy"] == pytest.approx(np.mean(predicted == y_test))


def test_figure_has_a_panel_per_method_and_data_set(quick_run):
    _, root = quick_run
    fig = compare.comparison_figure(root / "runs" / "compare")
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 3 * len(compare.BASELINES) + 4  # DrLIM everywhere, labels once
    assert sum("(transd.)" in ax.get_title() for ax in titled) == 6


def test_load_data_is_deterministic_and_sized():
    config = dataclasses.replace(QUICK, max_fit=100, max_test=50)
    a, b = load_data("digits-8x8", config), load_data("digits-8x8", config)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.fit_subset, b.fit_subset)
    assert len(a.x_train) + a.n_test_pool == 1797 and a.n_test_pool == QUICK.n_test_digits
    assert a.x_test.shape == (50, 64) and a.x_train.dtype == np.float32
    assert a.fit_subset.shape == (100,) and np.all(np.diff(a.fit_subset) > 0)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    other = load_data("digits-8x8", dataclasses.replace(config, seed=1))
    assert not np.array_equal(a.x_test, other.x_test)

    mnist = load_data("mnist-10", config)
    assert mnist.x_train.shape == (QUICK.n_train_mnist10, 28, 28, 1)
    assert mnist.x_test.shape == (50, 28, 28, 1) and mnist.n_test_pool == 10_000
    assert mnist.x_test.dtype == np.float32 and mnist.x_test.max() <= 1.0
    assert set(np.unique(load_data("mnist-4-9", config).y_train)) == {4, 9}


def _fake_row(method, t5, transform):
    return {"method": method, "title": compare.METHOD_TITLES[method],
            "out_of_sample": method not in TRANSDUCTIVE, "n_fit": 1000, "n_test": 200,
            "trustworthiness_5": t5, "trustworthiness_10": 0.5, "trustworthiness_20": 0.5,
            "continuity_10": 0.5, "knn_accuracy": 0.5, "coinciding": 0.0, "fit_seconds": 1.0,
            "transform_seconds_per_1000": transform}


def test_report_bolds_the_best_and_checks_the_targets():
    rows = [_fake_row("drlim", 0.90, 0.02), _fake_row("pca", 0.80, 0.001),
            _fake_row("isomap", 0.85, 0.5), _fake_row("tsne", 0.95, None)]
    targets = compare._targets(rows)
    assert targets == {"drlim_best_t5_out_of_sample": True, "drlim_fastest_transform": False,
                       "drlim_fastest_nonlinear_transform": True,
                       "transductive_above_drlim_t5": ["tsne"]}
    result = {
        "config": dataclasses.asdict(CompareConfig()),
        "machine": {"cpu_count": 2, "platform": "x", "load_average_at_start": [0.5, 0.5, 0.5]},
        "seconds": 60.0,
        "datasets": [{"name": "digits-8x8", "title": "digits", "n_train": 1000,
                      "n_fit_subsample": 500, "n_test_pool": 300, "n_test": 200,
                      "drlim_params": {}, "methods": rows, "targets": targets}],
    }
    text = markdown_report(result)
    lines = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    assert "**0.950**" in lines["t-SNE"] and "**0.900**" not in lines["DrLIM (5-NN graph)"]
    assert "**0.500**" in lines["PCA"]  # ties are all bold
    assert lines["t-SNE"].endswith("| — |") and "1,000 + 200 test" in lines["t-SNE"]
    assert "subsample of 500" in text and "Transductive methods above it at T@5: t-SNE" in text


def test_data_set_settings_override_the_common_ones():
    config = CompareConfig(
        drlim_params=(("epochs", 20.0), ("learning_rate", 1e-2)),
        dataset_drlim_params=(("mnist-10", (("learning_rate", 1e-3),)),),
    )
    assert config.drlim_settings("mnist-10") == {"epochs": 20.0, "learning_rate": 1e-3}
    assert config.drlim_settings("digits-8x8") == {"epochs": 20.0, "learning_rate": 1e-2}
    assert CompareConfig().drlim_settings("mnist-4-9") == {}


@pytest.mark.parametrize("changes, name", [
    ({"datasets": ("mnist-4-9", "mnist")}, "datasets"),
    ({"datasets": ()}, "datasets"),
    ({"baselines": ("pca", "pca")}, "baselines"),
    ({"max_fit": 0}, "max_fit"),
    ({"seed": -1}, "seed"),
    ({"n_train_mnist10": 70_000}, "n_train_mnist10"),
    ({"n_test_digits": 1797}, "n_test_digits"),
    ({"max_test": 40}, "max_test"),
    ({"trust_ks": (0, 5)}, "trust_ks"),
    ({"timing_repeats": 0}, "timing_repeats"),
    ({"drlim_params": (("random_state", 3),)}, "drlim_params"),
    ({"drlim_params": (("epochz", 3),)}, "drlim_params"),
    ({"dataset_drlim_params": (("cifar", (("epochs", 3),)),)}, "dataset_drlim_params"),
    ({"dataset_drlim_params": (("mnist-10", (("seed", 3),)),)}, "dataset_drlim_params"),
])
def test_config_rejects_bad_values(changes, name):
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(CompareConfig(), **changes)


def test_bad_arguments_are_refused(tmp_path):
    data = load_data("digits-8x8", QUICK)
    with pytest.raises(ValueError, match="method"):
        compare.run_method("umap", data, QUICK)
    with pytest.raises(ValueError, match="name"):
        load_data("mnist-3-8", QUICK)
    with pytest.raises(ValueError, match="run_dir"):
        compare.comparison_figure(Path(tmp_path))
    with pytest.raises(ValueError, match="config"):
        compare.run_comparison({"datasets": ()}, tmp_path)
