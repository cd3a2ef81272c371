"""The comparison runner: its QUICK run writes a complete, truthful report; its parts are right."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from drlim import compare, report
from drlim.cli import main as cli_main
from drlim.compare import QUICK, CompareConfig
from drlim.compare import comparison_data as load_data
from drlim.methods import METHODS
from drlim.report import markdown_report
from drlim.runs import rescored_metrics, run_method

TRANSDUCTIVE = {"spectral", "tsne"}
LEARNED_FUNCTIONS = {"drlim", "drlim-labels", "pca", "isomap", "lle", "parametric-umap"}


# A whole quick comparison (85 s on 2 cores): the tests that read it run in make test-slow.
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    cli_main(["compare", "--quick", "--out", str(root / "figures"), "--runs", str(root / "runs")])
    result = json.loads((root / "runs" / "compare" / "results.json").read_text())
    return result, root


def _rows(result):
    return [(entry, row) for entry in result["datasets"] for row in entry["methods"]]


@pytest.mark.slow
def test_quick_writes_every_file(quick_run):
    _, root = quick_run
    for name in ("comparison.md", "comparison.json", "comparison.png"):
        assert (root / "figures" / name).stat().st_size > 0
    assert (root / "figures" / "comparison.png").stat().st_size < 1_500_000
    assert (root / "runs" / "compare" / "results.json").is_file()
    assert not list((root / "figures").glob(".*"))  # no temporary files left behind


@pytest.mark.slow
def test_the_all_digits_map_is_an_interactive_page_of_the_best_drlim_map(quick_run):
    result, root = quick_run
    page = (root / "figures" / "comparison_mnist-10_interactive.html").read_text()
    entry = next(e for e in result["datasets"] if e["name"] == "mnist-10")
    unsupervised = [r for r in entry["methods"]
                    if r["method"].startswith("drlim") and r["method"] != "drlim-labels"]
    best = max(unsupervised, key=lambda r: r["knn_accuracy"])
    assert best["title"] in page
    labels_title = next(r["title"] for r in entry["methods"] if r["method"] == "drlim-labels")
    assert labels_title not in page  # the map learned from the labels that score it
    assert page.count("iVBORw0KGgo") >= entry["n_test"]  # one base64 PNG thumbnail per point


@pytest.mark.slow
def test_table_has_a_row_per_method_and_data_set(quick_run):
    result, root = quick_run
    text = (root / "figures" / "comparison.md").read_text()
    expected = {
        "mnist-4-9": ["drlim", *compare.BASELINES, *QUICK.peers],
        "mnist-10": ["drlim", "drlim-labels", *compare.BASELINES, *QUICK.peers],
        "digits-8x8": ["drlim", *compare.BASELINES, *QUICK.peers],
    }
    assert [e["name"] for e in result["datasets"]] == list(expected)
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    assert len(sections) == 3
    for section, (name, methods) in zip(sections, expected.items(), strict=True):
        assert f"`{name}`" in section.splitlines()[0]
        table = [line for line in section.splitlines() if line.startswith("| ")][1:]
        assert [line.split(" | ")[0][2:] for line in table] == [
            compare.method_title(m, QUICK) for m in methods
        ]
    assert json.loads((root / "figures" / "comparison.json").read_text()) == result
    assert text.count("DrLIM ran as `DrLIM(epochs=1.0, batch_size=8)`, the estimator's "
                      "defaults otherwise.") == 3
    assert "the fastest of 3 calls" in text
    assert "3 of them one at a time" in text
    assert text.count("Published, for context") == 1  # under the MNIST-10 table
    for entry in result["datasets"]:
        for peer in QUICK.peers:
            assert f"{compare.METHOD_TITLES[peer]}: `{entry['peer_calls'][peer]}`." in text


@pytest.mark.slow
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
            assert row["transform_stability"] is None
        else:
            assert row["transform_seconds_per_1000"] > 0
            assert row["transform_stability"] >= 0.0
        if row["method"] in LEARNED_FUNCTIONS:  # a sample's place never depends on the others
            assert row["transform_stability"] < 1e-4, (entry["name"], row["method"])
        # the same scored test samples for every method; whole or capped training sets
        assert row["n_test"] == entry["n_test"] == min(entry["n_test_pool"], QUICK.max_test)
        whole = row["method"].startswith("drlim") or METHODS[row["method"]].scalable
        assert row["n_fit"] == (entry["n_train"] if whole else entry["n_fit_subsample"])
    # digit labels are far above chance on the supervised map
    mnist10 = {row["method"]: row for row in result["datasets"][1]["methods"]}
    assert mnist10["drlim-labels"]["knn_accuracy"] > 0.3


@pytest.mark.slow
def test_transductive_rows_are_marked_in_the_table(quick_run):
    _, root = quick_run
    for line in (root / "figures" / "comparison.md").read_text().splitlines():
        if line.startswith("| t-SNE") or line.startswith("| Spectral"):
            cells = line.strip("| ").split(" | ")
            assert cells[1] == "no" and "+ 60 test" in cells[2] and cells[-1] == "—"
        elif line.startswith("| PCA") or line.startswith("| DrLIM"):
            assert line.split(" | ")[1] == "yes"


def _reference_trustworthiness(X, Z, k):
    """Brute-force trustworthiness; samples tied in input distance share the ranks they span,
    each rank equally likely (the mean penalty over them)."""
    n = len(X)
    dx = np.linalg.norm(X[:, None] - X[None], axis=-1)
    dz = np.linalg.norm(Z[:, None] - Z[None], axis=-1)
    np.fill_diagonal(dz, np.inf)
    penalty = 0
    for i in range(n):
        others = np.delete(dx[i], i)
        for j in np.argsort(dz[i], kind="stable")[:k]:
            first = 1 + np.sum(others < dx[i, j])
            ranks = np.arange(first, first + np.sum(others == dx[i, j]))
            penalty += np.mean(np.maximum(0, ranks - k))
    return 1 - 2 * penalty / (n * k * (2 * n - 3 * k - 1))


@pytest.mark.slow
def test_scores_agree_with_independent_references(quick_run):
    """Recompute trustworthiness and 5-NN accuracy from the saved embeddings."""
    result, root = quick_run
    data = load_data("digits-8x8", QUICK)
    x_test = data.x_test.astype(np.float64)
    for row in result["datasets"][2]["methods"]:
        path = root / "runs" / "compare" / "digits-8x8" / row["method"] / "embeddings.npz"
        with np.load(path) as saved:
            z_fit, y_fit = saved["z_fit"], saved["label_fit"]
            z_test, y_test = saved["z_test"], saved["label_test"]
        np.testing.assert_array_equal(y_test, data.factors_test["label"])
        np.testing.assert_array_equal(y_fit, data.factors_train["label"][data.fit_subset])
        for k in (5, 10, 20):
            reference = _reference_trustworthiness(x_test, z_test, k)
            assert row[f"trustworthiness_{k}"] == pytest.approx(reference, abs=1e-9)
        predicted = KNeighborsClassifier(n_neighbors=5).fit(z_fit, y_fit).predict(z_test)
        assert row["knn_accuracy"] == pytest.approx(np.mean(predicted == y_test))


@pytest.mark.slow
def test_figure_has_a_panel_per_method_and_data_set(quick_run):
    _, root = quick_run
    fig = report.comparison_figure(root / "runs" / "compare")
    titled = [ax for ax in fig.axes if ax.get_title()]
    # DrLIM everywhere, labels once
    assert len(titled) == 3 * (len(compare.BASELINES) + len(QUICK.peers)) + 4
    assert sum("(transd.)" in ax.get_title() for ax in titled) == 6
    # the columns follow the table: DrLIM (labels) second although MNIST 4/9 lacks it
    columns = 2 + len(compare.BASELINES) + len(QUICK.peers)
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes]
    assert titles[:2] == ["DrLIM (5-NN graph)", ""]
    assert titles[columns:columns + 3] == ["DrLIM (5-NN graph)", "DrLIM (labels)", "PCA"]


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
    assert set(np.unique(load_data("mnist-4-9", config).factors_train["label"])) == {4, 9}


def _fake_row(method, t5, transform, knn=0.5, stability=0.0, n_fit=1000):
    return {"method": method, "title": compare.method_title(method, compare.CompareConfig()),
            "out_of_sample": method not in TRANSDUCTIVE, "n_fit": n_fit, "n_test": 200,
            "trustworthiness_5": t5, "trustworthiness_10": 0.5, "trustworthiness_20": 0.5,
            "continuity_10": 0.5, "knn_accuracy": knn, "coinciding": 0.0, "fit_seconds": 1.0,
            "transform_seconds_per_1000": transform,
            "transform_stability": None if method in TRANSDUCTIVE else stability}


def test_report_bolds_the_best_and_states_where_drlim_stands():
    rows = [_fake_row("drlim", 0.90, 0.02, knn=0.7), _fake_row("drlim-labels", 0.95, 0.02, 0.99),
            _fake_row("pca", 0.80, 0.001), _fake_row("isomap", 0.85, 0.5, n_fit=500),
            _fake_row("tsne", 0.95, None, n_fit=500), _fake_row("umap", 0.93, 0.3, 0.9, 1.46),
            _fake_row("pacmap", 0.91, 0.08, knn=0.95, stability=1e-4)]
    targets = report.standings(rows)
    assert targets == {"n_ranked": 5, "best_t5": ["umap"], "best_knn": ["pacmap"],
                       "drlim_rank_t5": {"drlim": 3}, "drlim_rank_knn": {"drlim": 3},
                       "fastest_transform": ["pca"], "fastest_nonlinear_transform": ["drlim"],
                       "unstable": {"umap": 1.46}}
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
    assert "**0.950**" in lines["DrLIM (labels)"]  # ties are all bold
    assert lines["t-SNE"].endswith("| — | — |") and "500 + 200 test" in lines["t-SNE"]
    assert lines["UMAP"].endswith("| 0.3000 | 1.460 |")
    assert ("DrLIM (5-NN graph), DrLIM (labels), PCA, UMAP, PaCMAP learn from the whole "
            "training set; Isomap, t-SNE from a seeded subsample of 500") in text
    assert ("the highest T@5 is UMAP (0.930) and the best 5-NN accuracy PaCMAP (0.950). "
            "DrLIM (5-NN graph) ranks 3rd of 5 at T@5 (0.900, 0.030 below the best) and 3rd "
            "at 5-NN accuracy (0.700, 0.250 below).") in text
    assert "Fastest transform: PCA, 0.0010 s / 1,000; among the nonlinear methods: " \
           "DrLIM (5-NN graph), 0.0200." in text
    assert "test samples move: UMAP up to 1.46× the map's spread" in text
    assert "Published" not in text  # only under the MNIST-10 table
    # no lead is claimed where the table shows none
    assert "DrLIM (5-NN graph) has the highest" not in text


def test_ties_share_the_lead_and_the_rank():
    rows = [_fake_row("drlim", 0.90, 0.02, knn=0.9), _fake_row("umap", 0.90, 0.3, knn=0.9),
            _fake_row("pca", 0.80, 0.001)]
    targets = report.standings(rows)
    assert targets["best_t5"] == ["drlim", "umap"] and targets["drlim_rank_t5"] == {"drlim": 1}
    assert targets["unstable"] == {}
    assert report.standings([_fake_row("tsne", 0.9, None)]) == {}


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
    ({"peers": ("umap", "tsne")}, "peers"),
    ({"peer_params": (("umap", (("random_state", 1),)),)}, "peer_params"),
    ({"peer_params": (("densmap", (("n_epochs", 1),)),)}, "peer_params"),
    ({"drlim_variants": (("umap", (("epochs", 2.0),)),)}, "drlim_variants"),
    ({"drlim_variants": (("drlim-labels", (("epochs", 2.0),)),)}, "drlim_variants"),
    ({"drlim_variants": (("drlim-a", ()), ("drlim-a", ()))}, "drlim_variants"),
    ({"drlim_variants": (("drlim-a", (("seed", 2),)),)}, "drlim_variants"),
    ({"dataset_peer_params": (("mnist-10", "tsne", (("n_epochs", 1),)),)},
     "dataset_peer_params"),
    ({"dataset_peer_params": (("mnist-10", "umap", (("random_state", 1),)),)},
     "dataset_peer_params"),
    ({"stability_singles": 3000}, "stability_singles"),
    ({"stability_singles": -1}, "stability_singles"),
    ({"drlim_params": (("epochz", 3),)}, "drlim_params"),
    ({"dataset_drlim_params": (("cifar", (("epochs", 3),)),)}, "dataset_drlim_params"),
    ({"dataset_drlim_params": (("mnist-10", (("seed", 3),)),)}, "dataset_drlim_params"),
    ({"drlim_variants": (("drlim-x", (("loss", "umap"),)),),
      "dataset_variant_params": (("mnist-10", "drlim-y", (("epochs", 3.0),)),)},
     "dataset_variant_params"),
    ({"max_fit": True}, "max_fit"),
    ({"n_neighbors": 5.0}, "n_neighbors"),
    ({"trust_ks": (True, 5)}, "trust_ks"),
    ({"trust_ks": ()}, "trust_ks"),
    ({"knn_k": 7000}, "knn_k"),
    ({"scores": ("trustworthiness_5", "trustworthines_10")}, "scores"),
    ({"scores": ("continuity_0",)}, "scores"),
    ({"peer_params": (("umap",),)}, "peer_params"),
    ({"drlim_params": ("epochs", 3)}, "drlim_params"),
])
def test_config_rejects_bad_values(changes, name):
    """One message style: the field (with its entry or key), what it must be, what it got."""
    with pytest.raises(ValueError, match=rf"^{name}(\[[^]]*\])?( \w+)? must .+, got "):
        dataclasses.replace(CompareConfig(), **changes)


@pytest.mark.slow
def test_rescore_recomputes_the_scores_from_the_saved_embeddings(quick_run, tmp_path, capsys):
    """--rescore fits nothing: a metric changed after the run reaches the report."""
    result, root = quick_run
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs" / "compare", runs / "compare")
    metrics_json = runs / "compare" / "digits-8x8" / "pca" / "metrics.json"
    stale = json.loads(metrics_json.read_text())
    metrics_json.write_text(json.dumps({**stale, "trustworthiness_5": 0.5}))
    fitted = {p: p.stat().st_mtime_ns for p in (runs / "compare").rglob("embeddings.npz")}
    cli_main(["compare", "--rescore", "--runs", str(runs), "--out", str(tmp_path / "figures")])
    again = json.loads((runs / "compare" / "results.json").read_text())
    assert again["datasets"] == result["datasets"]
    assert json.loads(metrics_json.read_text()) == stale
    assert {p: p.stat().st_mtime_ns for p in fitted} == fitted
    text = (tmp_path / "figures" / "comparison.md").read_text()
    assert f"recomputed from its saved embeddings on {again['rescored']}" in text
    other = load_data("digits-8x8", dataclasses.replace(QUICK, seed=1))
    with pytest.raises(ValueError, match="fitted on the data given, got other samples"):
        rescored_metrics(other, metrics_json.parent, scores=compare.scores(QUICK))
    config_json = metrics_json.parent / "config.json"
    saved = json.loads(config_json.read_text())
    saved["samples"]["sha256"] = "0" * 16  # same labels, other pixels
    config_json.write_text(json.dumps(saved))
    same = load_data("digits-8x8", QUICK)
    with pytest.raises(ValueError, match="got other samples \\(their digest differs\\)"):
        rescored_metrics(same, metrics_json.parent, scores=compare.scores(QUICK))
    assert json.loads(metrics_json.read_text()) == stale
    for extra in (["--runs", str(tmp_path / "none")], ["--runs", str(runs), "--quick"]):
        with pytest.raises(SystemExit) as stop:
            cli_main(["compare", "--rescore", *extra])
        assert stop.value.code == 2
    assert "results.json" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_fits_only_the_rows_an_earlier_run_did_not_finish(quick_run, tmp_path, capsys):
    """A comparison stopped part way goes on: finished rows are read back, and the report
    says how many, measured where and when."""
    result, root = quick_run
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs" / "compare", runs / "compare")
    (runs / "compare" / "digits-8x8" / "pca" / "metrics.json").unlink()  # stopped there
    fitted = {p: p.stat().st_mtime_ns for p in (runs / "compare").rglob("embeddings.npz")}
    cli_main(["compare", "--quick", "--resume", "--runs", str(runs),
              "--out", str(tmp_path / "figures")])
    again = json.loads((runs / "compare" / "results.json").read_text())
    changed = [p for p, mtime in fitted.items() if p.stat().st_mtime_ns != mtime]
    assert changed == [runs / "compare" / "digits-8x8" / "pca" / "embeddings.npz"]
    rows = [row for _, row in _rows(again)]
    assert [row for _, row in _rows(result) if row["method"] != "pca"] == [
        row for row in rows if row["method"] != "pca"]
    text = (tmp_path / "figures" / "comparison.md").read_text()
    cpu = result["machine"]["cpu"]
    assert (f"fitted 1 of the {len(rows)} rows; {len(rows) - 1} were read back from earlier "
            "runs") in text
    assert f"{len(rows) - 1} on {cpu}, finished " in text
    with pytest.raises(SystemExit) as stop:
        cli_main(["compare", "--rescore", "--resume", "--runs", str(runs)])
    assert stop.value.code == 2 and "--resume" in capsys.readouterr().err


def test_bad_arguments_are_refused(tmp_path):
    data = load_data("digits-8x8", QUICK)
    with pytest.raises(ValueError, match=r"name must be one of \('drlim', 'pca'"):
        run_method("mds", data, tmp_path / "mds", scores=compare.scores(QUICK))
    with pytest.raises(ValueError, match="name"):
        load_data("mnist-3-8", QUICK)
    with pytest.raises(ValueError, match="must be a finished run directory holding results.json"):
        report.comparison_figure(Path(tmp_path))
    with pytest.raises(ValueError, match="config"):
        compare.run_comparison({"datasets": ()}, tmp_path)


def test_ks_beyond_a_data_set_s_scored_samples_are_refused_before_any_fit(tmp_path,
                                                                          monkeypatch):
    """max_test bounds the scored test samples; a smaller set (10 test 4s and 9s here) had
    failed in trustworthiness only after DrLIM was fitted."""
    import drlim.runs

    monkeypatch.setattr(drlim.runs, "run_method", pytest.fail)
    small = dataclasses.replace(QUICK, datasets=("mnist-4-9",), n_test_per_digit_4_9=5)
    with pytest.raises(ValueError, match=r"^mnist-4-9: its 10 scored test samples must exceed "
                                         r"twice the largest k of trust_ks and continuity_k"):
        compare.run_comparison(small, tmp_path)


def test_a_drlim_variant_is_a_config_change(tmp_path):
    """A further DrLIM row needs only a (name, settings) pair in the config."""
    config = dataclasses.replace(
        QUICK, datasets=("digits-8x8",), baselines=("pca",), peers=(),
        drlim_variants=(("drlim-2ep", (("epochs", 2.0),)),))
    result = compare.run_comparison(config, tmp_path, verbose=False)
    entry = result["datasets"][0]
    assert [row["method"] for row in entry["methods"]] == ["drlim", "drlim-2ep", "pca"]
    variant = entry["methods"][1]
    assert variant["title"] == "DrLIM (epochs=2.0)" and variant["n_fit"] == entry["n_train"]
    assert variant["transform_stability"] < 1e-4
    assert entry["drlim_variant_params"] == {"drlim-2ep": {"epochs": 2.0, "batch_size": 8}}
    assert set(entry["targets"]["drlim_rank_t5"]) == {"drlim", "drlim-2ep"}
    with np.load(tmp_path / "digits-8x8" / "drlim" / "embeddings.npz") as one, \
            np.load(tmp_path / "digits-8x8" / "drlim-2ep" / "embeddings.npz") as two:
        assert not np.allclose(one["z_test"], two["z_test"])  # trained twice as long
    text = markdown_report(result)
    assert ("DrLIM (epochs=2.0) ran as `DrLIM(epochs=2.0, batch_size=8)`, the estimator's "
            "defaults otherwise.") in text
    assert "DrLIM (epochs=2.0) ranks" in text


def test_missing_peers_are_named_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "missing_packages", lambda peer: ["umap-learn"])
    config = dataclasses.replace(QUICK, datasets=("digits-8x8",), peers=("umap",))
    with pytest.raises(ValueError, match=r"config.peers must be installed .* umap-learn missing"):
        compare.run_comparison(config, tmp_path)
    assert not any(tmp_path.iterdir())


def test_variant_settings_apply_per_data_set_over_the_variant_and_common_ones():
    config = CompareConfig(
        drlim_params=(("epochs", 20.0),),
        drlim_variants=(("drlim-nce", (("loss", "infonce"), ("epochs", None))),),
        dataset_variant_params=(("mnist-10", "drlim-nce", (("epochs", 12.0),)),),
    )
    assert config.drlim_settings("mnist-10") == {"epochs": 20.0}
    assert config.drlim_settings("mnist-4-9", "drlim-nce") == {"epochs": None, "loss": "infonce"}
    assert config.drlim_settings("mnist-10", "drlim-nce") == {"epochs": 12.0, "loss": "infonce"}


def test_a_variant_s_title_names_the_settings_it_has_on_each_data_set():
    config = CompareConfig(
        drlim_variants=(("drlim-nce", (("loss", "infonce"), ("n_neighbors", 15))),),
        dataset_variant_params=(
            ("mnist-4-9", "drlim-nce", (("n_neighbors", None), ("perplexity", 30.0))),),
    )
    assert compare.method_title("drlim-nce", config) == "DrLIM (loss='infonce', n_neighbors=15)"
    assert (compare.method_title("drlim-nce", config, "mnist-10")
            == "DrLIM (loss='infonce', n_neighbors=15)")
    assert (compare.method_title("drlim-nce", config, "mnist-4-9")
            == "DrLIM (loss='infonce', perplexity=30.0)")
