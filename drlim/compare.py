"""Beyond the paper: DrLIM measured against classical embeddings and the tools users pick instead.

The paper argues DrLIM's advantages in words and pictures; this module puts numbers on them.
For each data set (the paper's MNIST 4s and 9s, MNIST with all ten digits, scikit-learn's 8×8
digits) and each method — DrLIM and its variants, PCA, Isomap, LLE, spectral embedding and
t-SNE (:mod:`drlim.baselines`), UMAP, openTSNE, PaCMAP and a parametric UMAP
(:mod:`drlim.peers`) — it measures, on held-out test samples:

- trustworthiness at k = 5, 10, 20 and continuity at k = 10 (input space = raw pixels),
- the accuracy of a 5-NN classifier of the digit labels on the map,
- fit time, transform time per 1,000 samples, whether unseen samples can be mapped at all,
- transform stability: how far a test sample moves when it is mapped with other samples.

Sample sizes follow one rule, stated in the report. DrLIM, PCA, UMAP, openTSNE and PaCMAP
scale, so they are fitted on the whole training set. Isomap, LLE, spectral embedding, t-SNE
and the parametric UMAP (whose training visits every graph edge hundreds of times) are
fitted on a seeded subsample of at most ``max_fit`` training samples.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from drlim import metrics
from drlim._io import atomic_write, write_bytes, write_json
from drlim._timing import timed_call
from drlim.baselines import BASELINES, fit_baseline, is_inductive
from drlim.data.mnist import load_mnist, mnist_4_9
from drlim.estimator import DrLIM
from drlim.peers import PEER_TITLES, PEERS, fit_peer, is_installed, missing_packages, peer_call
from drlim.plots import interactive, save_figure

__all__ = [
    "DATASETS",
    "METHODS",
    "PUBLISHED_MNIST",
    "QUICK",
    "CompareConfig",
    "CompareData",
    "comparison_figure",
    "evaluate",
    "load_data",
    "main",
    "markdown_report",
    "method_title",
    "run_comparison",
    "run_method",
    "write_report",
]

DATASETS: tuple[str, ...] = ("mnist-4-9", "mnist-10", "digits-8x8")
# The methods with fixed names; DrLIM variants are named in the config ("drlim-...").
METHODS: tuple[str, ...] = ("drlim", "drlim-labels", *BASELINES, *PEERS)
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
    **PEER_TITLES,
}
# Fitted on the whole training set (DrLIM variants too); the others on the capped subsample.
SCALABLE = frozenset({"drlim", "drlim-labels", "pca", "umap", "opentsne", "pacmap"})
# DrLIM settings that the comparison itself decides.
_RESERVED_DRLIM_PARAMS = frozenset({"n_components", "random_state", "verbose"})
# Peer settings that the comparison itself decides.
_RESERVED_PEER_PARAMS = frozenset({"n_components", "random_state"})
# A test sample moving less than this fraction of the map's spread counts as not moving.
STABLE_TOLERANCE = 1e-3
# Published MNIST 2-D numbers, for context: a different scoring protocol from this table's.
PUBLISHED_MNIST = {
    "source": "Sainburg, McInnes & Gentner 2021, \"Parametric UMAP embeddings for "
              "representation and semisupervised learning\", Neural Computation 33(11), "
              "MNIST in 2-D",
    "methods": (("t-SNE", 0.987, 0.950), ("parametric t-SNE", 0.966, 0.938),
                ("UMAP", 0.960, 0.954), ("parametric UMAP", 0.957, 0.961)),
}
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
      peers: the tools users pick instead, a subset of :data:`drlim.peers.PEERS`; they
        must be installed (``pip install "drlim[peers]"``).
      peer_params: (peer, settings) pairs: estimator settings, as (name, value) pairs,
        that depart from a peer's library defaults (stated in the report).
      dataset_peer_params: (data set, peer, settings) triples: settings, like
        ``peer_params``, for that data set only, taking precedence.
      drlim_variants: (method name, settings) pairs: further DrLIM rows, each named
        "drlim-..." and fitted with these estimator settings over the data set's own, e.g.
        ``(("drlim-long", (("epochs", 40.0),)),)``. ``n_neighbors`` defaults to the
        comparison's own.
      dataset_variant_params: (data set, variant, settings) triples: settings of one DrLIM
        variant on one data set, over the variant's own (e.g. a shorter run on MNIST-10).
      n_train_per_digit_4_9, n_test_per_digit_4_9: the paper's 4/9 split (3,000 + 3,000
        training, at most 1,000 + 1,000 test; the test split has 982 fours).
      n_train_mnist10: training images of MNIST-10 (a seeded subset below 60,000).
      n_test_digits: test samples of the 8×8 digits split (the rest train).
      max_fit: training samples that Isomap, LLE, spectral, t-SNE and the parametric UMAP
        see, and the size of every method's kNN-classifier reference set.
      max_test: test samples every method is scored on.
      stability_singles: scored test samples that are also mapped one at a time for the
        transform stability (all are mapped in two halves as well).
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
    peers: tuple[str, ...] = ()
    peer_params: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    dataset_peer_params: tuple[tuple[str, str, tuple[tuple[str, Any], ...]], ...] = ()
    drlim_variants: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    dataset_variant_params: tuple[tuple[str, str, tuple[tuple[str, Any], ...]], ...] = ()
    n_train_per_digit_4_9: int = 3000
    n_test_per_digit_4_9: int = 1000
    n_train_mnist10: int = 60_000
    n_test_digits: int = 500
    max_fit: int = 6000
    max_test: int = 2000
    stability_singles: int = 10
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
            ("peers", self.peers, PEERS),
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
                     "knn_k", "timing_repeats", "seed", "stability_singles"):
            value = getattr(self, name)
            low = 0 if name in ("seed", "stability_singles") else 1
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
        if self.stability_singles > self.max_test:
            raise ValueError(f"stability_singles must be <= max_test ({self.max_test}), "
                             f"got {self.stability_singles}")
        _check_drlim_params("drlim_params", self.drlim_params)
        _check_entries("dataset_drlim_params", self.dataset_drlim_params, (DATASETS,),
                       _check_drlim_params)
        names = [entry[0] if isinstance(entry, tuple) and entry else entry
                 for entry in self.drlim_variants]
        for entry in self.drlim_variants:
            if (not isinstance(entry, tuple) or len(entry) != 2 or not isinstance(entry[0], str)
                    or not entry[0].startswith("drlim-") or entry[0] in METHODS
                    or names.count(entry[0]) > 1):
                raise ValueError(
                    f"drlim_variants must be (name, settings) pairs with distinct names "
                    f"'drlim-...' other than {METHODS[:2]}, got {entry!r}"
                )
            _check_drlim_params(f"drlim_variants[{entry[0]!r}]", entry[1])
        _check_entries("dataset_variant_params", self.dataset_variant_params,
                       (DATASETS, tuple(names)), _check_drlim_params)
        _check_entries("peer_params", self.peer_params, (PEERS,), _check_peer_params)
        _check_entries("dataset_peer_params", self.dataset_peer_params, (DATASETS, PEERS),
                       _check_peer_params)

    def drlim_settings(self, dataset: str, variant: str | None = None) -> dict[str, Any]:
        """The ``DrLIM`` settings used on ``dataset``: its own over the common ones, and
        those of DrLIM variant ``variant`` (one of ``drlim_variants``) over both.

        >>> config = CompareConfig(drlim_params=(("epochs", 20.0),),
        ...                        dataset_drlim_params=(("mnist-10", (("epochs", 4.0),)),),
        ...                        drlim_variants=(("drlim-slow", (("learning_rate", 1e-3),)),))
        >>> config.drlim_settings("mnist-10"), config.drlim_settings("mnist-4-9", "drlim-slow")
        ({'epochs': 4.0}, {'epochs': 20.0, 'learning_rate': 0.001})
        """
        own = dict(self.dataset_drlim_params).get(dataset, ())
        if variant is None:
            return {**dict(self.drlim_params), **dict(own)}
        here = [settings for name, which, settings in self.dataset_variant_params
                if name == dataset and which == variant]
        return {**dict(self.drlim_params), **dict(own),
                **dict(dict(self.drlim_variants)[variant]), **dict(here[0] if here else ())}

    def peer_settings(self, peer: str, dataset: str | None = None) -> dict[str, Any]:
        """The settings of ``peer`` that depart from its library's defaults (on ``dataset``:
        its own over the common ones).

        >>> config = CompareConfig(peer_params=(("parametric-umap", (("n_epochs", 20),)),),
        ...     dataset_peer_params=(("digits-8x8", "parametric-umap", (("n_epochs", 500),)),))
        >>> config.peer_settings("parametric-umap"), config.peer_settings("umap", "digits-8x8")
        ({'n_epochs': 20}, {})
        >>> config.peer_settings("parametric-umap", "digits-8x8")
        {'n_epochs': 500}
        """
        own = [settings for name, which, settings in self.dataset_peer_params
               if (name, which) == (dataset, peer)]
        return {**dict(dict(self.peer_params).get(peer, ())), **dict(own[0] if own else ())}


def _check_peer_params(name: str, settings: Any) -> None:
    """``settings`` must be (name, value) pairs leaving the comparison's own settings alone."""
    if not isinstance(settings, tuple) or any(
            not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str)
            or pair[0] in _RESERVED_PEER_PARAMS for pair in settings):
        raise ValueError(
            f"{name} must be (name, value) pairs with names other than "
            f"{sorted(_RESERVED_PEER_PARAMS)}, got {settings!r}"
        )


