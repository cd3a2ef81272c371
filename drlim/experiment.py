"""Paper experiments as configurations, and the runner that turns one into a run directory.

An experiment file in ``experiments/`` holds an :class:`ExperimentConfig` (and a few
overrides for ``--quick``); :func:`run_experiment` does the work and writes::

    RUN_DIR/config.json        the configuration, as run
    RUN_DIR/metrics.jsonl      training log (similar and dissimilar losses apart)
    RUN_DIR/checkpoint.msgpack the final training state
    RUN_DIR/embeddings.npz     z_train, z_test and the factors (label, shift, azimuth, ...)
    RUN_DIR/metrics.json       the quality numbers of the test embedding, with their targets

Figures are drawn from these files by :mod:`drlim.figures`, never by training.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drlim import metrics
from drlim._io import atomic_write, write_json
from drlim.baselines import fit_baseline, lle_on_graph
from drlim.config import ExperimentConfig, config_to_dict, override  # noqa: F401 (re-exported)
from drlim.data.mnist import mnist_4_9, pad_images
from drlim.data.norb import norb_airplane
from drlim.data.shift import shift_images
from drlim.models import MLP, LeNetDrLIM
from drlim.neighbors import (
    Graph,
    describe,
    fuzzy_knn_graph,
    grid_graph,
    knn_graph,
    orbit_graph,
)
from drlim.train import embed, train

log = logging.getLogger("drlim")


@dataclass
class Dataset:
    """Training and test samples with their factors of variation."""

    x_train: np.ndarray
    x_test: np.ndarray
    factors_train: dict[str, np.ndarray]
    factors_test: dict[str, np.ndarray]


def load_dataset(config: ExperimentConfig) -> Dataset:
    """The experiment's data, deterministic for ``config.train.seed``."""
    seed = config.train.seed
    if config.dataset in ("mnist-4-9", "mnist-shift"):
        split = mnist_4_9(config.n_train_per_digit, config.n_test_per_digit, seed=seed)
        if config.dataset == "mnist-4-9":
            return Dataset(
                pad_images(split.x_train, 32), pad_images(split.x_test, 32),
                {"label": split.y_train}, {"label": split.y_test},
            )
        n_test = config.n_test_originals or len(split.x_test)
        train_set = shift_images(split.x_train, config.shifts if config.shift_train else ())
        test_set = shift_images(split.x_test[:n_test], config.shifts)
        return Dataset(
            pad_images(train_set.images, 32), pad_images(test_set.images, 32),
            _shift_factors(train_set, split.y_train), _shift_factors(test_set, split.y_test),
        )
    if config.dataset == "norb-airplane":
        split = norb_airplane(config.norb_source, seed=seed, image_size=config.image_size)
        return Dataset(split.x_train, split.x_test, split.factors_train, split.factors_test)
    raise ValueError(f"dataset {config.dataset!r} has no samples")


