"""Training-step throughput: drlim's jitted step against PyTorch eager on the same problem.

    .venv/bin/python benchmarks/bench_train_step.py            # batch 64 and 256
    .venv/bin/python benchmarks/bench_train_step.py --smoke    # tiny sizes, seconds

Both sides train the paper's MNIST network (``LeNetDrLIM``: C1 15@6x6, 3x3 mean pooling,
C3 30@9x9, F5 30 -> 2, tanh) with the contrastive loss (margin 1, mean over the batch) and
SGD with momentum 0.9, on ``batch`` pairs of real MNIST 4s and 9s drawn per step (half
similar from the 5-NN graph, half random). drlim runs ``CHUNK`` steps per call the way
training does (``jax.lax.scan`` inside one ``jax.jit``, pair sampling included); PyTorch runs
the same steps eagerly, sampling with ``torch.randint``. Both start from the same weights.
Chunks of the two alternate, so machine noise hits both alike; the median chunk counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from bench_common import (
    TORCH_MISSING,
    add_target,
    digits_4_9,
    fastest_torch_threads,
    jax_device,
    module_main,
    peak_flops,
    result,
    torch_module,
)

LEARNING_RATE = 0.01
MOMENTUM = 0.9
MARGIN = 1.0
TARGET_RATIO = 1.5
SIZES = {"full": {"batches": (64, 256), "chunk": 50, "repeats": 5},
         "smoke": {"batches": (16,), "chunk": 4, "repeats": 2}}


@dataclass
class JaxStep:
    """drlim's compiled chunk of training steps, with the state it advances."""

    batch: int
    chunk: int
    compiled: Any
    state: list
    compile_seconds: float
    flops_per_step: float | None

    def run_chunk(self) -> None:
        """Advance the training state by ``chunk`` steps and wait for the result."""
        import jax

        params, opt_state, key, start = self.state
        params, opt_state, _ = self.compiled(params, opt_state, key, start)
        jax.block_until_ready(params)
        self.state = [params, opt_state, key, start + self.chunk]


_COMPILED: dict[tuple, JaxStep] = {}


def jax_step(images: np.ndarray, neighbors: np.ndarray, batch: int, chunk: int) -> JaxStep:
    """Compile (once per process for a data shape, batch and chunk) drlim's training chunk.

    ``neighbors`` is the (n, k) directed kNN table; the graph is its symmetrisation, as in
    :func:`drlim.neighbors.knn_graph`. ``flops_per_step`` is XLA's cost analysis of the
    compiled chunk (XLA counts a loop body once, so that is one step).
    """
    import jax

    from drlim.models import LeNetDrLIM
    from drlim.neighbors import symmetrize
    from drlim.pairs import make_sampler
    from drlim.train import TrainConfig, _make_chunk_runner, init_params, make_optimizer

    cache_key = (images.shape, batch, chunk)
    if cache_key in _COMPILED:
        return _COMPILED[cache_key]
    config = TrainConfig(steps=chunk, batch_size=batch, mode="pairs", optimizer="sgd",
                         learning_rate=LEARNING_RATE, momentum=MOMENTUM, margin=MARGIN,
                         log_every=chunk)
    network = LeNetDrLIM()
    optimizer = make_optimizer(config)
    data = jax.numpy.asarray(images)
    runner = _make_chunk_runner(network, optimizer, make_sampler(symmetrize(neighbors)), data,
                                config)
    params = init_params(network, images[0], seed=0)
    opt_state = optimizer.init(params)
    key = jax.random.key(0)
    start = time.perf_counter()
    compiled = runner.lower(params, opt_state, key, 0, chunk).compile()
    compile_seconds = time.perf_counter() - start
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    flops = float(cost["flops"]) if cost and cost.get("flops") else None
    step = JaxStep(batch, chunk, compiled, [params, opt_state, key, 0], compile_seconds, flops)
    _COMPILED[cache_key] = step
    return step


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