def _check_entries(
    field: str, entries: Any, keys: tuple[tuple[str, ...], ...],
    check_settings: Callable[[str, Any], None],
) -> None:
    """Each entry of ``field`` is ``(*key, settings)``, its i-th key one of ``keys[i]``."""
    for entry in entries:
        if (not isinstance(entry, tuple) or len(entry) != len(keys) + 1
                or any(key not in allowed for key, allowed in zip(entry, keys, strict=False))):
            choices = " and ".join(str(allowed) for allowed in keys)
            raise ValueError(
                f"{field} must be ({'key, ' * len(keys)}settings) tuples with keys in {choices}, "
                f"got {entry!r}"
            )
        check_settings(f"{field}[{entry[:-1]!r}]", entry[-1])


def _check_drlim_params(name: str, params: Any) -> None:
    """``params`` must be (name, value) pairs naming settings of the ``DrLIM`` estimator."""
    allowed = set(DrLIM().get_params()) - _RESERVED_DRLIM_PARAMS
    bad = [pair for pair in params
           if not isinstance(pair, tuple) or len(pair) != 2 or pair[0] not in allowed]
    if not isinstance(params, tuple) or bad:
        raise ValueError(
            f"{name} must be (name, value) pairs with names in {sorted(allowed)}, got {params!r}"
        )


