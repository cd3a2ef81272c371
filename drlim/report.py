"""Tables, figures and target checks drawn from run directories — drawing only, never training.

Paper experiments: :func:`make_figures` reads each run's ``config.json``,
``embeddings.npz``, ``metrics.jsonl`` and ``metrics.json``, draws the paper figure for it,
and writes ``metrics.json`` and ``results.md`` with every run's numbers checked against
its targets (:func:`check_targets`). Everything is drawn into a staging directory first, so
a bad run directory leaves ``out`` untouched.

The comparison (:mod:`drlim.compare`): :func:`collect_comparison` gathers its runs'
``metrics.json`` into one result and ranks the methods (:func:`standings`);
:func:`write_report` writes ``comparison.md`` (:func:`markdown_report`), ``.json`` and
``.png`` (:func:`comparison_figure`). Every table goes through :func:`markdown_table`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import flax.serialization
import numpy as np
from matplotlib.figure import Figure

from drlim._io import atomic_write, read_jsonl, write_bytes, write_json
from drlim.data.norb import load_small_norb, render_airplane
from drlim.plots import (
    cylinder_figure,
    embedding_figure,
    embedding_grid,
    interactive,
    loss_curves_figure,
    maps_and_curves_figure,
    norb_grid_figure,
    save_figure,
    thumbnail_figure,
    training_curves_figure,
    weights_figure,
)

__all__ = [
    "PUBLISHED_MNIST",
    "STABLE_TOLERANCE",
    "check_targets",
    "collect_comparison",
    "comparison_figure",
    "first_layer_kernel",
    "interactive_map",
    "make_figures",
    "scores_report",
    "training_figure",
    "markdown_report",
    "markdown_table",
    "norb_data_figure",
    "results_table",
    "standings",
    "target_bound",
    "update_readme",
    "write_report",
]

COMPARISONS = {">=": np.greater_equal, "<=": np.less_equal}
# A test sample moving less than this fraction of the map's spread counts as not moving.
STABLE_TOLERANCE = 1e-3
# Published MNIST 2-D numbers, for context: a different scoring protocol from this table's.
PUBLISHED_MNIST = {
    "source": "Sainburg, McInnes & Gentner 2021, \"Parametric UMAP embeddings for "
              "representation and semisupervised learning\", Neural Computation 33(11), "
              "MNIST in 2-D",
    "methods": (("t-SNE", 0.987, 0.950), ("parametric t-SNE", 0.966, 0.938),
                ("UMAP", 0.960, 0.954), ("parametric UMAP", 0.957, 0.961)),
}
log = logging.getLogger("drlim")


def markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of one markdown table.

    >>> markdown_table(["a", "b"], [["1", "2"]])
    ['| a | b |', '|---|---|', '| 1 | 2 |']
    """
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(cells) + " |" for cells in rows)]


def make_figures(run_dirs: list[Path], out: Path) -> list[Path]:
    """Draw every figure the runs support into ``out`` and write ``out/metrics.json``.

    A run directory that holds a corrupt file raises a ``ValueError`` naming the file (and
    the line of ``metrics.jsonl``), one that is missing a file a ``FileNotFoundError`` or
    ``KeyError``; either way nothing is written to ``out``.
    So do two runs of one experiment, or two runs drawing a file of the same name (two NORB
    MLP runs both draw ``fig9_norb_weights.png``): one would silently replace the other's
    figure and numbers.
    """
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".drawing-"))
    try:
        summary = {}
        runs_of: dict[str, Path] = {}  # experiment name or file drawn -> the run it came from
        for run in run_dirs:
            config = _read_json(run / "config.json")
            _claim(runs_of, f"experiment {config['name']!r}", run)
            log.info("figures: drawing %s", run)
            for path in _draw_run(run, config, staging):
                _claim(runs_of, f"figure file {path.name}", run)
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


def _claim(runs_of: dict[str, Path], what: str, run: Path) -> None:
    """Record that ``run`` produces ``what``; refuse a second run producing it too."""
    if what in runs_of:
        raise ValueError(f"run directories must not share {what}, got it in both "
                         f"{runs_of[what]} and {run}")
    runs_of[what] = run


def _read_json(path: Path) -> dict:
    """A run directory's JSON file, or a ValueError naming it."""
    if not path.is_file():
        raise ValueError(f"{path.parent} must be a finished run directory holding {path.name}, "
                         f"got no {path.name}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} must be JSON, got {error}") from None


