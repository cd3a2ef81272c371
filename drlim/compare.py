"""Beyond the paper: DrLIM measured against PCA, Isomap, LLE, spectral embedding and t-SNE.

The paper argues DrLIM's advantages in words and pictures; this module puts numbers on them.
For each data set (the paper's MNIST 4s and 9s, MNIST with all ten digits, scikit-learn's 8×8
digits) and each method it measures, on held-out test samples:

- trustworthiness at k = 5, 10, 20 and continuity at k = 10 (input space = raw pixels),
- the accuracy of a 5-NN classifier of the digit labels on the map,
- fit time, transform time per 1,000 samples, whether unseen samples can be mapped at all.

Sample sizes follow one rule, stated in the report. DrLIM and PCA scale, so they are fitted
on the whole training set. Isomap, LLE, spectral embedding and t-SNE are fitted on a seeded
subsample of at most ``max_fit`` training samples (their cost grows faster than linearly).
Every method is scored on the same seeded subsample of at most ``max_test`` test samples, so
the numbers in one table are comparable; trustworthiness depends on the number of points
scored. The kNN classifier of every method is fitted on the embedding of the same training
subsample. Transductive methods (spectral, t-SNE) have no mapping: they embed that training
subsample and the scored test samples together.

:func:`run_comparison` fits and scores everything and writes the embeddings to a run
directory; :func:`write_report` turns the numbers into ``comparison.md`` / ``.json``;
:func:`comparison_figure` draws the test embeddings from the run directory.

    drlim compare [--quick] [--out figures]
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from drlim import metrics  # noqa: E402
from drlim._io import atomic_write, write_bytes, write_json  # noqa: E402
from drlim._timing import timed_call  # noqa: E402
from drlim.baselines import BASELINES, fit_baseline, is_inductive  # noqa: E402
from drlim.data.mnist import load_mnist, mnist_4_9  # noqa: E402
from drlim.estimator import DrLIM  # noqa: E402
from drlim.plots import save_figure  # noqa: E402

__all__ = [
    "DATASETS",
    "METHODS",
    "QUICK",
    "CompareConfig",
    "CompareData",
    "comparison_figure",
    "evaluate",
    "load_data",
    "main",
    "markdown_report",
    "run_comparison",
    "run_method",
    "write_report",
]

DATASETS: tuple[str, ...] = ("mnist-4-9", "mnist-10", "digits-8x8")
METHODS: tuple[str, ...] = ("drlim", "drlim-labels", *BASELINES)
DATASET_TITLES = {
    "mnist-4-9": "MNIST 4s and 9s, the paper's set",
    "mnist-10": "MNIST, all ten digits",
    "digits-8x8": "scikit-learn 8×8 digits",
}
METHOD_TITLES = {
    "drlim": "DrLIM (5-NN graph)",
    "drlim-labels": "DrLIM (labels)",
    "pca": "PCA",
    "isomap": "Isomap",
    "lle": "LLE",
    "spectral": "Spectral embedding",
    "tsne": "t-SNE",
}
# Fitted on the whole training set; the others on the capped subsample.
SCALABLE = frozenset({"drlim", "drlim-labels", "pca"})
# DrLIM settings that the comparison itself decides.
_RESERVED_DRLIM_PARAMS = frozenset({"n_components", "n_neighbors", "random_state", "verbose"})
RUN_NAME = "compare"
# scikit-learn's digits: 1,797 samples; keep at least 100 for training.
_MAX_DIGITS_TEST = 1697


@dataclass(frozen=True)
class CompareConfig:
    """What :func:`run_comparison` runs: data sets, methods, sample sizes, metric settings.

    Attributes:
      datasets: data sets, a subset of :data:`DATASETS`.
      label_datasets: data sets on which supervised "DrLIM (labels)" runs as well.
      baselines: baselines, a subset of :data:`drlim.baselines.BASELINES`.
      n_train_per_digit_4_9, n_test_per_digit_4_9: the paper's 4/9 split (3,000 + 3,000
        training, at most 1,000 + 1,000 test; the test split has 982 fours).
      n_train_mnist10: training images of MNIST-10 (a seeded subset below 60,000).
      n_test_digits: test samples of the 8×8 digits split (the rest train).
      max_fit: training samples that Isomap, LLE, spectral and t-SNE see, and the size of
        every method's kNN-classifier reference set.
      max_test: test samples every method is scored on.
      n_neighbors: neighbourhood size of DrLIM's graph, Isomap, LLE and spectral.
      trust_ks: neighbourhood sizes of trustworthiness; continuity_k: of continuity.
      knn_k: neighbours voting in the kNN label classifier.
      timing_repeats: calls of every ``transform`` timed; the fastest is reported.
      drlim_params: extra ``DrLIM`` estimator settings as (name, value) pairs; empty keeps
        the estimator's defaults.
      dataset_drlim_params: (data set, settings) pairs: settings, like ``drlim_params``,
        that apply on that data set only and take precedence.
      seed: seeds every split, subsample and fit.

    >>> CompareConfig(datasets=("digits-8x8",), baselines=("pca",)).max_test
    2000
    """

    datasets: tuple[str, ...] = DATASETS
    label_datasets: tuple[str, ...] = ("mnist-10",)
    baselines: tuple[str, ...] = BASELINES
    n_train_per_digit_4_9: int = 3000
    n_test_per_digit_4_9: int = 1000
    n_train_mnist10: int = 60_000
    n_test_digits: int = 500
    max_fit: int = 6000
    max_test: int = 2000
    n_neighbors: int = 5
    trust_ks: tuple[int, ...] = (5, 10, 20)
    continuity_k: int = 10
    knn_k: int = 5
    timing_repeats: int = 3
    drlim_params: tuple[tuple[str, Any], ...] = ()
    dataset_drlim_params: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name, values, known in (
            ("datasets", self.datasets, DATASETS),
            ("label_datasets", self.label_datasets, DATASETS),
            ("baselines", self.baselines, BASELINES),
        ):
            unknown = [v for v in values if v not in known]
            if unknown or len(set(values)) != len(values):
                raise ValueError(
                    f"{name} must hold distinct names from {known}, got {tuple(values)!r}"
                )
        if not self.datasets:
            raise ValueError(f"datasets must name at least one of {DATASETS}, got ()")
        for name in ("n_train_per_digit_4_9", "n_test_per_digit_4_9", "n_train_mnist10",
                     "n_test_digits", "max_fit", "max_test", "n_neighbors", "continuity_k",
                     "knn_k", "timing_repeats", "seed"):
            value = getattr(self, name)
            low = 0 if name == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.n_train_mnist10 > 60_000:
            raise ValueError(f"n_train_mnist10 must be <= 60000, got {self.n_train_mnist10}")
        if self.n_test_digits > _MAX_DIGITS_TEST:
            raise ValueError(
                f"n_test_digits must be in [1, {_MAX_DIGITS_TEST}] (leaving >= 100 training "
                f"digits), got {self.n_test_digits}"
            )
        ks = (*self.trust_ks, self.continuity_k)
        if not self.trust_ks or any(not isinstance(k, int) or k < 1 for k in ks):
            raise ValueError(f"trust_ks must be positive ints, got {self.trust_ks!r}")
        if 2 * max(ks) >= self.max_test:
            raise ValueError(
                f"max_test must exceed twice the largest k ({2 * max(ks)}), got {self.max_test}"
            )
        if self.knn_k > self.max_fit:
            raise ValueError(f"knn_k must be <= max_fit ({self.max_fit}), got {self.knn_k}")
        _check_drlim_params("drlim_params", self.drlim_params)
        for entry in self.dataset_drlim_params:
            if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] not in DATASETS:
                raise ValueError(
                    f"dataset_drlim_params must be (data set, settings) pairs with data sets "
                    f"in {DATASETS}, got {entry!r}"
                )
            _check_drlim_params(f"dataset_drlim_params[{entry[0]!r}]", entry[1])

    def drlim_settings(self, dataset: str) -> dict[str, Any]:
        """The ``DrLIM`` settings used on ``dataset``: its own over the common ones.

        >>> CompareConfig(drlim_params=(("epochs", 20.0),),
        ...               dataset_drlim_params=(("mnist-10", (("epochs", 4.0),)),),
        ...               ).drlim_settings("mnist-10")
        {'epochs': 4.0}
        """
        own = dict(self.dataset_drlim_params).get(dataset, ())
        return {**dict(self.drlim_params), **dict(own)}


def _check_drlim_params(name: str, params: Any) -> None:
    """``params`` must be (name, value) pairs naming settings of the ``DrLIM`` estimator."""
    allowed = set(DrLIM().get_params()) - _RESERVED_DRLIM_PARAMS
    bad = [pair for pair in params
           if not isinstance(pair, tuple) or len(pair) != 2 or pair[0] not in allowed]
    if not isinstance(params, tuple) or bad:
        raise ValueError(
            f"{name} must be (name, value) pairs with names in {sorted(allowed)}, got {params!r}"
        )


# Tiny samples of every data set and method: checks the whole pipeline in well under a minute.
QUICK = CompareConfig(
    n_train_per_digit_4_9=80,
    n_test_per_digit_4_9=40,
    n_train_mnist10=300,
    n_test_digits=200,
    max_fit=150,
    max_test=60,
    drlim_params=(("epochs", 1.0), ("batch_size", 16)),
)


@dataclass(frozen=True)
class CompareData:
    """One data set of the comparison.

    ``x_train`` is the whole training set (what DrLIM and PCA learn from); ``fit_subset``
    indexes the training samples the costly methods learn from and every kNN classifier
    uses; ``x_test`` holds only the test samples that are scored, drawn from a pool of
    ``n_test_pool``. Images are NHWC float32 in [0, 1], flat data (n, d) float32.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    fit_subset: np.ndarray
    n_test_pool: int