def measure(images: np.ndarray, neighbors: np.ndarray, batch: int, chunk: int, repeats: int,
            torch: Any) -> dict:
    """Median seconds per step of drlim (and PyTorch when given), chunks interleaved."""
    jax_side = jax_step(images, neighbors, batch, chunk)
    jax_side.run_chunk()  # first run: buffers allocated, caches warm
    torch_side = None
    if torch is not None:
        torch_side = TorchStep(torch, images, neighbors, batch, jax_side.state[0],
                               torch_device(torch))
        if torch_side.device == "cpu":
            fastest_torch_threads(torch, lambda: torch_side.run_chunk(min(chunk, 5)))
        torch_side.run_chunk(min(chunk, 5))
    jax_times, torch_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        jax_side.run_chunk()
        jax_times.append((time.perf_counter() - start) / chunk)
        if torch_side is not None:
            start = time.perf_counter()
            torch_side.run_chunk(chunk)
            torch_times.append((time.perf_counter() - start) / chunk)
    return {
        "batch": batch,
        "jax_step_s": float(np.median(jax_times)),
        "torch_step_s": float(np.median(torch_times)) if torch_times else None,
        "torch_device": torch_side.device if torch_side is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "compile_s": jax_side.compile_seconds,
        "flops_per_step": jax_side.flops_per_step,
    }


def run(smoke: bool = False) -> dict:
    """Pairs/s of drlim's step and PyTorch's at each batch size, and their ratio."""
    from drlim.neighbors import knn_indices

    sizes = SIZES["smoke" if smoke else "full"]
    torch = torch_module()
    split = digits_4_9(smoke)
    images = split.x_train
    neighbors = knn_indices(images.reshape(len(images), -1), k=5)
    rows, notes, measured = [], [], []
    for batch in sizes["batches"]:
        m = measure(images, neighbors, batch, sizes["chunk"], sizes["repeats"], torch)
        measured.append(m)
        ours = batch / m["jax_step_s"]
        theirs = batch / m["torch_step_s"] if m["torch_step_s"] else None
        rows.append([batch, round(ours), None if theirs is None else round(theirs),
                     None if theirs is None else round(ours / theirs, 2),
                     round(1e3 * m["jax_step_s"], 2),
                     None if theirs is None else round(1e3 * m["torch_step_s"], 2),
                     m["torch_threads"], round(m["compile_s"], 1)])
    record = result(
        "train_step",
        "Training step vs PyTorch eager (pairs/s)",
        ["batch (pairs)", "drlim pairs/s", "PyTorch pairs/s", "ratio", "drlim ms/step",
         "PyTorch ms/step", "PyTorch threads", "drlim compile s"],
        rows,
        skipped=None if torch is not None else TORCH_MISSING,
    )
    record["measurements"] = measured
    device = jax_device()
    notes.append(f"{len(images)} MNIST 4/9 images, SGD lr {LEARNING_RATE} momentum {MOMENTUM}; "
                 f"{sizes['chunk']} steps per timed chunk, median of {sizes['repeats']}; "
                 f"JAX on {device['backend']} ({device['kind']}).")
    if torch is None:
        notes.append(f"PyTorch comparison skipped: {TORCH_MISSING}.")
    else:
        gap = same_loss_gap(torch, images, neighbors, jax_step(
            images, neighbors, sizes["batches"][0], sizes["chunk"]).state[0])
        record["same_loss_gap"] = gap
        notes.append(f"Same weights, same batch: |loss_drlim - loss_torch| = {gap:.1e}. "
                     f"PyTorch {torch.__version__} on {measured[0]['torch_device']}, with the "
                     "faster of 1 thread and all cores (chosen per batch size, see the table); "
                     "JAX uses all cores.")
    record["notes"] = notes
    same_hardware = torch is not None and (
        (device["backend"] == "gpu") == (measured[0]["torch_device"] == "cuda"))
    for row, m in zip(rows, measured, strict=True):
        ratio = row[3]
        met = None if ratio is None or not same_hardware else ratio >= TARGET_RATIO
        add_target(record, f"speed-up at batch {row[0]}", f">= {TARGET_RATIO}x", ratio, met,
                   unit="x", limit=step_limit(m, device["backend"]))
    return record


def step_limit(measurement: dict, backend: str) -> str:
    """What bounds drlim's step: its achieved FLOP/s, against the CPU's peak on a CPU."""
    flops = measurement["flops_per_step"]
    if not flops:
        return "the jitted step's time (XLA gave no FLOP count)"
    achieved = flops / measurement["jax_step_s"]
    text = f"the jitted step's own speed, {achieved / 1e9:.1f} GFLOP/s"
    if backend == "cpu":
        text += (f" = {100 * achieved / peak_flops()['peak_flops']:.1f}% of the CPU's peak: "
                 "XLA's CPU kernels for these small matrices (see Utilisation)")
    return text


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    module_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
