"""Fig. 5: shifted 4s and 9s with the plain 5-NN graph; the map falls apart by translation.

Run: drlim run mnist-shift-nn
"""

from drlim.config import ExperimentConfig, TrainConfig

CONFIG = ExperimentConfig(
    name="mnist-shift-nn",
    figure="fig5_shift_nn",
    dataset="mnist-shift",
    graph="knn",
    n_neighbors=5,
    shifts=(-6, -3, 3, 6),
    n_test_originals=1000,
    network="lenet",
    n_components=2,
    targets=(("shift_accuracy", ">=", 0.9),),
    train=TrainConfig(steps=3000, batch_size=64, mode="block", optimizer="adam",
                      learning_rate=1e-3, log_every=50),
)
QUICK = {"n_train_per_digit": 150, "n_test_per_digit": 50, "n_test_originals": 100, "steps": 60,
         "log_every": 20}