def results_table(summary: dict) -> str:
    """A markdown table of every target: experiment, metric, target, measured value, met.

    Runs without targets (the LLE contrasts) list their numbers with "contrast" as target.
    """
    rows = []
    for name, result in summary.items():
        if not result.get("targets") and result.get("method") == "lle":
            rows += [[name, metric, "contrast", f"{value:.3f}", "—"]
                     for metric, value in result.items()
                     if isinstance(value, float) and metric != "seconds"]
        for t in result.get("targets", []):
            value = "—" if t["value"] is None else f"{t['value']:.3f}"
            rows.append([name, t["metric"], f"{t['op']} {target_bound(t)}", value,
                         "yes" if t["met"] else "**no**"])
    headers = ["experiment", "number", "target", "measured", "met"]
    return "\n".join(markdown_table(headers, rows)) + "\n"


def target_bound(target: dict) -> str:
    """A checked target's bound in words: its number, or the method it is compared with and
    that method's value (``"isomap 0.838"``), or the bound's name where it was not measured.

    >>> target_bound({"target": 0.9, "bound": 0.9})
    '0.9'
    >>> target_bound({"target": "baseline_isomap.trustworthiness_5", "bound": 0.8376})
    'isomap 0.838'
    """
    if not isinstance(target["target"], str):
        return f"{target['bound']:g}"
    if target["bound"] is None:
        return target["target"]
    return f"{target['target'].split('.')[0].removeprefix('baseline_')} {target['bound']:.3f}"


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
    title = f"{method}, {_graph_text(config)} ({'test' if kind == 'drlim' else 'training'} samples)"
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


def _graph_text(config: dict) -> str:
    """What a run learned from, for its figure's title: the graph with the run's own
    ``n_neighbors`` (UMAP's fuzzy graph with ``loss="umap"``), the loss when it is not Eq. 4,
    and the augmentation. The paper's runs (5 neighbours, Eq. 4) read "5-NN graph".

    >>> _graph_text({"kind": "drlim", "graph": "knn", "n_neighbors": 15,
    ...              "train": {"loss": "umap", "augment": "shift:6"}})
    "UMAP's fuzzy 15-NN graph, loss umap, augment shift:6 drawn each step"
    """
    train, k = config.get("train", {}), config.get("n_neighbors", 5)
    loss = train.get("loss", "drlim") if config["kind"] == "drlim" else "drlim"
    knn = f"UMAP's fuzzy {k}-NN" if loss == "umap" else f"{k}-NN"
    text = {"knn": f"{knn} graph", "orbit": f"{k}-NN + translations graph",
            "grid": "pose grid graph"}[config["graph"]]
    if loss != "drlim":
        text += f", loss {loss}"
    if train.get("augment"):
        text += f", augment {train['augment']} drawn each step"
    return text


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


def _rank(rows: list[dict], method: str, key: str) -> int:
    """1 + the number of ``rows`` scoring strictly higher than ``method`` on ``key``."""
    score = next(row[key] for row in rows if row["method"] == method)
    return 1 + sum(row[key] > score for row in rows)


def standings(rows: list[dict]) -> dict[str, Any]:
    """Where the unsupervised methods that map unseen samples stand on one data set.

    The best of them by T@5 and by kNN label accuracy and the fastest transform (overall
    and among the nonlinear methods, PCA aside), each a list (ties share the lead); the
    rank of every DrLIM row (1 is the best; ties share a rank); the methods whose test
    samples move by more than
    :data:`STABLE_TOLERANCE` of the map's spread when mapped in another grouping.
    "DrLIM (labels)" is left out: it learns from the labels the kNN accuracy scores.
    """
    mapped = [r for r in rows if r["out_of_sample"] and r["method"] != "drlim-labels"]
    if not mapped:
        return {}
    drlims = [r["method"] for r in mapped if r["method"].startswith("drlim")]

    def best(key: str, candidates: list[dict], sign: float = 1.0) -> list[str]:
        top = max(sign * r[key] for r in candidates)
        return [r["method"] for r in candidates if sign * r[key] == top]

    speed = "transform_seconds_per_1000"
    return {
        "n_ranked": len(mapped),
        "best_t5": best("trustworthiness_5", mapped),
        "best_knn": best("knn_accuracy", mapped),
        "drlim_rank_t5": {m: _rank(mapped, m, "trustworthiness_5") for m in drlims},
        "drlim_rank_knn": {m: _rank(mapped, m, "knn_accuracy") for m in drlims},
        "fastest_transform": best(speed, mapped, -1.0),
        "fastest_nonlinear_transform": best(
            speed, [r for r in mapped if r["method"] != "pca"] or mapped, -1.0),
        "unstable": {r["method"]: r["transform_stability"] for r in mapped
                     if r["transform_stability"] > STABLE_TOLERANCE},
    }


