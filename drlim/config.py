"""The configurations of training runs and experiments, as frozen dataclasses.

This module imports neither JAX nor scikit-learn, so experiment files (which build these
configs) load in a fraction of a second: ``drlim list`` and ``drlim --help`` stay fast.
:class:`TrainConfig` is also re-exported by :mod:`drlim.train`; :mod:`drlim.runs` turns an
:class:`ExperimentConfig` into a run directory.

>>> override(ExperimentConfig("x"), {"steps": "3", "n_neighbors": 7}).train.steps
3
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drlim.validation import check_choice, check_int, check_number

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")
MODES = ("pairs", "block", "all")
LOSSES = ("drlim", "umap", "infonce", "neg")
AUGMENT_NAMES = ("shift", "rotate")
KINDS = ("loss-curves", "drlim", "lle")
DATASETS = ("none", "mnist-4-9", "mnist-shift", "norb-airplane")
GRAPHS = ("knn", "orbit", "grid")
NETWORKS = ("lenet", "mlp")
# drlim.models.ACTIVATIONS's names (this module does not import JAX).
ACTIVATION_NAMES = ("relu", "tanh")
# The graphs built from a data set's factors, and that data set.
GRAPH_DATASETS = {"grid": "norb-airplane", "orbit": "mnist-shift"}
# The MNIST experiments' images: the 28x28 digits padded to the paper's 32x32.
MNIST_IMAGE_SIZE = 32
# JAX keys take 32-bit seeds; larger ones would silently wrap around.
MAX_SEED = 2**32 - 1
# Epochs that come within float round-off of a whole number of steps give that number.
STEPS_RTOL = 1e-9
# The shared rules of the parameters the estimator also declares (drlim.estimator).
NEGATIVES_MIN = 1
MIN_DIST_RANGE = (0.0, 1.0)
# Fields the command line cannot set (the name picks the file, ``train`` is set field by
# field, targets stay in the file).
NOT_OVERRIDABLE = ("name", "train", "targets")
# The environment variable that moves drlim's cache directory.
CACHE_ENV = "DRLIM_CACHE"


def cache_dir() -> Path:
    """drlim's cache directory: ``$DRLIM_CACHE`` when set, else ``~/.cache/drlim``.

    It holds the rendered NORB stand-in and JAX's compiled programs
    (:func:`drlim.train.use_compilation_cache`). Nothing is created here.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"DRLIM_CACHE": "/tmp/elsewhere"}):
    ...     cache_dir()
    PosixPath('/tmp/elsewhere')
    """
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "drlim")


def similar_count(similar_fraction: float, batch_size: int) -> int:
    """How many of a step's ``batch_size`` pairs are similar in ``"pairs"`` mode: the nearest
    whole number to ``similar_fraction * batch_size``, halves rounded up.

    >>> similar_count(0.5, 128), similar_count(1 / 3, 6), similar_count(0.5, 1)
    (64, 2, 1)
    """
    return math.floor(similar_fraction * batch_size + 0.5)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; same config and seed, same parameters.

    ``batch_size`` counts the anchors of one step, each drawn with its partner: in ``"pairs"``
    mode ``batch_size`` pairs, ``round(similar_fraction * batch_size)`` of them similar (at
    least one of each kind), the loss their mean; in ``"block"`` mode
    ``batch_size`` anchors plus one neighbour each (``2 * batch_size`` images, every pair among
    them used); with ``loss="umap"``, ``"neg"`` or ``"infonce"`` (``mode`` is then unused)
    ``batch_size`` positive edges, each with ``negatives`` uniform negatives (``margin`` and
    ``similar_fraction`` are unused too). It is unused in
    ``"all"`` mode, where one step sees every pair. ``epochs`` counts passes over the training
    samples (each sample once an anchor per epoch, on average); give either it or ``steps``,
    with the other 0: :meth:`total_steps` converts epochs for ``n`` samples. ``momentum`` (in
    [0, 1)) is SGD's; Adam has its own. ``min_dist`` sets UMAP's ``a, b``
    (:func:`drlim.loss.umap_ab`). ``augment`` names a random transformation drawn for every
    image of every step (``"shift:6"``, see :func:`parse_augment_spec`). ``devices > 1`` trains
    data-parallel: the step's images are sharded over that many devices and the parameters
    replicated (see :func:`drlim.train.data_parallel_mesh`). ``seed`` must lie in
    ``[0, 2**32 - 1]`` (JAX keys are 32-bit).

    >>> TrainConfig(margin=float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: margin must be a finite number > 0, got inf
    """

    seed: int = 0
    steps: int = 1000
    epochs: float = 0.0
    batch_size: int = 128
    mode: str = "pairs"
    similar_fraction: float = 0.5
    margin: float = 1.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    schedule: str = "constant"
    log_every: int = 50
    checkpoint_every: int = 0
    devices: int = 1
    loss: str = "drlim"
    negatives: int = 5
    min_dist: float = 0.1
    augment: str = ""

    def __post_init__(self) -> None:
        for name, choices in (("loss", LOSSES), ("optimizer", OPTIMIZERS),
                              ("schedule", SCHEDULES), ("mode", MODES)):
            check_choice(getattr(self, name), name, choices)
        check_int(self.negatives, "negatives", NEGATIVES_MIN)
        check_number(self.min_dist, "min_dist", *MIN_DIST_RANGE)
        parse_augment_spec(self.augment)
        check_int(self.seed, "seed", 0, MAX_SEED)
        check_int(self.batch_size, "batch_size", 2 if self.mode == "block" else 1)
        check_int(self.log_every, "log_every", 1)
        check_int(self.steps, "steps", 0)
        check_number(self.epochs, "epochs", 0)
        if (self.steps == 0) == (self.epochs == 0):
            raise ValueError(f"one of steps and epochs must be > 0 and the other 0 (steps is "
                             f"1000 by default: pass steps=0 with epochs), got {self.steps=} "
                             f"{self.epochs=}")
        if self.mode == "all" and not self.steps:
            raise ValueError("steps must be > 0 in mode 'all' (it counts steps, not epochs), "
                             f"got {self.steps}")
        check_number(self.similar_fraction, "similar_fraction", 0, 1, closed="neither")
        if self.loss == "drlim" and self.mode == "pairs":
            similar = similar_count(self.similar_fraction, self.batch_size)
            if not 0 < similar < self.batch_size:
                raise ValueError(
                    f"batch_size must leave a step both similar and dissimilar pairs at "
                    f"similar_fraction {self.similar_fraction:g} (it draws {similar} similar "
                    f"of {self.batch_size}), got {self.batch_size}")
        check_number(self.margin, "margin", 0, closed="neither")
        check_number(self.learning_rate, "learning_rate", 0, closed="neither")
        check_number(self.momentum, "momentum", 0, 1, closed="left")
        check_int(self.devices, "devices", 1)
        if self.batch_size % self.devices:
            raise ValueError(f"devices must divide batch_size ({self.batch_size}), "
                             f"got {self.devices}")
        check_int(self.checkpoint_every, "checkpoint_every", 0)
        if self.checkpoint_every % self.log_every:
            raise ValueError(
                f"checkpoint_every must be a multiple of log_every ({self.log_every}), "
                f"got {self.checkpoint_every}"
            )

    def total_steps(self, n: int) -> int:
        """Steps to run on ``n`` training samples: ``steps``, else ``epochs`` passes of
        ``batch_size`` anchors a step, ``ceil(epochs * n / batch_size)`` (at least 1).

        A quotient within float round-off (a relative ``STEPS_RTOL``) of a whole number is
        that number: 2.2 epochs of 6,000 samples in batches of 132 are 100 steps, although
        ``2.2 * 6000 / 132`` is 100.00000000000001 in floats.

        >>> TrainConfig(steps=0, epochs=2.0, batch_size=64).total_steps(6000)
        188
        >>> TrainConfig(steps=0, epochs=2.2, batch_size=132).total_steps(6000)
        100
        """
        if self.steps:
            return self.steps
        quotient = self.epochs * n / self.batch_size
        whole = round(quotient)
        steps = whole if math.isclose(quotient, whole, rel_tol=STEPS_RTOL) else math.ceil(quotient)
        return max(1, steps)


