"""The `drlim` command and the experiment runner, end to end at --quick sizes."""

import fcntl
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import drlim.runs
import drlim.train
from drlim.cli import (
    UsageError,
    build_parser,
    default_figures_dir,
    experiment_config,
    load_experiments,
    main,
    run_summary,
)
from drlim.config import (
    ExperimentConfig,
    TrainConfig,
    config_to_dict,
    overridable_fields,
    override,
)
from drlim.report import check_targets

ROOT = Path(__file__).resolve().parents[1]
QUICK_RUN = ["--quick", "--steps", "20", "--baselines", "", "--log_every", "10"]

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


def test_list_names_every_experiment_and_the_comparison(capsys):
    main(["list"])
    lines = capsys.readouterr().out.splitlines()
    sets = {line.split()[0]: line for line in lines if line.startswith("compare")}
    assert {line.split()[0] for line in lines} - set(sets) == PAPER_EXPERIMENTS
    assert PAPER_EXPERIMENTS == set(load_experiments())
    assert set(sets) == {"compare", "compare-losses", "compare-shift"}
    assert sets["compare-shift"].endswith("(a set of runs: drlim compare --set shift)")


def test_every_experiment_file_starts_with_its_command():
    for name, module in load_experiments().items():
        assert f"Run: drlim run {name}" in module.__doc__


def test_overrides_reach_nested_training_fields():
    config = experiment_config("mnist-4-9", quick=True, steps="7", n_neighbors="3", seed=5)
    assert (config.train.steps, config.n_neighbors, config.train.seed) == (7, 3, 5)
    assert override(config, {"shifts": "-2,2"}).shifts == (-2, 2)
    with pytest.raises(ValueError, match="config field must be one of .*, got 'stepz'"):
        override(config, {"stepz": 3})
    with pytest.raises(ValueError, match="dataset"):
        ExperimentConfig("x", dataset="cifar")


def test_n_test_originals_is_a_count_with_0_for_all():
    """A negative count would be used as a slice, dropping digits from the end."""
    assert ExperimentConfig("x", n_test_originals=0).n_test_originals == 0
    for bad, message in [(-1900, "n_test_originals must be >= 0, got -1900"),
                         (1.5, "n_test_originals must be an int >= 0, got 1.5")]:
        with pytest.raises(ValueError, match=f"^{message}$"):
            ExperimentConfig("x", dataset="mnist-shift", n_test_originals=bad)


def test_overrides_take_the_field_s_declared_type_and_refuse_empty_items():
    config = ExperimentConfig("x", train=TrainConfig(margin=1))  # a file may write an int
    assert override(config, {"margin": "0.5"}).train.margin == 0.5
    assert override(config, {"hidden": "", "baselines": "isomap"}).hidden == ()
    with pytest.raises(ValueError, match="^shifts must be a comma-separated list of ints with "
                                         "no empty item, got '-6,,6'$"):
        override(config, {"shifts": "-6,,6"})


