"""Beyond the paper: DrLIM against classical embeddings and the tools users pick instead.

The comparison is a set of runs of the one pipeline (:mod:`drlim.runs`): for each data set
(the paper's MNIST 4s and 9s, MNIST with all ten digits, scikit-learn's 8×8 digits) and each
method — DrLIM and its variants, PCA, Isomap, LLE, spectral embedding and t-SNE, UMAP,
openTSNE, PaCMAP and a parametric UMAP (:mod:`drlim.methods`) — :func:`drlim.runs.run_method`
fits it, maps the held-out test samples and scores them by the comparison's protocol
(:func:`drlim.runs.evaluate`): trustworthiness at k = 5, 10, 20 and continuity at k = 10
(raw pixels), the accuracy of a 5-NN classifier of the digit labels fitted on the map of the
training subsample, the fraction of coinciding test samples, fit and transform times and
transform stability. Each run writes ``RUNS/compare/<data set>/<method>/``;
:mod:`drlim.report` draws ``comparison.md`` / ``.json`` / ``.png`` from those directories.

Sample sizes follow one rule, stated in the report. DrLIM, PCA, UMAP, openTSNE and PaCMAP
scale, so they are fitted on the whole training set. Isomap, LLE, spectral embedding, t-SNE
and the parametric UMAP (whose training visits every graph edge hundreds of times) are
fitted on a seeded subsample of at most ``max_fit`` training samples.
Every method is scored on the same seeded subsample of at most ``max_test`` test samples, so
the numbers in one table are comparable; trustworthiness depends on the number of points
scored. The kNN classifier of every method is fitted on the embedding of the same training
subsample. Transductive methods (spectral, t-SNE) have no mapping: they embed that training
subsample and the scored test samples together.

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

from drlim._io import write_json
from drlim.methods import BASELINES, PEERS, is_installed, method_call, missing_packages
from drlim.methods import METHODS as REGISTRY
from drlim.runs import MAX_DIGITS_TEST as _MAX_DIGITS_TEST
from drlim.runs import Data, check_scores, load_data
from drlim.timing import read_cpuinfo, utc_timestamp
from drlim.validation import check_choice, check_int

__all__ = [
    "DATASETS",
    "METHODS",
    "QUICK",
    "CompareConfig",
    "comparison_data",
    "method_title",
    "rescore_comparison",
    "run_comparison",
    "scores",
]

DATASETS: tuple[str, ...] = ("mnist-4-9", "mnist-10", "digits-8x8", "mnist-shift")
# The methods with fixed names, in table order; DrLIM variants are named in the config.
METHODS: tuple[str, ...] = ("drlim", "drlim-labels", *BASELINES, *PEERS)
DATASET_TITLES = {
    "mnist-4-9": "MNIST 4s and 9s, the paper's set",
    "mnist-10": "MNIST, all ten digits",
    "digits-8x8": "scikit-learn 8×8 digits",
    "mnist-shift": "MNIST 4s and 9s shifted by -6, -3, 0, 3, 6 px",
}
# DrLIM settings beyond the estimator's: its network is then an MLP of these layers.
_NETWORK_PARAMS = frozenset({"hidden", "activation"})
# The fixed names in the tables; DrLIM's own names its graph (method_title).
METHOD_TITLES = {
    "drlim-labels": "DrLIM (labels)",
    **{name: REGISTRY[name].title for name in (*BASELINES, *PEERS)},
}
# DrLIM settings that the comparison itself decides.
_RESERVED_DRLIM_PARAMS = frozenset({"n_components", "random_state", "verbose"})
# Peer settings that the comparison itself decides.
_RESERVED_PEER_PARAMS = frozenset({"n_components", "random_state"})
RUN_NAME = "compare"


@dataclass(frozen=True)
class CompareConfig:
    """What :func:`run_comparison` runs: data sets, methods, sample sizes, metric settings.

    Attributes:
      datasets: data sets, a subset of :data:`DATASETS`.
      label_datasets: data sets on which supervised "DrLIM (labels)" runs as well.
      baselines: baselines, a subset of :data:`drlim.methods.BASELINES`.
      peers: the tools users pick instead, a subset of :data:`drlim.methods.PEERS`; they
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
      knn_k: neighbours voting in the kNN label classifier (``knn_accuracy``; the split-half
        scores ``knn_accuracy_label`` and ``shift_accuracy`` keep the paper protocol's 5).
      timing_repeats: calls of every ``transform`` timed; the fastest is reported.
      drlim_params: extra ``DrLIM`` estimator settings as (name, value) pairs; empty keeps
        the estimator's defaults.
      dataset_drlim_params: (data set, settings) pairs: settings, like ``drlim_params``,
        that apply on that data set only and take precedence. Besides the estimator's,
        ``hidden`` and ``activation`` make DrLIM's network an MLP of those layers.
      scores: the numbers of :func:`drlim.runs.evaluate` to report, e.g.
        ``("shift_accuracy", "knn_accuracy_label")``; empty: the comparison's protocol
        (:func:`scores`) and its full report.
      seed: seeds every split, subsample and fit.

    >>> CompareConfig(datasets=("digits-8x8",), baselines=("pca",)).max_test
    2000
    """

    datasets: tuple[str, ...] = DATASETS[:3]
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
    scores: tuple[str, ...] = ()
    seed: int = 0

    @property
    def largest_k(self) -> int:
        """The largest neighbourhood a score ranks (of ``trust_ks`` and ``continuity_k``): the
        scored test samples must number more than twice it."""
        return max(*self.trust_ks, self.continuity_k)

    def __post_init__(self) -> None:
        for name, known in (("datasets", DATASETS), ("label_datasets", DATASETS),
                            ("baselines", BASELINES), ("peers", PEERS)):
            values = getattr(self, name)
            for i, value in enumerate(values):
                check_choice(value, f"{name}[{i}]", known)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must hold distinct names, got {tuple(values)!r}")
        if not self.datasets:
            raise ValueError(f"datasets must name at least one of {DATASETS}, got ()")
        for name in ("n_train_per_digit_4_9", "n_test_per_digit_4_9", "max_fit", "max_test",
                     "n_neighbors", "continuity_k", "timing_repeats", "seed"):
            check_int(getattr(self, name), name, 0 if name == "seed" else 1)
        check_int(self.n_train_mnist10, "n_train_mnist10", 1, 60_000)
        check_int(self.n_test_digits, "n_test_digits", 1, _MAX_DIGITS_TEST)
        check_int(self.knn_k, "knn_k", 1, self.max_fit)
        check_int(self.stability_singles, "stability_singles", 0, self.max_test)
        if not self.trust_ks:
            raise ValueError(f"trust_ks must hold at least one int >= 1, got {self.trust_ks!r}")
        for i, k in enumerate(self.trust_ks):
            check_int(k, f"trust_ks[{i}]", 1)
        check_scores(self.scores)
        if 2 * self.largest_k >= self.max_test:
            raise ValueError(f"max_test must exceed twice the largest k ({2 * self.largest_k}), "
                             f"got {self.max_test}")
        _check_settings(self.drlim_params, "drlim_params", "drlim")
        _check_entries(self.dataset_drlim_params, "dataset_drlim_params",
                       {"dataset": DATASETS}, "drlim")
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
            _check_settings(entry[1], f"drlim_variants[{entry[0]!r}]", "drlim")
        _check_entries(self.dataset_variant_params, "dataset_variant_params",
                       {"dataset": DATASETS, "variant": tuple(names)}, "drlim")
        _check_entries(self.peer_params, "peer_params", {"peer": PEERS}, "peer")
        _check_entries(self.dataset_peer_params, "dataset_peer_params",
                       {"dataset": DATASETS, "peer": PEERS}, "peer")

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
        return {**dict(self.drlim_params), **dict(own), **self.variant_settings(variant, dataset)}

    def variant_settings(self, variant: str, dataset: str | None = None) -> dict[str, Any]:
        """DrLIM variant ``variant``'s own settings (on ``dataset``: its settings there over
        them), without the ones it shares with plain DrLIM.

        >>> config = CompareConfig(drlim_variants=(("drlim-slow", (("learning_rate", 1e-3),)),),
        ...     dataset_variant_params=(("mnist-10", "drlim-slow", (("epochs", 4.0),)),))
        >>> config.variant_settings("drlim-slow"), config.variant_settings("drlim-slow", "mnist-10")
        ({'learning_rate': 0.001}, {'learning_rate': 0.001, 'epochs': 4.0})
        """
        here = [settings for name, which, settings in self.dataset_variant_params
                if name == dataset and which == variant]
        return {**dict(dict(self.drlim_variants)[variant]), **dict(here[0] if here else ())}

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


def _check_settings(settings: Any, name: str, kind: str) -> None:
    """``settings`` must be (name, value) pairs: for ``kind`` "drlim", names of ``DrLIM``
    settings; for "peer", any of the peer's library but those the comparison decides.

    Local: it checks the comparison config's own format of settings.
    """
    if not isinstance(settings, tuple) or any(
            not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str)
            for pair in settings):
        raise ValueError(f"{name} must be a tuple of (name, value) pairs, got {settings!r}")
    if kind == "drlim":
        from drlim.estimator import DrLIM

        allowed = (set(DrLIM().get_params()) | _NETWORK_PARAMS) - _RESERVED_DRLIM_PARAMS
        for key, _ in settings:
            check_choice(key, f"{name} setting", tuple(sorted(allowed)))
        return
    reserved = sorted(key for key, _ in settings if key in _RESERVED_PEER_PARAMS)
    if reserved:
        raise ValueError(f"{name} must leave {sorted(_RESERVED_PEER_PARAMS)} to the "
                         f"comparison, got {reserved}")


def _check_entries(entries: Any, field: str, keys: dict[str, tuple[str, ...]],
                   kind: str) -> None:
    """Each entry of ``field`` is ``(*key, settings)``: its keys from ``keys`` (their names
    and allowed values, in order), then settings of ``kind`` (:func:`_check_settings`).

    Local: it checks the comparison config's own format of per-data-set settings.
    """
    shape = f"({', '.join(keys)}, settings)"
    for entry in entries:
        if not isinstance(entry, tuple) or len(entry) != len(keys) + 1:
            raise ValueError(f"{field} must hold {shape} tuples, got {entry!r}")
        for key, (label, allowed) in zip(entry, keys.items(), strict=False):
            check_choice(key, f"{field} {label}", allowed)
        _check_settings(entry[-1], f"{field}[{entry[:-1]!r}]", kind)


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
    drlim_params=(("epochs", 1.0), ("batch_size", 8)),
)


def _methods(name: str, config: CompareConfig) -> tuple[str, ...]:
    """The methods run on data set ``name``, in table order."""
    labels = ("drlim-labels",) if name in config.label_datasets else ()
    variants = tuple(variant for variant, _ in config.drlim_variants)
    return ("drlim", *labels, *variants, *config.baselines, *config.peers)


def method_title(method: str, config: CompareConfig, dataset: str | None = None) -> str:
    """The name of ``method`` in the tables; a DrLIM variant shows its own settings (on
    ``dataset``: those it has there), less those set to ``None``, the estimator's per-loss
    defaults.

    >>> method_title("drlim-long", CompareConfig(drlim_variants=(("drlim-long",
    ...                                                          (("epochs", 40.0),)),)))
    'DrLIM (epochs=40.0)'
    """
    if method == "drlim":
        return f"DrLIM ({config.n_neighbors}-NN graph)"
    if method in METHOD_TITLES:
        return METHOD_TITLES[method]
    settings = config.variant_settings(method, dataset)
    shown = [f"{name}={value!r}" for name, value in settings.items() if value is not None]
    return "DrLIM (" + ", ".join(shown) + ")"


def comparison_data(name: str, config: CompareConfig) -> Data:
    """Data set ``name`` with its training subsample and scored test samples.

    Deterministic for ``config.seed``. "mnist-4-9" is :func:`drlim.data.mnist_4_9`;
    "mnist-10" the official MNIST split (a seeded subset of ``n_train_mnist10`` training
    images); "digits-8x8" scikit-learn's digits / 16, split by a seeded permutation.

    >>> data = comparison_data("digits-8x8", CompareConfig(max_test=300))
    >>> data.x_train.shape, data.x_test.shape
    ((1297, 64), (300, 64))
    """
    check_choice(name, "name", DATASETS)
    options = {
        "mnist-4-9": {"n_train_per_digit": config.n_train_per_digit_4_9,
                      "n_test_per_digit": config.n_test_per_digit_4_9},
        "mnist-10": {"n_train": config.n_train_mnist10},
        "digits-8x8": {"n_test": config.n_test_digits},
        "mnist-shift": {"n_train_per_digit": config.n_train_per_digit_4_9,
                        "n_test_per_digit": config.n_test_per_digit_4_9},
    }[name]
    return load_data(name, seed=config.seed, max_fit=config.max_fit, max_test=config.max_test,
                     **options)


def _check_sizes(data: Data, config: CompareConfig) -> None:
    """Refuse, before any fit on ``data``, a k that its scored test samples or its training
    subsample cannot serve (``max_test`` and ``max_fit`` are only upper bounds)."""
    if 2 * config.largest_k >= len(data.x_test):
        raise ValueError(f"{data.name}: its {len(data.x_test)} scored test samples must exceed "
                         f"twice the largest k of trust_ks and continuity_k "
                         f"({2 * config.largest_k})")
    if config.knn_k > len(data.fit_subset):
        raise ValueError(f"{data.name}: knn_k must be at most its {len(data.fit_subset)} "
                         f"training samples, got {config.knn_k}")


def scores(config: CompareConfig) -> tuple[str, ...]:
    """The numbers of :func:`drlim.runs.evaluate` the comparison reports, in table order.

    >>> scores(CompareConfig())
    ('trustworthiness_5', 'trustworthiness_10', 'trustworthiness_20', 'continuity_10', \
'knn_accuracy', 'coinciding')
    """
    if config.scores:
        return config.scores
    return (*(f"trustworthiness_{k}" for k in config.trust_ks),
            f"continuity_{config.continuity_k}", "knn_accuracy", "coinciding")


def _run_settings(method: str, dataset: str, config: CompareConfig) -> dict[str, Any]:
    """The keyword arguments of :func:`drlim.runs.run_method` for one row of the table."""
    common = {"scores": scores(config), "n_neighbors": config.n_neighbors, "seed": config.seed,
              "repeats": config.timing_repeats, "stability_singles": config.stability_singles,
              "knn_k": config.knn_k}
    if method == "drlim" or method.startswith("drlim-"):
        variant = None if method in ("drlim", "drlim-labels") else method
        return {**common, "method": "drlim", "labels": method == "drlim-labels",
                **config.drlim_settings(dataset, variant)}
    return {**common, "method": method, "whole": REGISTRY[method].scalable,
            **(config.peer_settings(method, dataset) if method in PEERS else {})}


def run_comparison(config: CompareConfig, run_dir: str | os.PathLike,
                   verbose: bool = True, resume: bool = False) -> dict:
    """Run every method of ``config`` on every data set, one run directory each.

    Writes ``run_dir/<dataset>/<method>/`` (:func:`drlim.runs.run_method`) and
    ``run_dir/results.json`` (:func:`drlim.report.collect_comparison`), and returns the
    results: the config, the machine, and per data set its sizes, one row of numbers per
    method and where the methods stand. With ``resume``, rows that an earlier run of the
    same settings finished in ``run_dir`` are read back, not fitted again (each row keeps
    when and on which CPU it was measured; ``read_back`` lists them).

    >>> import tempfile
    >>> quick = dataclasses.replace(QUICK, datasets=("digits-8x8",), baselines=("pca",),
    ...                             peers=())
    >>> run_comparison(quick, tempfile.mkdtemp(), verbose=False)["datasets"][0]["name"]
    'digits-8x8'
    """
    from drlim.report import collect_comparison
    from drlim.runs import run_method

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
    header: dict[str, Any] = {
        "config": json.loads(json.dumps(dataclasses.asdict(config))),
        "started": utc_timestamp(),
        "machine": {"cpu": read_cpuinfo()["model"], "cpu_count": os.cpu_count(),
                    "platform": platform.platform(),
                    "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
        "datasets": [],
    }
    read_back = []
    for name in config.datasets:
        data = comparison_data(name, config)
        _check_sizes(data, config)
        for method in _methods(name, config):
            settings = _run_settings(method, name, config)
            metrics_path = run_dir / name / method / "metrics.json"
            saved = _modified(metrics_path)
            row = run_method(settings.pop("method"), data, run_dir / name / method,
                             resume=resume, **settings)
            if saved is not None and _modified(metrics_path) == saved:
                read_back.append(f"{name}/{method}")
            if verbose:
                first = settings["scores"][0]
                print(f"{name:10s} {method:16s} fit {row['fit_seconds']:7.1f} s  "
                      f"{first} {row[first]:.3f}", flush=True)
        header["datasets"].append({
            "name": name,
            "title": DATASET_TITLES[name],
            "n_train": len(data.x_train),
            "n_fit_subsample": len(data.fit_subset),
            "n_test_pool": data.n_test_pool,
            "n_test": len(data.x_test),
            "drlim_params": config.drlim_settings(name),
            "drlim_variant_params": {variant: config.drlim_settings(name, variant)
                                     for variant, _ in config.drlim_variants},
            "peer_calls": {peer: method_call(peer, 2, config.seed,
                                             config.peer_settings(peer, name))
                           for peer in config.peers},
            "methods": [{"method": m, "title": method_title(m, config, name)}
                        for m in _methods(name, config)],
        })
    header["seconds"] = time.perf_counter() - started
    header["read_back"] = read_back
    result = collect_comparison(run_dir, header)
    write_json(run_dir / "results.json", result)
    return result


def _modified(path: Path) -> int | None:
    """When ``path`` was last written (nanoseconds), or None when it does not exist."""
    return path.stat().st_mtime_ns if path.exists() else None


def rescore_comparison(run_dir: str | os.PathLike, verbose: bool = True) -> dict:
    """Score a saved comparison again from its embeddings, fitting nothing.

    For when a metric changes: every run of ``run_dir/results.json`` is scored by
    :func:`drlim.runs.rescored_metrics` with today's metrics on the data its saved config
    names; once all are scored, their ``metrics.json`` and ``results.json`` are rewritten,
    with the time of the rescoring under ``rescored``. The fits' timings stay as measured.

    >>> import tempfile
    >>> quick = dataclasses.replace(QUICK, datasets=("digits-8x8",), baselines=("pca",),
    ...                             peers=())
    >>> run_dir = tempfile.mkdtemp()
    >>> first = run_comparison(quick, run_dir, verbose=False)
    >>> again = rescore_comparison(run_dir, verbose=False)
    >>> again["datasets"] == first["datasets"], "rescored" in again
    (True, True)
    """
    from drlim.report import collect_comparison
    from drlim.runs import rescored_metrics

    run_dir = Path(run_dir)
    saved = json.loads((run_dir / "results.json").read_text())
    config = CompareConfig(**_as_tuples(saved["config"]))
    header = {**saved, "datasets": [], "rescored": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                  time.gmtime())}
    names, rows = scores(config), {}
    for entry in saved["datasets"]:
        data = comparison_data(entry["name"], config)
        for row in entry["methods"]:
            path = run_dir / entry["name"] / row["method"]
            rows[path] = rescored_metrics(data, path, scores=names, knn_k=config.knn_k)
            if verbose:
                print(f"{entry['name']:10s} {row['method']:16s} {names[0]} "
                      f"{row[names[0]]:.4f} -> {rows[path][names[0]]:.4f}", flush=True)
        header["datasets"].append({
            **{key: value for key, value in entry.items() if key != "targets"},
            "methods": [{"method": row["method"], "title": row["title"]}
                        for row in entry["methods"]]})
    for path, row in rows.items():  # only once every run has been scored
        write_json(path / "metrics.json", row)
    result = collect_comparison(run_dir, header)
    write_json(run_dir / "results.json", result)
    return result


def _as_tuples(value: Any) -> Any:
    """``value`` read back from JSON with its lists as tuples again (a config's fields)."""
    if isinstance(value, list):
        return tuple(_as_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _as_tuples(item) for key, item in value.items()}
    return value
