"""DrLIM as a scikit-learn transformer, with an out-of-sample ``transform``.

Unlike LLE, t-SNE or spectral embeddings, DrLIM learns a function: once fitted, new
samples are mapped by the network without refitting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from drlim._io import write_bytes
from drlim.augment import resolve_augment
from drlim.data.mnist import pad_images
from drlim.models import MLP, LeNetDrLIM, default_network
from drlim.neighbors import Graph, fuzzy_knn_graph, knn_graph, label_graph
from drlim.train import LOSSES, TrainConfig, embed, train

NETWORKS = ("auto", "mlp", "lenet")
# Small data sets still get enough steps for the map to settle.
MIN_STEPS = 100
# What ``None`` means for each loss (measured on MNIST 4/9: see the class docstring).
LOSS_DEFAULTS: dict[str, dict[str, float]] = {
    "drlim": {"n_neighbors": 5, "epochs": 2.0, "batch_size": 128, "learning_rate": 1e-2,
              "negatives": 5},
    "umap": {"n_neighbors": 15, "epochs": 64.0, "batch_size": 256, "learning_rate": 3e-3,
             "negatives": 5},
    "infonce": {"n_neighbors": 15, "epochs": 64.0, "batch_size": 256, "learning_rate": 3e-3,
                "negatives": 5},
}
# The network "auto" picks for the edge-sampling losses: the MLP of parametric UMAP's runs.
EDGE_LOSS_HIDDEN = (256, 256, 256)


class DrLIM(TransformerMixin, BaseEstimator):
    """Dimensionality Reduction by Learning an Invariant Mapping (Hadsell et al., 2006).

    Fits a mapping network so that samples that are neighbours (by default the
    ``n_neighbors`` nearest in input space; or same-label samples when ``y`` is given; or
    any :class:`drlim.neighbors.Graph`) land close together and all other pairs apart.

    Which loss (measured on MNIST 4/9 with the defaults: 6,000 training digits, the 1,982
    test digits scored by trustworthiness T@5 and 5-NN label accuracy):
      ``"drlim"`` (the default): the paper's Eq. 4; every non-neighbour pair is pushed to
      the ``margin``, so the map fills the plane evenly (T@5 0.84, 5-NN 0.74). Pick it for
      the paper's maps and fast fits (188 steps).
      ``"infonce"``: InfoNCE with the Cauchy kernel (t-SNE-like maps, Damrich et al. 2023):
      separated classes and the best neighbourhoods (T@5 0.90, 5-NN 0.98, 1,500 steps).
      Pick it to see clusters and classes.
      ``"umap"``: parametric UMAP's loss on UMAP's fuzzy kNN graph (T@5 0.88, 5-NN 0.97);
      pick it to match UMAP (``min_dist`` sets how tightly clusters pack).
    All three learn invariances from ``augment``.

    Parameters:
      n_components: output dimension.
      n_neighbors: neighbours per sample of the default kNN graph (UMAP's fuzzy kNN graph
        for ``loss="umap"``); ``None``: the loss's default (5 for ``"drlim"``, 15 otherwise).
      margin: the contrastive loss margin ``m`` (``loss="drlim"`` only).
      network: ``"auto"`` (with ``loss="drlim"`` the paper's conv net for images
        ``(n, h, w[, c])`` and an MLP for flat ``(n, d)`` data; with the other losses an MLP
        256-256-256 ReLU), ``"mlp"``, ``"lenet"``, or any Flax module mapping a batch to
        ``(batch, n_components)``. 28×28 images are zero-padded to 32×32 as in the paper;
        other image sizes (at least 8×8) go to the conv net unpadded.
      loss: ``"drlim"``, ``"umap"`` or ``"infonce"`` (see above).
      epochs: passes over the samples: each sample once a block anchor (``"drlim"``) or an
        edge anchor (other losses) per epoch. ``None``: the loss's default (``LOSS_DEFAULTS``).
      batch_size: images per training step (every pair among them is used) for ``"drlim"``;
        positive edges per step for the other losses. ``None``: the loss's default.
      learning_rate: ``None``: the loss's default. optimizer: ``"adam"`` or ``"sgd"`` (with
        momentum 0.9).
      negatives: uniform negatives per positive edge (``"umap"``, ``"infonce"``); ``None``:
        the loss's default.
      min_dist: UMAP's ``min_dist`` (``loss="umap"``), how tightly neighbours may pack.
      augment: a random transformation drawn for every image of every step, whose copies
        count as similar: ``"shift:6"``, ``"rotate:10"`` (joined with ``+``), or a jittable
        ``f(key, image)`` (see :mod:`drlim.augment`); ``None`` for none.
      schedule: ``"constant"`` learning rate, or ``"cosine"`` decay to zero over the run
        (better on large sets trained for many epochs: see ``figures/comparison.md``).
      similar_fraction: weight of the similar-pair loss in the objective.
      random_state: integer seed (``None`` means 0: fits are reproducible by default).
      verbose: show a progress bar.

    Attributes:
      params_: the trained network parameters. network_: the Flax module used.
      graph_: the neighbourhood graph of the training samples. history_: training log.
      n_features_in_, input_shape_: the shape of one training sample.

    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16.0
    >>> model = DrLIM(n_components=2, random_state=0).fit(X[:1500])
    >>> model.transform(X[1500:]).shape
    (297, 2)
    """

    def __init__(
        self,
        n_components: int = 2,
        n_neighbors: int | None = None,
        margin: float = 1.0,
        network: str | nn.Module = "auto",
        loss: str = "drlim",
        epochs: float | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        optimizer: str = "adam",
        schedule: str = "constant",
        similar_fraction: float = 0.5,
        negatives: int | None = None,
        min_dist: float = 0.1,
        augment: Any = None,
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.margin = margin
        self.network = network
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.schedule = schedule
        self.similar_fraction = similar_fraction
        self.negatives = negatives
        self.min_dist = min_dist
        self.augment = augment
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any = None, *, graph: Graph | None = None) -> DrLIM:
        """Learn the mapping from ``X`` and its neighbourhood graph.

        The graph is ``graph`` when given, else same-label pairs when ``y`` is given, else
        the ``n_neighbors``-nearest-neighbour graph of ``X``.
        """
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"DrLIM needs at least 2 samples to form pairs, got n_samples={n}")
        self._check_params()
        if graph is not None:
            if graph.n != n:
                raise ValueError(f"graph must have {n} nodes (one per sample), got {graph.n}")
            self.graph_ = graph
        elif y is not None:
            self.graph_ = label_graph(_check_labels(y, n))
        else:
            build = fuzzy_knn_graph if self.loss == "umap" else knn_graph
            self.graph_ = build(X.reshape(n, -1), k=min(self._setting("n_neighbors"), n - 1))
        self.network_ = self._make_network(X.shape[1:])
        config = self._train_config(n)
        result = train(self.network_, X, self.graph_, config, progress=self.verbose or None,
                       augment=resolve_augment(self.augment))
        self.params_ = jax.device_get(result.params)
        self.history_ = result.history
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Map samples, seen in training or not, to the learned ``n_components``-D space."""
        check_is_fitted(self, "params_")
        X = self._validate(X, reset=False)
        return embed(self.network_, self.params_, X).astype(np.float64)

    def fit_transform(self, X: Any, y: Any = None, *, graph: Graph | None = None) -> np.ndarray:
        """Fit, then map the training samples."""
        return self.fit(X, y, graph=graph).transform(X)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model (parameters and settings) to one file, atomically."""
        check_is_fitted(self, "params_")
        settings = self.get_params()
        if isinstance(self.network, nn.Module):
            settings["network"] = "custom"
        if callable(self.augment):  # only fitting uses it; the saved model maps without it
            settings["augment"] = None
        payload = {
            "settings": json.dumps(settings),
            "input_shape": list(self.input_shape_),
            "params": flax.serialization.to_state_dict(self.params_),
            "history": json.dumps(self.history_),
        }
        path = Path(path)
        write_bytes(path, flax.serialization.msgpack_serialize(payload))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, network: nn.Module | None = None) -> DrLIM:
        """Read a model written by :meth:`save`; pass ``network`` if it was a custom module."""
        payload = flax.serialization.msgpack_restore(Path(path).read_bytes())
        settings = json.loads(payload["settings"])
        if settings["network"] == "custom":
            if network is None:
                raise ValueError("network must be given: the model was saved with a custom module")
            settings["network"] = network
        model = cls(**settings)
        model.input_shape_ = tuple(int(s) for s in payload["input_shape"])
        model.n_features_in_ = model.input_shape_[0]
        model.network_ = model._make_network(
            _to_network_layout(np.zeros((1, *model.input_shape_), np.float32)).shape[1:]
        )
        model.params_ = payload["params"]
        model.history_ = json.loads(payload["history"])
        return model

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        """Check ``X`` like scikit-learn does, and bring images to the network's layout."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float32,
                          ensure_min_samples=1)
        if reset:
            self.input_shape_ = X.shape[1:]
        elif X.shape[1:] != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but DrLIM was fitted on samples of "
                f"shape {self.input_shape_}"
            )
        return _to_network_layout(X)

    def _make_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        if isinstance(self.network, nn.Module):
            return self.network
        if self.network == "mlp":
            return MLP(n_components=self.n_components)
        if self.network == "lenet":
            return LeNetDrLIM(n_components=self.n_components)
        if self.loss != "drlim":
            return MLP(hidden=EDGE_LOSS_HIDDEN, n_components=self.n_components, activation="relu")
        return default_network(input_shape, self.n_components)

    def _setting(self, name: str) -> Any:
        """A loss-dependent parameter: its value, or the loss's default when it is None."""
        value = getattr(self, name)
        return LOSS_DEFAULTS[self.loss][name] if value is None else value

    def _train_config(self, n: int) -> TrainConfig:
        epochs = self._setting("epochs")
        if self.loss == "drlim":
            batch = int(min(self._setting("batch_size"), max(4, 2 * n)))
            batch += batch % 2
            edges_per_step = batch // 2
        else:
            batch = edges_per_step = int(self._setting("batch_size"))
        steps = max(MIN_STEPS, int(np.ceil(epochs * n / edges_per_step)))
        return TrainConfig(
            seed=0 if self.random_state is None else int(self.random_state),
            steps=steps,
            batch_size=batch,
            mode="block",
            similar_fraction=self.similar_fraction,
            margin=float(self.margin),
            optimizer=self.optimizer,
            learning_rate=float(self._setting("learning_rate")),
            schedule=self.schedule,
            log_every=min(50, steps),
            loss=self.loss,
            negatives=int(self._setting("negatives")),
            min_dist=float(self.min_dist),
            augment=self.augment if isinstance(self.augment, str) else "",
        )

    def _check_params(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not (self.augment is None or isinstance(self.augment, str) or callable(self.augment)):
            raise ValueError(
                f"augment must be None, a string like 'shift:6' or a callable f(key, image), "
                f"got {type(self.augment).__name__}"
            )
        if not isinstance(self.network, nn.Module) and self.network not in NETWORKS:
            raise ValueError(
                f"network must be one of {NETWORKS} or a flax.linen.Module, got {self.network!r}"
            )
        for name in ("n_components", "n_neighbors", "batch_size", "negatives"):
            value = self._setting(name) if name in LOSS_DEFAULTS[self.loss] else getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self._setting("epochs") > 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs!r}")
        if self.random_state is not None and not isinstance(self.random_state, int | np.integer):
            raise ValueError(
                f"random_state must be an integer or None, got {type(self.random_state).__name__}"
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


def _to_network_layout(X: np.ndarray) -> np.ndarray:
    """Images gain a channel axis and 28×28 digits are zero-padded to 32×32, as in the paper."""
    if X.ndim == 3:
        X = X[..., None]
    if X.ndim == 4 and X.shape[1:3] == (28, 28):
        X = pad_images(X, size=32)
    return X


def _check_labels(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one label per sample), got {y.shape}")
    return y
