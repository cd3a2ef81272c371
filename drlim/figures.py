"""Figures and the summary table from run directories — drawing only, never training.

:func:`make_figures` reads each run's ``config.json``, ``embeddings.npz``,
``metrics.jsonl`` and ``metrics.json``, draws the paper figure for it, and writes
``metrics.json`` with every run's numbers checked against its targets. Everything is drawn
into a staging directory first, so a bad run directory leaves ``out`` untouched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import flax.serialization
import numpy as np

from drlim._io import atomic_write, read_jsonl, write_json
from drlim.data.norb import load_small_norb, render_airplane
from drlim.plots import (
    cylinder_figure,
    embedding_figure,
    interactive,
    loss_curves_figure,
    norb_grid_figure,
    save_figure,
    thumbnail_figure,
    training_curves_figure,
    weights_figure,
)

COMPARISONS = {">=": np.greater_equal, "<=": np.less_equal}
log = logging.getLogger("drlim")


def make_figures(run_dirs: list[Path], out: Path) -> list[Path]:
    """Draw every figure the runs support into ``out`` and write ``out/metrics.json``.

    A run directory that is missing a file or holds a corrupt one raises a ``ValueError``
    naming the file (and the line of ``metrics.jsonl``), and nothing is written to ``out``.
    """
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".drawing-"))
    try:
        summary = {}
        for run in run_dirs:
            config = _read_json(run / "config.json")
            log.info("figures: drawing %s", run)
            _draw_run(run, config, staging)
            result = _read_json(run / "metrics.json")
            result["targets"] = check_targets(result, config.get("targets", []))
            summary[config["name"]] = result
        write_json(staging / "metrics.json", summary)
        table = results_table(summary)
        atomic_write(staging / "results.md", lambda h: h.write(table.encode()))
        written = []
        for path in sorted(staging.iterdir()):
            os.replace(path, out / path.name)
            written.append(out / path.name)
        return written
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read_json(path: Path) -> dict:
    """A run directory's JSON file, or a ValueError naming it."""
    if not path.is_file():
        raise ValueError(f"{path} is missing: {path.parent} is not a finished run directory")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None


def results_table(summary: dict) -> str:
    """A markdown table of every target: experiment, metric, target, measured value, met.

    Runs without targets (the LLE contrasts) list their numbers with "contrast" as target.
    """
    lines = ["| experiment | number | target | measured | met |", "|---|---|---|---|---|"]
    for name, result in summary.items():
        if not result.get("targets") and result.get("method") == "lle":
            for metric, value in result.items():
                if isinstance(value, float) and metric != "seconds":
                    lines.append(f"| {name} | {metric} | contrast | {value:.3f} | — |")
        for t in result.get("targets", []):
            bound = t["target"] if isinstance(t["target"], str) else f"{t['bound']:g}"
            if isinstance(t["target"], str) and t["bound"] is not None:
                bound = f"{t['target'].split('.')[0].removeprefix('baseline_')} {t['bound']:.3f}"
            value = "—" if t["value"] is None else f"{t['value']:.3f}"
            lines.append(f"| {name} | {t['metric']} | {t['op']} {bound} | {value} | "
                         f"{'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the README's results markers with ``table``."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = readme.read_text() if readme.exists() else ""
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    atomic_write(readme, lambda h: h.write(f"{head}{start}\n{table}{end}{tail}".encode()))
    return True


def check_targets(result: dict, targets: list) -> list[dict]:
    """Each ``(metric, op, value)`` target with the measured value and whether it is met."""
    checked = []
    for metric, op, wanted in targets:
        value = _lookup(result, metric)
        bound = _lookup(result, wanted) if isinstance(wanted, str) else wanted
        met = value is not None and bound is not None and bool(COMPARISONS[op](value, bound))
        checked.append({"metric": metric, "op": op, "target": wanted, "bound": bound,
                        "value": value, "met": met})
    return checked


def _lookup(result: dict, dotted: str):
    node = result
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _draw_run(run: Path, config: dict, out: Path) -> list[Path]:
    stem = config.get("figure") or config["name"]
    kind, dataset = config["kind"], config["dataset"]
    if kind == "loss-curves":
        return [save_figure(loss_curves_figure(config["train"]["margin"]), out / f"{stem}.png")]
    emb = np.load(run / "embeddings.npz")
    written = []
    method = "DrLIM" if kind == "drlim" else "LLE"
    graph = {"knn": "5-NN graph", "orbit": "5-NN + translations graph",
             "grid": "pose grid graph"}[config["graph"]]
    if config.get("train", {}).get("augment"):
        graph += f", augment {config['train']['augment']} drawn each step"
    title = f"{method}, {graph} ({'test' if kind == 'drlim' else 'training'} samples)"
    if dataset == "mnist-4-9":
        z, label = emb["z_test"], emb["label_test"]
        written.append(save_figure(embedding_figure(z, label, title, "digit"),
                                   out / f"{stem}.png"))
        written.append(save_figure(thumbnail_figure(z, emb["images_test"], title),
                                   out / f"{stem}_thumbnails.png"))
        written.append(interactive(z, labels=label, images=emb["images_test"], title=title,
                                   label_name="digit", path=out / f"{stem}_interactive.html"))
    elif dataset == "mnist-shift":
        z = emb["z_test"]
        written.append(save_figure(embedding_figure(z, emb["shift_test"], title, "shift (px)"),
                                   out / f"{stem}.png"))
    elif dataset == "norb-airplane":
        factors = {k: emb[f"{k}_test"] for k in ("azimuth", "elevation", "lighting")}
        written.append(save_figure(cylinder_figure(emb["z_test"], factors, title),
                                   out / f"{stem}.png"))
        if kind == "drlim" and config["network"] == "mlp":
            size = config["image_size"]
            written.append(save_figure(
                weights_figure(first_layer_kernel(run), (size, size),
                               "input weights of the hidden units"),
                out / "fig9_norb_weights.png"))
    if kind == "drlim":
        history = read_jsonl(run / "metrics.jsonl")
        written.append(save_figure(training_curves_figure(history, config["name"]),
                                   out / f"training_{config['name']}.png"))
    return written


def norb_data_figure(out: Path, source: str = "rendered") -> Path:
    """``data_norb.png``: the airplane at every pose, and one pose under its six lightings."""
    if source == "rendered":
        data, title = render_airplane(96), "Rendered toy airplane with the NORB factors"
    else:
        data, title = load_small_norb(source), "small-NORB airplane"
    fig = norb_grid_figure(data.images, data.azimuth, data.elevation, data.lighting,
                           shown_lighting=0, pose=(40, 50), title=title)
    return save_figure(fig, out / "data_norb.png", dpi=120)


def first_layer_kernel(run: Path) -> np.ndarray:
    """The MLP's first hidden layer kernel ``(inputs, units)`` from a run's final checkpoint."""
    state = flax.serialization.msgpack_restore((run / "checkpoint.msgpack").read_bytes())
    return np.asarray(state["params"]["params"]["hidden_0"]["kernel"])


__all__ = [
    "check_targets",
    "first_layer_kernel",
    "make_figures",
    "norb_data_figure",
    "results_table",
    "update_readme",
]