@pytest.mark.parametrize("changes, message", [
    ({"dataset": "mnist-4-9", "image_size": 28},
     "image_size must be 32 for 'mnist-4-9' (only norb-airplane is drawn at other sizes), got 28"),
    ({"dataset": "mnist-4-9", "graph": "grid"},
     "graph 'grid' needs dataset 'norb-airplane' (its factors), got dataset 'mnist-4-9'"),
    ({"dataset": "norb-airplane", "graph": "orbit"},
     "graph 'orbit' needs dataset 'mnist-shift' (its factors), got dataset 'norb-airplane'"),
    ({"activation": "sigmoid"}, "activation must be one of"),
    ({"n_neighbors": 0}, "n_neighbors must be >= 1, got 0"),
    ({"n_components": 0}, "n_components must be >= 1, got 0"),
])
def test_experiment_settings_that_cannot_run_are_refused_before_any_work(changes, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        ExperimentConfig("x", **changes)


def test_the_config_s_activation_names_are_the_models():
    from drlim.config import ACTIVATION_NAMES
    from drlim.models import ACTIVATIONS

    assert ACTIVATION_NAMES == tuple(sorted(ACTIVATIONS))


def test_an_unknown_baseline_is_refused_before_the_data_are_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(drlim.runs, "experiment_data", pytest.fail)
    with pytest.raises(ValueError, match="^baselines must be one of .*, got 'isomapp'$"):
        drlim.runs.run_experiment(ExperimentConfig("x", dataset="mnist-4-9",
                                                   baselines=("isomapp",)), tmp_path)


def test_the_list_example_of_run_help_parses(capsys):
    """argparse takes a separate value starting with '-' for an option, so the example joins
    it with '=': it must parse as shown and give the list it says."""
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    example = re.search(r"comma-separated.*?: (--shifts[= ]\S+)", text).group(1)
    args = build_parser().parse_args(["run", "mnist-shift-nn", *example.split()])
    assert experiment_config("mnist-shift-nn", shifts=args.shifts).shifts == (-6, 6)


def test_targets_are_checked_against_values_and_other_metrics():
    result = {"a": 0.9, "b": {"a": 0.95}, "c": 0.2}
    checked = check_targets(result, [["a", ">=", 0.85], ["a", ">=", "b.a"], ["c", "<=", 0.1]])
    assert [t["met"] for t in checked] == [True, False, False]
    assert checked[1]["bound"] == 0.95


def test_run_writes_its_directory(tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", "mnist-4-9", "--quick", "--out", str(out), "--steps", "20",
          "--baselines", "", "--log_every", "10"])
    summary = capsys.readouterr().out
    assert summary.startswith("mnist-4-9: trustworthiness_5 ") and f"wrote {out} in" in summary
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


@pytest.mark.slow
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


def test_reproduce_only_leaves_the_readme_table_and_refuses_unknown_names(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(ROOT.joinpath("README.md").read_text())
    before = readme.read_text()
    common = ["--out", str(tmp_path / "figures"), "--runs", str(tmp_path / "runs"),
              "--readme", str(readme)]
    err = _fails_with(["reproduce", "--only", "mnist-4-9x", *common], capsys)
    assert "argument --only: must name experiments of loss-curves, " in err
    assert err.endswith("norb-lle, got mnist-4-9x")
    main(["reproduce", "--only", "loss-curves", *common])
    assert (tmp_path / "figures" / "results.md").exists()
    assert readme.read_text() == before


def test_compare_config_comes_from_the_experiment_file(tmp_path):
    from drlim import compare
    from drlim.cli import compare_config

    config = compare_config()
    assert isinstance(config, compare.CompareConfig)
    assert set(config.datasets) == {"mnist-4-9", "mnist-10", "digits-8x8"}
    assert compare_config(quick=True) == compare.QUICK
    assert compare_config(name="shift").datasets == ("mnist-shift",)
    (tmp_path / "compare.py").write_text(
        "from drlim.compare import CompareConfig\n"
        "CONFIG = CompareConfig(max_test=100)\n"
        "QUICK = CompareConfig(max_test=50)\n"
    )
    assert compare_config(directory=tmp_path).max_test == 100
    assert compare_config(quick=True, directory=tmp_path).max_test == 50
    (tmp_path / "compare.py").write_text("CONFIG = {'max_test': 100}\n")
    with pytest.raises(ValueError, match="must define CONFIG = CompareConfig"):
        compare_config(directory=tmp_path)
    with pytest.raises(UsageError, match=r"^argument --set: must name a comparison set of .*"
                                         r"\(none\), got no compare_typo.py$"):
        compare_config(directory=tmp_path / "nowhere", name="typo")


def test_an_unknown_comparison_set_is_a_usage_error(capsys):
    err = _fails_with(["compare", "--set", "typo", "--quick"], capsys)
    assert "argument --set: must name a comparison set of " in err
    assert "(losses, shift), got no compare_typo.py" in err


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def test_help_and_list_import_no_jax():
    """`drlim --help` and `drlim list` must stay fast: no JAX, Flax or scikit-learn."""
    heavy = "print(sorted(m for m in ('jax', 'flax', 'sklearn') if m in sys.modules))"
    assert _python(f"import sys, drlim.cli; {heavy}") == "[]"
    listed = _python(f"import sys; from drlim.cli import main; main(['list']); {heavy}")
    assert listed.splitlines()[-1] == "[]" and "mnist-4-9" in listed


def test_run_help_lists_every_field_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name, default in overridable_fields(ExperimentConfig("x")).items():
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        assert f"--{name.replace('_', '-')}" in text
        assert f"(default {shown or 'empty'})" in text


def _fails_with(args, capsys, status=2):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == status
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error: " in line]
    assert len(errors) == 1 and "Traceback" not in err  # stage messages may precede it
    return errors[0]


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["--steps", "abc"], "--steps"), (["--steps", "-5"], "--steps"),
     (["--margin", "inf"], "--margin"), (["--seed", str(2**32)], "--seed"),
     (["--foo", "1"], "--foo"), (["--shifts", "a,b"], "--shifts"),
     (["--n_test_originals", "-1900"], "--n_test_originals")],
)
def test_command_line_mistakes_are_one_line_and_status_2(tmp_path, capsys, extra, named):
    out = tmp_path / "run"
    err = _fails_with(["run", "mnist-4-9", "--out", str(out), *extra], capsys)
    assert named in err
    assert not out.exists()