def build_graph(config: ExperimentConfig, data: Dataset) -> Graph:
    """The neighbourhood graph of the training samples that the config names."""
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
    """Run one experiment into ``out_dir`` and return its ``metrics.json`` content.

    With ``resume``, training continues from the checkpoint in ``out_dir`` (see
    :func:`drlim.train.train`). Each stage is announced on the ``drlim`` logger.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config_to_dict(config))
    started = time.perf_counter()
    if config.kind == "loss-curves":
        result = {"margin": config.train.margin}
    else:
        log.info("%s: loading %s", config.name, config.dataset)
        data = load_dataset(config)
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


def _run_drlim(
    config: ExperimentConfig,
    data: Dataset,
    graph: Graph,
    out: Path,
    progress: bool | None,
    resume: bool,
) -> dict:
    network = make_network(config)
    log.info("%s: training for %d steps", config.name, config.train.total_steps)
    fit = train(network, data.x_train, graph, config.train, workdir=out, progress=progress,
                resume=resume)
    log.info("%s: evaluating", config.name)
    z_train = embed(network, fit.params, data.x_train)
    z_test = embed(network, fit.params, data.x_test)
    save_embeddings(out / "embeddings.npz", z_train, z_test, data)
    result = {"method": "drlim", "train_seconds": round(fit.seconds, 2)}
    result.update(evaluate(config.dataset, data, z_test, transductive=False))
    for name in config.baselines:
        log.info("%s: baseline %s", config.name, name)
        base = fit_baseline(name, data.x_train, data.x_test, n_components=config.n_components,
                            n_neighbors=config.n_neighbors, seed=config.train.seed)
        result[f"baseline_{name}"] = {
            **evaluate(config.dataset, data, base.Z_test, transductive=base.transductive),
            "fit_seconds": round(base.fit_seconds, 2),
        }
        np.savez_compressed(out / f"baseline_{name}.npz", z_test=base.Z_test)
    return result


def _run_lle(config: ExperimentConfig, data: Dataset, graph: Graph, out: Path) -> dict:
    """LLE on the same training samples and graph; it has no mapping, so it is scored on them."""
    flat = data.x_train.reshape(len(data.x_train), -1).astype(np.float64)
    log.info("%s: LLE on %d samples", config.name, len(flat))
    z_train = lle_on_graph(flat, graph.neighbors, n_components=config.n_components)
    as_test = Dataset(data.x_train, data.x_train, data.factors_train, data.factors_train)
    save_embeddings(out / "embeddings.npz", z_train, z_train, as_test)
    result = {"method": "lle", "scored_on": "training samples (LLE is transductive)"}
    result.update(evaluate(config.dataset, as_test, z_train, transductive=True))
    return result


def evaluate(dataset: str, data: Dataset, z_test: np.ndarray, transductive: bool) -> dict:
    """The numbers that say whether a test embedding shows what the paper says."""
    f = data.factors_test
    if dataset == "mnist-4-9":
        flat = data.x_test.reshape(len(data.x_test), -1)
        return {
            "trustworthiness_5": metrics.trustworthiness(flat, z_test, k=5),
            "trustworthiness_10": metrics.trustworthiness(flat, z_test, k=10),
            "knn_accuracy_label": metrics.split_knn_accuracy(z_test, f["label"], k=5),
        }
    if dataset == "mnist-shift":
        return {
            "shift_accuracy": metrics.split_knn_accuracy(z_test, f["shift"], k=5),
            "orbit_spread_ratio": metrics.orbit_spread_ratio(z_test, f["source"]),
            "knn_accuracy_label": metrics.split_knn_accuracy(z_test, f["label"], k=5),
        }
    if dataset == "norb-airplane":
        cylinder = metrics.cylinder_fit(z_test, f["azimuth"], f["elevation"])
        pose = f["azimuth"] * 1000 + f["elevation"]
        return {
            "azimuth_circular_corr": cylinder["azimuth_circular_corr"],
            "elevation_spearman": cylinder["elevation_spearman"],
            "lighting_spread_ratio": metrics.lighting_spread_ratio(z_test, pose, f["lighting"]),
        }
    return {}


def save_embeddings(path: Path, z_train: np.ndarray, z_test: np.ndarray, data: Dataset) -> None:
    """Write ``embeddings.npz``: both embeddings, every factor, and test thumbnails."""
    arrays = {"z_train": z_train, "z_test": z_test}
    arrays.update({f"{k}_train": v for k, v in data.factors_train.items()})
    arrays.update({f"{k}_test": v for k, v in data.factors_test.items()})
    if len(data.x_test) <= 5000:
        arrays["images_test"] = np.round(data.x_test[..., 0] * 255).astype(np.uint8)
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


def _shift_factors(shifted, labels: np.ndarray) -> dict[str, np.ndarray]:
    return {"label": labels[shifted.source], "shift": shifted.shift, "source": shifted.source}


__all__ = [
    "Dataset",
    "ExperimentConfig",
    "build_graph",
    "config_to_dict",
    "evaluate",
    "load_dataset",
    "make_network",
    "override",
    "run_experiment",
    "save_embeddings",
]
