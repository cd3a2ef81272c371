"""Training-step throughput: drlim's training loop against PyTorch eager on the same problem.

    python -m benchmarks.bench_train_step            # batch 64 and 256
    python -m benchmarks.bench_train_step --quick    # tiny sizes, seconds

Both sides train the paper's MNIST network (``LeNetDrLIM``: C1 15@6x6, 3x3 mean pooling,
C3 30@9x9, F5 30 -> 2, tanh) with the contrastive loss (margin 1, mean over the batch) and
SGD with momentum 0.9, on ``batch`` pairs of real MNIST 4s and 9s drawn per step (half
similar from the 5-NN graph, half random). drlim is timed through its public loop,
``drlim.train.train(network, data, graph, TrainConfig(...))``: each timed call runs two
chunks of ``chunk`` steps (``log_every=chunk``) and the second chunk's time is the
difference of the two ``history`` rows' cumulative ``seconds`` -- compilation, if the call
compiles, falls in the first chunk. PyTorch runs the same steps eagerly, sampling with
``torch.randint``. Both start from the same weights; drlim's calls and PyTorch's chunks
alternate, so machine noise hits both alike; the median chunk counts. The XLA compilations
of each ``train`` call are counted (``benchmarks.bench_common.CompileLog``): after the first
call with these shapes, a call should compile nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.bench_common import (
    TORCH_MISSING,
    CompileLog,
    add_target,
    digits_4_9,
    fastest_torch_threads,
    jax_device,
    module_main,
    result,
    torch_module,
)

LEARNING_RATE = 0.01
MOMENTUM = 0.9
MARGIN = 1.0
TARGET_RATIO = 1.5
SIZES = {"full": {"batches": (64, 256), "chunk": 50, "repeats": 7},
         "quick": {"batches": (16,), "chunk": 4, "repeats": 2}}

# Untimed PyTorch steps before each of its timed chunks.
TORCH_LEAD_IN = 5


def train_config(batch: int, chunk: int) -> Any:
    """The benchmark's training configuration: two logged chunks of ``chunk`` steps."""
    from drlim.train import TrainConfig

    return TrainConfig(steps=2 * chunk, batch_size=batch, mode="pairs", optimizer="sgd",
                       learning_rate=LEARNING_RATE, momentum=MOMENTUM, margin=MARGIN,
                       log_every=chunk)


@dataclass
class DrlimLoop:
    """drlim's public training loop on one problem, continued call after call."""

    images: Any
    graph: Any
    batch: int
    chunk: int
    params: Any
    compiles: list[int] = field(default_factory=list)
    first_call_s: float | None = None

    def run_chunk(self) -> float:
        """One ``train`` call of two chunks; returns the seconds of its second chunk."""
        from drlim.models import LeNetDrLIM
        from drlim.train import train

        start = time.perf_counter()
        with CompileLog() as log:
            out = train(LeNetDrLIM(), self.images, self.graph,
                        train_config(self.batch, self.chunk), params=self.params,
                        progress=False)
        if self.first_call_s is None:
            self.first_call_s = time.perf_counter() - start
        self.compiles.append(log.compiles)
        self.params = out.params
        first, second = out.history[0], out.history[1]
        return second["seconds"] - first["seconds"]


def torch_lenet(torch: Any) -> Any:
    """The paper's MNIST network in PyTorch (NCHW), layer for layer like ``LeNetDrLIM``."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 15, 6), nn.Tanh(), nn.AvgPool2d(3),
        nn.Conv2d(15, 30, 9), nn.Tanh(), nn.Flatten(), nn.Linear(30, 2),
    )


def copy_params(torch: Any, net: Any, params: Any) -> None:
    """Load drlim's ``LeNetDrLIM`` parameters (HWIO kernels, ``{"params": ...}``) into ``net``."""
    tree = params["params"]
    layers = {"C1": net[0], "C3": net[3], "F5": net[6]}
    with torch.no_grad():
        for name, layer in layers.items():
            kernel = np.asarray(tree[name]["kernel"])
            kernel = kernel.T if kernel.ndim == 2 else kernel.transpose(3, 2, 0, 1)
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(np.array(tree[name]["bias"])))


def torch_contrastive_loss(torch: Any, z1: Any, z2: Any, similar: Any, margin: float) -> Any:
    """Mean contrastive loss (Eq. 4), the same maths as ``drlim.loss.contrastive_loss``."""
    d2 = ((z1 - z2) ** 2).sum(dim=-1)
    d = torch.sqrt(torch.clamp(d2, min=1e-12))
    per_pair = torch.where(similar, 0.5 * d2, 0.5 * torch.relu(margin - d) ** 2)
    return per_pair.mean()