def _subsample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``min(n, size)`` samples out of ``n``, all of them when ``n <= size``."""
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _images(pixels: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) → float32 NHWC in [0, 1]."""
    return (pixels.astype(np.float32) / 255.0)[..., None]


def load_data(name: str, config: CompareConfig) -> CompareData:
    """Data set ``name`` with its training subsample and scored test samples.

    Deterministic for ``config.seed``. "mnist-4-9" is :func:`drlim.data.mnist_4_9`;
    "mnist-10" the official MNIST split (a seeded subset of ``n_train_mnist10`` training
    images); "digits-8x8" scikit-learn's digits / 16, split by a seeded permutation.

    >>> data = load_data("digits-8x8", CompareConfig(max_test=300))
    >>> data.x_train.shape, data.x_test.shape
    ((1297, 64), (300, 64))
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    rng = np.random.default_rng(config.seed)
    if name == "mnist-4-9":
        split = mnist_4_9(config.n_train_per_digit_4_9, config.n_test_per_digit_4_9,
                          seed=config.seed)
        x_train, y_train, x_test, y_test = split.x_train, split.y_train, split.x_test, split.y_test
    elif name == "mnist-10":
        train_pixels, train_labels = load_mnist("train")
        test_pixels, test_labels = load_mnist("test")
        chosen = _subsample(len(train_labels), config.n_train_mnist10, rng)
        x_train, y_train = _images(train_pixels[chosen]), train_labels[chosen].astype(np.int64)
        x_test, y_test = test_pixels, test_labels.astype(np.int64)
    else:
        digits = load_digits()
        order = rng.permutation(len(digits.target))
        test, train = np.sort(order[: config.n_test_digits]), np.sort(order[config.n_test_digits:])
        pixels = (digits.data / 16.0).astype(np.float32)
        x_train, y_train = pixels[train], digits.target[train].astype(np.int64)
        x_test, y_test = pixels[test], digits.target[test].astype(np.int64)
    fit_subset = _subsample(len(x_train), config.max_fit, rng)
    scored = _subsample(len(x_test), config.max_test, rng)
    x_scored = x_test[scored]
    if x_scored.dtype == np.uint8:
        x_scored = _images(x_scored)
    return CompareData(name, x_train, y_train, x_scored, y_test[scored], fit_subset, len(x_test))


def _methods(name: str, config: CompareConfig) -> tuple[str, ...]:
    """The methods run on data set ``name``, in table order."""
    labels = ("drlim-labels",) if name in config.label_datasets else ()
    return ("drlim", *labels, *config.baselines)


def _fit_drlim(method: str, data: CompareData, config: CompareConfig) -> dict:
    """Fit DrLIM on the whole training set; time its transform after a JIT warm-up."""
    model = DrLIM(n_neighbors=config.n_neighbors, random_state=config.seed,
                  **config.drlim_settings(data.name))
    labels = data.y_train if method == "drlim-labels" else None
    _, fit_seconds = timed_call(lambda: model.fit(data.x_train, labels))
    model.transform(data.x_test)  # compiles the mapping for this batch shape
    z_test, transform_seconds = timed_call(lambda: model.transform(data.x_test),
                                           config.timing_repeats)
    return {
        "z_fit": model.transform(data.x_train[data.fit_subset]),
        "z_test": z_test,
        "out_of_sample": True,
        "n_fit": len(data.x_train),
        "fit_seconds": fit_seconds,
        "transform_seconds": transform_seconds,
    }


def run_method(method: str, data: CompareData, config: CompareConfig) -> dict:
    """Fit ``method`` on ``data`` and embed the reference training subsample and test samples.

    Returns a dict with ``z_fit`` (embedding of ``data.x_train[data.fit_subset]``),
    ``z_test``, ``out_of_sample``, ``n_fit`` (training samples learned from),
    ``fit_seconds`` and ``transform_seconds`` (None for transductive methods).

    >>> data = load_data("digits-8x8", CompareConfig(max_test=100))
    >>> run_method("pca", data, CompareConfig())["z_test"].shape
    (100, 2)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in ("drlim", "drlim-labels"):
        return _fit_drlim(method, data, config)
    whole = method in SCALABLE
    x_fit = data.x_train if whole else data.x_train[data.fit_subset]
    result = fit_baseline(method, x_fit, data.x_test, n_components=2,
                          n_neighbors=config.n_neighbors, seed=config.seed,
                          repeats=config.timing_repeats)
    return {
        "z_fit": result.Z_train[data.fit_subset] if whole else result.Z_train,
        "z_test": result.Z_test,
        "out_of_sample": is_inductive(method),
        "n_fit": len(x_fit),
        "fit_seconds": result.fit_seconds,
        "transform_seconds": result.transform_seconds,
    }