def collect_comparison(run_dir: str | os.PathLike, header: dict) -> dict:
    """The comparison's result: ``header`` (config, machine, and per data set its sizes and
    ``methods`` rows naming ``method`` and ``title``) with each row's numbers read from its
    run directory ``run_dir/<data set>/<method>/metrics.json`` and each data set's
    :func:`standings` under ``targets``."""
    result = {**header, "datasets": []}
    for entry in header["datasets"]:
        rows = [{**row, **_read_json(Path(run_dir) / entry["name"] / row["method"]
                                     / "metrics.json")} for row in entry["methods"]]
        ranked = all("trustworthiness_5" in row and "knn_accuracy" in row for row in rows)
        result["datasets"].append({**entry, "methods": rows,
                                   "targets": standings(rows) if ranked else {}})
    return result


def _format(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _dataset_table(entry: dict, config: dict) -> list[str]:
    """One markdown table: a row per method, the best score of each quality column in bold."""
    rows = entry["methods"]
    quality = [f"trustworthiness_{k}" for k in config["trust_ks"]]
    quality += [f"continuity_{config['continuity_k']}", "knn_accuracy"]
    headers = ["Method", "Out-of-sample", "Fitted on", "Scored on"]
    headers += [f"T@{k}" for k in config["trust_ks"]]
    headers += [f"C@{config['continuity_k']}", f"{config['knn_k']}-NN acc.", "Coinciding",
                "Fit (s)", "Transform (s / 1,000)", "Transform stability"]
    best = {key: max(row[key] for row in rows) for key in quality}
    table = []
    for row in rows:
        fitted = _format(row["n_fit"])
        if not row["out_of_sample"]:
            fitted += f" + {row['n_test']:,} test"
        cells = [row["title"], _format(row["out_of_sample"]), fitted, _format(row["n_test"])]
        for key in quality:
            cell = _format(row[key])
            cells.append(f"**{cell}**" if row[key] == best[key] else cell)
        cells += [_format(row["coinciding"]), _format(row["fit_seconds"], 1),
                  _format(row["transform_seconds_per_1000"], 4),
                  _format(row["transform_stability"])]
        table.append(cells)
    return markdown_table(headers, table)


def _sizes_note(entry: dict, config: dict) -> str:
    """Which methods learned from the whole training set and which from the subsample."""
    whole = [row["title"] for row in entry["methods"]
             if row["out_of_sample"] and row["n_fit"] == entry["n_train"]]
    capped = [row["title"] for row in entry["methods"] if row["title"] not in whole]
    note = (f"Training set {entry['n_train']:,}, test set {entry['n_test_pool']:,}; every "
            f"method is scored on the same {entry['n_test']:,} test samples")
    if entry["n_test"] < entry["n_test_pool"]:
        note += f" (a seeded subsample, cap {config['max_test']:,})"
    if not capped:
        return note + ". Every method learns from the whole training set."
    if entry["n_fit_subsample"] == entry["n_train"]:
        return note + ". Every method learns from the whole training set (the transductive " \
                      "ones with the test samples)."
    return (note + f". {', '.join(whole)} learn from the whole training set; "
            f"{', '.join(capped)} from a seeded subsample of {entry['n_fit_subsample']:,} "
            f"(cap {config['max_fit']:,}).")


def _ordinal(rank: int) -> str:
    """1 → "1st", 2 → "2nd", 11 → "11th"."""
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix}"


