"""drlim: Dimensionality Reduction by Learning an Invariant Mapping (Hadsell et al., 2006).

The public API, one import away (each name loads its module on first use, so that
``import drlim`` and the ``drlim`` command stay fast):

- the estimator: :class:`DrLIM`;
- losses: :func:`contrastive_loss` (the paper's Eq. 4), :func:`umap_loss`,
  :func:`infonce_loss`, :func:`similar_from_labels`;
- graphs: :class:`Graph`, :func:`knn_graph`, :func:`fuzzy_knn_graph`, :func:`perplexity_graph`,
  :func:`label_graph`, :func:`grid_graph`, :func:`sequence_graph`, :func:`orbit_graph`,
  :func:`pairs_graph`, :func:`copies_graph`, :func:`union`, :func:`graph_from_sparse`,
  :func:`knn_indices`;
- maps refined by optimisation after the network: :func:`refine_map` (the training map,
  each place free) and :func:`refine_embedding` (new samples against it), both behind
  ``DrLIM(refine=...)``;
- training: :class:`TrainConfig`, :func:`embed`, :func:`use_compilation_cache`, the networks
  :class:`LeNetDrLIM` and :class:`MLP` (the loop itself is :func:`drlim.train.train`:
  ``drlim.train`` is its module);
- every other method by name (PCA, Isomap, LLE, spectral, t-SNE, UMAP, openTSNE, PaCMAP,
  parametric UMAP): :func:`fit_method`;
- metrics: :func:`trustworthiness`, :func:`continuity`, :func:`knn_accuracy`,
  :func:`transform_stability`, :func:`coinciding_fraction`;
- plots: :func:`embedding_figure`, :func:`training_curves_figure`, :func:`interactive`.

>>> import drlim
>>> drlim.DrLIM(n_components=2).get_params()["n_components"]
2
>>> drlim.contrastive_loss is __import__("drlim.loss").loss.contrastive_loss
True
"""

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "DrLIM": "drlim.estimator",
    "contrastive_loss": "drlim.loss",
    "umap_loss": "drlim.loss",
    "infonce_loss": "drlim.loss",
    "similar_from_labels": "drlim.loss",
    "Graph": "drlim.neighbors",
    "knn_graph": "drlim.neighbors",
    "fuzzy_knn_graph": "drlim.neighbors",
    "perplexity_graph": "drlim.neighbors",
    "label_graph": "drlim.neighbors",
    "grid_graph": "drlim.neighbors",
    "sequence_graph": "drlim.neighbors",
    "orbit_graph": "drlim.neighbors",
    "copies_graph": "drlim.neighbors",
    "pairs_graph": "drlim.neighbors",
    "union": "drlim.neighbors",
    "graph_from_sparse": "drlim.neighbors",
    "knn_indices": "drlim.knn",
    "TrainConfig": "drlim.config",
    "embed": "drlim.train",
    "use_compilation_cache": "drlim.train",
    "refine_embedding": "drlim.refine",
    "refine_map": "drlim.refine",
    "fit_method": "drlim.methods",
    "LeNetDrLIM": "drlim.models",
    "MLP": "drlim.models",
    "trustworthiness": "drlim.metrics",
    "continuity": "drlim.metrics",
    "knn_accuracy": "drlim.metrics",
    "transform_stability": "drlim.metrics",
    "coinciding_fraction": "drlim.metrics",
    "embedding_figure": "drlim.plots",
    "training_curves_figure": "drlim.plots",
    "interactive": "drlim.plots",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'drlim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