# Tiny samples of every data set and method (the peers that are installed): checks the whole
# pipeline in about a minute.
QUICK = CompareConfig(
    peers=tuple(peer for peer in PEERS if is_installed(peer)),
    peer_params=(("parametric-umap", (("n_epochs", 5),)),),
    n_train_per_digit_4_9=80,
    n_test_per_digit_4_9=40,
    n_train_mnist10=300,
    n_test_digits=200,
    max_fit=150,
    max_test=60,
    stability_singles=3,
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
    variants = tuple(variant for variant, _ in config.drlim_variants)
    return ("drlim", *labels, *variants, *config.baselines, *config.peers)


def method_title(method: str, config: CompareConfig) -> str:
    """The name of ``method`` in the tables; a DrLIM variant shows its own settings (those
    set to ``None``, the estimator's per-loss defaults, are left out).

    >>> method_title("drlim-long", CompareConfig(drlim_variants=(("drlim-long",
    ...                                                          (("epochs", 40.0),)),)))
    'DrLIM (epochs=40.0)'
    """
    if method in METHOD_TITLES:
        return METHOD_TITLES[method]
    settings = dict(config.drlim_variants)[method]
    shown = [f"{name}={value!r}" for name, value in settings if value is not None]
    return "DrLIM (" + ", ".join(shown) + ")"


def _fit_drlim(method: str, data: CompareData,
               config: CompareConfig) -> tuple[dict, Callable[[np.ndarray], np.ndarray]]:
    """Fit DrLIM on the whole training set; time its transform after a JIT warm-up."""
    variant = None if method in ("drlim", "drlim-labels") else method
    settings = {"n_neighbors": config.n_neighbors, **config.drlim_settings(data.name, variant)}
    model = DrLIM(random_state=config.seed, **settings)
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
    }, model.transform