def parse_augment_spec(spec: str) -> tuple[tuple[str, float], ...]:
    """The steps an augmentation string names: ``""`` (none), ``"shift:6"`` (whole pixels),
    ``"rotate:10"`` (degrees), or several joined by ``+``; checked here so that a bad
    ``--augment`` is refused before any data is loaded (:mod:`drlim.augment` applies them).

    >>> parse_augment_spec("shift:3+rotate:5")
    (('shift', 3.0), ('rotate', 5.0))
    """
    if not isinstance(spec, str):
        raise ValueError(f"augment must be a string like 'shift:6', got {spec!r}")
    steps = []
    for part in spec.split("+") if spec else ():
        name, _, size = part.partition(":")
        if name not in AUGMENT_NAMES:
            raise ValueError(
                f"augment must name {AUGMENT_NAMES} as 'name:size' joined by '+', got {spec!r}"
            )
        try:
            amount = float(size)
        except ValueError as error:
            raise ValueError(f"augment size must be a number > 0, got {part!r}") from error
        if not 0 < amount < math.inf or (name == "shift" and amount != int(amount)):
            raise ValueError(f"augment size must be a number > 0 (whole pixels), got {part!r}")
        steps.append((name, amount))
    return tuple(steps)


@dataclass(frozen=True)
class ExperimentConfig:
    """One paper experiment: the data, the neighbourhood graph, the network and training.

    ``figure`` names the figure files the run produces; ``targets`` are the paper's claims
    as ``(metric, ">=" or "<=", value)``, where ``value`` may name another metric
    (``"baseline_isomap.trustworthiness_5"``). ``norb_source`` is ``"rendered"`` (the stand-in
    airplane) or a folder of the real small-NORB files (``--norb-source PATH``). With
    ``shift_train`` false the ``"mnist-shift"`` training set holds the originals only (the test
    set keeps its shifted copies), for shifts drawn during training (``train.augment``);
    ``n_test_originals`` caps its test digits (before shifting; 0, the default, keeps all).

    >>> ExperimentConfig("x", n_test_originals=-1)
    Traceback (most recent call last):
    ...
    ValueError: n_test_originals must be >= 0, got -1
    """

    name: str
    figure: str = ""
    kind: str = "drlim"
    dataset: str = "none"
    graph: str = "knn"
    n_neighbors: int = 5
    n_train_per_digit: int = 3000
    n_test_per_digit: int = 1000
    shifts: tuple[int, ...] = (-6, -3, 3, 6)
    shift_train: bool = True
    n_test_originals: int = 0
    norb_source: str = "rendered"
    image_size: int = 32
    network: str = "lenet"
    hidden: tuple[int, ...] = (20,)
    activation: str = "tanh"
    n_components: int = 2
    baselines: tuple[str, ...] = ()
    targets: tuple[tuple[str, str, float | str], ...] = ()
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("kind", self.kind, KINDS),
            ("dataset", self.dataset, DATASETS),
            ("graph", self.graph, GRAPHS),
            ("network", self.network, NETWORKS),
        ):
            check_choice(value, name, choices)
        check_choice(self.activation, "activation", ACTIVATION_NAMES)
        check_int(self.n_test_originals, "n_test_originals", 0)  # 0: every test digit
        for name in ("n_neighbors", "n_train_per_digit", "n_test_per_digit", "image_size",
                     "n_components"):
            check_int(getattr(self, name), name, 1)
        if self.dataset.startswith("mnist") and self.image_size != MNIST_IMAGE_SIZE:
            raise ValueError(f"image_size must be {MNIST_IMAGE_SIZE} for {self.dataset!r} (only "
                             f"norb-airplane is drawn at other sizes), got {self.image_size}")
        needs = GRAPH_DATASETS.get(self.graph)
        if needs is not None and self.kind != "loss-curves" and self.dataset != needs:
            raise ValueError(f"graph {self.graph!r} needs dataset {needs!r} (its factors), got "
                             f"dataset {self.dataset!r}")


