"""DrLIM as a scikit-learn transformer, with an out-of-sample ``transform``.

Unlike LLE, t-SNE or spectral embeddings, DrLIM learns a function: once fitted, new
samples are mapped by the network without refitting.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import numpy as np
import scipy.sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from drlim._io import write_bytes
from drlim.config import LOSSES, MAX_SEED, MIN_DIST_RANGE, NEGATIVES_MIN
from drlim.data.mnist import pad_images
from drlim.knn import METHODS as KNN_METHODS
from drlim.knn import METRICS
from drlim.models import MLP, LeNetDrLIM, default_network
from drlim.neighbors import (
    Graph,
    edges,
    fuzzy_knn_graph,
    graph_from_sparse,
    knn_graph,
    label_graph,
    pairs_graph,
    perplexity_graph,
    union,
)
from drlim.refine import REFINE_MAP_EPOCHS, refine_embedding, refine_map
from drlim.train import (
    TrainConfig,
    embed,
    init_params,
    initial_params,
    train,
    use_compilation_cache,
)

NETWORKS = ("auto", "mlp", "lenet")
UNLABELLED = -1
MODEL_KEYS = ("settings", "input_shape", "params", "history")
# What a model fitted with refine > 0 keeps besides: the training samples (or their principal
# components' coordinates, with refine_pca, and those components) and the training map.
REFINE_KEYS = ("reference", "embedding", "pca_mean", "pca_components")
# Rows projected on refine_pca's axes at a time: 32 MB of float64 for 1,024 features.
PROJECT_BLOCK = 4096
# Small data sets still get enough steps for the map to settle.
MIN_STEPS = 100
# With ``epochs=None``, at least this many steps whatever the loss. Eq. 4's 2 epochs are 100
# steps on small sets, too few to settle (8×8 digits, test T@10 / 5-NN: 100 steps 0.839 /
# 0.656, 325 steps 0.897 / 0.814, 649 steps 0.919 / 0.862; swiss roll T@10 0.919 at 100,
# 0.973 at 1,000). The other losses' 64 epochs are 250 steps on 1,000 8×8 digits (fitted on
# 1,000 of the comparison's 1,297 training digits, scored on the other 297, the test digits
# unused; T@5 / 5-NN, mean of 4 splits; 250 steps against 1,000): InfoNCE 0.938 / 0.914
# against 0.956 / 0.936, NEG 0.937 / 0.912 against 0.949 / 0.933, UMAP's loss 0.890 / 0.803
# against 0.942 / 0.915; the fit took 4 s against 13 s.
DEFAULT_MIN_STEPS = 1000
# What ``None`` means for each loss (measured on MNIST 4/9: see the class docstring).
# The edge-sampling losses share theirs: one budget, so that they compare at equal cost.
LOSS_DEFAULTS: dict[str, dict[str, float]] = {
    "drlim": {"n_neighbors": 5, "epochs": 2.0, "batch_size": 64, "learning_rate": 1e-2,
              "negatives": 5},
    **{loss: {"n_neighbors": 15, "epochs": 64.0, "batch_size": 256, "learning_rate": 3e-3,
              "negatives": 5} for loss in ("umap", "infonce", "neg")},
}
# The network "auto" picks for the edge-sampling losses: the MLP of parametric UMAP's runs.
EDGE_LOSS_HIDDEN = (256, 256, 256)


class DrLIM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dimensionality Reduction by Learning an Invariant Mapping (Hadsell et al., 2006).

    Fits a mapping network so that samples that are neighbours (by default the
    ``n_neighbors`` nearest in input space; or same-label samples when ``y`` is given; or
    any :class:`drlim.neighbors.Graph`) land close together and all other pairs apart.

    Which loss (measured on MNIST 4/9 with the defaults: 6,000 training digits, the 1,982
    test digits scored by trustworthiness T@5 and 5-NN label accuracy):
      ``"drlim"`` (the default): the paper's Eq. 4; every non-neighbour pair is pushed to
      the ``margin``, so the map fills the plane evenly (T@5 0.84, 5-NN 0.79, 1,000
      steps). Pick it for the paper's maps and fast fits.
      ``"infonce"``: InfoNCE with the Cauchy kernel (t-SNE-like maps, Damrich et al. 2023):
      separated classes and the best neighbourhoods (T@5 0.90, 5-NN 0.98, 1,500 steps).
      Pick it to see clusters and classes.
      ``"umap"``: parametric UMAP's loss on UMAP's fuzzy kNN graph (T@5 0.88, 5-NN 0.97);
      pick it to match UMAP (``min_dist`` sets how tightly clusters pack).
      ``"neg"``: negative sampling with the Cauchy kernel on the plain kNN graph, the
      UMAP-like end of Damrich et al.'s spectrum (T@5 0.89, 5-NN 0.98): UMAP-like clusters
      without UMAP's fuzzy graph or its ``a, b``.
    All four learn invariances from ``augment``.

    Input: ``uint8`` samples are images in 0..255 and are scaled to [0, 1] as each batch
    enters the network (as :func:`drlim.train.train` does; they stay ``uint8`` in memory, a
    quarter of float32's size). Any other dtype is converted to float32 and used as given:
    scale such features yourself (the network's defaults expect values of order 1).

    Semi-supervised: in ``y``, ``-1`` means "unlabelled" (as in umap-learn and
    scikit-learn's semi-supervised estimators). When some samples are labelled and some
    not, the graph is the ``n_neighbors``-NN graph of all samples united with the label
    graph of the labelled ones, and ``target_weight`` says how much the labels count (see
    :func:`semi_supervised_graph`). When every sample is labelled, the graph is the label
    graph alone (supervised DrLIM). With ``loss="umap"`` that kNN graph is the plain one,
    without UMAP's fuzzy weights (label groups carry no weight to combine them with), and
    ``fit`` warns.

    Parameters:
      n_components: output dimension.
      n_neighbors: neighbours per sample of the default kNN graph (UMAP's fuzzy kNN graph
        for ``loss="umap"``); ``None``: the loss's default (5 for ``"drlim"``, 15 otherwise).
      margin: the contrastive loss margin ``m`` (``loss="drlim"`` only).
      network: ``"auto"`` (with ``loss="drlim"`` the paper's conv net for images
        ``(n, h, w[, c])`` and an MLP for flat ``(n, d)`` data; with the other losses an MLP
        256-256-256 ReLU), ``"mlp"`` (:class:`~drlim.models.MLP`'s defaults, whatever the
        loss), ``"lenet"``, or any Flax module mapping a batch to
        ``(batch, n_components)``. 28×28 images are zero-padded to 32×32 as in the paper;
        other image sizes (at least 8×8) go to the conv net unpadded.
      loss: ``"drlim"``, ``"umap"``, ``"infonce"`` or ``"neg"`` (see above).
      epochs: passes over the samples: each sample once a block anchor (``"drlim"``) or an
        edge anchor (other losses) per epoch, as in :class:`drlim.train.TrainConfig`.
        ``None``: the loss's default (``LOSS_DEFAULTS``), and at least
        ``DEFAULT_MIN_STEPS`` (1,000) steps, so that small sets train long enough to settle
        (``history_`` shows the steps run). A given ``epochs`` runs at least ``MIN_STEPS``
        (100) steps.
      batch_size: anchors per training step, each drawn with its partner: for ``"drlim"``
        ``batch_size`` anchors plus one neighbour each (``2 * batch_size`` images, every pair
        among them used; at most ``n_samples`` anchors); positive edges per step for the
        other losses. ``None``: the loss's default (64 anchors for ``"drlim"``).
      learning_rate: ``None``: the loss's default. optimizer: ``"adam"`` or ``"sgd"`` (with
        momentum 0.9).
      negatives: uniform negatives per positive edge (all but ``"drlim"``); ``None``:
        the loss's default.
      min_dist: UMAP's ``min_dist`` (``loss="umap"``), how tightly neighbours may pack.
      perplexity: ``None``, or t-SNE's perplexity: the default graph is then t-SNE's
        affinities on ``3 * perplexity`` neighbours
        (:func:`drlim.neighbors.perplexity_graph`), edges drawn in proportion to them; with
        ``loss="infonce"`` that is t-SNE as contrastive learning (Euclidean only;
        ``n_neighbors`` must then be None; Eq. 4 uses the edges unweighted).
      augment: a random transformation drawn for every image of every step, whose copies
        count as similar: ``"shift:6"``, ``"rotate:10"`` (joined with ``+``), or a jittable
        ``f(key, image)`` (see :mod:`drlim.augment`); ``None`` for none.
      refine: 0 (the default), or the steps by which ``transform`` then moves each sample
        to lower its t-SNE objective against the fixed map of the training samples, as
        openTSNE's ``transform`` does (:mod:`drlim.refine`). Held-out samples land closer to
        their true neighbours, at the cost of keeping the training samples (as float32) and
        of a slower ``transform``; it pulls samples toward their input-space neighbours
        (Euclidean, whatever ``metric``; ``uint8`` images scaled to [0, 1]), so leave it at
        0 for invariant maps. 100 steps are enough on the sets measured
        (``figures/comparison.md``). With ``refine`` > 0, ``fit`` first refines the training
        map itself: ``refine_epochs`` epochs of training each sample's place directly on the
        same loss and graph, from the network's map (:func:`drlim.refine.refine_map`).
      refine_epochs: those epochs (0 keeps the network's map); only used with ``refine``.
        They add ``refine_epochs * n_samples / batch_size`` steps to the fit (300 epochs of
        58,000 MNIST digits: some 200 s on 2 cores).
      refine_pca: ``None``, or the number of principal components of the training samples on
        which ``refine`` compares samples (its neighbours and affinities), to leave out the
        dimensions of noise; the model then keeps those coordinates instead of the samples
        (12 MB instead of 246 MB for 60,000 MNIST digits, zero-padded to 32×32, at 50). Only
        used with ``refine``. On two validation splits of MNIST's training digits (58,000
        fitted, 2,000 held out) 50 components raised the held-out 5-NN accuracy from 0.9665
        and 0.966 to 0.968 and 0.968, T@5 within 0.001; on MNIST 4/9 they changed nothing.
      refine_from_nearest: with ``refine``, also refine each sample from the place of its
        nearest training sample (in the space ``refine`` compares in) and keep whichever
        place has the lower t-SNE objective: a sample the network put in the wrong cluster
        can then leave it, at some 1.4 times the transform's time (12.8 s against 9.1 s per
        1,000 samples against 60,000 training digits). On the two MNIST validation
        splits above (with ``refine_pca=50``) it raised held-out T@5 / 5-NN from 0.9616 /
        0.968 and 0.9627 / 0.968 to 0.9625 / 0.971 and 0.9641 / 0.973; on MNIST 4/9 and
        the 8x8 digits it raised T@5 by 0.001 to 0.005 but lowered 5-NN by up to 0.010.
      schedule: ``"constant"`` learning rate, or ``"cosine"`` decay to zero over the run
        (better on large sets trained for many epochs: see ``figures/comparison.md``).
      similar_fraction: weight of the similar-pair loss in the objective (``loss="drlim"``
        only; the other losses weigh their positive and negative terms themselves).
      target_weight: in [0, 1], how much the labels count in a semi-supervised fit (some
        labels -1): 0 ignores them (the fit is ``fit(X)``'s, checks included); 1 makes
        every same-label pair similar and removes the kNN edges that join two labelled
        samples of different classes. With every sample labelled the graph is the labels'
        alone, whatever ``target_weight``.
      metric: distance of the default kNN graph: ``"euclidean"``, ``"cosine"`` or
        ``"manhattan"`` (UMAP's fuzzy graph, ``loss="umap"``, is Euclidean only).
      knn_method: ``"auto"`` (exact below ``drlim.knn.AUTO_EXACT_LIMIT`` samples, NN-descent
        from there on), ``"exact"`` or ``"approx"`` (NN-descent, pynndescent).
      warm_start: when fitted already, ``fit`` continues from the trained network instead of
        a fresh one (same sample shape required); the graph is rebuilt from the new ``X``.
      random_state: integer seed in [0, 2**32 - 1] (``None`` means 0: fits are
        reproducible by default).
      verbose: True shows progress bars (training, and ``refine``'s map); False, the
        default, shows them only when stderr is a terminal.

    Attributes:
      params_: the trained network parameters. network_: the Flax module used.
      graph_: the neighbourhood graph of the training samples. history_: training log.
      n_features_in_, input_shape_: the shape of one training sample. input_uint8_,
        input_max_: whether the training samples were ``uint8`` images (scaled by 1/255), and
        their largest value as the network reads them; ``transform`` warns when ``uint8``
        meets other samples and only one side exceeds 1 (raw 0..255 pixels beside scaled
        ones), as the two would then not be on one scale.
      reference_, embedding_ (with ``refine`` > 0): the training samples, flattened (their
        coordinates on the principal axes with ``refine_pca``), and their refined map (the
        network's map with ``refine_epochs=0``). pca_mean_, pca_components_ (with
        ``refine_pca``): the training samples' mean and principal axes (rows).

    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16.0
    >>> model = DrLIM(n_components=2, random_state=0).fit(X[:1500])
    >>> model.transform(X[1500:]).shape
    (297, 2)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "margin": [Interval(Real, 0, np.inf, closed="neither")],
        "network": [StrOptions(set(NETWORKS)), nn.Module],
        "loss": [StrOptions(set(LOSSES))],
        "epochs": [Interval(Real, 0, np.inf, closed="neither"), None],
        # block mode: at least two anchors (and their two neighbours)
        "batch_size": [Interval(Integral, 2, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, np.inf, closed="neither"), None],
        "optimizer": [StrOptions({"adam", "sgd"})],
        "schedule": [StrOptions({"constant", "cosine"})],
        "similar_fraction": [Interval(Real, 0, 1, closed="neither")],
        "target_weight": [Interval(Real, 0, 1, closed="both")],
        "negatives": [Interval(Integral, NEGATIVES_MIN, None, closed="left"), None],
        "min_dist": [Interval(Real, *MIN_DIST_RANGE, closed="both")],
        "perplexity": [Interval(Real, 1, None, closed="left"), None],
        "augment": [str, callable, None],
        "refine": [Interval(Integral, 0, None, closed="left")],
        "refine_epochs": [Interval(Real, 0, np.inf, closed="left")],
        "refine_pca": [Interval(Integral, 1, None, closed="left"), None],
        "refine_from_nearest": ["boolean"],
        "metric": [StrOptions(set(METRICS))],
        "knn_method": [StrOptions(set(KNN_METHODS))],
        "warm_start": ["boolean"],
        "random_state": [Interval(Integral, 0, MAX_SEED, closed="both"), None],
        "verbose": ["verbose"],
    }

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
        target_weight: float = 1.0,
        negatives: int | None = None,
        min_dist: float = 0.1,
        perplexity: float | None = None,
        augment: Any = None,
        refine: int = 0,
        refine_epochs: float = REFINE_MAP_EPOCHS,
        refine_pca: int | None = None,
        refine_from_nearest: bool = False,
        metric: str = "euclidean",
        knn_method: str = "auto",
        warm_start: bool = False,
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
        self.target_weight = target_weight
        self.negatives = negatives
        self.min_dist = min_dist
        self.perplexity = perplexity
        self.augment = augment
        self.refine = refine
        self.refine_epochs = refine_epochs
        self.refine_pca = refine_pca
        self.refine_from_nearest = refine_from_nearest
        self.metric = metric
        self.knn_method = knn_method
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, *, graph: Graph | Any = None) -> DrLIM:
        """Learn the mapping from ``X`` and its neighbourhood graph.

        The graph is ``graph`` when given (a :class:`drlim.neighbors.Graph`, or a SciPy
        sparse matrix such as ``sklearn.neighbors.kneighbors_graph(X, 5)`` or umap-learn's
        ``graph_``, read as its pattern of similar pairs by
        :func:`drlim.neighbors.graph_from_sparse`: pass ``graph_from_sparse(m, weights=True)``
        to draw edges in proportion to its values); else, when ``y`` is
        given, same-label pairs (every sample labelled) or the semi-supervised graph (some
        labels ``-1``); else t-SNE's affinities of ``X`` when ``perplexity`` is set, or the
        ``n_neighbors``-nearest-neighbour graph of ``X``. Parameters
        are checked before any work starts; training that diverges raises
        :class:`drlim.train.DivergenceError`. A fit that fails leaves a fitted model as it
        was.
        """
        before = _fitted_state(self)
        try:
            return self._fit(X, y, graph)
        except BaseException:
            for name in _fitted_state(self):
                delattr(self, name)
            self.__dict__.update(before)
            raise

    def _fit(self, X: Any, y: Any, graph: Graph | Any) -> DrLIM:
        """:meth:`fit`, which may leave the model half changed when it fails."""
        self._check_numbers()
        use_compilation_cache()  # before the graph: its kNN search is cached too
        start = self._warm_start_params(X)
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"DrLIM needs at least 2 samples to form pairs, got n_samples={n}")
        self._check_images(X)
        self._check_refine_pca(X)
        self.network_ = self._make_network(X.shape[1:])
        if start is not None:
            _check_same_network(self.network_, start, X)
        config = self._train_config(n)
        pool = ThreadPoolExecutor(max_workers=1)  # initialise while the graph is built
        fresh = None if start is not None else pool.submit(
            initial_params, self.network_, X, config.seed)
        try:
            self.graph_ = self._graph(X, y, graph)
        finally:  # a bad graph or y is reported at once, not after the initialisation
            pool.shutdown(wait=False)
        start = start if fresh is None else fresh.result()
        result = train(self.network_, X, self.graph_, config, progress=self.verbose or None,
                       augment=self.augment if callable(self.augment) else None,
                       params=start)
        self._n_features_out = self.n_components
        self.params_ = jax.device_get(result.params)
        self.history_ = result.history
        for name in REFINE_KEYS:
            self.__dict__.pop(f"{name}_", None)
        if self.refine:
            flat = _unit_rows(X)
            if self.refine_pca is not None:
                self.pca_mean_, self.pca_components_ = _principal_components(
                    flat, self.refine_pca, config.seed)
            self.reference_ = self._refine_coordinates(flat)
            self.embedding_ = refine_map(embed(self.network_, self.params_, X), self.graph_,
                                         config, self.refine_epochs,
                                         progress=self.verbose or None).astype(np.float32)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Map samples, seen in training or not, to the learned ``n_components``-D space
        (then move each ``refine`` steps against the training map, when ``refine`` > 0)."""
        check_is_fitted(self, "params_")
        X = self._validate(X, reset=False)
        Z = embed(self.network_, self.params_, X)
        if not self.refine:
            return Z.astype(np.float64)
        if not hasattr(self, "reference_"):
            raise ValueError(
                f"refine={self.refine} needs the training samples, which a model keeps only "
                "when fitted with refine > 0; fit again with it, or set refine=0"
            )
        return refine_embedding(Z, self._refine_coordinates(_unit_rows(X)), self.reference_,
                                self.embedding_, self.refine,
                                from_nearest=self.refine_from_nearest)

    def fit_transform(self, X: Any, y: Any = None, *, graph: Graph | None = None) -> np.ndarray:
        """Fit, then map the training samples with :meth:`transform` (with ``refine`` > 0,
        each is refined against the training map, which holds it: ``embedding_`` is that
        map itself)."""
        return self.fit(X, y, graph=graph).transform(X)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model (parameters and settings) to one file, atomically.

        The settings must still make the fitted network and its width: :meth:`load` builds
        the network from them, so a ``set_params`` since the fit that changes them
        (``network``, ``n_components``, or a ``loss`` whose default network differs) is
        refused here rather than saved beside parameters of another shape. Other settings are
        saved as :meth:`get_params` gives them now, like the parameters a later ``fit`` uses
        (a ``loss`` changed between two with the same network is saved as changed).
        """
        check_is_fitted(self, "params_")
        if (self._make_network(self._network_input_shape()) != self.network_
                or self.n_components != self._n_features_out):
            raise ValueError(
                "cannot save: the settings now make a different network than the fitted one "
                "(network, n_components or loss changed since the fit); set them back or fit "
                "again"
            )
        settings = self.get_params()
        if isinstance(self.network, nn.Module):
            settings["network"] = "custom"
        if callable(self.augment):  # only fitting uses it; the saved model maps without it
            settings["augment"] = None
        payload = {
            "settings": json.dumps(settings, default=_plain_scalar),
            "input_shape": list(self.input_shape_),
            "input_uint8": self.input_uint8_,
            "input_max": self.input_max_,
            "params": flax.serialization.to_state_dict(self.params_),
            "history": json.dumps(self.history_),
            "feature_names": json.dumps(
                list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
            ),
            **{name: getattr(self, f"{name}_") for name in REFINE_KEYS
               if hasattr(self, f"{name}_")},
        }
        path = Path(path)
        write_bytes(path, flax.serialization.msgpack_serialize(payload))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, network: nn.Module | None = None) -> DrLIM:
        """Read a model written by :meth:`save`; pass ``network`` if it was a custom module.

        A file that is not such a model (empty, truncated, another format) raises a
        ``ValueError`` "not a drlim model file: PATH (why)"; nothing is ever unpickled. A
        callable ``augment`` is not saved (mapping does not use it): to continue training with
        it (``warm_start``), set it again with ``set_params(augment=...)``.
        """
        payload, settings = _read_model_file(Path(path))
        # Files written before refine_epochs existed kept the network's map of the training set.
        settings.setdefault("refine_epochs", 0.0)
        settings.setdefault("refine_from_nearest", False)
        if settings["network"] == "custom":
            if network is None:
                raise ValueError("network must be given: the model was saved with a custom module")
            settings["network"] = network
        elif network is not None:
            raise ValueError(f"network must be None: the model was saved with "
                             f"network={settings['network']!r}, which load builds itself")
        try:
            model = cls(**settings)
        except TypeError as error:
            raise ValueError(f"not a drlim model file: {path} (settings: {error})") from None
        model.input_shape_ = tuple(int(s) for s in payload["input_shape"])
        model.input_uint8_ = payload.get("input_uint8")  # None: saved before it was recorded
        model.input_max_ = payload.get("input_max")
        model.n_features_in_ = model.input_shape_[0]
        model.network_ = model._make_network(model._network_input_shape())
        model.params_ = payload["params"]
        model.history_ = json.loads(payload["history"])
        model._n_features_out = model.n_components
        for name in REFINE_KEYS:
            if name in payload:
                setattr(model, f"{name}_", np.asarray(payload[name], np.float32))
        names = json.loads(payload.get("feature_names", "null"))
        if names is not None:  # fitted on a DataFrame: transform checks the columns again
            model.feature_names_in_ = np.asarray(names, dtype=object)
        return model

    def _warm_start_params(self, X: Any) -> Any:
        """The trained parameters to continue from (``warm_start``), else None."""
        if not (self.warm_start and hasattr(self, "params_")):
            return None
        shape = tuple(np.shape(X)[1:])
        if shape != tuple(self.input_shape_):
            raise ValueError(
                f"X must have samples of shape {tuple(self.input_shape_)} to continue training "
                f"(warm_start=True), got {shape}"
            )
        return self.params_

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        """Check ``X`` like scikit-learn does (DataFrames and sparse CSR rows too, the latter
        made dense for the network), and bring images to the network's layout. ``uint8``
        stays ``uint8`` (training and :func:`drlim.train.embed` scale it to [0, 1]); any other
        dtype becomes float32."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float32, np.uint8],
                          ensure_min_samples=1, accept_sparse="csr")
        if scipy.sparse.issparse(X):
            X = X.toarray()
        if reset:
            self.input_shape_ = X.shape[1:]
            self.input_uint8_, self.input_max_ = X.dtype == np.uint8, _largest_read(X)
        elif X.shape[1:] != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but DrLIM was fitted on samples of "
                f"shape {self.input_shape_}"
            )
        elif (getattr(self, "input_max_", None) is not None
              and self.input_uint8_ != (X.dtype == np.uint8)
              and (self.input_max_ > 1) != ((largest := _largest_read(X)) > 1)):
            fitted = "uint8 images" if self.input_uint8_ else "non-uint8 samples"
            warnings.warn(f"X is {X.dtype} with values up to {largest:g} as the network "
                          f"reads them, but DrLIM was fitted on {fitted} read up to "
                          f"{self.input_max_:g}: uint8 is scaled by 1/255 and other types are "
                          "used as given, so scale X as the training samples were",
                          UserWarning, stacklevel=2)
        return _to_network_layout(X)

    def _check_images(self, X: np.ndarray) -> None:
        """Raise, before any work, when a setting that needs images gets flat samples."""
        needs_images = {"network": isinstance(self.network, str) and self.network == "lenet",
                        "augment": isinstance(self.augment, str) and bool(self.augment)}
        for name, needed in needs_images.items():
            if needed and X.ndim == 2:
                raise ValueError(f"{name}={getattr(self, name)!r} needs images (n, height, "
                                 f"width), got flat samples of shape {X.shape}")

    def _check_refine_pca(self, X: np.ndarray) -> None:
        """Raise, before any work, when ``refine_pca`` asks for more components than ``X``
        has, counted in the network's layout (28×28 digits have 1,024 padded pixels)."""
        if not self.refine or self.refine_pca is None:
            return
        most = min(X.shape[0], math.prod(X.shape[1:]))
        if self.refine_pca > most:
            raise ValueError(
                f"refine_pca must be at most min(n_samples, n_features) = {most}, got "
                f"{self.refine_pca}"
            )

    def _refine_coordinates(self, flat: np.ndarray) -> np.ndarray:
        """Flattened float32 samples (as the network reads them) where ``refine`` compares
        them: on the principal components when the model has them (``refine_pca``)."""
        if not hasattr(self, "pca_components_"):
            return flat
        return _project(flat, self.pca_mean_, self.pca_components_)

    def _check_numbers(self) -> None:
        """Refuse what scikit-learn's ``Interval`` lets through: a bool for a number (``True``
        would be taken as 1) and an int too large for a float."""
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if not any(isinstance(c, Interval) for c in constraints) or value is None:
                continue
            if isinstance(value, bool | np.bool_):
                raise ValueError(f"{name} must be a number, not a bool, got {value!r}")
            if isinstance(value, Integral) and abs(value) > int(np.finfo(np.float64).max):
                raise ValueError(f"{name} must be a finite number, got an int of "
                                 f"{len(str(abs(value)))} digits")

    def _network_input_shape(self) -> tuple[int, ...]:
        """The shape of one sample as the network sees it (images padded, channels last)."""
        return _to_network_layout(np.zeros((1, *self.input_shape_), np.float32)).shape[1:]

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
        """The training run ``fit`` makes on ``n`` samples: ``epochs`` passes of
        ``batch_size`` anchors (:meth:`TrainConfig.total_steps`), at least ``MIN_STEPS``, and
        at least ``DEFAULT_MIN_STEPS`` when ``epochs`` is None."""
        batch = int(self._setting("batch_size"))
        if self.loss == "drlim":
            batch = min(batch, n)  # a block draws its anchors among the samples
        config = TrainConfig(
            seed=0 if self.random_state is None else int(self.random_state),
            steps=0,
            epochs=float(self._setting("epochs")),
            batch_size=batch,
            mode="block",
            similar_fraction=self.similar_fraction,
            margin=float(self.margin),
            optimizer=self.optimizer,
            learning_rate=float(self._setting("learning_rate")),
            schedule=self.schedule,
            loss=self.loss,
            negatives=int(self._setting("negatives")),
            min_dist=float(self.min_dist),
            augment=self.augment if isinstance(self.augment, str) else "",
        )
        steps = max(MIN_STEPS, config.total_steps(n))
        if self.epochs is None:
            steps = max(steps, DEFAULT_MIN_STEPS)
        return dataclasses.replace(config, steps=steps, epochs=0.0, log_every=min(50, steps))

    def _graph(self, X: np.ndarray, y: Any, graph: Graph | None) -> Graph:
        """The training graph that ``fit``'s arguments ask for (see :meth:`fit`)."""
        n = X.shape[0]
        if graph is not None:
            if scipy.sparse.issparse(graph):
                graph = graph_from_sparse(graph)
            if not isinstance(graph, Graph):
                raise ValueError(
                    f"graph must be a drlim Graph or a SciPy sparse matrix, got "
                    f"{type(graph).__name__}"
                )
            if graph.n != n:
                raise ValueError(f"graph must have {n} nodes (one per sample), got {graph.n}")
            return graph
        labels = None if y is None else _check_labels(y, n)
        if labels is not None and self.target_weight == 0 and np.any(labels == UNLABELLED):
            labels = None  # ignored: the graph (UMAP's fuzzy one too) is the one without y
        if self.perplexity is not None:
            return self._perplexity_graph(X, labels)
        if labels is not None and not np.any(labels == UNLABELLED):
            return label_graph(labels)
        k = self._setting("n_neighbors")
        _check_n_neighbors(k, n, given=self.n_neighbors is not None)
        flat = X.reshape(n, -1)
        seed = 0 if self.random_state is None else int(self.random_state)
        if self.loss == "umap" and labels is None:
            if self.metric != "euclidean":
                raise ValueError(
                    "metric must be 'euclidean' with loss='umap' (its fuzzy graph weighs "
                    f"Euclidean distances), got {self.metric!r}"
                )
            return fuzzy_knn_graph(flat, k=k, method=self.knn_method, random_state=seed)
        knn = knn_graph(flat, k=k, method=self.knn_method, metric=self.metric, random_state=seed)
        if labels is None:
            return knn
        if self.loss == "umap":
            warnings.warn("loss='umap' with some labels -1 trains on the plain kNN graph united "
                          "with the labels, without UMAP's fuzzy weights", UserWarning,
                          stacklevel=5)  # past fit and scikit-learn's wrapper of it
        return semi_supervised_graph(knn, labels, self.target_weight, seed)

    def _perplexity_graph(self, X: np.ndarray, labels: np.ndarray | None) -> Graph:
        """t-SNE's affinities of ``X`` (:func:`drlim.neighbors.perplexity_graph`), after
        checking that no other setting asks for another graph."""
        if self.n_neighbors is not None:
            raise ValueError(
                "n_neighbors must be None when perplexity is given (the graph then holds "
                f"3 * perplexity neighbours per sample), got n_neighbors={self.n_neighbors}"
            )
        if self.metric != "euclidean":
            raise ValueError(
                "metric must be 'euclidean' with perplexity (t-SNE's affinities weigh "
                f"Euclidean distances), got {self.metric!r}"
            )
        if labels is not None:
            raise ValueError(
                "perplexity cannot be combined with labels (the label and semi-supervised "
                "graphs have no edge weights); pass y=None or perplexity=None"
            )
        n = X.shape[0]
        if self.perplexity > n - 1:
            raise ValueError(
                f"perplexity must be at most n_samples - 1 = {n - 1}, got {self.perplexity}"
            )
        if self.loss == "drlim" and min(n - 1, math.floor(3 * self.perplexity)) > n - 2:
            raise ValueError(
                f"perplexity must be below (n_samples - 1) / 3 = {(n - 1) / 3:g} with "
                "loss='drlim', which ignores the weights: with 3 * perplexity >= n_samples - 1 "
                "every pair is similar and the map collapses to a point, got "
                f"perplexity={self.perplexity}"
            )
        seed = 0 if self.random_state is None else int(self.random_state)
        return perplexity_graph(X.reshape(n, -1), self.perplexity, method=self.knn_method,
                                random_state=seed)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags


