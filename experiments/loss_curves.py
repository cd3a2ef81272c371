"""Fig. 1: the contrastive loss of similar and dissimilar pairs, and their spring forces.

Run: drlim run loss-curves
"""

from drlim.config import ExperimentConfig, TrainConfig

CONFIG = ExperimentConfig(
    name="loss-curves", figure="fig1_loss_curves", kind="loss-curves", train=TrainConfig(margin=1.0)
)
QUICK: dict = {}
