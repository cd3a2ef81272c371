"""Fig. 7 with the shifts drawn on the fly: the map forgets the shift, no orbit graph needed.

The 6,000 training digits are kept unshifted; every image of every training step is moved by
a random whole number of pixels in [-6, 6] (``augment="shift:6"``), so 5-NN neighbours seen
under independent shifts are similar pairs. Scored on the same shifted test digits as
mnist-shift-invariant. Works with every loss (``--loss umap``, ``--loss infonce``).

Run: drlim run mnist-shift-augment
"""

from drlim.config import ExperimentConfig, TrainConfig

CONFIG = ExperimentConfig(
    name="mnist-shift-augment",
    figure="fig7_shift_augment",
    dataset="mnist-shift",
    graph="knn",
    n_neighbors=5,
    shifts=(-6, -3, 3, 6),
    shift_train=False,
    n_test_originals=1000,
    network="lenet",
    n_components=2,
    targets=(("shift_accuracy", "<=", 0.35), ("orbit_spread_ratio", "<=", 0.25)),
    train=TrainConfig(steps=3000, batch_size=64, mode="block", optimizer="adam",
                      learning_rate=1e-3, log_every=50, augment="shift:6"),
)
QUICK = {"n_train_per_digit": 150, "n_test_per_digit": 50, "n_test_originals": 100, "steps": 60,
         "log_every": 20}