def _target_lines(entry: dict, config: dict) -> list[str]:
    """What the table shows, in words: who leads, where each DrLIM row ranks, speed, stability."""
    targets = entry["targets"]
    if not targets:
        return []
    rows = {row["method"]: row for row in entry["methods"]}
    t5, knn, speed = "trustworthiness_5", "knn_accuracy", "transform_seconds_per_1000"
    knn_name = f"{config['knn_k']}-NN accuracy"

    def named(methods: list[str], key: str) -> str:
        titles = [rows[m]["title"] for m in methods]
        joined = ", ".join(titles[:-1]) + " and " + titles[-1] if len(titles) > 1 else titles[0]
        return f"{joined} ({_format(rows[methods[0]][key])})"

    def fastest(methods: list[str]) -> str:
        return (", ".join(rows[m]["title"] for m in methods)
                + f", {_format(rows[methods[0]][speed], 4)}")

    n = targets["n_ranked"]
    lines = [
        "",
        f"Of the {n} unsupervised methods that map unseen samples, the highest T@5 is "
        f"{named(targets['best_t5'], t5)} and the best {knn_name} "
        f"{named(targets['best_knn'], knn)}.",
    ]
    lead_t5 = rows[targets["best_t5"][0]][t5]
    lead_knn = rows[targets["best_knn"][0]][knn]
    for method, rank in targets["drlim_rank_t5"].items():
        row = rows[method]
        rank_knn = targets["drlim_rank_knn"][method]
        lines[-1] += (
            f" {row['title']} ranks {_ordinal(rank)} of {n} at T@5 ({_format(row[t5])}, "
            f"{_format(lead_t5 - row[t5])} below the best) and {_ordinal(rank_knn)} at "
            f"{knn_name} ({_format(row[knn])}, {_format(lead_knn - row[knn])} below).")
    lines[-1] += (
        f" Fastest transform: {fastest(targets['fastest_transform'])} s / 1,000; "
        f"among the nonlinear methods: {fastest(targets['fastest_nonlinear_transform'])}.")
    unstable = targets["unstable"]
    if unstable:
        moved = ", ".join(f"{rows[m]['title']} up to {_format(v, 2)}×"
                          for m, v in sorted(unstable.items(), key=lambda item: -item[1]))
        lines[-1] += (f" Mapped in another grouping, test samples move: {moved} the map's "
                      f"spread; the other methods by less than {STABLE_TOLERANCE:g}×.")
    else:
        lines[-1] += (f" No method's test samples move by {STABLE_TOLERANCE:g}× the map's "
                      "spread or more when mapped in another grouping.")
    return lines


def _published_lines(entry: dict) -> list[str]:
    """The published MNIST numbers, under the MNIST-10 table, with how their protocol differs."""
    if entry["name"] != "mnist-10":
        return []
    numbers = "; ".join(f"{name} {trust:.3f} / {knn:.3f}"
                        for name, trust, knn in PUBLISHED_MNIST["methods"])
    return [
        "",
        f"Published, for context ({PUBLISHED_MNIST['source']}; trustworthiness / 5-NN "
        f"accuracy): {numbers}. Their trustworthiness is measured on the training points "
        "that the embedding was fitted on, ours on held-out test samples, and their networks "
        "and training budgets are their own: the numbers do not compare directly with this "
        "table.",
    ]


def _drlim_call(params: dict[str, Any]) -> str:
    """The DrLIM estimator call the comparison made, in words a reader can copy."""
    if not params:
        return "the `DrLIM` estimator's defaults"
    params = dict(params)
    if "hidden" in params or "activation" in params:  # drlim.methods makes this network
        params["network"] = (f"MLP(hidden={tuple(params.pop('hidden', (20,)))!r}, "
                             f"activation={params.pop('activation', 'tanh')!r})")
    given = ", ".join(f"{name}={value if name == 'network' else repr(value)}"
                      for name, value in params.items())
    return f"`DrLIM({given})`, the estimator's defaults otherwise"


def _compared(result: dict) -> str:
    """The methods other than DrLIM in the report, in table order, in words ("" if none)."""
    titles: list[str] = []
    for entry in result["datasets"]:
        for row in entry["methods"]:
            if not row["method"].startswith("drlim") and row["title"] not in titles:
                titles.append(row["title"])
    if len(titles) < 2:
        return "".join(titles)
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def _rescored(result: dict) -> str:
    """The words that say the scores were recomputed from saved embeddings, if they were."""
    if "rescored" not in result:
        return ""
    return (f"; the scores were recomputed from its saved embeddings on {result['rescored']} "
            "(`drlim compare --rescore`)")


