"""Figs. 8 and 9: the lighting-invariant 3-D cylinder of the airplane, and its hidden units.

Run: drlim run norb-airplane
On the real small-NORB files: drlim run norb-airplane --norb-source PATH
"""

from drlim.config import ExperimentConfig, TrainConfig

CONFIG = ExperimentConfig(
    name="norb-airplane",
    figure="fig8_norb_cylinder",
    dataset="norb-airplane",
    graph="grid",
    image_size=48,
    network="mlp",
    hidden=(20,),
    n_components=3,
    targets=(
        ("azimuth_circular_corr", ">=", 0.9),
        ("elevation_spearman", ">=", 0.9),
        ("lighting_spread_ratio", "<=", 0.1),
    ),
    # Every pair of the 660 training images at each step, as in the paper; similar pairs are
    # 5% of all pairs, weighted here to 15% of the objective.
    train=TrainConfig(steps=5000, mode="all", similar_fraction=0.15, optimizer="adam",
                      learning_rate=1e-3, log_every=100),
)
QUICK = {"steps": 60, "log_every": 20, "image_size": 24}