def evaluate(data: CompareData, z_fit: np.ndarray, z_test: np.ndarray,
             config: CompareConfig) -> dict[str, float]:
    """Trustworthiness, continuity (test samples, pixel space), kNN label accuracy, and the
    fraction of test samples that coincide on the map.

    >>> data = load_data("digits-8x8", CompareConfig(max_test=100))
    >>> z_fit = data.x_train[data.fit_subset][:, :2]
    >>> evaluate(data, z_fit, data.x_test[:, :2], CompareConfig())["knn_accuracy"] < 1.0
    True
    """
    scores = {f"trustworthiness_{k}": metrics.trustworthiness(data.x_test, z_test, k=k)
              for k in config.trust_ks}
    scores[f"continuity_{config.continuity_k}"] = metrics.continuity(
        data.x_test, z_test, k=config.continuity_k)
    scores["knn_accuracy"] = metrics.knn_accuracy(
        z_fit, data.y_train[data.fit_subset], z_test, data.y_test, k=config.knn_k)
    scores["coinciding"] = metrics.coinciding_fraction(z_test)
    return scores


def _save_embeddings(path: Path, run: dict, data: CompareData) -> None:
    arrays = {"z_fit": run["z_fit"], "y_fit": data.y_train[data.fit_subset],
              "z_test": run["z_test"], "y_test": data.y_test}
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


