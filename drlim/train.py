"""The JIT training loop: pair sampling, mapping, contrastive loss and update in one step.

A training step draws pairs from the neighbourhood graph (:mod:`drlim.pairs`), maps the
images they touch with the network, and applies the contrastive loss
(:mod:`drlim.loss`). ``log_every`` steps run inside one ``jax.lax.scan`` under one
``jax.jit`` call, so the host only sees the device once per logging interval.

Three ways to draw pairs:

* ``"pairs"``: ``batch_size`` independent pairs, ``similar_fraction`` of them similar —
  the paper's protocol.
* ``"block"``: ``batch_size`` anchors plus one neighbour each (``2 * batch_size`` images),
  and *every* pair among them labelled by the graph; each image is mapped once and reused by
  ``2 * batch_size - 1`` pairs. The objective weighs the mean similar-pair loss by
  ``similar_fraction`` and the mean dissimilar-pair loss by the rest, as the ``"pairs"``
  objective does on average, but over other pairs: only samples with neighbours, and their
  neighbours, enter a block, so a sample without one is never paired (:func:`train` warns).
* ``"all"``: every pair of the (small) training set at every step, weighted as in
  ``"block"`` — the paper's protocol for the 660 NORB images.

The loss is DrLIM's Eq. 4 (``loss="drlim"``, the default, sampled as above) or one of its
descendants (:mod:`drlim.loss`), which sample their own way whatever the ``mode``: each step
draws ``batch_size`` positive edges in proportion to their weight and ``negatives`` uniform
samples per edge (:func:`drlim.pairs.sample_edges`), gathers the anchors, positives and
negatives and maps them in one network call:

* ``"umap"``: UMAP's fuzzy cross-entropy, each edge against its own ``negatives``;
* ``"neg"``: negative sampling with the Cauchy kernel, sampled as ``"umap"``;
* ``"infonce"``: InfoNCE with the Cauchy kernel, each anchor against all
  ``batch_size * negatives`` negatives of the step.

``augment`` (:mod:`drlim.augment`) transforms every image of a step by its own random draw;
with the edge-sampling losses each sample is then also its own neighbour (a sample and a
transformed copy of it form a similar pair).

The step is one function jitted at module level (:func:`run_steps`): a second run with the
same network, settings and data shapes compiles nothing. Across processes, JAX's persistent
compilation cache keeps the compiled programs under drlim's cache directory
(``$DRLIM_CACHE/jax-compilation``, else ``~/.cache/drlim/jax-compilation``), switched on by the
first :func:`train` (see :func:`use_compilation_cache`); ``DRLIM_COMPILATION_CACHE=0`` turns
that off.

A run directory (``workdir``) receives ``metrics.jsonl`` (one row per logging interval,
the similar-pair and dissimilar-pair losses kept apart) and atomic checkpoints; with
``resume=True`` training continues from the last checkpoint and ends on the same
parameters as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm import tqdm

from drlim._io import array_digest, read_jsonl, write_bytes
from drlim._xla import FAST_COMPILE
from drlim.augment import Augment, augment_batch, parse_augment
from drlim.config import TrainConfig, cache_dir
from drlim.loss import (
    contrastive_loss,
    infonce_parts,
    neg_loss,
    pair_distance,
    umap_ab,
    umap_loss,
)
from drlim.models import for_mapping
from drlim.neighbors import Graph
from drlim.pairs import (
    PairSampler,
    bucketed,
    is_similar,
    make_sampler,
    sample_block,
    sample_edges,
    sample_negatives,
    sample_pairs,
)
from drlim.validation import check_int

log = logging.getLogger("drlim")

MAX_ALL_PAIRS_SAMPLES = 4096
CHECKPOINT_NAME = "checkpoint.msgpack"
# What a run in a workdir was started with, so that resuming can refuse another run's state.
RUN_RECORD_NAME = "train_run.json"
# A loss this many times its first value means the run diverged (learning rate too high).
DIVERGENCE_FACTOR = 1e3
# Losses below this are not used as the reference for divergence (a near-zero first loss).
DIVERGENCE_FLOOR = 1e-3
# Folded into a step's key to draw its augmentations apart from its pairs.
AUGMENT_STREAM = 0x5EED
# Batches that embed maps in one call at most (a power of two: its programs map 1, 2, 4, ...
# and this many).
MAX_CALL_BATCHES = 8


# ``DRLIM_COMPILATION_CACHE=0`` (or false, off, no) keeps JAX's compiled programs in memory only.
COMPILATION_CACHE_ENV = "DRLIM_COMPILATION_CACHE"
COMPILATION_CACHE_FOLDER = "jax-compilation"
# JAX stores only programs that took this long to compile (its default is 1 s). drlim keeps
# every program: a fit also runs a few small eager operations and the transform, each compiled
# in well under a second, and together they were an eighth of a cold fit's compile time.
MIN_CACHED_COMPILE_SECONDS = 0.0
DEFAULT_MIN_COMPILE_SECONDS = 1.0


@dataclass
class TrainResult:
    """Trained parameters, the logged history and how long it took."""

    params: Any
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


class NonFiniteLossError(FloatingPointError):
    """Raised when the loss becomes NaN (an inf after a finite first loss is a
    :class:`DivergenceError`) or the parameters NaN or inf; the last good checkpoint is kept."""


class DivergenceError(FloatingPointError):
    """Raised when the loss grows by orders of magnitude: the learning rate is too high."""


def make_optimizer(config: TrainConfig, n: int = 0) -> optax.GradientTransformation:
    """The optimizer and learning-rate schedule a config names (SGD + momentum or Adam);
    ``n``, the number of training samples, sets a cosine schedule's length when the config
    counts ``epochs``."""
    if config.schedule == "cosine":
        if not config.steps and n < 1:
            raise ValueError(f"n must be the number of training samples (>= 1) for a cosine "
                             f"schedule over {config.epochs:g} epochs, got {n}")
        lr = optax.cosine_decay_schedule(config.learning_rate, config.total_steps(n))
    else:
        lr = config.learning_rate
    if config.optimizer == "sgd":
        return optax.sgd(lr, momentum=config.momentum or None)
    return optax.adam(lr)


def use_compilation_cache() -> Path | None:
    """Keep JAX's compiled programs on disk in drlim's cache directory, so that a new process
    loads the training step instead of compiling it again; returns the folder, or None when
    the cache is left alone.

    :func:`train` calls it (importing drlim changes nothing). The folder is
    ``jax-compilation`` under :func:`drlim.config.cache_dir` (``$DRLIM_CACHE``, else
    ``~/.cache/drlim``). It changes nothing when ``DRLIM_COMPILATION_CACHE`` is ``0``,
    ``false``, ``off`` or ``no``, when JAX's cache is switched off
    (``jax_enable_compilation_cache``), or when a cache directory is set in JAX already
    (``jax_compilation_cache_dir`` or ``JAX_COMPILATION_CACHE_DIR``): then that one is used.
    When JAX's minimum compile time for caching is at its default (1 s), it lowers it to
    :data:`MIN_CACHED_COMPILE_SECONDS` (0: every program), so that a new process compiles
    nothing that an earlier one compiled.
    Both settings are process-wide: other programs of the process are cached there as well.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"DRLIM_COMPILATION_CACHE": "0"}):
    ...     use_compilation_cache() is None
    True
    """
    if os.environ.get(COMPILATION_CACHE_ENV, "").strip().lower() in ("0", "false", "off", "no"):
        return None
    ours = cache_dir() / COMPILATION_CACHE_FOLDER
    current = jax.config.jax_compilation_cache_dir
    if current is not None or not jax.config.jax_enable_compilation_cache:
        return ours if current == str(ours) else None
    jax.config.update("jax_compilation_cache_dir", str(ours))
    if jax.config.jax_persistent_cache_min_compile_time_secs == DEFAULT_MIN_COMPILE_SECONDS:
        jax.config.update("jax_persistent_cache_min_compile_time_secs",
                          MIN_CACHED_COMPILE_SECONDS)
    return ours


def init_params(network: nn.Module, sample: jax.Array, seed: int) -> Any:
    """Initial parameters of ``network`` for inputs shaped like ``sample`` (one example).

    One jitted program per network and input shape (rather than one small program per
    layer), so it is compiled once and kept by the compilation cache. It may be called inside
    ``jax.jit``; :func:`initial_params` gives bitwise the same parameters from a copy of the
    program that compiles sooner (:data:`drlim._xla.FAST_COMPILE`), which ``jax.jit`` cannot
    trace.

    >>> from drlim.models import MLP
    >>> init_params(MLP(n_components=2), np.zeros(4, np.float32), 0)["params"]["output"][
    ...     "kernel"].shape[1]
    2
    """
    return _init(network, jax.random.key(seed), jnp.expand_dims(sample, 0))


def initial_params(network: nn.Module, data: np.ndarray | jax.Array, seed: int) -> Any:
    """The parameters :func:`train` starts ``network`` from on ``data`` for ``seed``:
    :func:`init_params` on the first sample, as a training step sees it (float32).

    >>> from drlim.models import MLP
    >>> initial_params(MLP(), np.zeros((3, 8, 8), np.uint8), 0)["params"]["hidden_0"][
    ...     "kernel"].shape
    (64, 20)
    """
    return _fast_init(network, jax.random.key(seed), _as_float(_as_input(data[:1])))


def embed(
    network: nn.Module, params: Any, data: np.ndarray | jax.Array, batch_size: int = 256
) -> np.ndarray:
    """Map ``data`` through the trained network in batches; returns a NumPy array.

    Every batch has ``batch_size`` rows (the last one is padded, the padding dropped), and
    one call maps a power of two of them in turn, up to :data:`MAX_CALL_BATCHES`
    (:func:`call_sizes`), so that a few compiled programs (four) serve any number of samples
    and a call holds at most ``MAX_CALL_BATCHES * batch_size`` rows on the device. One call
    for many batches saves a dispatch and a transfer per batch: in 300 alternating calls on 2
    loaded Intel Xeon cores, the paper's conv net mapped 1,982 test digits in a median 53.9 ms
    in one call against 55.6 ms in 8 (sooner in 70% of the pairs, by a median 6%). For that
    net, one call a batch of 128, 256, 512, 1,024 and 2,048 rows took 43.8, 38.6, 58.0, 90.0
    and 109.5 ms (2 AMD EPYC cores, 2026-12-06); an MLP 256-256-256 takes 17-19 ms at 128,
    256 or 512.
    The network maps in the form :func:`drlim.models.for_mapping` gives, the same function
    of the same parameters: the paper's conv net mapped 1,982 test digits in a median 39.4 ms
    against 46.0 ms in its training form before C1's bias moved onto the matmul's rows (60
    alternating calls of ``DrLIM.transform`` on 2 Intel Xeon cores, 2026-12-06; 128, 256
    and 512 rows a batch then took 45.9, 44.9 and 47.2 ms in another run). The timings
    above are of the training form.
    ``uint8`` images are scaled to [0, 1] on the device, as in :func:`train`. No samples map
    to ``(0, n_components)``: one batch of padding is mapped to learn the network's width.

    >>> from drlim.models import MLP
    >>> params = init_params(MLP(n_components=2), np.zeros(3, np.float32), 0)
    >>> embed(MLP(n_components=2), params, np.ones((5, 3), np.float32), batch_size=4).shape
    (5, 2)
    >>> embed(MLP(n_components=2), params, np.ones((0, 3), np.float32)).shape
    (0, 2)
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    data = np.asarray(data)
    data = data if data.dtype == np.uint8 else data.astype(np.float32)
    out, start = [], 0
    for batches in call_sizes(max(-(-len(data) // batch_size), 1)):  # once even for no samples
        rows = batches * batch_size
        chunk = data[start : start + rows]
        stacked = pad_rows(chunk, rows).reshape(batches, batch_size, *data.shape[1:])
        mapped = np.asarray(_apply_batches(network, params, stacked))
        out.append(mapped.reshape(rows, *mapped.shape[2:])[: len(chunk)])
        start += rows
    return np.concatenate(out)


def call_sizes(batches: int) -> list[int]:
    """Batches per call of :func:`embed` for ``batches`` batches: calls of
    :data:`MAX_CALL_BATCHES`, then the rest in powers of two.

    >>> call_sizes(8), call_sizes(7), call_sizes(19)
    ([8], [4, 2, 1], [8, 8, 2, 1])
    """
    rest = batches % MAX_CALL_BATCHES
    powers = [1 << bit for bit in reversed(range(rest.bit_length())) if rest >> bit & 1]
    return [MAX_CALL_BATCHES] * (batches // MAX_CALL_BATCHES) + powers


def pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``rows``, so that every batch of a loop runs one
    compiled program.

    >>> pad_rows(np.ones((2, 3)), 4).sum(axis=1).tolist()
    [3.0, 3.0, 0.0, 0.0]
    """
    return np.concatenate([a, np.zeros((rows - len(a), *a.shape[1:]), a.dtype)])


def train(
    network: nn.Module,
    data: np.ndarray | jax.Array,
    graph: Graph,
    config: TrainConfig,
    *,
    workdir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool | None = None,
    params: Any = None,
    augment: str | Augment | None = None,
) -> TrainResult:
    """Train ``network`` so that ``graph``'s similar pairs end close and the rest apart.

    Args:
      network: a Flax module mapping a batch of samples to ``(batch, n_components)``.
      data: the training samples, ``(n, ...)``; ``graph`` indexes its rows. ``uint8`` images
        stay ``uint8`` on the device (a million 28×28 digits take 0.8 GB, not 3 GB) and each
        step scales its batch to float32 in [0, 1]; anything else is used as float32.
      graph: the neighbourhood graph (:mod:`drlim.neighbors`).
      config: the run's :class:`TrainConfig`.
      workdir: where ``metrics.jsonl`` and checkpoints go (nothing is written if None).
      resume: continue from the checkpoint in ``workdir`` when there is one.
      progress: show a progress bar; by default only when stderr is a terminal.
      params: initial parameters (default: initialised from ``config.seed``).
      augment: a jittable ``f(key, image)`` drawn for every image of every step, or a spec
        string like ``config.augment``; overrides ``config.augment`` (use a function for
        transformations that a string cannot name; the compiled step is reused for the same
        function object, so define it once rather than as a new lambda per call).

    The training step (:func:`run_steps`) is compiled once per process for a given network,
    config and data shape; JAX's persistent compilation cache
    (:func:`use_compilation_cache`) keeps it across processes. A run that does not resume
    compiles it in a background thread while the parameters (unless given) and the optimizer
    state are initialised.

    >>> from drlim.models import MLP
    >>> from drlim.neighbors import knn_graph
    >>> X = np.random.default_rng(0).normal(size=(200, 10)).astype(np.float32)
    >>> result = train(MLP(n_components=2), X, knn_graph(X, k=5), TrainConfig(steps=100))
    >>> embed(MLP(n_components=2), result.params, X).shape
    (200, 2)
    """
    if np.ndim(data) < 2 or np.shape(data)[0] != graph.n:
        raise ValueError(
            f"data must have one row per graph node ({graph.n}), got shape {np.shape(data)}"
        )
    isolated = int(np.count_nonzero(graph.degree == 0))
    if isolated and config.loss == "drlim" and config.mode == "block":
        warnings.warn(f"{isolated} of the {graph.n} samples have no similar sample, so mode "
                      "'block' never pairs them (mode 'pairs' draws them as dissimilar)",
                      UserWarning, stacklevel=2)
    data = _as_input(data)
    use_compilation_cache()
    workdir = Path(workdir) if workdir is not None else None
    static, user_augment = _split_augment(step_config(config), augment)
    sampler = bucketed(make_sampler(graph))
    base_key = jax.random.key(config.seed)
    total = config.total_steps(graph.n)
    # A run that does not resume compiles its first call in the background meanwhile.
    compiler = ThreadPoolExecutor(max_workers=1)
    first_call = None if resume else compiler.submit(
        _compile, network, static, min(config.log_every, total), user_augment, data, sampler,
        *_fresh_state_shapes(network, config, data, graph.n, params), base_key)
    record = None if workdir is None else _run_record(network, config, augment, data, graph)
    try:
        if resume and workdir is not None:
            _check_resumable(workdir, record)
            if not (workdir / CHECKPOINT_NAME).exists():
                log.warning("no checkpoint to resume in %s: training starts at step 0", workdir)
        state, history = _starting_state(network, data, config, graph.n, params,
                                         workdir if resume else None)
        if state["step"] > total:
            raise ValueError(f"cannot resume in {workdir}: its run is at step {state['step']}, "
                             f"beyond this run's {total} steps")
    finally:  # an error above is raised at once, not after the compilation
        compiler.shutdown(wait=False)
    if first_call is not None:
        first_call.exception()  # waits; if it failed, the call below reports why
    # In a multi-host run every process trains; only the first one writes.
    writes = workdir is not None and jax.process_index() == 0
    if writes:
        workdir.mkdir(parents=True, exist_ok=True)
        if state["step"] == 0:  # a fresh start: no earlier run's state may be resumed into it
            (workdir / CHECKPOINT_NAME).unlink(missing_ok=True)
            write_bytes(workdir / RUN_RECORD_NAME, json.dumps(record).encode())
        _write_history(workdir / "metrics.jsonl", history)

    show = sys.stderr.isatty() if progress is None else progress
    # A resumed run goes on counting time and judging divergence from where it began.
    started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    first_loss = history[0].get("first_loss") if history else None
    with tqdm(total=total, initial=state["step"], disable=not show, unit="step",
              desc="drlim train", dynamic_ncols=True) as bar:
        while state["step"] < total:
            length = min(config.log_every, total - state["step"])
            new_params, new_opt, stats = run_steps(
                network, static, length, user_augment, data, sampler,
                state["params"], state["opt_state"], base_key, state["step"],
            )
            stats = jax.device_get(stats)
            first_loss = stats["loss"][0] if first_loss is None else first_loss
            _raise_if_diverged(stats["loss"], state["step"], first_loss, config)
            _raise_if_not_finite(stats["loss"], state["step"], workdir)
            _raise_if_params_not_finite(new_params, state["step"] + length, workdir)
            state = {"params": new_params, "opt_state": new_opt, "step": state["step"] + length}
            row = _summarise(stats, state["step"], time.perf_counter() - started)
            if not history:
                row["first_loss"] = float(first_loss)
            history.append(row)
            if writes:
                _record(workdir, row, state, _checkpoint_due(config, state["step"], total))
            bar.update(length)
            bar.set_postfix(L_S=f"{row['loss_similar']:.3g}", L_D=f"{row['loss_dissimilar']:.3g}")
    return TrainResult(state["params"], history, time.perf_counter() - started)


def _run_record(network: nn.Module, config: TrainConfig, augment: str | Augment | None,
                data: jax.Array, graph: Graph) -> dict:
    """What identifies a run for resuming: its network, configuration and augmentation, the
    data's shape, type and values, and the graph. How long it runs, how often it logs and on
    how many devices may change (a run may be extended), unless a cosine schedule ties the
    learning rate of every step to the length. An augmentation function is known by its
    name only."""
    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    settings["network"] = re.sub(r" at 0x[0-9a-f]+", "", repr(network))  # no addresses
    if augment is not None:
        settings["augment"] = augment if isinstance(augment, str) else getattr(
            augment, "__qualname__", type(augment).__qualname__)
    free = {"checkpoint_every", "log_every", "devices"}
    if config.schedule != "cosine":
        free |= {"steps", "epochs"}
    return {"config": {name: value for name, value in settings.items() if name not in free},
            "data": {"shape": list(data.shape), "dtype": str(data.dtype),
                     "digest": array_digest(np.asarray(data))},
            "graph": {"digest": array_digest(graph.neighbors, graph.groups, graph.weights)}}


def _check_resumable(workdir: Path, record: dict) -> None:
    """Refuse to resume a checkpoint that a run of other settings, data or graph left in
    ``workdir``. A record written by an older drlim is checked on what it holds."""
    if not (workdir / CHECKPOINT_NAME).exists():
        return
    path = workdir / RUN_RECORD_NAME
    saved = json.loads(path.read_text()) if path.exists() else {}
    changed = sorted(
        f"{part}.{name}" for part in record for name in record[part]
        if name in saved.get(part, {}) and saved[part][name] != record[part][name]
    )
    if changed:
        raise ValueError(
            f"cannot resume in {workdir}: its checkpoint belongs to a run with other settings "
            f"({', '.join(changed)}); start this run afresh instead of resuming"
        )


def _starting_state(network: nn.Module, data: jax.Array, config: TrainConfig, n: int,
                    params: Any, resume_from: Path | None) -> tuple[dict, list[dict]]:
    """The state a run starts from and the history behind it: the checkpoint in
    ``resume_from`` when there is one, else ``params`` (or fresh ones from ``config.seed``)."""
    if params is None:
        params = initial_params(network, data, config.seed)
    state = {"params": params, "opt_state": _optimizer_state(step_config(config), n, params),
             "step": 0}
    if resume_from is None or not (resume_from / CHECKPOINT_NAME).exists():
        return state, []
    state = load_checkpoint(resume_from / CHECKPOINT_NAME, state)
    return state, _read_history(resume_from / "metrics.jsonl", upto=state["step"])


def _fresh_state_shapes(network: nn.Module, config: TrainConfig, data: jax.Array, n: int,
                        params: Any) -> tuple[Any, Any]:
    """Shapes and dtypes of a fresh run's parameters (``params`` if given) and optimizer state,
    traced without compiling."""
    if params is None:
        first = jax.ShapeDtypeStruct((1, *data.shape[1:]), jnp.float32)  # as _as_float makes it
        params = _fast_init.eval_shape(network, jax.random.key(config.seed), first)
    return params, _optimizer_state.eval_shape(step_config(config), n, params)


def _compile(network: nn.Module, config: TrainConfig, length: int, augment: Augment | None,
             data: jax.Array, sampler: PairSampler, params: Any, opt_state: Any,
             key: jax.Array) -> None:
    """Compile :func:`run_steps` for a call from step 0 with these arguments (arrays or their
    shapes); the call itself then finds the program in JAX's cache."""
    run_steps.lower(network, config, length, augment, data, sampler, params, opt_state, key,
                    0).compile()


def _record(workdir: Path, row: dict, state: dict, checkpoint: bool) -> None:
    """Append a logged row to ``metrics.jsonl``, and save the state when a checkpoint is due."""
    _append_history(workdir / "metrics.jsonl", row)
    if checkpoint:
        save_checkpoint(workdir / CHECKPOINT_NAME, state)


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write a training state atomically (temporary file, then rename)."""
    write_bytes(Path(path), flax.serialization.to_bytes(jax.device_get(state)))


def load_checkpoint(path: str | os.PathLike, template: dict) -> dict:
    """Read a training state written by :func:`save_checkpoint`, shaped like ``template``."""
    restored = flax.serialization.from_bytes(template, Path(path).read_bytes())
    restored["step"] = int(restored["step"])
    return restored



def _objective(
    network: nn.Module,
    config: TrainConfig,
    augment: Augment | None,
    data: jax.Array,
    sampler: PairSampler,
) -> Callable:
    """The step's objective ``f(params, key) -> (loss, stats)`` for the config's loss and mode."""
    margin, fraction = config.margin, config.similar_fraction
    shard = _batch_sharding(config.devices)

    def images(idx, key):
        """The step's images as float32, each transformed by its own draw when augmenting."""
        batch = _as_float(data[idx])
        if augment is not None:  # its own key, so DrLIM's pair draws stay an unaugmented run's
            # (the edge losses' draws do change: augmenting gives each sample a self-loop)
            batch = augment_batch(jax.random.fold_in(key, AUGMENT_STREAM), batch, augment)
        return shard(batch)

    def pair_objective(params, key):
        i, j, similar = sample_pairs(key, sampler, config.batch_size, fraction)
        z = network.apply(params, images(jnp.concatenate([i, j]), key))
        z1, z2 = jnp.split(z, 2)
        per_pair = contrastive_loss(z1, z2, similar, margin)
        valid = jnp.ones_like(similar)
        stats = _partial_losses(per_pair, pair_distance(z1, z2), similar, valid, margin)
        return jnp.mean(per_pair), stats

    def block_objective(params, key):
        idx, similar, valid = draw_block(key)
        z = network.apply(params, images(idx, key))
        m = z.shape[0]
        z1 = jnp.broadcast_to(z[:, None, :], (m, m, z.shape[-1]))
        z2 = jnp.broadcast_to(z[None, :, :], (m, m, z.shape[-1]))
        per_pair = contrastive_loss(z1, z2, similar, margin)
        stats = _partial_losses(per_pair, pair_distance(z1, z2), similar, valid, margin)
        objective = fraction * stats["loss_similar"] + (1 - fraction) * stats["loss_dissimilar"]
        return objective, stats

    if config.loss != "drlim":
        return _edge_objective(network, sampler, config, images, augment is not None)
    if config.mode == "pairs":
        return pair_objective
    if not sampler.has_dissimilar:  # the objective would be the attraction alone: a collapse
        raise ValueError(f"graph must have dissimilar pairs for mode {config.mode!r}, got a "
                         "graph in which every pair is similar")
    if config.mode == "all":
        every_pair = _all_pairs(sampler, data.shape[0])

        def draw_block(key):
            return every_pair
    else:

        def draw_block(key):
            return sample_block(key, sampler, config.batch_size)

    return block_objective


@functools.partial(jax.jit, static_argnames=("network", "config", "length", "augment"))
def run_steps(
    network: nn.Module,
    config: TrainConfig,
    length: int,
    augment: Augment | None,
    data: jax.Array,
    sampler: PairSampler,
    params: Any,
    opt_state: Any,
    key: jax.Array,
    start: int | jax.Array,
) -> tuple[Any, Any, dict]:
    """Run training steps ``start, ..., start + length - 1`` in one ``jax.lax.scan``.

    Jitted once at module level: the network, the config (see :func:`step_config`), the
    number of steps and a user's ``augment`` callable (hashed by identity, so the same
    function object reuses the compiled program; ``None`` applies ``config.augment``) are
    static; the data, the sampler, the training state and the key are arguments, so a
    second run with the same shapes and settings compiles nothing. ``data`` may be
    ``uint8`` (scaled to [0, 1] per batch inside the step) or float32. Step ``t`` draws
    from ``jax.random.fold_in(key, t)``. Returns the new parameters, the new optimizer
    state and each step's statistics (``loss``, ``loss_similar``, ``loss_dissimilar``, ...).

    >>> from drlim.models import MLP
    >>> from drlim.neighbors import knn_graph
    >>> X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    >>> config = step_config(TrainConfig(batch_size=8))
    >>> params = init_params(MLP(), X[0], 0)
    >>> opt_state = make_optimizer(config).init(params)
    >>> _, _, stats = run_steps(MLP(), config, 3, None, X, make_sampler(knn_graph(X, k=3)),
    ...                         params, opt_state, jax.random.key(0), 0)
    >>> stats["loss"].shape
    (3,)
    """
    optimizer = make_optimizer(config, data.shape[0])
    if augment is None:
        augment = parse_augment(config.augment)
    objective = _objective(network, config, augment, data, sampler)

    def step(carry, t):
        params, opt_state, base_key = carry
        (loss, stats), grads = jax.value_and_grad(objective, has_aux=True)(
            params, jax.random.fold_in(base_key, t)
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, base_key), {"loss": loss, **stats}

    (params, opt_state, _), stats = jax.lax.scan(
        step, (params, opt_state, key), start + jnp.arange(length)
    )
    return params, opt_state, stats


def step_config(config: TrainConfig) -> TrainConfig:
    """``config`` without the fields a training step does not depend on (seed, logging and
    checkpoint intervals, and the run length unless a cosine schedule needs it), so that
    runs differing only in those share one compiled :func:`run_steps`.

    >>> step_config(TrainConfig(seed=7, log_every=10)) == step_config(TrainConfig())
    True
    """
    length = {} if config.schedule == "cosine" else {"steps": 1, "epochs": 0.0}
    return dataclasses.replace(config, seed=0, log_every=1, checkpoint_every=0, **length)


def _pair_loss(config: TrainConfig) -> Callable | None:
    """The per-pair loss of the losses that contrast each edge with its own negatives
    (``"umap"``, ``"neg"``); None for ``"infonce"``, which contrasts each anchor with all of
    the step's negatives."""
    if config.loss == "umap":
        a, b = umap_ab(config.min_dist)
        return functools.partial(umap_loss, a=a, b=b)
    return neg_loss if config.loss == "neg" else None


def _edge_objective(
    network: nn.Module,
    sampler: Any,
    config: TrainConfig,
    images: Callable[[jax.Array, jax.Array], jax.Array],
    self_loops: bool,
) -> Callable:
    """The objective of UMAP's loss, NEG or InfoNCE: edges by weight, uniform negatives, one
    network call.

    Returns the objective and its two parts, ``loss_similar`` (the mean attraction of the
    positive edges) and ``loss_dissimilar`` (the repulsion per edge), which add up to it.
    """
    count, m = config.batch_size, config.negatives
    pair_loss = _pair_loss(config)

    def objective(params, key):
        key_edges, key_negatives = jax.random.split(key)
        i, j = sample_edges(key_edges, sampler, count, self_loops=self_loops)
        negatives = sample_negatives(key_negatives, sampler, (count * m,))
        z = network.apply(params, images(jnp.concatenate([i, j, negatives]), key))
        anchor, positive, z_negative = z[:count], z[count : 2 * count], z[2 * count :]
        if pair_loss is not None:
            attract = pair_loss(anchor, positive, jnp.ones(count, bool))
            per_anchor = jnp.repeat(anchor, m, axis=0)
            repel = pair_loss(per_anchor, z_negative, jnp.zeros(count * m, bool))
            stats = {"loss_similar": jnp.mean(attract), "loss_dissimilar": m * jnp.mean(repel)}
        else:
            attract, repel = infonce_parts(anchor, positive, z_negative)
            stats = {"loss_similar": jnp.mean(attract), "loss_dissimilar": jnp.mean(repel)}
        return stats["loss_similar"] + stats["loss_dissimilar"], stats

    return objective


def data_parallel_mesh(devices: int) -> Mesh:
    """A one-axis mesh (``"data"``) over the first ``devices`` of ``jax.devices()`` (every
    process's devices in a multi-process run).

    >>> dict(data_parallel_mesh(1).shape)
    {'data': 1}
    """
    available = jax.devices()
    if devices > len(available):
        raise ValueError(f"devices must be <= the {len(available)} available, got {devices}")
    return Mesh(np.array(available[:devices]), ("data",))


def _batch_sharding(devices: int) -> Callable[[jax.Array], jax.Array]:
    """Shard a batch of images along its first axis (identity on one device)."""
    if devices == 1:
        return lambda batch: batch
    sharding = NamedSharding(data_parallel_mesh(devices), PartitionSpec("data"))
    return lambda batch: jax.lax.with_sharding_constraint(batch, sharding)


def _all_pairs(sampler: Any, n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Every sample, the graph's labels for every pair, and the upper triangle as the mask."""
    if n > MAX_ALL_PAIRS_SAMPLES:
        raise ValueError(
            f"mode 'all' needs n <= {MAX_ALL_PAIRS_SAMPLES} samples, got {n}; use 'block'"
        )
    idx = jnp.arange(n, dtype=jnp.int32)
    similar = is_similar(sampler, idx[:, None], idx[None, :])
    return idx, similar, jnp.triu(jnp.ones((n, n), dtype=bool), k=1)


def _partial_losses(
    per_pair: jax.Array, d: jax.Array, similar: jax.Array, valid: jax.Array, margin: float
) -> dict:
    """Mean similar-pair loss, mean dissimilar-pair loss and fraction inside the margin."""
    sim = (similar & valid).astype(per_pair.dtype)
    dis = (~similar & valid).astype(per_pair.dtype)
    n_sim, n_dis = jnp.maximum(sim.sum(), 1), jnp.maximum(dis.sum(), 1)
    return {
        "loss_similar": jnp.sum(per_pair * sim) / n_sim,
        "loss_dissimilar": jnp.sum(per_pair * dis) / n_dis,
        "inside_margin": jnp.sum((d < margin) * dis) / n_dis,
    }


def _summarise(stats: dict, step: int, seconds: float) -> dict:
    """One ``metrics.jsonl`` row: the interval's mean of each statistic."""
    row = {"step": step, "seconds": round(seconds, 3)}
    row.update({name: float(np.mean(values)) for name, values in stats.items()})
    return row


def _raise_if_not_finite(losses: np.ndarray, first_step: int, workdir: Path | None) -> None:
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise NonFiniteLossError(f"loss became {losses[bad[0]]} at step "
                                 f"{first_step + int(bad[0]) + 1}{_kept_checkpoint(workdir)}")


def _raise_if_params_not_finite(params: Any, step: int, workdir: Path | None) -> None:
    """The losses are taken before each update, so the last update is checked here, on the
    host: a jitted check cost a cold fit about 0.1 s of compilation for microseconds of work."""
    if not all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(jax.device_get(params))):
        raise NonFiniteLossError(
            f"parameters became NaN or inf by step {step}{_kept_checkpoint(workdir)}"
        )


def _kept_checkpoint(workdir: Path | None) -> str:
    saved = workdir is not None and (workdir / CHECKPOINT_NAME).exists()
    return f"; the last good checkpoint stays in {workdir}" if saved else ""


def _raise_if_diverged(
    losses: np.ndarray, first_step: int, first_loss: float, config: TrainConfig
) -> None:
    """Stop a run whose loss rose :data:`DIVERGENCE_FACTOR` times above its first value
    (or to inf): the usual sign of a learning rate too high, long before NaN.

    >>> _raise_if_diverged(np.array([0.2, 0.1]), 0, 0.2, TrainConfig())
    >>> config = TrainConfig(learning_rate=10.0)
    >>> _raise_if_diverged(np.array([0.2, 5e3]), 0, 0.2, config)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    drlim.train.DivergenceError: ... from 0.2 to 5e+03 by step 2; lower learning_rate (now 10)
    """
    reference = max(abs(float(first_loss)), DIVERGENCE_FLOOR)
    bad = np.flatnonzero(np.abs(losses) > DIVERGENCE_FACTOR * reference)
    if bad.size:
        raise DivergenceError(
            f"training diverged: the loss rose from {first_loss:.3g} to {losses[bad[0]]:.3g} by "
            f"step {first_step + int(bad[0]) + 1}; lower learning_rate "
            f"(now {config.learning_rate:g})"
        )


def _checkpoint_due(config: TrainConfig, step: int, total: int) -> bool:
    return step == total or (config.checkpoint_every > 0 and step % config.checkpoint_every == 0)


def _network_init(network: nn.Module, key: jax.Array, first: jax.Array) -> Any:
    """``network``'s parameters for inputs like ``first``, a batch of one sample."""
    return network.init(key, first)


# init_params's program: plain, so that a user may trace it inside jax.jit.
_init = jax.jit(_network_init, static_argnums=0)
# The same program for fits, compiled sooner (drlim._xla) and never traced by a user.
_fast_init = jax.jit(_network_init, static_argnums=0, compiler_options=FAST_COMPILE)


@functools.partial(jax.jit, static_argnums=(0, 1), compiler_options=FAST_COMPILE)
def _optimizer_state(config: TrainConfig, n: int, params: Any) -> Any:
    """The optimizer's initial state, in one program (eagerly, Adam's zeros were six)."""
    return make_optimizer(config, n).init(params)


@functools.partial(jax.jit, static_argnums=0)
def _apply_batches(network: nn.Module, params: Any, batches: jax.Array) -> jax.Array:
    """``network`` applied to each of ``batches`` (batches, rows, ...) in turn, in the form
    that maps soonest (:func:`drlim.models.for_mapping`)."""
    network = for_mapping(network)
    return jax.lax.map(lambda batch: network.apply(params, _as_float(batch)), batches)


def _as_input(data: np.ndarray | jax.Array) -> jax.Array:
    """Training data on the device, checked finite: ``uint8`` images as they are (a quarter
    of float32's memory), anything else as float32."""
    if isinstance(data, jax.Array):
        if data.dtype != jnp.uint8 and not bool(jnp.all(jnp.isfinite(data))):
            raise ValueError("data must be finite (no NaN or inf)")
        return data if data.dtype == jnp.uint8 else data.astype(jnp.float32)
    host = np.asarray(data)  # checked and moved from the host: nothing to compile per shape
    if host.dtype != np.uint8 and not np.all(np.isfinite(host)):
        raise ValueError("data must be finite (no NaN or inf)")
    return jax.device_put(host if host.dtype == np.uint8 else host.astype(np.float32))


def _as_float(batch: jax.Array) -> jax.Array:
    """A batch as float32: ``uint8`` pixels ``k`` become ``k / 255`` (exactly the float32 of
    ``images.astype(np.float32) / 255``), float32 stays unchanged."""
    if batch.dtype == jnp.uint8:  # a table of k / 255 rounded as NumPy's float32 division
        return jnp.asarray(np.arange(256, dtype=np.float32) / np.float32(255))[batch]
    return batch


def _split_augment(
    config: TrainConfig, augment: str | Augment | None
) -> tuple[TrainConfig, Augment | None]:
    """A string ``augment`` goes into the (static, hashable) config, resolved in the step; a
    callable stays apart, passed to :func:`run_steps` as a static argument."""
    if augment is None or callable(augment):
        return config, augment
    if isinstance(augment, str):
        return dataclasses.replace(config, augment=augment), None
    raise ValueError(
        f"augment must be a string like 'shift:6' or a callable f(key, image), got {augment!r}"
    )


def _write_history(path: Path, rows: list[dict]) -> None:
    write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode())


def _append_history(path: Path, row: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def _read_history(path: Path, upto: int) -> list[dict]:
    """The logged rows up to step ``upto``; a torn last line (a crash mid-write) is dropped."""
    if not path.exists():
        return []
    rows = read_jsonl(path, torn_tail=True)
    return [r for r in rows if r["step"] <= upto]


__all__ = [
    "DivergenceError",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "data_parallel_mesh",
    "embed",
    "init_params",
    "initial_params",
    "load_checkpoint",
    "make_optimizer",
    "run_steps",
    "save_checkpoint",
    "step_config",
    "train",
    "use_compilation_cache",
]
