"""Fig. 6: LLE on the shifted digits and the same 5-NN neighbourhoods; degenerate.

Run: drlim run mnist-shift-lle
"""

from drlim.config import ExperimentConfig

CONFIG = ExperimentConfig(
    name="mnist-shift-lle",
    figure="fig6_shift_lle",
    kind="lle",
    dataset="mnist-shift",
    graph="knn",
    n_neighbors=5,
    shifts=(-6, -3, 3, 6),
    n_test_originals=1000,
    n_components=2,
)
QUICK = {"n_train_per_digit": 150, "n_test_per_digit": 50, "n_test_originals": 100}
