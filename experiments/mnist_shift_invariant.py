"""Fig. 7: shifted digits with translations declared similar; the map forgets the shift.

Run: drlim run mnist-shift-invariant
"""

from drlim.config import ExperimentConfig, TrainConfig

CONFIG = ExperimentConfig(
    name="mnist-shift-invariant",
    figure="fig7_shift_invariant",
    dataset="mnist-shift",
    graph="orbit",
    n_neighbors=5,
    shifts=(-6, -3, 3, 6),
    n_test_originals=1000,
    network="lenet",
    n_components=2,
    targets=(("shift_accuracy", "<=", 0.35), ("orbit_spread_ratio", "<=", 0.25)),
    train=TrainConfig(steps=3000, batch_size=64, mode="block", optimizer="adam",
                      learning_rate=1e-3, log_every=50),
)
QUICK = {"n_train_per_digit": 150, "n_test_per_digit": 50, "n_test_originals": 100, "steps": 60,
         "log_every": 20}
