"""Time to quality: a cold process's ``DrLIM().fit`` against a plain PyTorch script, to test
trustworthiness@5 >= 0.83 on the paper's MNIST 4/9 protocol (issue 15, target 1).

    python -m benchmarks.bench_time_to_quality [--quick]

Both sides run with :data:`SEEDS` seeds, one run each, and the target compares the medians
of their times: where a seeded run crosses the quality depends on its seed (its pairs and
its initial weights), so a single seed per side would measure one draw, not the method.

drlim: for each seed a fresh Python process (with an empty ``DRLIM_CACHE``, so nothing is
compiled or cached) imports drlim, loads the 6,000 training 4s and 9s (28x28; the estimator
pads them) and times ``DrLIM(n_components=2, random_state=seed).fit(X)`` with its other
defaults -- validation, kNN graph, compilation and at least 1,000 steps. Its ``history_``
rows carry the cumulative training seconds every 50 steps; the quality at those steps comes
from replaying the same fit, in the same process, with ``epochs`` giving exactly that many
steps and the cold fit's graph (same seed, same steps: the replay's logged losses must equal
the cold fit's, which is checked). A seed's time to quality is its cold fit's set-up
(everything before its first step) plus the training seconds at the first logged step whose
test trustworthiness@5 reaches 0.83. The plateau is seed 0's full default fit. The breakdown
(seed 0): import, validation and set-up, graph (re-timed warm, plus its compilation), XLA
compilation (JAX's monitoring events), steps, and the first and later ``transform`` of the
1,982 test images. For each seed a second fresh process, sharing the first one's cache folder,
repeats the fit: its time to the same step shows what a user's later sessions pay once JAX's
persistent compilation cache holds drlim's programs (reported beside the cold target, not in
place of it).

PyTorch: the paper's protocol written plainly in eager mode -- the exact 5-NN graph with
``torch.cdist`` and ``topk`` (timed), each epoch the 30,000 similar pairs plus 30,000 random
pairs labelled dissimilar, shuffled, batch 128, Adam 1e-3. For each seed
(``torch.manual_seed``) a fresh Python process, as drlim's, imports PyTorch and loads the
digits (neither timed), then runs the protocol with the test trustworthiness every
:data:`TORCH_CHECK_EVERY` steps from the start (the weights copied at each check, untimed,
and evaluated after the epoch) until a check reaches 0.83: the seed's time to quality, about
as fine as drlim's check every 50 of its shorter steps.
PyTorch's thread count (1 or 2, the faster) is chosen once in the benchmark's process and
given to each child, so no child warms up before it is timed. The curve in the table and the
best value the plateau is judged against come from seed 0's 3 epochs, checked every quarter
epoch, in the benchmark's process. drlim's estimator trains at least 100 steps, so its first
check is at step 100: a crossing before it would count as step 100 (at most the 0.5 to 0.6 s
of those 100 steps against drlim). A last PyTorch process runs seed 0 at drlim's default
learning rate (Adam 1e-2) and is reported beside the target, to show how much of the gap is
the reference's learning rate.
"""

from __future__ import annotations

import math
import tempfile
import time
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
# Steps between PyTorch's checks of its time to quality (about 0.2 s of its steps on 2 CPU
# cores, against drlim's 50 steps of about 0.3 s).
TORCH_CHECK_EVERY = 10
# drlim's default learning rate (Adam), at which PyTorch is also run for comparison.
DRLIM_LR = 1e-2
# Seeds run on each side (one cold process or protocol run each); the target compares the
# medians of their times to quality.
SEEDS = 3
# DrLIM's default batch: a step's anchors (each with one neighbour in the block).
DEFAULT_BATCH = 64
# DrLIM's default neighbours with Eq. 4 (its graph is re-timed with them).
N_NEIGHBORS = 5
QUICK = {"epochs": 1.0, "batch_size": 8}


