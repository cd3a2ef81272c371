"""The one pipeline: a configuration in, a run directory out.

Data by name (:func:`load_data`), a method by name (DrLIM trained by :func:`drlim.train.train`
for the paper's experiments, or any method of :mod:`drlim.methods`), one evaluation protocol
(:func:`evaluate`), one embeddings file (:func:`save_embeddings`). A run directory holds::

    RUN_DIR/config.json        the configuration, as run
    RUN_DIR/metrics.jsonl      training log of DrLIM (similar and dissimilar losses apart)
    RUN_DIR/checkpoint.msgpack DrLIM's final training state
    RUN_DIR/train_run.json     what the checkpoint belongs to (settings, data and graph digests)
    RUN_DIR/embeddings.npz     z_test (and z_train, z_fit) with the factors of the samples
    RUN_DIR/baseline_NAME.npz  a paper experiment's baselines' test embeddings
    RUN_DIR/metrics.json       the numbers of :func:`evaluate`, written last
    RUN_DIR/.lock              held by the ``drlim`` command while it writes the directory

:func:`run_experiment` runs a paper experiment (:class:`~drlim.config.ExperimentConfig`);
:func:`run_method` runs one method of the comparison (:mod:`drlim.compare` is a set of
them). Tables, figures and target checks are drawn from run directories by
:mod:`drlim.report`, never by training.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drlim import metrics
from drlim._io import array_digest, atomic_write, write_json
from drlim.config import ExperimentConfig, changed_settings, config_to_dict
from drlim.methods import METHODS, fit_method, lle_on_graph
from drlim.timing import read_cpuinfo, utc_timestamp
from drlim.validation import check_choice, check_int

__all__ = [
    "DATASETS",
    "NAMED_SCORES",
    "PAPER_SCORES",
    "Data",
    "build_graph",
    "check_scores",
    "evaluate",
    "experiment_data",
    "finished_run",
    "load_data",
    "make_network",
    "rescored_metrics",
    "run_experiment",
    "run_method",
    "save_embeddings",
]

log = logging.getLogger("drlim")
DATASETS: tuple[str, ...] = ("mnist-4-9", "mnist-shift", "norb-airplane", "mnist-10",
                             "digits-8x8")
# What the paper's experiments measure on their test samples, per data set.
# The numbers evaluate computes besides trustworthiness_K and continuity_K.
NAMED_SCORES = ("knn_accuracy", "knn_accuracy_label", "shift_accuracy", "orbit_spread_ratio",
                "azimuth_circular_corr", "elevation_spearman", "lighting_spread_ratio",
                "coinciding")
PAPER_SCORES: dict[str, tuple[str, ...]] = {
    "mnist-4-9": ("trustworthiness_5", "trustworthiness_10", "knn_accuracy_label"),
    "mnist-shift": ("shift_accuracy", "orbit_spread_ratio", "knn_accuracy_label"),
    "norb-airplane": ("azimuth_circular_corr", "elevation_spearman", "lighting_spread_ratio"),
}
# scikit-learn's digits: 1,797 samples; keep at least 100 for training.
MAX_DIGITS_TEST = 1697


@dataclass(frozen=True)
class Data:
    """Training and test samples with their factors of variation (``label``, ``shift``, ...).

    Images are NHWC float32 in [0, 1], flat data (n, d) float32. ``fit_subset`` indexes the
    training samples that the costly methods learn from and every kNN classifier is fitted
    on (all of them unless capped); ``x_test`` holds the scored test samples, drawn from a
    pool of ``n_test_pool``.
    """

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    factors_train: dict[str, np.ndarray]
    factors_test: dict[str, np.ndarray]
    fit_subset: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_test_pool: int = 0

    @functools.cached_property
    def digest(self) -> str:
        """A short SHA-256 of the samples, their factors and the fit subset: what tells two
        runs' data apart when their sizes agree (:func:`finished_run`). Computed once per
        data set (0.3 s for MNIST's 60,000 digits), not once per method run on it.

        >>> data = load_data("digits-8x8", max_fit=100, max_test=50)
        >>> data.digest == load_data("digits-8x8", max_fit=100, max_test=50).digest
        True
        >>> data.digest == load_data("digits-8x8", max_fit=100, max_test=60).digest
        False
        """
        factors = [self.factors_train[k] for k in sorted(self.factors_train)]
        factors += [self.factors_test[k] for k in sorted(self.factors_test)]
        return array_digest(self.x_train, self.x_test, self.fit_subset, *factors)


def _subsample(n: int, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``min(n, size)`` samples out of ``n``, all of them when ``n <= size``."""
    if size is None or n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _mnist_4_9(rng, seed, n_train_per_digit=3000, n_test_per_digit=1000, image_size=None):
    from drlim.data.mnist import mnist_4_9, pad_images

    split = mnist_4_9(n_train_per_digit, n_test_per_digit, seed=seed)
    x_train, x_test = split.x_train, split.x_test
    if image_size:
        x_train, x_test = pad_images(x_train, image_size), pad_images(x_test, image_size)
    return x_train, x_test, {"label": split.y_train}, {"label": split.y_test}


def _mnist_shift(rng, seed, n_train_per_digit=3000, n_test_per_digit=1000, image_size=32,
                 shifts=(-6, -3, 3, 6), shift_train=True, n_test_originals=0):
    from drlim.data.mnist import mnist_4_9, pad_images
    from drlim.data.shift import shift_images

    split = mnist_4_9(n_train_per_digit, n_test_per_digit, seed=seed)
    # Shifted in the 28x28 frame, then padded: at +-6 pixels 36% of the 4s and 9s lose some
    # ink past the frame's edge (1.6% and 0.9% of all ink at +6 and -6), which shifting the
    # padded 32x32 images would mostly keep. The paper does not say which; the figures keep
    # this order.
    train_set = shift_images(split.x_train, shifts if shift_train else ())
    test_set = shift_images(split.x_test[:n_test_originals or len(split.x_test)], shifts)

    def factors(shifted, labels):
        return {"label": labels[shifted.source], "shift": shifted.shift, "source": shifted.source}

    return (pad_images(train_set.images, image_size), pad_images(test_set.images, image_size),
            factors(train_set, split.y_train), factors(test_set, split.y_test))


def _norb_airplane(rng, seed, source="rendered", image_size=32):
    from drlim.data.norb import norb_airplane

    split = norb_airplane(source, seed=seed, image_size=image_size)
    return split.x_train, split.x_test, split.factors_train, split.factors_test


def _mnist_10(rng, seed, n_train=60_000):
    from drlim.data.mnist import load_mnist
    from drlim.data.pixels import to_float_images

    train_pixels, train_labels = load_mnist("train")
    test_pixels, test_labels = load_mnist("test")
    chosen = _subsample(len(train_labels), n_train, rng)
    return (to_float_images(train_pixels[chosen]), to_float_images(test_pixels),
            {"label": train_labels[chosen].astype(np.int64)},
            {"label": test_labels.astype(np.int64)})


def _digits_8x8(rng, seed, n_test=500):
    from sklearn.datasets import load_digits

    n_test = check_int(n_test, "n_test", 1, MAX_DIGITS_TEST)  # >= 100 digits left to train
    digits = load_digits()
    order = rng.permutation(len(digits.target))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    pixels = (digits.data / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    return pixels[train], pixels[test], {"label": labels[train]}, {"label": labels[test]}


_LOADERS: dict[str, Callable[..., tuple]] = {
    "mnist-4-9": _mnist_4_9, "mnist-shift": _mnist_shift, "norb-airplane": _norb_airplane,
    "mnist-10": _mnist_10, "digits-8x8": _digits_8x8,
}


def load_data(name: str, *, seed: int = 0, max_fit: int | None = None,
              max_test: int | None = None, **options: Any) -> Data:
    """Data set ``name`` of :data:`DATASETS`, deterministic for ``seed``.

    - "mnist-4-9": the paper's 4s and 9s (:func:`drlim.data.mnist_4_9`; options
      ``n_train_per_digit``, ``n_test_per_digit``, ``image_size`` to zero-pad to);
    - "mnist-shift": the same digits and copies shifted by ``shifts`` px (training copies
      only with ``shift_train``; ``n_test_originals`` test digits, 0 = all), padded to 32;
    - "norb-airplane": the NORB airplane (``source`` "rendered" or a small-NORB directory);
    - "mnist-10": the official MNIST split (a seeded subset of ``n_train`` training images);
    - "digits-8x8": scikit-learn's digits / 16, ``n_test`` of them held out by a seeded
      permutation.

    ``max_fit`` caps the seeded training subsample ``fit_subset``; ``max_test`` the scored
    test samples (a seeded subsample).

    >>> data = load_data("digits-8x8", max_fit=6000, max_test=300)
    >>> data.x_train.shape, data.x_test.shape, sorted(data.factors_test)
    ((1297, 64), (300, 64), ['label'])
    """
    check_choice(name, "name", DATASETS)
    rng = np.random.default_rng(seed)
    x_train, x_test, factors_train, factors_test = _LOADERS[name](rng, seed, **options)
    fit_subset = _subsample(len(x_train), max_fit, rng)
    n_pool = len(x_test)
    scored = _subsample(n_pool, max_test, rng)
    if len(scored) < n_pool:
        x_test = x_test[scored]
        factors_test = {k: v[scored] for k, v in factors_test.items()}
    return Data(name, x_train, x_test, factors_train, factors_test, fit_subset, n_pool)


def experiment_data(config: ExperimentConfig) -> Data:
    """The data of a paper experiment, deterministic for ``config.train.seed``."""
    options: dict[str, Any] = {"n_train_per_digit": config.n_train_per_digit,
                               "n_test_per_digit": config.n_test_per_digit}
    if config.dataset == "mnist-4-9":
        options["image_size"] = config.image_size
    elif config.dataset == "mnist-shift":
        options.update(shifts=config.shifts, shift_train=config.shift_train,
                       n_test_originals=config.n_test_originals)
    elif config.dataset == "norb-airplane":
        options = {"source": config.norb_source, "image_size": config.image_size}
    else:
        check_choice(config.dataset, "config.dataset", ("mnist-4-9", "mnist-shift",
                                                         "norb-airplane"))
    return load_data(config.dataset, seed=config.train.seed, **options)


def evaluate(data: Data, z_test: np.ndarray, scores: tuple[str, ...], *,
             z_fit: np.ndarray | None = None, knn_k: int = 5) -> dict[str, float]:
    """The evaluation protocol: the numbers ``scores`` names, all of the scored test samples.

    Every number describes the test embedding ``z_test`` of samples the method did not learn
    from (where a method cannot map unseen samples, the caller passes what it has):

    - ``trustworthiness_K`` / ``continuity_K``: trustworthiness and continuity at k = K
      against the test samples' raw pixels (Venna & Kaski 2001); 1 is perfect.
    - ``knn_accuracy``: a ``knn_k``-NN classifier of the labels, fitted on ``z_fit``, the
      embedding of the training samples ``data.fit_subset``, predicting the test labels
      (the comparison's protocol).
    - ``knn_accuracy_label``, ``shift_accuracy``: a 5-NN classifier of the label (shift)
      within the test embedding, by split halves (:func:`drlim.metrics.split_knn_accuracy`;
      the paper experiments' protocol, which needs no training embedding). For the label,
      the halves hold whole digits (all shifted copies of one in the same half), so that a
      digit's copies never vote for it; the shift keeps the paper's random split.
    - ``orbit_spread_ratio``: how close the shifted copies of one digit lie.
    - ``azimuth_circular_corr``, ``elevation_spearman``: the cylinder fit of NORB's poses;
      ``lighting_spread_ratio``: the spread of one pose over its lightings.
    - ``coinciding``: the fraction of test samples on top of another one.

    >>> data = load_data("digits-8x8", max_test=100)
    >>> z_fit = data.x_train[data.fit_subset][:, :2]
    >>> scores = evaluate(data, data.x_test[:, :2], ("trustworthiness_5", "knn_accuracy"),
    ...                   z_fit=z_fit)
    >>> sorted(scores), scores["knn_accuracy"] < 1.0
    (['knn_accuracy', 'trustworthiness_5'], True)
    """
    f = data.factors_test
    cylinder: dict[str, float] = {}
    out = {}
    for name in check_scores(scores):
        kind, _, k = name.rpartition("_")
        if kind == "trustworthiness":
            out[name] = metrics.trustworthiness(data.x_test, z_test, k=int(k))
        elif kind == "continuity":
            out[name] = metrics.continuity(data.x_test, z_test, k=int(k))
        elif name == "knn_accuracy":
            out[name] = metrics.knn_accuracy(
                z_fit, data.factors_train["label"][data.fit_subset], z_test, f["label"], k=knn_k)
        elif name == "knn_accuracy_label":  # a digit's copies share it: whole digits per half
            out[name] = metrics.split_knn_accuracy(z_test, f["label"], k=5,
                                                   groups=f.get("source"))
        elif name == "shift_accuracy":  # the paper's protocol: samples split at random
            out[name] = metrics.split_knn_accuracy(z_test, f["shift"], k=5)
        elif name == "orbit_spread_ratio":
            out[name] = metrics.orbit_spread_ratio(z_test, f["source"])
        elif name in ("azimuth_circular_corr", "elevation_spearman"):
            cylinder = cylinder or metrics.cylinder_fit(z_test, f["azimuth"], f["elevation"])
            out[name] = cylinder[name]
        elif name == "lighting_spread_ratio":
            pose = f["azimuth"] * 1000 + f["elevation"]
            out[name] = metrics.lighting_spread_ratio(z_test, pose, f["lighting"])
        elif name == "coinciding":
            out[name] = metrics.coinciding_fraction(z_test)
    return out


def check_scores(scores: tuple[str, ...]) -> tuple[str, ...]:
    """``scores`` if each names a number of :func:`evaluate`, so that a misspelt one is
    refused before a method is fitted rather than after.

    >>> check_scores(("trustworthiness_5", "knn_accuracy"))
    ('trustworthiness_5', 'knn_accuracy')
    >>> check_scores(("trustworthines_5",))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scores must name numbers of the protocol (...), got 'trustworthines_5'
    """
    for name in scores:
        kind, _, k = name.rpartition("_")
        if name in NAMED_SCORES or (kind in ("trustworthiness", "continuity") and k.isdigit()
                                    and int(k) >= 1):
            continue
        raise ValueError(f"scores must name numbers of the protocol (trustworthiness_K, "
                         f"continuity_K, {', '.join(NAMED_SCORES)}), got {name!r}")
    return tuple(scores)


def rescored_metrics(data: Data, out_dir: str | os.PathLike, *, scores: tuple[str, ...],
                     knn_k: int = 5) -> dict:
    """A run of :func:`run_method` scored again from its saved embeddings, fitting nothing.

    Returns the run's ``metrics.json`` with ``scores`` recomputed by :func:`evaluate` with
    today's metrics; its timings and transform stability, which need the fitted model, stay
    as measured. Nothing is written, so that a caller rescoring many runs can write them
    all once every one has succeeded. ``data`` must be the data the run was fitted on: the
    saved factors (labels, ...) of its samples are checked against it.

    >>> import tempfile
    >>> data = load_data("digits-8x8", max_fit=6000, max_test=100)
    >>> out = tempfile.mkdtemp()
    >>> row = run_method("pca", data, out, scores=("trustworthiness_5",))
    >>> rescored_metrics(data, out, scores=("trustworthiness_5",)) == row
    True
    """
    out = Path(out_dir)
    row = json.loads((out / "metrics.json").read_text())
    samples = json.loads((out / "config.json").read_text()).get("samples", {})
    if samples.get("sha256", data.digest) != data.digest:
        raise ValueError(f"the run in {out} must have been fitted on the data given, got other "
                         f"samples (their digest differs)")
    with np.load(out / "embeddings.npz") as saved:
        arrays = dict(saved)
    expected = {**{f"{k}_test": v for k, v in data.factors_test.items()},
                **{f"{k}_fit": v[data.fit_subset] for k, v in data.factors_train.items()}}
    for name, values in expected.items():
        if name in arrays and not np.array_equal(arrays[name], values):
            raise ValueError(f"the run in {out} must have been fitted on the data given, got "
                             f"other samples (its {name} differ)")
    row.update(evaluate(data, arrays["z_test"], scores, z_fit=arrays.get("z_fit"),
                        knn_k=knn_k))
    return row


def save_embeddings(path: Path, data: Data, z_test: np.ndarray, *,
                    z_train: np.ndarray | None = None, z_fit: np.ndarray | None = None) -> Path:
    """Write an ``embeddings.npz`` atomically: ``z_test`` with every test factor
    (``label_test``, ...), ``z_train`` with every training factor, ``z_fit`` with the
    factors of ``data.fit_subset`` (``label_fit``, ...), and the test images as uint8
    thumbnails when there are at most 5,000 of them."""
    arrays = {"z_test": z_test, **{f"{k}_test": v for k, v in data.factors_test.items()}}
    if z_train is not None:
        arrays.update(z_train=z_train, **{f"{k}_train": v for k, v in data.factors_train.items()})
    if z_fit is not None:
        arrays.update(z_fit=z_fit, **{f"{k}_fit": v[data.fit_subset]
                                      for k, v in data.factors_train.items()})
    if data.x_test.ndim == 4 and len(data.x_test) <= 5000:
        arrays["images_test"] = np.round(data.x_test[..., 0] * 255).astype(np.uint8)
    return atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


def build_graph(config: ExperimentConfig, data: Data):
    """The neighbourhood graph of the training samples that the config names."""
    from drlim.neighbors import fuzzy_knn_graph, grid_graph, knn_graph, orbit_graph

    if config.graph == "grid":
        return grid_graph(data.factors_train["azimuth"], data.factors_train["elevation"])
    flat = data.x_train.reshape(len(data.x_train), -1)
    if config.graph == "knn" and config.train.loss == "umap":
        return fuzzy_knn_graph(flat, k=config.n_neighbors)
    graph = knn_graph(flat, k=config.n_neighbors, method="exact")  # the paper: exact k-NN
    if config.graph == "orbit":
        graph = orbit_graph(graph, data.factors_train["source"])
    return graph


def make_network(config: ExperimentConfig):
    """The Flax mapping network of the config."""
    from drlim.models import MLP, LeNetDrLIM

    if config.network == "mlp":
        return MLP(hidden=config.hidden, n_components=config.n_components,
                   activation=config.activation)
    return LeNetDrLIM(n_components=config.n_components, activation=config.activation)


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | os.PathLike,
    *,
    progress: bool | None = None,
    resume: bool = False,
) -> dict:
    """Run one paper experiment into ``out_dir`` and return its ``metrics.json`` content.

    With ``resume``, training continues from the checkpoint in ``out_dir`` (see
    :func:`drlim.train.train`); a directory run with other settings is refused. Each stage is
    announced on the ``drlim`` logger.
    """
    from drlim.neighbors import describe

    for name in config.baselines:
        check_choice(name, "baselines", METHODS)
    out = Path(out_dir)
    changed = changed_settings(out, config) if resume else []
    if changed:
        raise ValueError(f"cannot resume in {out}: it was run with other settings "
                         f"({'; '.join(changed)})")
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").unlink(missing_ok=True)  # a run that fails must not look finished
    write_json(out / "config.json", config_to_dict(config))
    started = time.perf_counter()
    if config.kind == "loss-curves":
        result: dict[str, Any] = {"margin": config.train.margin}
    else:
        log.info("%s: loading %s", config.name, config.dataset)
        data = experiment_data(config)
        log.info("%s: %s graph of %d samples", config.name, config.graph, len(data.x_train))
        graph = build_graph(config, data)
        if config.kind == "drlim":
            result = _run_drlim(config, data, graph, out, progress, resume)
        else:
            result = _run_lle(config, data, graph, out)
        result["graph"] = describe(graph)
    result["seconds"] = round(time.perf_counter() - started, 2)
    write_json(out / "metrics.json", result)
    return result


def _run_drlim(config: ExperimentConfig, data: Data, graph, out: Path,
               progress: bool | None, resume: bool) -> dict:
    from drlim.train import embed, train

    network = make_network(config)
    log.info("%s: training for %d steps", config.name, config.train.total_steps(len(data.x_train)))
    fit = train(network, data.x_train, graph, config.train, workdir=out, progress=progress,
                resume=resume)
    log.info("%s: evaluating", config.name)
    z_train = embed(network, fit.params, data.x_train)
    z_test = embed(network, fit.params, data.x_test)
    save_embeddings(out / "embeddings.npz", data, z_test, z_train=z_train)
    scores = PAPER_SCORES[config.dataset]
    result = {"method": "drlim", "train_seconds": round(fit.seconds, 2)}
    result.update(evaluate(data, z_test, scores))
    for name in config.baselines:
        log.info("%s: baseline %s", config.name, name)
        base = fit_method(name, data.x_train, data.x_test, n_components=config.n_components,
                          n_neighbors=config.n_neighbors, seed=config.train.seed)
        result[f"baseline_{name}"] = {**evaluate(data, base.Z_test, scores),
                                      "fit_seconds": round(base.fit_seconds, 2)}
        save_embeddings(out / f"baseline_{name}.npz", data, base.Z_test)
    return result


def _run_lle(config: ExperimentConfig, data: Data, graph, out: Path) -> dict:
    """LLE on the same training samples and graph; it has no mapping, so it is scored on them."""
    flat = data.x_train.reshape(len(data.x_train), -1).astype(np.float64)
    log.info("%s: LLE on %d samples", config.name, len(flat))
    z_train = lle_on_graph(flat, graph.neighbors, n_components=config.n_components)
    as_test = Data(data.name, data.x_train, data.x_train, data.factors_train, data.factors_train)
    save_embeddings(out / "embeddings.npz", as_test, z_train, z_train=z_train)
    result = {"method": "lle", "scored_on": "training samples (LLE is transductive)"}
    result.update(evaluate(as_test, z_train, PAPER_SCORES[config.dataset]))
    return result


def _transform_stability(transform: Callable[[np.ndarray], np.ndarray], x_test: np.ndarray,
                         z_test: np.ndarray, singles: int) -> float:
    """:func:`drlim.metrics.transform_stability` of a fitted ``transform``: ``z_test`` (one call
    with all test samples) against two calls with one half each, and against ``singles`` of
    them mapped one at a time; the larger."""
    half = len(x_test) // 2
    halves = np.concatenate([transform(x_test[:half]), transform(x_test[half:])])
    moves = metrics.transform_stability(z_test, halves)
    singles = min(singles, len(x_test))
    if singles:
        alone = np.concatenate([transform(x_test[i:i + 1]) for i in range(singles)])
        moves = max(moves, metrics.transform_stability(z_test, alone, index=np.arange(singles)))
    return moves


def run_method(
    method: str,
    data: Data,
    out_dir: str | os.PathLike,
    *,
    scores: tuple[str, ...],
    whole: bool = True,
    labels: bool = False,
    n_neighbors: int = 5,
    seed: int = 0,
    repeats: int = 1,
    stability_singles: int = 0,
    knn_k: int = 5,
    resume: bool = False,
    **params: Any,
) -> dict:
    """Fit ``method`` (:data:`drlim.methods.METHODS`) on ``data``, score it, write ``out_dir``.

    The method learns from the whole training set (``whole``) or from ``data.fit_subset``
    (DrLIM from the labels too with ``labels``); its test embedding is scored by
    :func:`evaluate` (``scores``), with the transform's timing and stability. Writes
    ``config.json`` (every setting that decides the numbers, and the numbers of samples),
    ``embeddings.npz`` (``z_fit`` is the embedding of ``data.fit_subset``), DrLIM's training
    log ``metrics.jsonl`` and ``metrics.json`` (with when and on which CPU it was measured),
    and returns the metrics. With ``resume``, a run directory that holds a finished run of
    the same ``config.json`` is read back instead of fitted again (:func:`finished_run`), so
    that a long comparison stopped part way goes on where it stopped.

    >>> import tempfile
    >>> data = load_data("digits-8x8", max_fit=6000, max_test=100)
    >>> row = run_method("pca", data, tempfile.mkdtemp(), scores=("trustworthiness_5",),
    ...                  stability_singles=2)
    >>> row["n_fit"], row["transform_stability"] < 1e-5  # float32 rounding at most
    (1297, True)
    """
    out = Path(out_dir)
    fit_rows = slice(None) if whole else data.fit_subset
    x_fit = data.x_train[fit_rows]
    config = {"dataset": data.name, "method": method, "whole": whole, "labels": labels,
              "n_neighbors": n_neighbors, "seed": seed, "params": params,
              "scoring": {"scores": list(scores), "repeats": repeats,
                          "stability_singles": stability_singles, "knn_k": knn_k},
              "samples": {"fit": len(x_fit), "test": len(data.x_test),
                          "sha256": data.digest}}
    if resume:
        saved = finished_run(out, config)
        if saved is not None:
            log.info("%s: read back (--resume), not fitted again", out)
            return saved
    (out / "metrics.json").unlink(missing_ok=True)  # a run that fails must not look finished
    write_json(out / "config.json", config)
    y_fit = data.factors_train["label"][fit_rows] if labels else None
    result = fit_method(method, x_fit, data.x_test, y_train=y_fit, n_components=2,
                        n_neighbors=n_neighbors, seed=seed, repeats=repeats, **params)
    if result.Z_train is None:
        z_fit = result.transform(data.x_train[data.fit_subset])
    else:
        z_fit = result.Z_train[data.fit_subset] if whole else result.Z_train
    save_embeddings(out / "embeddings.npz", data, result.Z_test, z_fit=z_fit)
    history = getattr(result.model, "history_", None)
    if history:  # DrLIM's training log, as a paper run writes it
        lines = "".join(json.dumps(row) + "\n" for row in history)
        atomic_write(out / "metrics.jsonl", lambda handle: handle.write(lines.encode()))
    seconds = result.transform_seconds
    row = {
        "out_of_sample": not result.transductive,
        "n_fit": len(x_fit),
        "n_test": len(data.x_test),
        **evaluate(data, result.Z_test, scores, z_fit=z_fit, knn_k=knn_k),
        "fit_seconds": result.fit_seconds,
        "transform_seconds_per_1000": (
            None if seconds is None else 1000.0 * seconds / len(data.x_test)),
        "transform_stability": None if result.transform is None else _transform_stability(
            result.transform, data.x_test, result.Z_test, stability_singles),
        "measured": {"finished": utc_timestamp(),
                     "cpu": read_cpuinfo()["model"], "cores": os.cpu_count()},
    }
    write_json(out / "metrics.json", row)
    return row


def finished_run(run_dir: str | os.PathLike, config: dict) -> dict | None:
    """The metrics of the run in ``run_dir`` if it finished (``metrics.json`` and
    ``embeddings.npz`` written) with ``config`` as its ``config.json``; else ``None``.

    A setting changed since (a parameter, a score, the samples: ``config.json`` holds their
    :attr:`Data.digest`) makes it unfinished, so nothing is read back that the settings asked
    to compute differently. A change of code is not seen: rerun without ``resume`` after one.

    >>> import tempfile
    >>> run_dir = Path(tempfile.mkdtemp())
    >>> _ = write_json(run_dir / "config.json", {"seed": 0})
    >>> finished_run(run_dir, {"seed": 0}) is None  # no metrics.json yet
    True
    """
    run_dir = Path(run_dir)
    try:
        saved_config = json.loads((run_dir / "config.json").read_text())
        row = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    same = saved_config == json.loads(json.dumps(config))
    return row if same and (run_dir / "embeddings.npz").is_file() else None