def _where_and_when(result: dict) -> str:
    """The machine and wall time of the run, and which rows earlier runs measured instead
    (read back by ``drlim compare --resume``): how many, on which CPU, when."""
    machine = result["machine"]
    cpu = f" ({machine['cpu']})" if machine.get("cpu") else ""
    here = (f"{machine['cpu_count']} CPU cores{cpu} (load average "
            f"{machine['load_average_at_start'][0]:.1f} at start)")
    minutes = f"{result['seconds'] / 60:.1f} min{_rescored(result)}"
    read_back = set(result.get("read_back", ()))
    total = sum(len(entry["methods"]) for entry in result["datasets"])
    earlier: dict[str, list[str]] = {}
    for entry in result["datasets"]:
        for row in entry["methods"]:
            if f"{entry['name']}/{row['method']}" in read_back:
                measured = row.get("measured", {})
                earlier.setdefault(measured.get("cpu", "a CPU not recorded"), []).append(
                    measured.get("finished", ""))
    if not earlier:
        return f"Measured on {here}; the whole comparison took {minutes}."
    count = len(read_back)
    return (f"This run took {minutes} on {here} and fitted {total - count} of the "
            f"{total} rows; {count} were read back from earlier runs (`drlim compare "
            "--resume`) with the times measured then: "
            + "; ".join(f"{len(times)} on {cpu_name}{_finished(times)}"
                        for cpu_name, times in sorted(earlier.items())) + ".")


def _finished(times: list[str]) -> str:
    """``", finished 2026-12-06 07:46 to 08:39 UTC"`` for ISO times (none where unrecorded)."""
    times = sorted(stamp.replace("T", " ")[:16] for stamp in times if stamp)
    if not times:
        return ""
    first, last = times[0], times[-1]
    if last == first:
        return f", finished {first} UTC"
    return f", finished {first} to {last[11:] if last[:10] == first[:10] else last} UTC"


def markdown_report(result: dict) -> str:
    """``comparison.md``: what was measured and how, then one table per data set.

    >>> import dataclasses, tempfile
    >>> from drlim.compare import QUICK, run_comparison
    >>> quick = dataclasses.replace(QUICK, datasets=("digits-8x8",), baselines=("pca",),
    ...                             peers=())
    >>> result = run_comparison(quick, tempfile.mkdtemp(), verbose=False)
    >>> markdown_report(result).splitlines()[0]
    '# DrLIM against PCA'
    """
    config = result["config"]
    ks = ", ".join(str(k) for k in config["trust_ks"])
    others = _compared(result)
    lines = [
        f"# DrLIM against {others}" if others else "# DrLIM's variants side by side",
        "",
        "Generated by `drlim compare` (`drlim.compare`); raw numbers in `comparison.json`, "
        "test embeddings in `comparison.png`. All maps are 2-D.",
        "",
        f"- **T@k**, **C@k**: trustworthiness (k = {ks}) and continuity "
        f"(k = {config['continuity_k']}) of the test embedding against the test samples' "
        "raw pixels (Venna & Kaski 2001); 1 is perfect.",
        f"- **{config['knn_k']}-NN acc.**: a {config['knn_k']}-NN classifier of the digit "
        "labels, fitted on the embedding of the training samples listed below, predicting "
        "the scored test samples.",
        "- **Coinciding**: the fraction of test samples mapped on top of another one (within "
        "1e-4 of the map's spread). Continuity ranks exact ties on the map in random order "
        "(trustworthiness takes the map's k nearest as scikit-learn orders them); samples a "
        "hair apart still count as ordered, so a map that collapses "
        "some samples can still score well on them; this column shows it. A continuous map "
        "of distinct digits has 0.",
        "- **Out-of-sample**: the method learns a mapping of new samples. Spectral embedding "
        "and t-SNE have none: they embed the training subsample and the scored test samples "
        "together, so their test samples took part in the fit (\"+ test\").",
        "- **Fit (s)**: wall time of fitting (DrLIM: building its neighbourhood graph and "
        "training; transductive methods: embedding train and test). **Transform**: seconds "
        f"to map 1,000 new samples, the fastest of {config['timing_repeats']} calls (DrLIM's "
        "after one more call that compiles the network).",
        "- **Transform stability**: the scored test samples are mapped once in one call, "
        f"once in two calls of one half each, and {config['stability_singles']} of them one "
        "at a time; the column is the largest move of a sample between these groupings, "
        "divided by the map's spread (the root mean square distance of the test samples to "
        "their centroid). A learned function scores 0; transforms that optimise the new "
        "samples together can place a sample differently depending on the other samples "
        "of the call. \"—\": the method has no transform.",
        f"- Seed {config['seed']}; {config['n_neighbors']} neighbours for the DrLIM graph, "
        f"Isomap, LLE and spectral embedding. {_where_and_when(result)} Trustworthiness "
        "depends on the number of samples scored: compare numbers within one table.",
        "- Every baseline runs with scikit-learn's defaults apart from the neighbours; "
        "DrLIM's settings are stated under each table.",
    ]
    if any(entry.get("peer_calls") for entry in result["datasets"]):
        lines.append(
            "- The peers run with their libraries' defaults apart from the settings in the "
            "calls stated under each table. The parametric UMAP trains DrLIM's own network "
            "(the paper's conv net on MNIST, the 20-unit MLP on flat data; the same layers "
            "and parameter count, in Keras), so the loss, not the network, differs.")
    for entry in result["datasets"]:
        lines += ["", f"## {entry['title']} (`{entry['name']}`)", "",
                  _sizes_note(entry, config), ""]
        lines += _dataset_table(entry, config)
        lines += ["", f"DrLIM ran as {_drlim_call(entry['drlim_params'])}."]
        titles = {row["method"]: row["title"] for row in entry["methods"]}
        for variant, params in entry.get("drlim_variant_params", {}).items():
            lines[-1] += f" {titles[variant]} ran as {_drlim_call(params)}."
        for peer, call in entry.get("peer_calls", {}).items():
            lines[-1] += f" {titles[peer]}: `{call}`."
        lines += _target_lines(entry, config)
        lines += _published_lines(entry)
    return "\n".join(lines) + "\n"