def torch_device(torch: Any) -> str:
    """"cuda" when JAX runs on a GPU and PyTorch sees one too, else "cpu"."""
    if jax_device()["backend"] == "gpu" and torch.cuda.is_available():
        return "cuda"
    return "cpu"


class TorchStep:
    """The same training step in PyTorch eager: sample, embed 2B images, loss, SGD update."""

    def __init__(self, torch: Any, images: np.ndarray, neighbors: np.ndarray, batch: int,
                 params: Any, device: str = "cpu") -> None:
        self.torch, self.batch, self.device = torch, batch, device
        self.images = torch.from_numpy(np.array(images.transpose(0, 3, 1, 2), np.float32))
        self.images = self.images.to(device)
        self.neighbors = torch.from_numpy(neighbors.astype(np.int64)).to(device)
        self.net = torch_lenet(torch).to(device)
        copy_params(torch, self.net, params)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LEARNING_RATE,
                                         momentum=MOMENTUM)
        self.generator = torch.Generator(device=device).manual_seed(0)
        self.n_similar = int(np.floor(0.5 * batch + 0.5))
        self.similar = torch.arange(batch, device=device) < self.n_similar

    def loss(self, left: Any, right: Any) -> Any:
        """Mean contrastive loss of pairs (left[i], right[i]); similar ones come first."""
        z = self.net(self.images[self.torch.cat([left, right])])
        return torch_contrastive_loss(self.torch, z[: self.batch], z[self.batch :],
                                      self.similar, MARGIN)

    def step(self) -> None:
        """One training step on freshly sampled pairs."""
        torch, n, k = self.torch, self.neighbors.shape[0], self.neighbors.shape[1]
        n_similar, n_random = self.n_similar, self.batch - self.n_similar
        draw = {"generator": self.generator, "device": self.device}
        anchors = torch.randint(n, (n_similar,), **draw)
        partners = self.neighbors[anchors, torch.randint(k, (n_similar,), **draw)]
        left = torch.cat([anchors, torch.randint(n, (n_random,), **draw)])
        right = torch.cat([partners, torch.randint(n, (n_random,), **draw)])
        loss = self.loss(left, right)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def run_chunk(self, steps: int) -> None:
        """``steps`` training steps, waiting for the device at the end."""
        for _ in range(steps):
            self.step()
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def same_loss_gap(torch: Any, images: np.ndarray, neighbors: np.ndarray, params: Any) -> float:
    """|drlim loss - PyTorch loss| on one shared batch from the same weights (should be ~1e-7)."""
    import jax.numpy as jnp

    from drlim.loss import contrastive_loss
    from drlim.models import LeNetDrLIM

    n, half = len(images), 8
    rng = np.random.default_rng(0)
    anchors = rng.integers(n, size=half)
    left = np.concatenate([anchors, rng.integers(n, size=half)])
    right = np.concatenate([neighbors[anchors, 0], rng.integers(n, size=half)])
    similar = np.arange(2 * half) < half
    z = LeNetDrLIM().apply(params, jnp.asarray(images[np.concatenate([left, right])]))
    ours = float(contrastive_loss(z[: 2 * half], z[2 * half :], jnp.asarray(similar), MARGIN,
                                  reduction="mean"))
    step = TorchStep(torch, images, neighbors, 2 * half, params)
    with torch.no_grad():
        theirs = float(step.loss(torch.from_numpy(left), torch.from_numpy(right)))
    return abs(ours - theirs)


