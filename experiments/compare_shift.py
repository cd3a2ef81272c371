"""Shifted digits: every method maps the same unseen shifted test digits; only DrLIM forgets.

Run: drlim compare --set shift   (writes figures/comparison_shift.md and .png)

The paper's 4s and 9s with copies shifted by -6, -3, +3, +6 px (Fig. 5's data: 30,000 training
samples; 400 test digits at the five positions, 2,000 test samples). UMAP, openTSNE and PaCMAP
(their defaults) and DrLIM's plain maps (Eq. 4, UMAP's loss and InfoNCE, the kNN graph) keep the
shift: a 5-NN classifier recovers it from the test map. DrLIM's invariant maps draw a random
shift of up to 6 px for every image of every step (``augment="shift:6"``), so neighbours seen
under independent shifts are similar pairs: with each loss the shift accuracy should fall
towards chance (0.2) while the digit accuracy stays high. shift_accuracy and knn_accuracy_label
are 5-NN classifiers within the test map (split halves: of the samples for the shift, as in the
paper; of whole digits for the digit, so that a digit's own shifted copies never vote for it);
orbit_spread_ratio is how close the five copies of one test digit lie against random pairs.
"""

import dataclasses

from drlim.compare import CompareConfig

_PLAIN = (("epochs", 10.0),)
_EDGE = (("n_neighbors", 15), ("learning_rate", None))
_VARIANTS = (
    ("drlim-umap", (("loss", "umap"), *_EDGE)),
    ("drlim-infonce", (("loss", "infonce"), *_EDGE)),
    ("drlim-shift6", (("augment", "shift:6"),)),
    ("drlim-umap-shift6", (("loss", "umap"), *_EDGE, ("augment", "shift:6"))),
    ("drlim-infonce-shift6", (("loss", "infonce"), *_EDGE, ("augment", "shift:6"))),
)
_SCORES = ("shift_accuracy", "knn_accuracy_label", "orbit_spread_ratio")

CONFIG = CompareConfig(
    datasets=("mnist-shift",),
    label_datasets=(),
    baselines=(),
    peers=("umap", "opentsne", "pacmap"),
    n_test_per_digit_4_9=200,
    drlim_params=(*_PLAIN, ("learning_rate", 1e-3)),
    drlim_variants=_VARIANTS,
    scores=_SCORES,
)
QUICK = dataclasses.replace(
    CONFIG,
    n_train_per_digit_4_9=60,
    n_test_per_digit_4_9=20,
    max_fit=150,
    max_test=200,
    stability_singles=2,
    drlim_params=(("epochs", 1.0), ("batch_size", 8)),
)