def comparison_figure(run_dir: str | os.PathLike) -> Figure:
    """A grid of test embeddings coloured by digit: rows = data sets, columns = methods in
    table order (:func:`drlim.plots.embedding_grid`), drawn from the comparison's run
    directories in ``run_dir`` (no fitting).

    >>> fig = comparison_figure("runs/compare")  # doctest: +SKIP
    """
    from drlim.compare import METHODS

    run_dir = Path(run_dir)
    result = _read_json(run_dir / "results.json")
    present: list[str] = []
    for entry in result["datasets"]:
        present += [row["method"] for row in entry["methods"] if row["method"] not in present]
    # table order: DrLIM, DrLIM (labels), the DrLIM variants, the baselines, the peers
    columns = [m for m in METHODS[:2] if m in present]
    columns += [m for m in present if m not in METHODS] + [m for m in METHODS[2:] if m in present]
    shown = (result["config"].get("scores") or ["trustworthiness_5"])[0]
    panels = []
    for entry in result["datasets"]:
        rows = {row["method"]: row for row in entry["methods"]}
        panels.append([None if m not in rows else _panel(run_dir / entry["name"] / m, rows[m],
                                                         shown)
                       for m in columns])
    return embedding_grid(panels, [entry["title"] for entry in result["datasets"]])


def _panel(run: Path, row: dict, shown: str = "trustworthiness_5") -> dict:
    """One method's test map for :func:`drlim.plots.embedding_grid`, titled with its number
    ``shown``."""
    with np.load(run / "embeddings.npz") as arrays:
        z, labels = arrays["z_test"], arrays["label_test"]
    marker = "" if row["out_of_sample"] else " (transd.)"
    name = "T@5" if shown == "trustworthiness_5" else shown
    return {"z": z, "labels": labels,
            "title": f"{row['title']}{marker}\n{name} {row[shown]:.3f}"}


def write_report(result: dict, run_dir: str | os.PathLike, out: str | os.PathLike,
                 stem: str = "comparison") -> list[Path]:
    """Write ``STEM.md``, ``STEM.json`` and ``STEM.png`` into ``out``; ``STEM_training.png``
    (:func:`training_figure`) when DrLIM's runs kept their training logs; and the interactive
    page of the best DrLIM map of all ten digits when they were compared with the full
    protocol. A comparison with its own ``scores`` gets :func:`scores_report` as its text."""
    out, run_dir = Path(out), Path(run_dir)
    own_scores = bool(result["config"].get("scores"))
    text = scores_report(result) if own_scores else markdown_report(result)
    written = [
        write_bytes(out / f"{stem}.md", text.encode()),
        write_json(out / f"{stem}.json", result),
        save_figure(comparison_figure(run_dir), out / f"{stem}.png", dpi=110),
    ]
    curves = training_figure(result, run_dir)
    if curves is not None:
        written.append(save_figure(curves, out / f"{stem}_training.png", dpi=110))
    page = None if own_scores else interactive_map(result, run_dir, out, stem=stem)
    return written if page is None else [*written, page]


