"""Beyond the paper: DrLIM against PCA, Isomap, LLE, spectral embedding and t-SNE.

Run: drlim compare   (make compare; --quick runs tiny samples of everything)

Three data sets (the paper's MNIST 4s and 9s, all ten MNIST digits, scikit-learn's 8×8
digits), every method scored on the same held-out test samples. Writes
figures/comparison.md, .json and .png; the embeddings go to runs/compare/.

DrLIM trains for 20 epochs instead of the estimator's quick default of 2. The conv net on
MNIST uses Adam at 1e-3, as the paper experiments do: at the default 1e-2, 20 epochs on
60,000 digits saturate its tanh units and three quarters of the test digits fall on top
of one another. The small MLP on the 8×8 digits keeps the default 1e-2 (1e-3 is too slow
for it). The baselines run with scikit-learn's defaults and the same 5 neighbours.
"""

from drlim.compare import CompareConfig

CONFIG = CompareConfig(
    datasets=("mnist-4-9", "mnist-10", "digits-8x8"),
    label_datasets=("mnist-10",),
    baselines=("pca", "isomap", "lle", "spectral", "tsne"),
    max_fit=6000,
    max_test=2000,
    n_neighbors=5,
    drlim_params=(("epochs", 20.0),),
    dataset_drlim_params=(
        ("mnist-4-9", (("learning_rate", 1e-3),)),
        ("mnist-10", (("learning_rate", 1e-3),)),
    ),
)
