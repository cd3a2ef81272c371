"""All ten MNIST digits mapped with each loss side by side: one network, graph and budget.

Run: drlim compare --set losses   (writes figures/comparison_losses.md, .png, _training.png)

DrLIM's Eq. 4, UMAP's fuzzy cross-entropy, negative sampling (NEG) and InfoNCE, both with the
Cauchy kernel (issue 14), train the same network — an MLP 1024-256-256-256-2 with ReLU (the
digits zero-padded to 32x32) — on the same 15-NN graph of the 60,000 training digits for the
same budget: 12 epochs of 256 anchors a step (each anchor with one neighbour; Eq. 4 uses every
pair among the step's 512 images, the others 5 negatives per anchor), 2,813 steps each; each
loss keeps the estimator's learning rate and negatives for it. Every map is scored on the same
2,000 test digits by the comparison's protocol; comparison_losses_training.png shows each map
above its training curves.
"""

import dataclasses

from drlim.compare import CompareConfig

_SAME = (("hidden", (256, 256, 256)), ("activation", "relu"), ("batch_size", 256))
_LOSSES = (("drlim-umap", (("loss", "umap"),)), ("drlim-neg", (("loss", "neg"),)),
           ("drlim-infonce", (("loss", "infonce"),)))

CONFIG = CompareConfig(
    datasets=("mnist-10",),
    label_datasets=(),
    baselines=(),
    n_neighbors=15,
    drlim_params=(*_SAME, ("epochs", 12.0)),
    drlim_variants=_LOSSES,
)
QUICK = dataclasses.replace(
    CONFIG,
    n_train_mnist10=600,
    max_fit=300,
    max_test=200,
    stability_singles=2,
    drlim_params=(("hidden", (16, 16)), ("activation", "relu"), ("batch_size", 32),
                  ("epochs", 1.0)),
)
