"""Fig. 10: LLE on the airplane images and the same pose graph; it folds by lighting.

Run: drlim run norb-lle
"""

from drlim.config import ExperimentConfig

CONFIG = ExperimentConfig(
    name="norb-lle",
    figure="fig10_norb_lle",
    kind="lle",
    dataset="norb-airplane",
    graph="grid",
    image_size=48,
    n_components=3,
)
QUICK = {"image_size": 24}