# What the scores of a comparison set measure, for its report.
SCORE_MEANINGS = {
    "shift_accuracy": "a 5-NN classifier fitted on a random half of the test map predicts the "
    "shift of the other half (1: the map keeps the shift; chance is 1 / the number of "
    "positions, and a map that forgets the shift can fall below it, because a digit's nearest "
    "neighbours are then its own copies at other shifts)",
    "knn_accuracy_label": "a 5-NN classifier fitted on the test map of a random half of the "
    "test digits, each with all its shifted copies, predicts the digits of the other half "
    "(high: digits kept apart; no digit's own copies vote for it)",
    "orbit_spread_ratio": "mean distance between the shifted copies of one test digit over the "
    "mean distance of random pairs (0: the copies coincide)",
}


def scores_report(result: dict) -> str:
    """The text of a comparison with its own ``scores``: one table per data set, a row per
    method, a column per score (:func:`drlim.runs.evaluate` says what each measures)."""
    names = result["config"]["scores"]
    lines = [f"# Every method on the same unseen test samples: {', '.join(names)}",
             "",
             "Generated by `drlim compare --set ...`; every method maps the same unseen test "
             "samples; the numbers are those of `drlim.runs.evaluate`"
             f"{_rescored(result)}.",
             *(f"- **{name}**: {SCORE_MEANINGS[name]}" for name in names
               if name in SCORE_MEANINGS),
             ]
    for entry in result["datasets"]:
        rows = [[row["title"], _format(row["n_fit"]), *(_format(row[n]) for n in names),
                 _format(row["fit_seconds"], 1)] for row in entry["methods"]]
        lines += ["", f"## {entry['title']} (`{entry['name']}`)", "",
                  f"Training set {entry['n_train']:,}; {entry['n_test']:,} test samples.", ""]
        lines += markdown_table(["Method", "Fitted on", *names, "Fit (s)"], rows)
        variants = entry["drlim_variant_params"]
        calls = [f"{row['title']} ran as "
                 f"{_drlim_call(variants.get(row['method'], entry['drlim_params']))}"
                 for row in entry["methods"] if row["method"].startswith("drlim")]
        lines += ["", "; ".join(calls) + "."]
    return "\n".join(lines) + "\n"


def training_figure(result: dict, run_dir: str | os.PathLike) -> Figure | None:
    """Each DrLIM row's test map above its training curves, for the first data set whose
    DrLIM runs kept their training logs (``metrics.jsonl``); None when none did."""
    for entry in result["datasets"]:
        runs = [(row, Path(run_dir) / entry["name"] / row["method"])
                for row in entry["methods"] if row["method"].startswith("drlim")]
        if runs and all((run / "metrics.jsonl").is_file() for _, run in runs):
            shown = (result["config"].get("scores") or ["trustworthiness_5"])[0]
            panels = [{**_panel(run, row, shown), "history": read_jsonl(run / "metrics.jsonl")}
                      for row, run in runs]
            return maps_and_curves_figure(panels, entry["title"])
    return None


def interactive_map(result: dict, run_dir: str | os.PathLike, out: str | os.PathLike,
                    dataset: str = "mnist-10", stem: str = "comparison") -> Path | None:
    """The best unsupervised DrLIM map (by kNN label accuracy; "DrLIM (labels)" learns from the
    labels that score it) of ``dataset``'s test digits as one HTML page where hovering a point
    shows the digit (:func:`drlim.plots.interactive`); drawn from the run directory's
    embeddings. None when the comparison did not run ``dataset``.
    """
    entry = next((e for e in result["datasets"] if e["name"] == dataset), None)
    if entry is None:
        return None
    rows = [row for row in entry["methods"]
            if row["method"].startswith("drlim") and row["method"] != "drlim-labels"]
    best = max(rows, key=lambda row: row["knn_accuracy"])
    with np.load(Path(run_dir) / dataset / best["method"] / "embeddings.npz") as saved:
        z, labels, images = saved["z_test"], saved["label_test"], saved["images_test"]
    return interactive(
        z, labels=labels, images=images, label_name="digit",
        path=Path(out) / f"{stem}_{dataset}_interactive.html",
        title=f"{best['title']} on {entry['title']}: test digits (hover for the image)",
    )