def _targets(rows: list[dict]) -> dict[str, Any]:
    """The issue's targets on one data set: DrLIM (5-NN) against the other methods."""
    by_method = {row["method"]: row for row in rows}
    drlim = by_method.get("drlim")
    if drlim is None:
        return {}
    mapped = [r for r in rows if r["out_of_sample"] and not r["method"].startswith("drlim")]
    nonlinear = [r for r in mapped if r["method"] != "pca"]
    transductive = [r for r in rows if not r["out_of_sample"]]
    speed = drlim["transform_seconds_per_1000"]
    return {
        "drlim_best_t5_out_of_sample": all(
            drlim["trustworthiness_5"] >= r["trustworthiness_5"] for r in mapped),
        "drlim_fastest_transform": all(
            speed <= r["transform_seconds_per_1000"] for r in mapped),
        "drlim_fastest_nonlinear_transform": all(
            speed <= r["transform_seconds_per_1000"] for r in nonlinear),
        "transductive_above_drlim_t5": [
            r["method"] for r in transductive
            if r["trustworthiness_5"] > drlim["trustworthiness_5"]],
    }


def run_comparison(config: CompareConfig, run_dir: str | os.PathLike,
                   verbose: bool = True) -> dict:
    """Fit and score every method on every data set of ``config``.

    Writes ``run_dir/<dataset>/<method>.npz`` (``z_fit``, ``y_fit``, ``z_test``,
    ``y_test``) and ``run_dir/results.json``, and returns the results: the config, the
    machine, and per data set its sizes, one row of numbers per method and the target
    checks.

    >>> import tempfile
    >>> quick = dataclasses.replace(QUICK, datasets=("digits-8x8",), baselines=("pca",))
    >>> run_comparison(quick, tempfile.mkdtemp(), verbose=False)["datasets"][0]["name"]
    'digits-8x8'
    """
    if not isinstance(config, CompareConfig):
        raise ValueError(f"config must be a CompareConfig, got {type(config).__name__}")
    run_dir = Path(run_dir)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "config": json.loads(json.dumps(dataclasses.asdict(config))),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
        "datasets": [],
    }
    for name in config.datasets:
        data = load_data(name, config)
        rows = []
        for method in _methods(name, config):
            run = run_method(method, data, config)
            _save_embeddings(run_dir / name / f"{method}.npz", run, data)
            seconds = run["transform_seconds"]
            row = {
                "method": method,
                "title": METHOD_TITLES[method],
                "out_of_sample": run["out_of_sample"],
                "n_fit": run["n_fit"],
                "n_test": len(data.x_test),
                **evaluate(data, run["z_fit"], run["z_test"], config),
                "fit_seconds": run["fit_seconds"],
                "transform_seconds_per_1000": (
                    None if seconds is None else 1000.0 * seconds / len(data.x_test)),
            }
            rows.append(row)
            if verbose:
                print(f"{name:10s} {method:12s} fit {run['fit_seconds']:7.1f} s  "
                      f"T@5 {row['trustworthiness_5']:.3f}", flush=True)
        result["datasets"].append({
            "name": name,
            "title": DATASET_TITLES[name],
            "n_train": len(data.x_train),
            "n_fit_subsample": len(data.fit_subset),
            "n_test_pool": data.n_test_pool,
            "n_test": len(data.x_test),
            "drlim_params": config.drlim_settings(name),
            "methods": rows,
            "targets": _targets(rows),
        })
    result["seconds"] = time.perf_counter() - started
    write_json(run_dir / "results.json", result)
    return result