def overridable_fields(config: ExperimentConfig) -> dict[str, Any]:
    """Every field the command line may change, with its value in ``config``.

    >>> fields = overridable_fields(ExperimentConfig("x"))
    >>> fields["n_neighbors"], fields["steps"]
    (5, 1000)
    """
    top = {f.name: getattr(config, f.name) for f in dataclasses.fields(ExperimentConfig)
           if f.name not in NOT_OVERRIDABLE}
    inner = {f.name: getattr(config.train, f.name) for f in dataclasses.fields(TrainConfig)}
    return {**top, **inner}


def override(config: ExperimentConfig, changes: dict[str, Any]) -> ExperimentConfig:
    """A copy of ``config`` with fields changed; training fields may be named directly.

    String values (from the command line) are converted to the field's type. Each change
    is applied and checked in turn, so an error names the field that caused it.

    >>> override(ExperimentConfig("x"), {"shifts": "-2,2"}).shifts
    (-2, 2)
    >>> override(ExperimentConfig("x"), {"steps": "abc"})
    Traceback (most recent call last):
    ...
    ValueError: steps must be an int, got 'abc'
    """
    fields = overridable_fields(config)
    for key, value in changes.items():
        key = key.replace("-", "_")
        if key not in fields:
            raise ValueError(f"config field must be one of {sorted(fields)}, got {key!r}")
        value = _coerce(key, value)
        if key in {f.name for f in dataclasses.fields(TrainConfig)}:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, **{key: value})
            )
        else:
            config = dataclasses.replace(config, **{key: value})
    return config