def _transform_stability(transform: Callable[[np.ndarray], np.ndarray], data: CompareData,
                         z_test: np.ndarray, config: CompareConfig) -> float:
    """:func:`drlim.metrics.transform_stability` of a fitted ``transform`` on the scored test
    samples: ``z_test`` (one call with all of them) against two calls with one half each,
    and against ``config.stability_singles`` of them mapped one at a time; the larger."""
    half = len(data.x_test) // 2
    halves = np.concatenate([transform(data.x_test[:half]), transform(data.x_test[half:])])
    moves = metrics.transform_stability(z_test, halves)
    singles = min(config.stability_singles, len(data.x_test))
    if singles:
        alone = np.concatenate([transform(data.x_test[i:i + 1]) for i in range(singles)])
        moves = max(moves, metrics.transform_stability(z_test, alone, index=np.arange(singles)))
    return moves


def run_method(method: str, data: CompareData, config: CompareConfig) -> dict:
    """Fit ``method`` on ``data`` and embed the reference training subsample and test samples.

    ``method`` is one of :data:`METHODS` or a DrLIM variant of ``config``. Returns a dict
    with ``z_fit`` (embedding of ``data.x_train[data.fit_subset]``), ``z_test``,
    ``out_of_sample``, ``n_fit`` (training samples learned from), ``fit_seconds``, and
    ``transform_seconds`` and ``transform_stability`` (None for transductive methods).

    >>> data = load_data("digits-8x8", CompareConfig(max_test=100))
    >>> run = run_method("pca", data, CompareConfig())
    >>> run["z_test"].shape, run["transform_stability"] < 1e-5  # float32 rounding at most
    ((100, 2), True)
    """
    known = (*METHODS, *dict(config.drlim_variants))
    if method not in known:
        raise ValueError(f"method must be one of {known}, got {method!r}")
    if method == "drlim" or method.startswith("drlim-"):
        run, transform = _fit_drlim(method, data, config)
    else:
        whole = method in SCALABLE
        x_fit = data.x_train if whole else data.x_train[data.fit_subset]
        if method in PEERS:
            result = fit_peer(method, x_fit, data.x_test, n_components=2, seed=config.seed,
                              repeats=config.timing_repeats,
                              **config.peer_settings(method, data.name))
        else:
            result = fit_baseline(method, x_fit, data.x_test, n_components=2,
                                  n_neighbors=config.n_neighbors, seed=config.seed,
                                  repeats=config.timing_repeats)
        run = {
            "z_fit": result.Z_train[data.fit_subset] if whole else result.Z_train,
            "z_test": result.Z_test,
            "out_of_sample": method in PEERS or is_inductive(method),
            "n_fit": len(x_fit),
            "fit_seconds": result.fit_seconds,
            "transform_seconds": result.transform_seconds,
        }
        transform = result.transform
    run["transform_stability"] = (
        None if transform is None else _transform_stability(transform, data, run["z_test"], config))
    return run


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


def _rank(rows: list[dict], method: str, key: str) -> int:
    """1 + the number of ``rows`` scoring strictly higher than ``method`` on ``key``."""
    score = next(row[key] for row in rows if row["method"] == method)
    return 1 + sum(row[key] > score for row in rows)