def estimator_settings(quick: bool, seed: int = 0) -> dict:
    """The settings the benchmark gives ``DrLIM``: its defaults with ``seed``, or tiny ones if
    ``quick``."""
    return {"n_components": 2, "random_state": seed, **(QUICK if quick else {})}


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
    find the quality at each logged step, and (``second_fit``) time a second fit; or
    (``torch``) run the PyTorch protocol to its time to quality."""
    if payload.get("torch"):
        return torch_child(payload)
    start = time.perf_counter()
    from drlim.estimator import DrLIM
    from drlim.metrics import trustworthiness
    from drlim.neighbors import knn_graph

    import_s = time.perf_counter() - start
    quick, seed = payload["quick"], payload.get("seed", 0)
    split = digits_4_9(quick, pad_to_32=False)
    X, X_test = split.x_train[..., 0], split.x_test[..., 0]
    X_test_flat = X_test.reshape(len(X_test), -1)
    settings = estimator_settings(quick, seed)
    model = DrLIM(**settings)
    with CompileLog() as log:
        start = time.perf_counter()
        model.fit(X)
        fit_end = time.perf_counter()
    history = model.history_
    train_s = history[-1]["seconds"]
    train_start = fit_end - train_s
    out: dict[str, Any] = {
        "seed": seed, "import_s": import_s, "n_train": len(X), "n_test": len(X_test),
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
        out["curve"] = quality_curve(model, X, X_test_flat, history, quick, seed)
    return out


def quality_curve(model: Any, X: np.ndarray, X_test_flat: np.ndarray, history: list[dict],
                  quick: bool, seed: int = 0) -> list[dict]:
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
        settings = {**estimator_settings(quick, seed),
                    "epochs": replay_epochs(steps, len(X), quick)}
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


def torch_protocol(torch: Any, split: Any, epochs: int, every: int | None = None,
                   seed: int = 0, until_quality: bool = False, threads: int | None = None,
                   lr: float = TORCH_LR) -> dict:
    """The plain PyTorch eager protocol seeded with ``seed`` at learning rate ``lr``;
    cumulative seconds and test trustworthiness every ``every`` steps (by default every
    quarter epoch and at each epoch's end), up to ``epochs`` or (``until_quality``) the end of
    the epoch in which a check reaches :data:`QUALITY`. The timer stops at each check while
    the weights are copied; they are evaluated after the epoch, so that evaluation does not
    slow the steps timed after it (evaluating every 10 steps in place had made them 1.4 times
    slower: seed 0 took 6.03 s against 4.32 s to its step 230 on 2 AMD EPYC cores). Runs on
    ``threads`` CPU threads (by default the faster of 1 and all, probed first), or on the GPU
    when JAX and PyTorch both see one."""
    from drlim.metrics import trustworthiness

    device = torch_device(torch)
    n = len(split.x_train)
    test = torch.from_numpy(np.array(split.x_test.transpose(0, 3, 1, 2), np.float32)).to(device)
    images = torch.from_numpy(np.array(split.x_train.transpose(0, 3, 1, 2), np.float32))
    images = images.to(device)
    if device == "cuda":
        threads = torch.get_num_threads()
    elif threads is None:
        threads = pick_threads(torch, images)
    else:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    neighbors = torch_knn(torch, images.reshape(n, -1), 5)
    if device == "cuda":
        torch.cuda.synchronize()
    graph_s = time.perf_counter() - start
    evaluator = torch_lenet(torch).to(device)  # made before the seed: it draws no run's number
    torch.manual_seed(seed)
    net = torch_lenet(torch).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    similar_left = torch.arange(n, device=device).repeat_interleave(neighbors.shape[1])
    similar_right = neighbors.reshape(-1)
    n_similar = len(similar_left)
    labels = torch.arange(2 * n_similar, device=device) < n_similar
    steps_per_epoch = math.ceil(2 * n_similar / TORCH_BATCH)
    quarter = math.ceil(steps_per_epoch / EVALS_PER_EPOCH)
    elapsed, curve, step = graph_s, [], 0
    for _ in range(epochs):
        start, saved = time.perf_counter(), []
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
            if step % (every or quarter) == 0 or (
                    every is None and first + TORCH_BATCH >= 2 * n_similar):
                if device == "cuda":
                    torch.cuda.synchronize()
                elapsed += time.perf_counter() - start
                saved.append((step, elapsed, {k: v.clone() for k, v in net.state_dict().items()}))
                start = time.perf_counter()
        for at, seconds, state in saved:  # evaluated after the epoch, to leave its steps alone
            evaluator.load_state_dict(state)
            with torch.no_grad():
                Z = evaluator(test).cpu().numpy()
            trust = trustworthiness(split.x_test.reshape(len(Z), -1), Z, k=5)
            curve.append({"step": at, "seconds": seconds, "trust": trust})
        if until_quality and first_reaching(curve) is not None:
            break
    return {"graph_s": graph_s, "curve": curve, "steps_per_epoch": steps_per_epoch,
            "threads": threads, "device": device, "seed": seed, "lr": lr}


def torch_child(payload: dict) -> dict:
    """In a fresh process: the PyTorch protocol with the payload's seed, thread count and
    learning rate, checked every :data:`TORCH_CHECK_EVERY` steps up to its first check
    reaching the quality (its ``reached`` point; None if it never does)."""
    torch = torch_module()
    quick = payload["quick"]
    out = torch_protocol(torch, digits_4_9(quick), 1 if quick else TORCH_EPOCHS,
                         every=TORCH_CHECK_EVERY, seed=payload["seed"], until_quality=True,
                         threads=payload["threads"], lr=payload.get("lr", TORCH_LR))
    out["reached"] = first_reaching(out["curve"])
    return out


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


def first_reaching(curve: list[dict], quality: float | None = None) -> dict | None:
    """The first point of ``curve`` whose ``trust`` reaches ``quality`` (by default
    :data:`QUALITY`; None if none does).

    >>> first_reaching([{"trust": 0.8}, {"trust": 0.84}, {"trust": 0.85}])
    {'trust': 0.84}
    """
    quality = QUALITY if quality is None else quality
    return next((point for point in curve if point["trust"] >= quality), None)


def run(quick: bool = False) -> dict:
    """Cold-start drlim fits and PyTorch protocol runs, one per seed: seconds to
    trustworthiness@5 >= 0.83."""
    seeds = range(1 if quick else SEEDS)
    cold, later = zip(*(cache_sharing_processes({"quick": quick, "curve": True, "seed": seed},
                                                {"quick": quick, "seed": seed})
                        for seed in seeds), strict=True)
    ours = cold[0]
    reached = [first_reaching(out["curve"]) for out in cold]
    ours_runs = [seconds_at(out, point["step"]) if point else None
                 for out, point in zip(cold, reached, strict=True)]
    later_runs = [seconds_at(out, point["step"]) if point else None
                  for out, point in zip(later, reached, strict=True)]
    torch = torch_module()
    theirs, crossings, at_drlim_lr = None, [], None
    if torch is not None:
        theirs = torch_protocol(torch, digits_4_9(quick), 1 if quick else TORCH_EPOCHS)
        crossings = [torch_process(quick, seed, theirs["threads"]) for seed in seeds]
        at_drlim_lr = torch_process(quick, 0, theirs["threads"], lr=DRLIM_LR)
    their_runs = [point["seconds"] if point else None for point in crossings]
    ours_s, later_s, their_s = (median_seconds(runs)
                                for runs in (ours_runs, later_runs, their_runs))
    rows = [[f"drlim cold DrLIM().fit, seed 0, step {p['step']}",
             round(ours["setup_s"] + p["seconds"], 2), round(p["trust"], 4)]
            for p in ours["curve"]]
    rows.append([f"drlim cold DrLIM().fit, seed 0, whole ({ours['steps']} steps)",
                 round(ours["fit_s"], 2), round(ours["trust"], 4)])
    for seed, point, cold_s, later_seconds in zip(seeds, reached, ours_runs, later_runs,
                                                  strict=True):
        if point is None:
            rows.append([f"drlim seed {seed}: did not reach {QUALITY}", "—", "—"])
            continue
        rows.append([f"drlim seed {seed}: cold process, first reaching {QUALITY} at step "
                     f"{point['step']}", round(cold_s, 2), round(point["trust"], 4)])
        rows.append([f"drlim seed {seed}: later process (the cold one's compilation cache), "
                     f"step {point['step']}", round(later_seconds, 2), round(point["trust"], 4)])
    for name, point in [*((f"PyTorch seed {seed}", point) for seed, point in enumerate(crossings)),
                        *([(f"PyTorch seed 0 at drlim's learning rate {DRLIM_LR:g} (not the "
                            "target's reference)", at_drlim_lr)] if torch is not None else [])]:
        rows.append([f"{name}: did not reach {QUALITY}", "—", "—"] if point is None
                    else [f"{name}: cold process, first reaching {QUALITY} at step "
                          f"{point['step']}", round(point["seconds"], 2),
                          round(point["trust"], 4)])
    for name, runs, median in (("drlim cold", ours_runs, ours_s),
                               ("drlim later process", later_runs, later_s),
                               ("PyTorch", their_runs, their_s)):
        if runs and median is not None:
            rows.append([f"{name}: median of {len(runs)} seeds ({spread(runs)})",
                         round(median, 2), "—"])
    if theirs is not None:
        rows += [[f"PyTorch eager protocol, seed 0, step {p['step']} (epoch "
                  f"{p['step'] / theirs['steps_per_epoch']:.2f})", round(p["seconds"], 2),
                  round(p["trust"], 4)] for p in theirs["curve"]]
    record = result("time_to_quality", "Time to quality (cold start to test trustworthiness@5)",
                    ["run", "seconds (graph included)", "test trustworthiness@5"], rows,
                    notes=notes(cold, theirs),
                    skipped=None if theirs is not None else TORCH_MISSING)
    record["measurements"] = {"drlim": ours, "drlim_other_seeds": list(cold[1:]),
                              "drlim_later_processes": list(later), "torch": theirs,
                              "torch_crossings": crossings,
                              "torch_at_drlim_lr": at_drlim_lr, "drlim_cold_runs_s": ours_runs,
                              "drlim_later_runs_s": later_runs, "torch_runs_s": their_runs}
    record["breakdown"] = breakdown(ours)
    ratio = (their_s / ours_s) if (ours_s and their_s) else None
    not_reached = f"drlim or PyTorch did not reach {QUALITY} in most seeds"
    add_target(record, "time to trustworthiness 0.83: PyTorch time / drlim time (medians "
               "over seeds)", ratio, minimum=TARGET_RATIO, unit="x", issue=1,
               judged=theirs is not None, not_run=not_reached if ratio is None else "",
               limit=limit_text(ours, reached[0]))
    later_ratio = (their_s / later_s) if (later_s and their_s) else None
    add_target(record, "the same, in a later process with the persistent compilation cache "
               "warm (not the cold target: reported to show what compilation costs)",
               later_ratio, minimum=TARGET_RATIO, unit="x", issue=1,
               judged=theirs is not None, not_run=not_reached if later_ratio is None else "",
               limit=f"seed 0's later process: set-up {later[0]['setup_s']:.1f} s (graph "
               f"{later[0]['graph_warm_s']:.1f} s warm, compilation "
               f"{later[0]['setup_compile_s']:.1f} s) + the steps")
    if theirs is not None:
        best = round(max(p["trust"] for p in theirs["curve"]), 4)
        add_target(record, f"plateau above the PyTorch protocol's best ({best:.4f})",
                   ours["trust"], minimum=best, issue=1,
                   limit="the map the objective converges to, at this network size")
    return record


def cache_sharing_processes(first: dict, later: dict | None = None) -> tuple[dict, dict]:
    """Two fresh processes measuring :func:`child`'s fit, one after the other, sharing a new,
    empty compilation cache folder: the first with payload ``first`` (compiles everything),
    the later with ``later`` (by default the same payload)."""
    with tempfile.TemporaryDirectory(prefix="drlim-cache-") as cache:
        cold = run_child("bench_time_to_quality", first, env={"DRLIM_CACHE": cache})
        warm = run_child("bench_time_to_quality", first if later is None else later,
                         env={"DRLIM_CACHE": cache})
    return cold, warm


def torch_process(quick: bool, seed: int, threads: int, lr: float = TORCH_LR) -> dict | None:
    """A fresh process's PyTorch protocol with ``seed`` on ``threads`` threads at ``lr``:
    its first check reaching the quality (None if it never does)."""
    out = run_child("bench_time_to_quality", {"quick": quick, "torch": True, "seed": seed,
                                              "threads": threads, "lr": lr})
    return out["reached"]


def median_seconds(runs: list[float | None]) -> float | None:
    """The median of the seeds' seconds, a seed that never reached the quality counting as
    the slowest; None if most seeds never did (or there are none).

    >>> median_seconds([3.0, None, 2.0]), median_seconds([3.0, None, None])
    (3.0, None)
    """
    median = float(np.median([math.inf if r is None else r for r in runs])) if runs else math.inf
    return median if math.isfinite(median) else None


def spread(seconds: list[float | None]) -> str:
    """Each run's seconds, in the order run ("never" where it never reached the quality).

    >>> spread([4.31, 4.6, None])
    '4.31, 4.60, never s'
    """
    return ", ".join("never" if value is None else f"{value:.2f}" for value in seconds) + " s"


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


def notes(cold: list[dict], theirs: dict | None) -> list[str]:
    """The notes under the table: sizes, the breakdown (seed 0), the replay checks, PyTorch's
    side."""
    ours = cold[0]
    lines = [
        f"{ours['n_train']} training / {ours['n_test']} test images; trustworthiness@5 of the "
        "test embedding against the test images (drlim.metrics.trustworthiness); drlim's "
        "seconds are the set-up before the first step plus the training seconds logged at "
        f"that step. Seeds 0 to {len(cold) - 1} on each side, one run each: drlim's "
        "random_state, PyTorch's torch.manual_seed.",
        f"drlim settings (seed 0): {ours['settings']}.",
        "Cold fit breakdown, seed 0 (seconds): " + "; ".join(
            f"{name} {seconds}" for name, seconds in breakdown(ours)) + ".",
        f"XLA in seed 0's cold fit: {ours['compile']['compiles']} compilations, "
        f"{ours['compile']['compile_s']:.2f} s backend + {ours['compile']['trace_s']:.2f} s "
        "tracing and lowering (JAX's monitoring events); the most compile seconds: "
        + ", ".join(f"{name} {count}x {seconds} s" for name, count, seconds
                    in ours["compile"]["top"]) + ".",
    ]
    if not all(p["same_trajectory"] and p["replayed_steps"] == p["step"]
               for out in cold for p in out["curve"]):
        lines.append("WARNING: a replay did not retrace the cold fit (steps or losses differ); "
                     "the curve's qualities are then only close to the cold fit's.")
    if theirs is None:
        lines.append(f"PyTorch protocol skipped: {TORCH_MISSING}.")
    else:
        lines.append(f"PyTorch: {theirs['device']}, {theirs['threads']} thread(s), graph "
                     f"{theirs['graph_s']:.2f} s (torch.cdist + topk), "
                     f"{theirs['steps_per_epoch']} steps per epoch; a seed's time to quality "
                     f"is its fresh process's first check reaching {QUALITY}, checked every "
                     f"{TORCH_CHECK_EVERY} steps from the start (evaluation not timed).")
        lines.append("drlim's first check is at step 100, the estimator's least training: a "
                     "crossing before it counts as step 100.")
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