def config_to_dict(config: Any) -> dict:
    """A dataclass config as a JSON-ready dict (tuples become lists).

    >>> config_to_dict(TrainConfig())["steps"]
    1000
    """
    return json.loads(json.dumps(dataclasses.asdict(config)))


def changed_settings(run_dir: Path, config: ExperimentConfig) -> list[str]:
    """The settings in which ``config`` differs from the ``config.json`` of the run in
    ``run_dir`` (none when there is no such file), as ``"name old -> new"``.

    >>> import tempfile
    >>> run_dir = Path(tempfile.mkdtemp())
    >>> _ = (run_dir / "config.json").write_text(json.dumps(config_to_dict(ExperimentConfig("x"))))
    >>> changed_settings(run_dir, ExperimentConfig("x", n_neighbors=10))
    ['n_neighbors 5 -> 10']
    """
    saved_path = run_dir / "config.json"
    if not saved_path.exists():
        return []
    saved = _flatten(json.loads(saved_path.read_text()))
    wanted = _flatten(config_to_dict(config))
    return [f"{k} {saved.get(k)!r} -> {wanted.get(k)!r}"
            for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k)]


def _flatten(config: dict) -> dict:
    flat = {k: v for k, v in config.items() if k != "train"}
    flat.update(config.get("train", {}))
    return flat


def _coerce(name: str, value: Any) -> Any:
    """Convert a command-line string to the type the field ``name`` declares (not the type of
    its value in an experiment file, which may write ``margin=1`` for a float)."""
    if not isinstance(value, str):
        return value
    kind = _field_types()[name]
    if kind is bool:
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value.lower() in ("true", "1")
    if typing.get_origin(kind) is tuple:
        if not value:
            return ()
        item = typing.get_args(kind)[0]
        if "" in value.split(","):
            raise ValueError(f"{name} must be a comma-separated list of {item.__name__}s with no "
                             f"empty item, got {value!r}")
        return tuple(_convert(name, v, item) for v in value.split(","))
    if kind in (int, float):
        return _convert(name, value, kind)
    return value


@functools.cache
def _field_types() -> dict[str, Any]:
    """The declared type of every field of an experiment, its training fields included."""
    return {**typing.get_type_hints(TrainConfig), **typing.get_type_hints(ExperimentConfig)}


def _convert(name: str, value: str, kind: type) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be {'an' if kind is int else 'a'} {kind.__name__}, "
                         f"got {value!r}") from None


__all__ = [
    "ExperimentConfig",
    "TrainConfig",
    "cache_dir",
    "changed_settings",
    "config_to_dict",
    "overridable_fields",
    "override",
    "parse_augment_spec",
    "similar_count",
]
