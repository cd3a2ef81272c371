"""Time to quality: a cold process's ``DrLIM().fit`` against a plain PyTorch script, to test
trustworthiness@5 >= 0.83 on the paper's MNIST 4/9 protocol (issue 15, target 1).

    python -m benchmarks.bench_time_to_quality [--quick]

drlim: a fresh Python process (with an empty ``DRLIM_CACHE``, so nothing is compiled or
cached) imports drlim, loads the 6,000 training 4s and 9s (28x28; the estimator pads them)
and times ``DrLIM(n_components=2).fit(X)`` with its defaults -- validation, kNN graph,
compilation and at least 1,000 steps. Its ``history_`` rows carry the cumulative training
seconds every 50 steps; the quality at those steps comes from replaying the same fit, in the
same process, with ``epochs`` giving exactly that many steps and the cold fit's graph (same
seed, same steps: the replay's logged losses must equal the cold fit's, which is checked).
The time to quality is the cold fit's set-up (everything before its first step) plus the
training seconds at the first logged step whose test trustworthiness@5 reaches 0.83; the target
takes the median of three cold processes (each with its own empty cache; the quality at a step
is the same in each, as the seed is), against the median of three PyTorch runs to their first
step reaching 0.83, one after the other in the benchmark's process (the later two stop there).
The plateau is the full default fit's. The breakdown: import, validation and set-up, graph
(re-timed warm, plus its compilation), XLA compilation (JAX's monitoring events), steps, and the
first and later ``transform`` of the 1,982 test images. A second fresh process, sharing the
first one's cache folder, repeats the fit: its time to the same step shows what a user's later
sessions pay once JAX's persistent compilation cache holds drlim's programs (reported beside the
cold target, not in place of it).

PyTorch: the paper's protocol written plainly in eager mode -- the exact 5-NN graph with
``torch.cdist`` and ``topk`` (timed), each epoch the 30,000 similar pairs plus 30,000 random
pairs labelled dissimilar, shuffled, batch 128, Adam 1e-3 -- with the test
trustworthiness every quarter epoch (evaluation not timed). The run is seeded, so a replay
retraces it (checked): from the last quarter-epoch check below 0.83 to the first one above,
a replay checks every :data:`TORCH_FINE_EVERY` steps, and the first of those reaching 0.83
is PyTorch's time to quality, about as fine as drlim's check every 50 of its shorter steps
(with quarter-epoch checks only, PyTorch's time would be the end of the 118-step stretch in
which it crossed, up to 2 s late).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Collection
from typing import Any

import numpy as np

from benchmarks.bench_common import (
    TORCH_MISSING,
    CompileLog,
    add_target,
    digits_4_9,
    fastest_torch_threads,
    module_main,
    result,
    run_child,
    torch_module,
)
from benchmarks.bench_train_step import torch_contrastive_loss, torch_device, torch_lenet

QUALITY = 0.83
TARGET_RATIO = 3.0
TORCH_EPOCHS = 3
TORCH_BATCH = 128
TORCH_LR = 1e-3
EVALS_PER_EPOCH = 4
# Steps between PyTorch's checks where it crosses the quality (about 0.2 s of its steps on 2
# CPU cores, against drlim's 50 steps of about 0.25 s).
TORCH_FINE_EVERY = 10
# Cold processes (drlim) and protocol runs (PyTorch) timed: the target takes each side's
# median, as one 4-second cold start varies by about +-0.3 s on the shared 2-core machine.
REPEATS = 3
# DrLIM's default batch: a step's anchors (each with one neighbour in the block).
DEFAULT_BATCH = 64
# DrLIM's default neighbours with Eq. 4 (its graph is re-timed with them).
N_NEIGHBORS = 5
QUICK = {"epochs": 1.0, "batch_size": 8}


def estimator_settings(quick: bool) -> dict:
    """The settings the benchmark gives ``DrLIM``: its defaults, or tiny ones if ``quick``."""
    return {"n_components": 2, **(QUICK if quick else {})}


def replay_epochs(steps: int, n: int, quick: bool) -> float:
    """``epochs`` that make the estimator train exactly ``steps`` steps on ``n`` samples (a
    step takes ``batch_size`` anchors; half a step less guards the rounding up).

    >>> replay_epochs(150, 6000, False) * 6000 / 64
    149.5
    """
    anchors = QUICK["batch_size"] if quick else DEFAULT_BATCH
    return (steps - 0.5) * anchors / n


def child(payload: dict) -> dict:
    """In a fresh process: time the cold fit and its parts, then (``curve``) replay it to
    find the quality at each logged step, and (``second_fit``) time a second fit."""
    start = time.perf_counter()
    from drlim.estimator import DrLIM
    from drlim.metrics import trustworthiness
    from drlim.neighbors import knn_graph

    import_s = time.perf_counter() - start
    quick = payload["quick"]
    split = digits_4_9(quick, pad_to_32=False)
    X, X_test = split.x_train[..., 0], split.x_test[..., 0]
    X_test_flat = X_test.reshape(len(X_test), -1)
    settings = estimator_settings(quick)
    model = DrLIM(**settings)
    with CompileLog() as log:
        start = time.perf_counter()
        model.fit(X)
        fit_end = time.perf_counter()
    history = model.history_
    train_s = history[-1]["seconds"]
    train_start = fit_end - train_s
    out: dict[str, Any] = {
        "import_s": import_s, "n_train": len(X), "n_test": len(X_test),
        "fit_s": fit_end - start, "train_s": train_s, "setup_s": train_start - start,
        "steps": history[-1]["step"],
        "history": [[r["step"], r["seconds"], r.get("loss")] for r in history],
        "compile": log.as_dict(), "setup_compile_s": log.seconds_before(train_start),
        "settings": {k: v for k, v in model.get_params().items() if k != "network"},
    }
    with CompileLog() as log:
        start = time.perf_counter()
        Z = model.transform(X_test)
        out["transform_cold_s"] = time.perf_counter() - start
    out["transform_compile"] = log.as_dict()
    start = time.perf_counter()
    model.transform(X_test)
    out["transform_warm_s"] = time.perf_counter() - start
    out["trust"] = trustworthiness(X_test_flat, Z, k=5)
    start = time.perf_counter()
    knn_graph(X.reshape(len(X), -1), k=N_NEIGHBORS, method="auto", random_state=0)
    out["graph_warm_s"] = time.perf_counter() - start
    if payload.get("second_fit"):
        with CompileLog() as log:
            start = time.perf_counter()
            DrLIM(**settings).fit(X)
            out["second_fit_s"] = time.perf_counter() - start
        out["second_compile"] = log.as_dict()
    if payload.get("curve"):
        out["curve"] = quality_curve(model, X, X_test_flat, history, quick)
    return out


def quality_curve(model: Any, X: np.ndarray, X_test_flat: np.ndarray, history: list[dict],
                  quick: bool) -> list[dict]:
    """Test trustworthiness@5 at the cold fit's logged steps, up to the first that reaches
    :data:`QUALITY`: each a replay of the fit that stops there, on the same graph."""
    from drlim.estimator import DrLIM
    from drlim.metrics import trustworthiness

    losses = {r["step"]: r.get("loss", math.nan) for r in history}
    curve = []
    for row in history:
        steps = row["step"]
        if steps < 100:  # the estimator trains at least 100 steps
            continue
        settings = {**estimator_settings(quick), "epochs": replay_epochs(steps, len(X), quick)}
        replay = DrLIM(**settings).fit(X, graph=model.graph_)
        same = [math.isclose(r.get("loss", math.nan), losses.get(r["step"], math.nan),
                             rel_tol=1e-4)
                for r in replay.history_]
        Z = replay.transform(X_test_flat.reshape(-1, *X.shape[1:]))
        curve.append({"step": steps, "replayed_steps": replay.history_[-1]["step"],
                      "same_trajectory": all(same), "seconds": row["seconds"],
                      "trust": trustworthiness(X_test_flat, Z, k=5)})
        if curve[-1]["trust"] >= QUALITY:
            break
    return curve


def torch_knn(torch: Any, flat: Any, k: int) -> Any:
    """Exact k nearest neighbours (self excluded) as a plain PyTorch script finds them."""
    distances = torch.cdist(flat, flat)
    distances.fill_diagonal_(float("inf"))
    return distances.topk(k, largest=False).indices


def torch_protocol(torch: Any, split: Any, epochs: int, stop_at: int | None = None,
                   checks: Collection[int] | None = None) -> dict:
    """The plain PyTorch eager protocol; cumulative seconds and test trustworthiness at the
    steps ``checks`` (by default every quarter epoch and at each epoch's end), up to
    ``epochs`` or the check at step ``stop_at``. Runs on the GPU when JAX and PyTorch both
    see one, else on the CPU."""
    from drlim.metrics import trustworthiness

    device = torch_device(torch)
    n = len(split.x_train)
    test = torch.from_numpy(np.array(split.x_test.transpose(0, 3, 1, 2), np.float32)).to(device)
    images = torch.from_numpy(np.array(split.x_train.transpose(0, 3, 1, 2), np.float32))
    images = images.to(device)
    threads = pick_threads(torch, images) if device == "cpu" else torch.get_num_threads()
    start = time.perf_counter()
    neighbors = torch_knn(torch, images.reshape(n, -1), 5)
    if device == "cuda":
        torch.cuda.synchronize()
    graph_s = time.perf_counter() - start
    torch.manual_seed(0)
    net = torch_lenet(torch).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=TORCH_LR)
    similar_left = torch.arange(n, device=device).repeat_interleave(neighbors.shape[1])
    similar_right = neighbors.reshape(-1)
    n_similar = len(similar_left)
    labels = torch.arange(2 * n_similar, device=device) < n_similar
    steps_per_epoch = math.ceil(2 * n_similar / TORCH_BATCH)
    every = math.ceil(steps_per_epoch / EVALS_PER_EPOCH)
    elapsed, curve, step = graph_s, [], 0
    for _ in range(epochs):
        start = time.perf_counter()
        left = torch.cat([similar_left, torch.randint(n, (n_similar,), device=device)])
        right = torch.cat([similar_right, torch.randint(n, (n_similar,), device=device)])
        order = torch.randperm(2 * n_similar, device=device)
        for first in range(0, 2 * n_similar, TORCH_BATCH):
            idx = order[first : first + TORCH_BATCH]
            b = len(idx)
            z = net(images[torch.cat([left[idx], right[idx]])])
            loss = torch_contrastive_loss(torch, z[:b], z[b:], labels[idx], 1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if (step in checks if checks is not None
                    else step % every == 0 or first + TORCH_BATCH >= 2 * n_similar):
                if device == "cuda":
                    torch.cuda.synchronize()
                elapsed += time.perf_counter() - start
                with torch.no_grad():
                    Z = net(test).cpu().numpy()
                trust = trustworthiness(split.x_test.reshape(len(Z), -1), Z, k=5)
                curve.append({"step": step, "seconds": elapsed, "trust": trust})
                if step == stop_at:
                    break
                start = time.perf_counter()
        if step == stop_at:
            break
    return {"graph_s": graph_s, "curve": curve, "steps_per_epoch": steps_per_epoch,
            "threads": threads, "device": device}


def fine_crossing(torch: Any, split: Any, epochs: int, curve: list[dict], coarse: dict) -> dict:
    """A replay of the protocol checking every :data:`TORCH_FINE_EVERY` steps between the
    last check of ``curve`` before ``coarse`` (its first check reaching the quality) and
    ``coarse``; ``same_trajectory`` says whether the replay gave ``coarse``'s value again
    there."""
    before = max((p["step"] for p in curve if p["step"] < coarse["step"]), default=0)
    checks = {*range(before + TORCH_FINE_EVERY, coarse["step"], TORCH_FINE_EVERY),
              coarse["step"]}
    fine = torch_protocol(torch, split, epochs, stop_at=coarse["step"], checks=checks)
    fine["same_trajectory"] = fine["curve"][-1]["trust"] == coarse["trust"]
    return fine


def pick_threads(torch: Any, images: Any) -> int:
    """Set PyTorch's faster thread count for this protocol's step, probed on a throwaway net."""
    net = torch_lenet(torch)
    optimizer = torch.optim.Adam(net.parameters(), lr=TORCH_LR)
    batch = images[: 2 * TORCH_BATCH]

    def probe() -> None:
        for _ in range(3):
            loss = net(batch).square().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return fastest_torch_threads(torch, probe)


def first_reaching(curve: list[dict], quality: float = QUALITY) -> dict | None:
    """The first point of ``curve`` whose ``trust`` reaches ``quality`` (None if none does).

    >>> first_reaching([{"trust": 0.8}, {"trust": 0.84}, {"trust": 0.85}])
    {'trust': 0.84}
    """
    return next((point for point in curve if point["trust"] >= quality), None)


def run(quick: bool = False) -> dict:
    """Cold-start drlim fit and PyTorch protocol: seconds to trustworthiness@5 >= 0.83."""
    repeats = 1 if quick else REPEATS
    with tempfile.TemporaryDirectory(prefix="drlim-cache-") as cache:
        ours = run_child("bench_time_to_quality", {"quick": quick, "curve": True},
                         env={"DRLIM_CACHE": cache})
        later = run_child("bench_time_to_quality", {"quick": quick},
                          env={"DRLIM_CACHE": cache})
    reached = first_reaching(ours["curve"])
    ours_runs = [seconds_at(ours, reached["step"])] if reached else []
    for _ in range(repeats - 1 if reached else 0):
        with tempfile.TemporaryDirectory(prefix="drlim-cache-") as cache:
            again = run_child("bench_time_to_quality", {"quick": quick},
                              env={"DRLIM_CACHE": cache})
        ours_runs.append(seconds_at(again, reached["step"]))
    ours_runs = [seconds for seconds in ours_runs if seconds is not None]
    ours_s = float(np.median(ours_runs)) if ours_runs else None
    torch = torch_module()
    theirs, their_reached, their_runs = None, None, []
    if torch is not None:
        split, epochs = digits_4_9(quick), 1 if quick else TORCH_EPOCHS
        theirs = torch_protocol(torch, split, epochs)
        coarse = first_reaching(theirs["curve"])
        if coarse is not None:
            theirs["fine"] = fine_crossing(torch, split, epochs, theirs["curve"], coarse)
            their_reached = first_reaching(theirs["fine"]["curve"]) or coarse
            their_runs = [their_reached["seconds"]] + [
                torch_protocol(torch, split, epochs, stop_at=their_reached["step"],
                               checks={their_reached["step"]})["curve"][-1]["seconds"]
                for _ in range(repeats - 1)]
    their_s = float(np.median(their_runs)) if their_runs else None
    rows = [[f"drlim cold DrLIM().fit, step {p['step']}",
             round(ours["setup_s"] + p["seconds"], 2), round(p["trust"], 4)]
            for p in ours["curve"]]
    rows.append([f"drlim cold DrLIM().fit, whole ({ours['steps']} steps)",
                 round(ours["fit_s"], 2), round(ours["trust"], 4)])
    later_s = seconds_at(later, reached["step"]) if reached else None
    if later_s is not None:
        rows.append([f"drlim later process (the first one's compilation cache), step "
                     f"{reached['step']}", round(later_s, 2), round(reached["trust"], 4)])
    if ours_s is not None:
        rows.append([f"drlim cold, step {reached['step']}: median of {len(ours_runs)} cold "
                     f"processes ({spread(ours_runs)})", round(ours_s, 2),
                     round(reached["trust"], 4)])
    if their_s is not None:
        rows.append([f"PyTorch, step {their_reached['step']}: median of {len(their_runs)} "
                     f"runs in this process ({spread(their_runs)})", round(their_s, 2),
                     round(their_reached["trust"], 4)])
    if their_reached is not None:
        rows.append([f"PyTorch replay checking every {TORCH_FINE_EVERY} steps up to step "
                     f"{coarse['step']}: first reaching {QUALITY} at step "
                     f"{their_reached['step']}", round(their_reached["seconds"], 2),
                     round(their_reached["trust"], 4)])
    if theirs is not None:
        rows += [[f"PyTorch eager protocol, step {p['step']} (epoch "
                  f"{p['step'] / theirs['steps_per_epoch']:.2f})", round(p["seconds"], 2),
                  round(p["trust"], 4)] for p in theirs["curve"]]
    record = result("time_to_quality", "Time to quality (cold start to test trustworthiness@5)",
                    ["run", "seconds (graph included)", "test trustworthiness@5"], rows,
                    notes=notes(ours, theirs),
                    skipped=None if theirs is not None else TORCH_MISSING)
    record["measurements"] = {"drlim": ours, "drlim_later_process": later, "torch": theirs,
                              "drlim_cold_runs_s": ours_runs, "torch_runs_s": their_runs}
    record["breakdown"] = breakdown(ours)
    ratio = (their_s / ours_s) if (ours_s and their_s) else None
    add_target(record, "time to trustworthiness 0.83: PyTorch time / drlim time", ratio,
               minimum=TARGET_RATIO, unit="x", issue=1, judged=theirs is not None,
               not_run="drlim or PyTorch did not reach 0.83" if ratio is None else "",
               limit=limit_text(ours, reached))
    later_ratio = (their_s / later_s) if (later_s and their_s) else None
    add_target(record, "the same, in a later process with the persistent compilation cache "
               "warm (not the cold target: reported to show what compilation costs)",
               later_ratio, minimum=TARGET_RATIO, unit="x", issue=1,
               judged=theirs is not None,
               not_run="drlim or PyTorch did not reach 0.83" if later_ratio is None else "",
               limit=f"a later process's set-up {later['setup_s']:.1f} s (graph "
               f"{later['graph_warm_s']:.1f} s warm, compilation "
               f"{later['setup_compile_s']:.1f} s) + the steps")
    if theirs is not None:
        best = round(max(p["trust"] for p in theirs["curve"]), 4)
        add_target(record, f"plateau above the PyTorch protocol's best ({best:.4f})",
                   ours["trust"], minimum=best, issue=1,
                   limit="the map the objective converges to, at this network size")
    return record


def spread(seconds: list[float]) -> str:
    """Each run's seconds, in the order run.

    >>> spread([4.31, 4.6, 4.25])
    '4.31, 4.60, 4.25 s'
    """
    return ", ".join(f"{value:.2f}" for value in seconds) + " s"


def seconds_at(out: dict, step: int) -> float | None:
    """A fit's seconds from its start to logged training step ``step`` (set-up included).

    >>> seconds_at({"setup_s": 2.0, "history": [[50, 1.0, 0.1], [100, 1.5, 0.1]]}, 100)
    3.5
    """
    return next((out["setup_s"] + seconds for logged, seconds, _ in out["history"]
                 if logged == step), None)


def breakdown(ours: dict) -> list[list]:
    """The cold fit's seconds by stage (rows of stage, seconds), from the child's timings."""
    compile_s = ours["compile"]["compile_s"]
    setup_compile = ours["setup_compile_s"]
    graph = ours["graph_warm_s"]
    rest = ours["setup_s"] - graph - setup_compile  # below 0: graph and compilation overlap
    return [
        ["import drlim (not in the fit)", round(ours["import_s"], 2)],
        ["set-up before the first step", round(ours["setup_s"], 2)],
        ["  of which validation and the rest (less graph and compilation)",
         round(max(rest, 0.0), 2)],
        ["  of which kNN graph (re-timed warm)", round(graph, 2)],
        ["  of which XLA compilation (graph kernel, parameter init, eager ops)",
         round(setup_compile, 2)],
        ["  graph and compilation side by side (counted in both lines above)",
         round(max(-rest, 0.0), 2)],
        ["XLA compilation during training", round(compile_s - setup_compile, 2)],
        [f"{ours['steps']} training steps (less their compilation)",
         round(ours["train_s"] - (compile_s - setup_compile), 2)],
        ["transform of the test images, first call (its compilation "
         f"{ours['transform_compile']['compile_s']:.2f} s)", round(ours["transform_cold_s"], 2)],
        ["transform of the test images, later call", round(ours["transform_warm_s"], 2)],
    ]


def notes(ours: dict, theirs: dict | None) -> list[str]:
    """The notes under the table: sizes, the breakdown, the replay check, PyTorch's side."""
    lines = [
        f"{ours['n_train']} training / {ours['n_test']} test images; trustworthiness@5 of the "
        "test embedding against the test images (drlim.metrics.trustworthiness); drlim's "
        "seconds are the set-up before the first step plus the training seconds logged at "
        "that step.",
        f"drlim settings: {ours['settings']}.",
        "Cold fit breakdown (seconds): " + "; ".join(
            f"{name} {seconds}" for name, seconds in breakdown(ours)) + ".",
        f"XLA in the cold fit: {ours['compile']['compiles']} compilations, "
        f"{ours['compile']['compile_s']:.2f} s backend + {ours['compile']['trace_s']:.2f} s "
        "tracing and lowering (JAX's monitoring events); the most compile seconds: "
        + ", ".join(f"{name} {count}x {seconds} s" for name, count, seconds
                    in ours["compile"]["top"]) + ".",
    ]
    if not all(p["same_trajectory"] and p["replayed_steps"] == p["step"] for p in ours["curve"]):
        lines.append("WARNING: a replay did not retrace the cold fit (steps or losses differ); "
                     "the curve's qualities are then only close to the cold fit's.")
    if theirs is None:
        lines.append(f"PyTorch protocol skipped: {TORCH_MISSING}.")
    else:
        lines.append(f"PyTorch: {theirs['device']}, {theirs['threads']} thread(s), graph "
                     f"{theirs['graph_s']:.2f} s (torch.cdist + topk), "
                     f"{theirs['steps_per_epoch']} steps per epoch; its time to quality is "
                     f"the first reaching {QUALITY} of a replay checking every "
                     f"{TORCH_FINE_EVERY} steps where the quarter-epoch checks cross it.")
        if not theirs.get("fine", {}).get("same_trajectory", True):
            lines.append("WARNING: PyTorch's replay did not retrace its first run (another "
                         "value at the first check reaching the quality); the crossing is "
                         "then only close to the first run's.")
    return lines


def limit_text(ours: dict, reached: dict | None) -> str:
    """Where drlim's seconds to the quality go (measured), for a missed target."""
    if reached is None:
        return (f"drlim did not reach {QUALITY} (cold fit's final {ours['trust']:.3f})")
    compile_s = ours["compile"]["compile_s"] - ours["setup_compile_s"]
    return (f"the first cold process's {ours['setup_s'] + reached['seconds']:.1f} s = set-up "
            f"{ours['setup_s']:.1f} s (graph {ours['graph_warm_s']:.1f} s re-timed warm; "
            f"{ours['setup_compile_s']:.1f} s of XLA compilation, some of it side by side: "
            "the parameters' beside the graph, the training step's beside the optimizer "
            f"state's) + {reached['step']} steps {reached['seconds']:.1f} s, of which "
            f"{compile_s:.1f} s XLA compilation")


def main(argv: list[str] | None = None) -> None:
    """Print the table, or run as the measuring child (``--child JSON``)."""
    module_main(run, __doc__, argv, child=child)


if __name__ == "__main__":
    main()