def _format(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _dataset_table(entry: dict, config: dict) -> list[str]:
    """One markdown table: a row per method, the best score of each quality column in bold."""
    rows = entry["methods"]
    quality = [f"trustworthiness_{k}" for k in config["trust_ks"]]
    quality += [f"continuity_{config['continuity_k']}", "knn_accuracy"]
    headers = ["Method", "Out-of-sample", "Fitted on", "Scored on"]
    headers += [f"T@{k}" for k in config["trust_ks"]]
    headers += [f"C@{config['continuity_k']}", f"{config['knn_k']}-NN acc.", "Coinciding",
                "Fit (s)", "Transform (s / 1,000)"]
    best = {key: max(row[key] for row in rows) for key in quality}
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        fitted = _format(row["n_fit"])
        if not row["out_of_sample"]:
            fitted += f" + {row['n_test']:,} test"
        cells = [row["title"], _format(row["out_of_sample"]), fitted, _format(row["n_test"])]
        for key in quality:
            cell = _format(row[key])
            cells.append(f"**{cell}**" if row[key] == best[key] else cell)
        cells += [_format(row["coinciding"]), _format(row["fit_seconds"], 1),
                  _format(row["transform_seconds_per_1000"], 4)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _sizes_note(entry: dict, config: dict) -> str:
    costly = [METHOD_TITLES[m["method"]] for m in entry["methods"]
              if m["method"] not in SCALABLE]
    note = (f"Training set {entry['n_train']:,}, test set {entry['n_test_pool']:,}; every "
            f"method is scored on the same {entry['n_test']:,} test samples")
    if entry["n_test"] < entry["n_test_pool"]:
        note += f" (a seeded subsample, cap {config['max_test']:,})"
    note += ". DrLIM and PCA learn from the whole training set"
    if costly:
        if entry["n_fit_subsample"] < entry["n_train"]:
            note += (f"; {', '.join(costly)} from a seeded subsample of "
                     f"{entry['n_fit_subsample']:,} (cap {config['max_fit']:,})")
        else:
            note += ", and so do the other methods"
    return note + "."


def _target_lines(entry: dict) -> list[str]:
    targets = entry["targets"]
    if not targets:
        return []
    above = ", ".join(METHOD_TITLES[m] for m in targets["transductive_above_drlim_t5"])
    return [
        "",
        "DrLIM (5-NN graph) has the highest T@5 among the methods that map unseen samples: "
        f"{_format(targets['drlim_best_t5_out_of_sample'])}; the fastest transform among them: "
        f"{_format(targets['drlim_fastest_transform'])} (among the nonlinear ones, PCA "
        f"aside: {_format(targets['drlim_fastest_nonlinear_transform'])}). Transductive "
        f"methods above it at T@5: {above or 'none'}.",
    ]


def _drlim_call(params: dict[str, Any]) -> str:
    """The DrLIM estimator call the comparison made, in words a reader can copy."""
    if not params:
        return "the `DrLIM` estimator's defaults"
    given = ", ".join(f"{name}={value!r}" for name, value in params.items())
    return f"`DrLIM({given})`, the estimator's defaults otherwise"


def markdown_report(result: dict) -> str:
    """``comparison.md``: what was measured and how, then one table per data set.

    >>> import tempfile
    >>> quick = dataclasses.replace(QUICK, datasets=("digits-8x8",), baselines=("pca",))
    >>> result = run_comparison(quick, tempfile.mkdtemp(), verbose=False)
    >>> markdown_report(result).startswith("# DrLIM against")
    True
    """
    config = result["config"]
    machine = result["machine"]
    ks = ", ".join(str(k) for k in config["trust_ks"])
    lines = [
        "# DrLIM against PCA, Isomap, LLE, spectral embedding and t-SNE",
        "",
        "Generated by `drlim compare` (`drlim.compare`); raw numbers in `comparison.json`, "
        "test embeddings in `comparison.png`. All maps are 2-D.",
        "",
        f"- **T@k**, **C@k**: trustworthiness (k = {ks}) and continuity "
        f"(k = {config['continuity_k']}) of the test embedding against the test samples' "
        "raw pixels (Venna & Kaski 2001); 1 is perfect.",
        f"- **{config['knn_k']}-NN acc.**: a {config['knn_k']}-NN classifier of the digit "
        "labels, fitted on the embedding of the training samples listed below, predicting "
        "the scored test samples.",
        "- **Coinciding**: the fraction of test samples mapped on top of another one (within "
        "1e-4 of the map's spread). Trustworthiness ranks such ties arbitrarily and cannot "
        "show a collapsed map; this column does. A continuous map of distinct digits has 0.",
        "- **Out-of-sample**: the method learns a mapping of new samples. Spectral embedding "
        "and t-SNE have none: they embed the training subsample and the scored test samples "
        "together, so their test samples took part in the fit (\"+ test\").",
        "- **Fit (s)**: wall time of fitting (DrLIM: building its neighbourhood graph and "
        "training; transductive methods: embedding train and test). **Transform**: seconds "
        f"to map 1,000 new samples, the fastest of {config['timing_repeats']} calls (DrLIM's "
        "after one more call that compiles the network).",
        f"- Seed {config['seed']}; {config['n_neighbors']} neighbours for the DrLIM graph, "
        "Isomap, LLE and spectral embedding. Measured on "
        f"{machine['cpu_count']} CPU cores (load average "
        f"{machine['load_average_at_start'][0]:.1f} at start); the whole comparison took "
        f"{result['seconds'] / 60:.1f} min. Trustworthiness depends on the number of samples "
        "scored: compare numbers within one table.",
        "- Every baseline runs with scikit-learn's defaults apart from the neighbours; "
        "DrLIM's settings are stated under each table.",
    ]
    for entry in result["datasets"]:
        lines += ["", f"## {entry['title']} (`{entry['name']}`)", "",
                  _sizes_note(entry, config), ""]
        lines += _dataset_table(entry, config)
        lines += ["", f"DrLIM ran as {_drlim_call(entry['drlim_params'])}."]
        lines += _target_lines(entry)
    return "\n".join(lines) + "\n"


def comparison_figure(run_dir: str | os.PathLike) -> Figure:
    """A grid of test embeddings coloured by digit: rows = data sets, columns = methods.

    Each panel frames the central 99 % of its points (a few outliers of LLE or spectral
    embedding would otherwise squeeze the rest into a line). Drawn from the files
    :func:`run_comparison` wrote into ``run_dir`` (no fitting).

    >>> fig = comparison_figure("runs/compare")  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise ValueError(f"run_dir must hold results.json from run_comparison, got {run_dir}")
    result = json.loads(results_path.read_text())
    entries = result["datasets"]
    columns = [m for m in METHODS
               if any(row["method"] == m for e in entries for row in e["methods"])]
    fig, axes = plt.subplots(len(entries), len(columns), squeeze=False,
                             figsize=(1.9 * len(columns), 2.0 * len(entries) + 0.4),
                             constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    for r, entry in enumerate(entries):
        rows = {row["method"]: row for row in entry["methods"]}
        for c, method in enumerate(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(entry["title"], fontsize=8)
            if method not in rows:
                ax.set_frame_on(False)
                continue
            with np.load(run_dir / entry["name"] / f"{method}.npz") as arrays:
                z, y = arrays["z_test"], arrays["y_test"]
            size = float(np.clip(3000 / len(z), 1, 6))
            ax.scatter(z[:, 0], z[:, 1], s=size, c=cmap(y % 10), linewidths=0, alpha=0.8,
                       rasterized=True)
            _zoom(ax, z)
            marker = "" if rows[method]["out_of_sample"] else " (transd.)"
            ax.set_title(f"{METHOD_TITLES[method]}{marker}\n"
                         f"T@5 {rows[method]['trustworthiness_5']:.3f}", fontsize=7)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=cmap(d), markersize=4,
                          label=str(d)) for d in range(10)]
    fig.legend(handles=handles, loc="outside lower center", ncols=10, fontsize=7,
               frameon=False, title="digit", title_fontsize=7)
    return fig


def _zoom(ax, z: np.ndarray, quantile: float = 0.005) -> None:
    """Frame the central 99 % of the points, so a few far outliers do not flatten the map."""
    low = np.quantile(z, quantile, axis=0)
    high = np.quantile(z, 1.0 - quantile, axis=0)
    pad = 0.05 * np.maximum(high - low, 1e-12)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])


def write_report(result: dict, run_dir: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write ``comparison.md``, ``comparison.json`` and ``comparison.png`` into ``out``."""
    out = Path(out)
    return [
        write_bytes(out / "comparison.md", markdown_report(result).encode()),
        write_json(out / "comparison.json", result),
        save_figure(comparison_figure(run_dir), out / "comparison.png", dpi=110),
    ]


def main(config: CompareConfig | None = None, *, quick: bool = False,
         out: Path = Path("figures"), runs: Path = Path("runs")) -> dict:
    """The ``drlim compare`` command: run the comparison and write its report.

    Runs ``config`` (``experiments/compare.py`` holds the one the README reports); without
    it, :data:`QUICK` (tiny samples, under a minute) when ``quick``, else the defaults of
    :class:`CompareConfig`. Embeddings go to ``runs/compare/``; ``comparison.md``,
    ``.json`` and ``.png`` to ``out``.

    >>> main(quick=True, out=Path("figures-quick"), runs=Path("runs"))  # doctest: +SKIP
    """
    if config is None:
        config = QUICK if quick else CompareConfig()
    run_dir = Path(runs) / RUN_NAME
    result = run_comparison(config, run_dir)
    for path in write_report(result, run_dir, out):
        print(path)
    return result
