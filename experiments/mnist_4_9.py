"""Fig. 4: the 2-D map of the test 4s and 9s, learned from 5-NN pairs of 6,000 training digits.

Run: drlim run mnist-4-9
"""

from drlim.config import ExperimentConfig, TrainConfig

CONFIG = ExperimentConfig(
    name="mnist-4-9",
    figure="fig4_mnist_4_9",
    dataset="mnist-4-9",
    graph="knn",
    n_neighbors=5,
    network="lenet",
    n_components=2,
    baselines=("isomap", "lle"),
    targets=(
        ("trustworthiness_5", ">=", "baseline_isomap.trustworthiness_5"),
        ("trustworthiness_5", ">=", "baseline_lle.trustworthiness_5"),
        ("trustworthiness_10", ">=", "baseline_isomap.trustworthiness_10"),
        ("trustworthiness_10", ">=", "baseline_lle.trustworthiness_10"),
    ),
    train=TrainConfig(steps=2000, batch_size=64, mode="block", optimizer="adam",
                      learning_rate=1e-3, log_every=50),
)
QUICK = {"n_train_per_digit": 300, "n_test_per_digit": 100, "steps": 60, "log_every": 20}
