"""Out-of-sample transform: images/s of ``DrLIM.transform`` against Isomap's and LLE's.

    .venv/bin/python benchmarks/bench_transform.py [--smoke]

All three are fitted on the paper's 6,000 training 4s and 9s (Isomap and LLE on the
flattened pixels with 5 neighbours, via ``drlim.baselines.fit_baseline``; DrLIM on the
28x28 images) and map the same 1,982 test images. DrLIM's transform is timed cold (first
call, compilation included) and warm (median of repeats); the target uses the warm rate,
the steady state of a deployed mapping. The transform speed does not depend on how well
DrLIM is trained, so it is fitted for one epoch only.
"""

from __future__ import annotations

import time

from bench_common import add_target, digits_4_9, median_seconds, module_main, result

TARGET_RATIO = 10.0
# LeNetDrLIM forward, multiply + add: C1 (27x27 outputs x 15 x 6x6), C3 (9x9x15 -> 30), F5.
FORWARD_FLOPS = 2 * (27 * 27 * 15 * 36 + 9 * 9 * 15 * 30 + 30 * 2)
BASELINES = ("isomap", "lle")


def run(smoke: bool = False) -> dict:
    """Images/s of each method's transform on the test images, and DrLIM's speed-up."""
    from drlim.baselines import fit_baseline
    from drlim.estimator import DrLIM

    split = digits_4_9(smoke, pad_to_32=False)
    X, X_test = split.x_train[..., 0], split.x_test[..., 0]
    n, m = len(X), len(X_test)
    model = DrLIM(n_components=2, epochs=1.0, random_state=0,
                  **({"batch_size": 16} if smoke else {})).fit(X)
    start = time.perf_counter()
    model.transform(X_test)
    cold_s = time.perf_counter() - start
    warm_s = median_seconds(lambda: model.transform(X_test), repeats=3 if smoke else 7)
    ours = m / warm_s
    rows = [["DrLIM.transform (warm)", round(warm_s, 4), round(ours), 1.0],
            ["DrLIM.transform (cold, compilation included)", round(cold_s, 4), round(m / cold_s),
             None]]
    speedups = {}
    for name in BASELINES:
        fitted = fit_baseline(name, X.reshape(n, -1), X_test.reshape(m, -1))
        rate = m / fitted.transform_seconds
        speedups[name] = ours / rate
        rows.append([f"{name} .transform (fit {fitted.fit_seconds:.1f} s)",
                     round(fitted.transform_seconds, 4), round(rate), round(speedups[name], 1)])
    notes = [f"{m} test images, models fitted on {n}; last column: DrLIM's warm rate / the row's "
             "rate."]
    record = result("transform", "Out-of-sample transform (images/s)",
                    ["method", "seconds", "images/s", "DrLIM speed-up"], rows, notes)
    for name, ratio in speedups.items():
        add_target(record, f"speed-up vs {name}", f">= {TARGET_RATIO:g}x", ratio,
                   ratio >= TARGET_RATIO, unit="x",
                   limit=f"the network's forward pass ({FORWARD_FLOPS / 1e6:.2f} MFLOP per "
                   f"image, {FORWARD_FLOPS * ours / 1e9:.1f} GFLOP/s achieved); Isomap's and "
                   f"LLE's transform is a 5-NN search among {n} images, of similar cost")
    return record


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