def measure(images: np.ndarray, graph: Any, neighbors: np.ndarray, batch: int, chunk: int,
            repeats: int, torch: Any) -> dict:
    """Median seconds per step of drlim (and PyTorch when given), chunks interleaved. Each
    drlim chunk is the second of a ``train`` call, whose first absorbs what PyTorch's chunk
    left behind (threads, caches); each PyTorch chunk follows an untimed lead-in of
    :data:`TORCH_LEAD_IN` steps, for what drlim's call left behind."""
    import jax.numpy as jnp

    from drlim.models import LeNetDrLIM
    from drlim.train import init_params

    params = init_params(LeNetDrLIM(), images[0], seed=0)
    ours = DrlimLoop(jnp.asarray(images), graph, batch, chunk, params)
    ours.run_chunk()  # first call: compilation, buffers, caches
    theirs = None
    if torch is not None:
        theirs = TorchStep(torch, images, neighbors, batch, params, torch_device(torch))
        if theirs.device == "cpu":
            fastest_torch_threads(torch, lambda: theirs.run_chunk(min(chunk, 5)))
        theirs.run_chunk(min(chunk, 5))
    jax_times, torch_times = [], []
    for _ in range(repeats):
        jax_times.append(ours.run_chunk() / chunk)
        if theirs is not None:
            theirs.run_chunk(min(chunk, TORCH_LEAD_IN))
            start = time.perf_counter()
            theirs.run_chunk(chunk)
            torch_times.append((time.perf_counter() - start) / chunk)
    return {
        "batch": batch,
        "jax_step_s": float(np.median(jax_times)),
        "jax_steps_s": jax_times, "torch_steps_s": torch_times,
        "torch_step_s": float(np.median(torch_times)) if torch_times else None,
        "torch_device": theirs.device if theirs is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "first_call_s": ours.first_call_s,
        "compiles_first_call": ours.compiles[0],
        "compiles_later_calls": ours.compiles[1:],
        "params": params,
    }


def run(quick: bool = False) -> dict:
    """Pairs/s of drlim's training loop and PyTorch's at each batch size, and their ratio."""
    from drlim.knn import knn_indices
    from drlim.neighbors import knn_graph

    sizes = SIZES["quick" if quick else "full"]
    torch = torch_module()
    split = digits_4_9(quick)
    images = split.x_train
    flat = images.reshape(len(images), -1)
    neighbors = knn_indices(flat, k=5)
    graph = knn_graph(flat, k=5)
    rows, notes, measured = [], [], []
    for batch in sizes["batches"]:
        m = measure(images, graph, neighbors, batch, sizes["chunk"], sizes["repeats"], torch)
        measured.append(m)
        ours = batch / m["jax_step_s"]
        theirs = batch / m["torch_step_s"] if m["torch_step_s"] else None
        rows.append([batch, round(ours), None if theirs is None else round(theirs),
                     None if theirs is None else round(ours / theirs, 2),
                     round(1e3 * m["jax_step_s"], 2),
                     None if theirs is None else round(1e3 * m["torch_step_s"], 2),
                     m["torch_threads"], round(m["first_call_s"], 1),
                     f"{m['compiles_first_call']} / {max(m['compiles_later_calls'], default=0)}"])
    params = measured[0].pop("params")
    for m in measured[1:]:
        m.pop("params")
    record = result(
        "train_step",
        "Training step vs PyTorch eager (pairs/s)",
        ["batch (pairs)", "drlim pairs/s", "PyTorch pairs/s", "ratio", "drlim ms/step",
         "PyTorch ms/step", "PyTorch threads", "drlim first train() call s",
         "XLA compilations: first call / later calls (max)"],
        rows,
        skipped=None if torch is not None else TORCH_MISSING,
    )
    record["measurements"] = measured
    device = jax_device()
    notes.append(f"{len(images)} MNIST 4/9 images, SGD lr {LEARNING_RATE} momentum {MOMENTUM}; "
                 f"{sizes['chunk']} steps per timed chunk (the second of each "
                 f"drlim.train.train call), median of {sizes['repeats']}; JAX on "
                 f"{device['backend']} ({device['kind']}).")
    if torch is None:
        notes.append(f"PyTorch comparison skipped: {TORCH_MISSING}.")
    else:
        gap = same_loss_gap(torch, images, neighbors, params)
        record["same_loss_gap"] = gap
        notes.append(f"Same weights, same batch: |loss_drlim - loss_torch| = {gap:.1e}. "
                     f"PyTorch {torch.__version__} on {measured[0]['torch_device']}, with the "
                     "faster of 1 thread and all cores (chosen per batch size, see the table); "
                     "JAX uses all cores.")
    record["notes"] = notes
    same_hardware = torch is not None and (
        (device["backend"] == "gpu") == (measured[0]["torch_device"] == "cuda"))
    for row in rows:
        add_target(record, f"per step, speed-up at batch {row[0]}", row[3],
                   minimum=TARGET_RATIO, unit="x", issue=5, judged=same_hardware,
                   not_run="" if torch is not None else TORCH_MISSING,
                   limit="see Utilisation: XLA's cost analysis of the step against its time")
    return record


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