def test_out_that_is_a_file_or_unwritable_is_refused(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "which is a file" in _fails_with(["run", "loss-curves", "--out", str(a_file)], capsys)
    err = _fails_with(["run", "loss-curves", "--out", str(a_file / "run")], capsys)
    assert "argument --out: must be a directory drlim can write to" in err
    assert a_file.read_text() == "x"


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(UsageError, match="argument --steps"):
        main(["run", "mnist-4-9", "--out", str(tmp_path / "r"), "--steps", "abc", "--debug"])


def _fake_run(calls):
    def run_experiment(config, out, *, progress=None, resume=False):
        calls.append(resume)
        (out / "config.json").write_text(json.dumps(config_to_dict(config)))
        (out / "metrics.json").write_text("{}")
        return {"trustworthiness_5": 0.9, "seconds": 0.1}

    return run_experiment


def test_a_failed_run_leaves_no_directory_behind(tmp_path, capsys, monkeypatch):
    def half_then_crash(config, out, **kwargs):
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(drlim.runs, "run_experiment", half_then_crash)
    out = tmp_path / "new"
    err = _fails_with(["run", "loss-curves", "--out", str(out)], capsys, status=1)
    assert "disk on fire" in err and not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    _fails_with(["run", "loss-curves", "--out", str(kept)], capsys, status=1)
    assert kept.is_dir() and [p.name for p in kept.iterdir()] == []


def test_a_run_directory_belongs_to_one_run(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(drlim.runs, "run_experiment", _fake_run(calls))
    out = tmp_path / "run"
    main(["run", "loss-curves", "--out", str(out)])
    assert "loss-curves: trustworthiness_5 0.900" in capsys.readouterr().out
    err = _fails_with(["run", "loss-curves", "--out", str(out)], capsys)
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    (out / "stale.txt").write_text("old")
    main(["run", "loss-curves", "--out", str(out), "--overwrite"])
    assert not (out / "stale.txt").exists() and calls == [False, False]
    main(["run", "loss-curves", "--out", str(out), "--resume"])
    assert calls[-1] is True
    err = _fails_with(["run", "loss-curves", "--out", str(out), "--resume", "--margin", "2"],
                      capsys)
    assert "other settings (margin 1.0 -> 2.0)" in err
    # another run holds the lock: a second one stops at once
    with open(out / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        err = _fails_with(["run", "loss-curves", "--out", str(out), "--overwrite"], capsys)
    assert "in use by another drlim run" in err and (out / "config.json").exists()


def test_resume_continues_an_interrupted_run_to_the_same_result(tmp_path, monkeypatch):
    args = ["run", "mnist-4-9", *QUICK_RUN, "--checkpoint_every", "10"]
    main([*args, "--out", str(tmp_path / "whole")])
    original = drlim.train.save_checkpoint

    def save_then_crash(path, state):
        original(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(drlim.train, "save_checkpoint", save_then_crash)
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "cut")])
    assert exit_info.value.code == 130
    monkeypatch.setattr(drlim.train, "save_checkpoint", original)
    main([*args, "--out", str(tmp_path / "cut"), "--resume"])
    whole, cut = (np.load(tmp_path / name / "embeddings.npz") for name in ("whole", "cut"))
    np.testing.assert_array_equal(whole["z_test"], cut["z_test"])
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "metrics.jsonl").open()]
    assert steps == [10, 20]