def _targets(rows: list[dict]) -> dict[str, Any]:
    """Where the unsupervised methods that map unseen samples stand on one data set.

    The best of them by T@5 and by kNN label accuracy and the fastest transform (overall
    and among the nonlinear methods, PCA aside), each a list (ties share the lead); the
    rank of every DrLIM row (1 is the best; ties share a rank); the methods whose test
    samples move by more than
    :data:`STABLE_TOLERANCE` of the map's spread when mapped in another grouping.
    "DrLIM (labels)" is left out: it learns from the labels the kNN accuracy scores.
    """
    mapped = [r for r in rows if r["out_of_sample"] and r["method"] != "drlim-labels"]
    if not mapped:
        return {}
    drlims = [r["method"] for r in mapped if r["method"].startswith("drlim")]

    def best(key: str, candidates: list[dict], sign: float = 1.0) -> list[str]:
        top = max(sign * r[key] for r in candidates)
        return [r["method"] for r in candidates if sign * r[key] == top]

    speed = "transform_seconds_per_1000"
    return {
        "n_ranked": len(mapped),
        "best_t5": best("trustworthiness_5", mapped),
        "best_knn": best("knn_accuracy", mapped),
        "drlim_rank_t5": {m: _rank(mapped, m, "trustworthiness_5") for m in drlims},
        "drlim_rank_knn": {m: _rank(mapped, m, "knn_accuracy") for m in drlims},
        "fastest_transform": best(speed, mapped, -1.0),
        "fastest_nonlinear_transform": best(
            speed, [r for r in mapped if r["method"] != "pca"] or mapped, -1.0),
        "unstable": {r["method"]: r["transform_stability"] for r in mapped
                     if r["transform_stability"] > STABLE_TOLERANCE},
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
    missing = sorted({package for peer in config.peers for package in missing_packages(peer)})
    if missing:
        raise ValueError(
            f"config.peers must be installed (pip install \"drlim[peers]\"), got "
            f"{', '.join(missing)} missing"
        )
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
                "title": method_title(method, config),
                "out_of_sample": run["out_of_sample"],
                "n_fit": run["n_fit"],
                "n_test": len(data.x_test),
                **evaluate(data, run["z_fit"], run["z_test"], config),
                "fit_seconds": run["fit_seconds"],
                "transform_seconds_per_1000": (
                    None if seconds is None else 1000.0 * seconds / len(data.x_test)),
                "transform_stability": run["transform_stability"],
            }
            rows.append(row)
            if verbose:
                print(f"{name:10s} {method:16s} fit {run['fit_seconds']:7.1f} s  "
                      f"T@5 {row['trustworthiness_5']:.3f}", flush=True)
        result["datasets"].append({
            "name": name,
            "title": DATASET_TITLES[name],
            "n_train": len(data.x_train),
            "n_fit_subsample": len(data.fit_subset),
            "n_test_pool": data.n_test_pool,
            "n_test": len(data.x_test),
            "drlim_params": config.drlim_settings(name),
            "drlim_variant_params": {variant: config.drlim_settings(name, variant)
                                     for variant, _ in config.drlim_variants},
            "peer_calls": {peer: peer_call(peer, 2, config.seed, config.peer_settings(peer, name))
                           for peer in config.peers},
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
                "Fit (s)", "Transform (s / 1,000)", "Transform stability"]
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
                  _format(row["transform_seconds_per_1000"], 4),
                  _format(row["transform_stability"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _sizes_note(entry: dict, config: dict) -> str:
    """Which methods learned from the whole training set and which from the subsample."""
    whole = [row["title"] for row in entry["methods"]
             if row["out_of_sample"] and row["n_fit"] == entry["n_train"]]
    capped = [row["title"] for row in entry["methods"] if row["title"] not in whole]
    note = (f"Training set {entry['n_train']:,}, test set {entry['n_test_pool']:,}; every "
            f"method is scored on the same {entry['n_test']:,} test samples")
    if entry["n_test"] < entry["n_test_pool"]:
        note += f" (a seeded subsample, cap {config['max_test']:,})"
    if not capped:
        return note + ". Every method learns from the whole training set."
    if entry["n_fit_subsample"] == entry["n_train"]:
        return note + ". Every method learns from the whole training set (the transductive " \
                      "ones with the test samples)."
    return (note + f". {', '.join(whole)} learn from the whole training set; "
            f"{', '.join(capped)} from a seeded subsample of {entry['n_fit_subsample']:,} "
            f"(cap {config['max_fit']:,}).")


def _ordinal(rank: int) -> str:
    """1 → "1st", 2 → "2nd", 11 → "11th"."""
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix}"


def _target_lines(entry: dict, config: dict) -> list[str]:
    """What the table shows, in words: who leads, where each DrLIM row ranks, speed, stability."""
    targets = entry["targets"]
    if not targets:
        return []
    rows = {row["method"]: row for row in entry["methods"]}
    t5, knn, speed = "trustworthiness_5", "knn_accuracy", "transform_seconds_per_1000"
    knn_name = f"{config['knn_k']}-NN accuracy"

    def named(methods: list[str], key: str) -> str:
        titles = [rows[m]["title"] for m in methods]
        joined = ", ".join(titles[:-1]) + " and " + titles[-1] if len(titles) > 1 else titles[0]
        return f"{joined} ({_format(rows[methods[0]][key])})"

    def fastest(methods: list[str]) -> str:
        return (", ".join(rows[m]["title"] for m in methods)
                + f", {_format(rows[methods[0]][speed], 4)}")

    n = targets["n_ranked"]
    lines = [
        "",
        f"Of the {n} unsupervised methods that map unseen samples, the highest T@5 is "
        f"{named(targets['best_t5'], t5)} and the best {knn_name} "
        f"{named(targets['best_knn'], knn)}.",
    ]
    lead_t5 = rows[targets["best_t5"][0]][t5]
    lead_knn = rows[targets["best_knn"][0]][knn]
    for method, rank in targets["drlim_rank_t5"].items():
        row = rows[method]
        rank_knn = targets["drlim_rank_knn"][method]
        lines[-1] += (
            f" {row['title']} ranks {_ordinal(rank)} of {n} at T@5 ({_format(row[t5])}, "
            f"{_format(lead_t5 - row[t5])} below the best) and {_ordinal(rank_knn)} at "
            f"{knn_name} ({_format(row[knn])}, {_format(lead_knn - row[knn])} below).")
    lines[-1] += (
        f" Fastest transform: {fastest(targets['fastest_transform'])} s / 1,000; "
        f"among the nonlinear methods: {fastest(targets['fastest_nonlinear_transform'])}.")
    unstable = targets["unstable"]
    if unstable:
        moved = ", ".join(f"{rows[m]['title']} up to {_format(v, 2)}×"
                          for m, v in sorted(unstable.items(), key=lambda item: -item[1]))
        lines[-1] += (f" Mapped in another grouping, test samples move: {moved} the map's "
                      f"spread; the other methods by less than {STABLE_TOLERANCE:g}×.")
    else:
        lines[-1] += (f" No method's test samples move by {STABLE_TOLERANCE:g}× the map's "
                      "spread or more when mapped in another grouping.")
    return lines


def _published_lines(entry: dict) -> list[str]:
    """The published MNIST numbers, under the MNIST-10 table, with how their protocol differs."""
    if entry["name"] != "mnist-10":
        return []
    numbers = "; ".join(f"{name} {trust:.3f} / {knn:.3f}"
                        for name, trust, knn in PUBLISHED_MNIST["methods"])
    return [
        "",
        f"Published, for context ({PUBLISHED_MNIST['source']}; trustworthiness / 5-NN "
        f"accuracy): {numbers}. Their trustworthiness is measured on the training points "
        "that the embedding was fitted on, ours on held-out test samples, and their networks "
        "and training budgets are their own: the numbers do not compare directly with this "
        "table.",
    ]


def _drlim_call(params: dict[str, Any]) -> str:
    """The DrLIM estimator call the comparison made, in words a reader can copy."""
    if not params:
        return "the `DrLIM` estimator's defaults"
    given = ", ".join(f"{name}={value!r}" for name, value in params.items())
    return f"`DrLIM({given})`, the estimator's defaults otherwise"


def _compared(result: dict) -> str:
    """The methods other than DrLIM in the report, in table order, in words."""
    titles: list[str] = []
    for entry in result["datasets"]:
        for row in entry["methods"]:
            if not row["method"].startswith("drlim") and row["title"] not in titles:
                titles.append(row["title"])
    if len(titles) < 2:
        return "".join(titles) or "nothing else"
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def markdown_report(result: dict) -> str:
    """``comparison.md``: what was measured and how, then one table per data set.

    >>> import tempfile
    >>> quick = dataclasses.replace(QUICK, datasets=("digits-8x8",), baselines=("pca",),
    ...                             peers=())
    >>> result = run_comparison(quick, tempfile.mkdtemp(), verbose=False)
    >>> markdown_report(result).splitlines()[0]
    '# DrLIM against PCA'
    """
    config = result["config"]
    machine = result["machine"]
    ks = ", ".join(str(k) for k in config["trust_ks"])
    lines = [
        f"# DrLIM against {_compared(result)}",
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
        "- **Transform stability**: the scored test samples are mapped once in one call, "
        f"once in two calls of one half each, and {config['stability_singles']} of them one "
        "at a time; the column is the largest move of a sample between these groupings, "
        "divided by the map's spread (the root mean square distance of the test samples to "
        "their centroid). A learned function scores 0; transforms that optimise the new "
        "samples together can place a sample differently depending on the other samples "
        "of the call. \"—\": the method has no transform.",
        f"- Seed {config['seed']}; {config['n_neighbors']} neighbours for the DrLIM graph, "
        "Isomap, LLE and spectral embedding. Measured on "
        f"{machine['cpu_count']} CPU cores (load average "
        f"{machine['load_average_at_start'][0]:.1f} at start); the whole comparison took "
        f"{result['seconds'] / 60:.1f} min. Trustworthiness depends on the number of samples "
        "scored: compare numbers within one table.",
        "- Every baseline runs with scikit-learn's defaults apart from the neighbours; "
        "DrLIM's settings are stated under each table.",
    ]
    if any(entry.get("peer_calls") for entry in result["datasets"]):
        lines.append(
            "- The peers run with their libraries' defaults apart from the settings in the "
            "calls stated under each table. The parametric UMAP trains DrLIM's own network "
            "(the paper's conv net on MNIST, the 20-unit MLP on flat data; the same layers "
            "and parameter count, in Keras), so the loss, not the network, differs.")
    for entry in result["datasets"]:
        lines += ["", f"## {entry['title']} (`{entry['name']}`)", "",
                  _sizes_note(entry, config), ""]
        lines += _dataset_table(entry, config)
        lines += ["", f"DrLIM ran as {_drlim_call(entry['drlim_params'])}."]
        titles = {row["method"]: row["title"] for row in entry["methods"]}
        for variant, params in entry.get("drlim_variant_params", {}).items():
            lines[-1] += f" {titles[variant]} ran as {_drlim_call(params)}."
        for peer, call in entry.get("peer_calls", {}).items():
            lines[-1] += f" {titles[peer]}: `{call}`."
        lines += _target_lines(entry, config)
        lines += _published_lines(entry)
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
    present: list[str] = []
    for entry in entries:
        present += [row["method"] for row in entry["methods"] if row["method"] not in present]
    # table order: DrLIM, DrLIM (labels), the DrLIM variants, the baselines, the peers
    variants = [m for m in present if m not in METHODS]
    columns = [m for m in METHODS[:2] if m in present] + variants
    columns += [m for m in METHODS[2:] if m in present]
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
            ax.set_title(f"{rows[method]['title']}{marker}\n"
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


def interactive_map(result: dict, run_dir: str | os.PathLike, out: str | os.PathLike,
                    config: CompareConfig, dataset: str = "mnist-10") -> Path | None:
    """The best DrLIM map (by 5-NN label accuracy) of ``dataset``'s test digits as one HTML
    page where hovering a point shows the digit (:func:`drlim.plots.interactive`); drawn from
    the run directory's embeddings. None when the comparison did not run ``dataset``.
    """
    entry = next((e for e in result["datasets"] if e["name"] == dataset), None)
    if entry is None:
        return None
    rows = [row for row in entry["methods"] if row["method"].startswith("drlim")]
    best = max(rows, key=lambda row: row["knn_accuracy"])
    saved = np.load(Path(run_dir) / dataset / f"{best['method']}.npz")
    pixels = load_data(dataset, config).x_test
    side = int(round(np.sqrt(pixels[0].size)))
    return interactive(
        saved["z_test"], labels=saved["y_test"], images=pixels.reshape(-1, side, side),
        label_name="digit", path=Path(out) / f"comparison_{dataset}_interactive.html",
        title=f"{best['title']} on {entry['title']}: test digits (hover for the image)",
    )


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
    written = [*write_report(result, run_dir, out), interactive_map(result, run_dir, out, config)]
    for path in written:
        if path is not None:
            print(path)
    return result
