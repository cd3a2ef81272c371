"""drlim: Dimensionality Reduction by Learning an Invariant Mapping (Hadsell et al., 2006).

>>> from drlim import DrLIM
>>> DrLIM(n_components=2).get_params()["n_components"]
2
"""

__version__ = "0.1.0"
__all__ = ["DrLIM", "__version__"]


def __getattr__(name: str):
    # The estimator pulls in scikit-learn and Flax; load it only when asked for.
    if name == "DrLIM":
        from drlim.estimator import DrLIM

        return DrLIM
    raise AttributeError(f"module 'drlim' has no attribute {name!r}")