def test_run_summary_says_whether_each_target_is_met():
    config = ExperimentConfig("x", targets=(("a", ">=", 0.5), ("a", ">=", "b.a"),
                                            ("a", "<=", "c.a")))
    line = run_summary(config, {"a": 0.6, "b": {"a": 0.7}, "seconds": 1.0}, Path("r"), 2.0)
    assert line == ("x: a 0.600; targets met 1/3 (a >= 0.5: met; a >= b 0.700: NOT met; "
                    "a <= c.a: not measured in this run); wrote r in 2.0 s")


def _fake_run_dir(run: Path, metrics_lines: list[str]) -> None:
    config = experiment_config("mnist-4-9", quick=True)
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config_to_dict(config)))
    (run / "metrics.json").write_text(json.dumps({"trustworthiness_5": 0.8}))
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in metrics_lines))
    rng = np.random.default_rng(0)
    np.savez(run / "embeddings.npz", z_test=rng.normal(size=(20, 2)),
             label_test=np.repeat([4, 9], 10), images_test=np.zeros((20, 32, 32), np.uint8))


def test_figures_name_a_corrupt_line_and_write_nothing(tmp_path, capsys):
    row = json.dumps({"step": 10, "loss": 0.1, "loss_similar": 0.1, "loss_dissimilar": 0.1,
                      "inside_margin": 0.5})
    run = tmp_path / "run"
    _fake_run_dir(run, [row, '{"step": 20, "lo', row])
    out = tmp_path / "figs"
    err = _fails_with(["figures", str(run), "--out", str(out)], capsys, status=1)
    assert f"{run / 'metrics.jsonl'}: line 2 is not JSON" in err
    assert not out.exists()


def test_figures_default_output_is_beside_the_runs_and_printed(tmp_path, capsys, monkeypatch):
    row = json.dumps({"step": 10, "loss": 0.1, "loss_similar": 0.1, "loss_dissimilar": 0.1,
                      "inside_margin": 0.5})
    run = tmp_path / "run"
    _fake_run_dir(run, [row])
    monkeypatch.chdir(tmp_path)
    main(["figures", "run"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"writing figures to {run.resolve() / 'figures'}"
    assert (run / "figures" / "fig4_mnist_4_9.png").exists()
    assert not (tmp_path / "figures").exists()
    assert default_figures_dir([Path("a/x"), Path("a/y")]) == Path("a/figures")


def test_experiments_travel_with_a_plain_install(tmp_path):
    """After a non-editable install, `drlim list` still shows every experiment of the checkout."""
    pytest.importorskip("setuptools", minversion="77")  # the build backend pyproject.toml names
    repo = Path(__file__).resolve().parents[1]
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(repo)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    listed = subprocess.run(
        [sys.executable, "-m", "drlim.cli", "list"], check=True, capture_output=True, text=True,
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)},
    ).stdout
    names = {line.split()[0] for line in listed.splitlines()}
    sets = {p.stem.replace("_", "-") for p in (repo / "experiments").glob("compare*.py")}
    assert names == {*load_experiments(repo / "experiments"), *sets} and "compare" in sets
    assert (target / "drlim" / "experiments" / "mnist_4_9.py").is_file()


def test_compare_holds_its_runs_directory_and_checks_arguments_first(tmp_path, capsys):
    runs = tmp_path / "runs"
    err = _fails_with(["compare", "--rescore", "--runs", str(runs)], capsys)
    assert "--rescore needs a saved comparison" in err and not runs.exists()
    (runs / "compare").mkdir(parents=True)
    with open(runs / "compare" / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        err = _fails_with(["compare", "--quick", "--runs", str(runs), "--out",
                           str(tmp_path / "figures")], capsys)
    assert "argument --runs: must be free" in err and "in use by another drlim run" in err
    assert not (tmp_path / "figures").exists()
