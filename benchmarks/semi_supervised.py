"""Semi-supervised DrLIM on MNIST: test 5-NN accuracy with 1 % and 10 % of the labels kept.

    python -m benchmarks.semi_supervised [RUN-NAME-FILTER ...]

All ten digits, 6,000 seeded training digits and 2,000 test digits, the conv net for 20
epochs at Adam 1e-3 (the comparison's MNIST setting). Unlabelled digits get -1; the kNN
classifier is fitted on the training map with every true label. Prints one JSON line per run.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from drlim.data.mnist import load_mnist
from drlim.estimator import DrLIM
from drlim.metrics import knn_accuracy

N_TRAIN, N_TEST = 6000, 2000
RUNS = [
    ("unsupervised", None, 1.0),
    ("1% labels, target_weight 1.0", 0.01, 1.0),
    ("1% labels, target_weight 0.5", 0.01, 0.5),
    ("10% labels, target_weight 1.0", 0.1, 1.0),
    ("10% labels, target_weight 0.5", 0.1, 0.5),
    ("fully supervised", 1.0, 1.0),
]


def sample(split: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random digits of ``split``, scaled to [0, 1], with their labels."""
    images, labels = load_mnist(split)
    keep = rng.choice(len(images), n, replace=False)
    return (images[keep] / 255.0).astype(np.float32), labels[keep]


def kept_labels(labels: np.ndarray, fraction: float) -> np.ndarray:
    """``labels`` with all but a seeded ``fraction`` of them replaced by -1 (unlabelled)."""
    out = labels.copy()
    hidden = np.random.default_rng(1).permutation(len(out))[: round(len(out) * (1 - fraction))]
    out[hidden] = -1
    return out


def main(filters: list[str]) -> None:
    rng = np.random.default_rng(0)
    x_train, y_train = sample("train", N_TRAIN, rng)
    x_test, y_test = sample("test", N_TEST, rng)
    for name, fraction, weight in RUNS:
        if filters and not any(f in name for f in filters):
            continue
        y = None if fraction is None else kept_labels(y_train, fraction)
        model = DrLIM(epochs=20, learning_rate=1e-3, random_state=0, target_weight=weight)
        started = time.perf_counter()
        model.fit(x_train, y)
        seconds = time.perf_counter() - started
        accuracy = knn_accuracy(model.transform(x_train), y_train, model.transform(x_test),
                                y_test, k=5)
        print(json.dumps({"run": name, "knn5_test": round(float(accuracy), 4),
                          "fit_s": round(seconds, 1)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