def _read_model_file(path: Path) -> tuple[dict, dict]:
    """The payload and settings of a model file, or a ValueError that says why not."""

    def refuse(why: str) -> ValueError:
        return ValueError(f"not a drlim model file: {path} ({why})")

    data = path.read_bytes()
    if not data:
        raise refuse("the file is empty")
    try:
        payload = flax.serialization.msgpack_restore(data)
    except Exception as error:  # msgpack raises several unrelated types on bad bytes
        raise refuse(f"not readable as msgpack: {type(error).__name__}: {error}") from None
    missing = [k for k in MODEL_KEYS if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise refuse(f"missing {', '.join(missing)}")
    try:
        settings = json.loads(payload["settings"])
        json.loads(payload["history"])
    except (TypeError, ValueError) as error:
        raise refuse(f"settings or history are not JSON: {error}") from None
    if not isinstance(settings, dict) or "network" not in settings:
        raise refuse("the settings name no network")
    if ("pca_mean" in payload) != ("pca_components" in payload):
        raise refuse("it holds one of pca_mean and pca_components without the other")
    return payload, settings


def _principal_components(flat: np.ndarray, count: int,
                          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the first ``count`` principal axes (rows) of ``flat``, as float32."""
    pca = PCA(n_components=count, random_state=seed).fit(flat)
    return pca.mean_.astype(np.float32), pca.components_.astype(np.float32)


def _project(flat: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``flat``'s coordinates on the principal ``axes`` (rows) about ``mean``, as float32.

    Computed in float64, :data:`PROJECT_BLOCK` rows at a time: a float32 matrix product's
    rounding depends on the other rows and on the memory layout (after refining, test digits
    mapped alone moved by 3e-5 of the map's spread in the comparison's MNIST run), and a
    sample's place must not depend on the samples mapped with it; float64's differences lie
    far below float32's rounding.
    """
    mean, axes = mean.astype(np.float64), axes.T.astype(np.float64)
    out = np.empty((len(flat), axes.shape[1]), np.float32)
    for start in range(0, len(flat), PROJECT_BLOCK):
        rows = slice(start, start + PROJECT_BLOCK)
        out[rows] = (flat[rows] - mean) @ axes
    return out


def _largest_read(X: np.ndarray) -> float:
    """The largest value of ``X`` as the network reads it (``uint8`` scaled to [0, 1]).

    >>> _largest_read(np.array([[0, 255]], np.uint8)), _largest_read(np.array([[0.0, 7.5]]))
    (1.0, 7.5)
    """
    largest = float(X.max()) if X.size else 0.0
    return largest / 255 if X.dtype == np.uint8 else largest


def _unit_rows(X: np.ndarray) -> np.ndarray:
    """``X``'s samples as flat float32 rows, the way the network reads them: ``uint8``
    images scaled to [0, 1]."""
    rows = X.reshape(X.shape[0], -1)
    return rows.astype(np.float32) / 255 if X.dtype == np.uint8 else rows.astype(np.float32)


def _to_network_layout(X: np.ndarray) -> np.ndarray:
    """Images gain a channel axis and 28×28 digits are zero-padded to 32×32, as in the paper."""
    if X.ndim == 3:
        X = X[..., None]
    if X.ndim == 4 and X.shape[1:3] == (28, 28):
        X = pad_images(X, size=32)
    return X


def semi_supervised_graph(
    knn: Graph, labels: np.ndarray, target_weight: float, seed: int
) -> Graph:
    """The kNN graph ``knn`` of all samples united with the label graph of the labelled ones.

    ``labels`` holds class ids ``>= 0`` and ``-1`` for unlabelled samples. Two kinds of pairs
    come from the labels, each governed by ``target_weight`` (``w``, in [0, 1]):

    - same-label pairs are similar with probability ``w`` (in expectation): each class's
      labelled samples are split at random into the groups of :func:`label_group_shares`,
      and the members of one group are similar to each other (groups keep the graph O(n) in
      memory);
    - a kNN edge joining two labelled samples of different classes is removed with
      probability ``w`` (the labels say they are not alike).

    ``w = 0`` gives the plain kNN graph; ``w = 1`` makes every same-label pair similar and
    removes every kNN edge between classes. The draws are deterministic for ``seed``.

    >>> X = np.array([[0.0], [0.1], [1.0], [1.1], [5.0]])
    >>> knn = knn_graph(X, k=1)
    >>> g = semi_supervised_graph(knn, np.array([0, 1, -1, 0, -1]), 1.0, seed=0)
    >>> g.to_dense().astype(int).tolist()
    [[0, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 1, 0], [1, 0, 1, 0, 1], [0, 0, 0, 1, 0]]
    """
    if target_weight == 0:
        return knn
    if knn.weights is not None or knn.groups is not None:
        raise ValueError(
            "knn must be a plain graph, without weights or groups, when target_weight > 0 "
            "(the label graph is united with its pairs only)"
        )
    rng = np.random.default_rng(seed)
    i, j = edges(knn)
    labelled = labels >= 0
    n_labelled = int(labelled.sum())
    between_classes = labelled[i] & labelled[j] & (labels[i] != labels[j])
    keep = ~(between_classes & (rng.random(i.size) < target_weight))
    # Below one pair in expectation, smaller groups change nothing: at most one per sample.
    shares = label_group_shares(max(target_weight, 1 / max(1, n_labelled)))
    split = np.searchsorted(np.cumsum(shares)[:-1], rng.random(n_labelled), side="right")
    groups = np.full(labels.shape, -1, dtype=np.int64)
    groups[labelled] = labels[labelled] * shares.size + split
    by_label = Graph(np.empty((labels.size, 0), dtype=np.int32), groups=groups)
    return union(pairs_graph(i[keep], j[keep], labels.size), by_label)


def label_group_shares(target_weight: float) -> np.ndarray:
    """The shares of a class's samples that go to each group in :func:`semi_supervised_graph`:
    as few groups as can be (``ceil(1 / w)``), all of one size but the last, so that two
    samples drawn into them share a group with probability ``sum(shares**2) == w``.

    >>> label_group_shares(0.5).tolist(), label_group_shares(1.0).tolist()
    ([0.5, 0.5], [1.0])
    >>> shares = label_group_shares(0.7)
    >>> shares.round(3).tolist(), round(float(np.sum(shares**2)), 12)
    ([0.816, 0.184], 0.7)
    """
    groups = math.ceil(1 / target_weight - 1e-9)  # 1 / w may round up past a whole number
    if groups == 1:
        return np.ones(1)
    equal = groups - 1
    # equal * s**2 + (1 - equal * s)**2 == w, the root that leaves the last group the smaller
    root = math.sqrt(max(0.0, equal**2 - equal * groups * (1 - target_weight)))
    size = (equal + root) / (equal * groups)
    return np.append(np.full(equal, size), max(0.0, 1 - equal * size))


def _check_n_neighbors(n_neighbors: int, n: int, given: bool = True) -> None:
    """With ``n_samples - 1`` neighbours every pair is similar and the map collapses.
    ``given``: whether the user set ``n_neighbors`` (else the loss's default is named).

    >>> _check_n_neighbors(5, 3, given=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the kNN graph with the default n_neighbors=5 needs at least 7 samples, ...
    """
    if n_neighbors <= n - 2:
        return
    if not given:
        raise ValueError(
            f"the kNN graph with the default n_neighbors={n_neighbors} needs at least "
            f"{n_neighbors + 2} samples, got n_samples={n}; pass more samples, a smaller "
            "n_neighbors, y or graph"
        )
    raise ValueError(
        f"n_neighbors must be at most n_samples - 2 = {n - 2} (with n_samples - 1 every "
        f"pair is similar and the map collapses to a point), got n_neighbors={n_neighbors} "
        f"for n_samples={n}"
    )


def _is_unlabelled(label: Any) -> bool:
    """Whether an object array's label is the number -1 (as in a numeric array; not the
    string "-1")."""
    return isinstance(label, Real) and not isinstance(label, bool) and label == UNLABELLED


def _fitted_state(model: DrLIM) -> dict[str, Any]:
    """The attributes a fit sets (scikit-learn's trailing underscore)."""
    return {name: value for name, value in vars(model).items()
            if (name.endswith("_") and not name.startswith("__")) or name == "_n_features_out"}


def _check_same_network(network: nn.Module, params: Any, X: np.ndarray) -> None:
    """Raise unless ``params`` (a fit's) fit ``network`` on ``X`` (``warm_start``)."""
    wanted = jax.eval_shape(lambda: init_params(network, np.zeros(X.shape[1:], np.float32), 0))
    if _shapes(params) != _shapes(wanted):
        raise ValueError(
            "warm_start=True continues the trained network, but the settings now make a "
            "different one (network, n_components or loss changed since the fit); fit with "
            "warm_start=False"
        )


def _shapes(tree: Any) -> list[tuple[str, tuple[int, ...]]]:
    """Each leaf's path and shape."""
    return [(jax.tree_util.keystr(path), tuple(np.shape(leaf)))
            for path, leaf in jax.tree_util.tree_leaves_with_path(tree)]


def _plain_scalar(value: Any) -> Any:
    """A NumPy scalar setting as the Python number JSON writes (``np.int64(10)`` -> 10)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"settings must be JSON values, got {type(value).__name__}")


def _check_labels(y: Any, n: int) -> np.ndarray:
    """Class ids ``0, 1, ...`` per sample, ``-1`` where ``y`` is ``-1`` (unlabelled)."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one label per sample), got {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y must not contain NaN or inf")
    if y.dtype.kind == "U" and np.any(y == str(UNLABELLED)):
        raise ValueError(
            "y must be an object array to mark unlabelled samples among string labels, got "
            "strings with '-1': pass np.array(y, dtype=object) holding the number -1 where "
            "a sample is unlabelled, or give a class named '-1' another name"
        )
    if y.dtype.kind in "iuf":
        unlabelled = y == UNLABELLED
    else:
        unlabelled = np.array([_is_unlabelled(label) for label in y.ravel()], dtype=bool)
    if unlabelled.all():
        raise ValueError(
            "y must label at least one sample, got -1 (unlabelled) everywhere; "
            "call fit(X) without y for an unsupervised map"
        )
    try:
        classes, ids = np.unique(y[~unlabelled], return_inverse=True)
    except TypeError:
        kinds = sorted({type(label).__name__ for label in y[~unlabelled]})
        raise ValueError(
            f"y must hold labels of one type that sorts (and -1 for unlabelled), got "
            f"{', '.join(kinds)}"
        ) from None
    if classes.size < 2 and not unlabelled.any():
        raise ValueError(
            f"y must hold at least 2 classes, got 1 class ({classes[0]!r}): every pair would "
            "be similar and the map would collapse to a point; fit without y, or mark "
            "unlabelled samples -1"
        )
    codes = np.full(n, UNLABELLED, dtype=np.int64)
    codes[~unlabelled] = ids.reshape(-1)
    return codes


__all__ = [
    "EDGE_LOSS_HIDDEN",
    "LOSS_DEFAULTS",
    "DrLIM",
    "semi_supervised_graph",
]
