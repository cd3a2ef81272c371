"""Run drlim's performance benchmarks and write ``results.md`` (and ``results.json``).

    python -m benchmarks.run_all --out benchmarks/results.md         # make bench
    python -m benchmarks.run_all --quick --out /tmp/results.md       # tiny sizes, minutes
    python -m benchmarks.run_all --only train_step knn               # some of them
    python -m benchmarks.run_all --device-label "NVIDIA H200"        # name the device

Each benchmark is a module of this package with ``run(quick) -> dict``; the results file
opens with issue 15's targets, each with its status (met, missed and by how much, not run)
and, when missed, what limits it, measured. Everything is measured side by side in one run,
because the machines are shared and noisy. With ``--only``, the other benchmarks' previous
results in the JSON file are kept when they were measured on the same machine and sizes. A
benchmark that fails is reported as failed (with the error) and the exit status is 1; the
others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench_common import (
    BENCH_DIR,
    load_average,
    machine,
    result,
    significant,
    target_status,
    write_atomic,
)

# name -> module of this package, in the order of issue 15's targets.
BENCHMARKS = {
    "time_to_quality": "bench_time_to_quality",
    "compile_once": "bench_compile",
    "knn": "bench_neighbour_graph",
    "scale": "scale_results",
    "train_step": "bench_train_step",
    "utilisation": "bench_utilisation",
    "transform": "bench_transform",
    "memory": "bench_memory",
}
RUN_ORDER = ("train_step", "utilisation", "transform", "time_to_quality", "compile_once",
             "knn", "memory", "scale")
GPU_TARGET = "every figure above on the GPU, in benchmarks/results_gpu.md"
NO_GPU = "no device in this run (benchmarks/run_on_gpu.sh writes results_gpu.md)"


def run_one(name: str, quick: bool) -> dict:
    """Run benchmark ``name``; a failure becomes a record that says so (nothing is lost)."""
    if name not in BENCHMARKS:
        raise ValueError(f"name must be one of {tuple(BENCHMARKS)}, got {name!r}")
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{BENCHMARKS[name]}")
        record = module.run(quick=quick)
    except Exception as error:  # noqa: BLE001 - any failure is reported, the rest still runs
        record = result(name, name, [], [], notes=[traceback.format_exc(limit=3)],
                        skipped=f"failed: {type(error).__name__}: {error}")
        record["failed"] = True
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def run_benchmarks(names: Sequence[str], quick: bool, log=print) -> list[dict]:
    """Run the named benchmarks (in :data:`RUN_ORDER`), returning their records."""
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"names must be among {tuple(BENCHMARKS)}, got {unknown}")
    records = []
    for name in RUN_ORDER:
        if name in names:
            log(f"[bench] {name} ...", flush=True)
            record = run_one(name, quick)
            status = "FAILED " + record["skipped"] if record.get("failed") else "done"
            log(f"[bench] {name} {status} in {record['seconds']} s", flush=True)
            records.append(record)
    return records


def explain_step_limits(records: Sequence[dict]) -> None:
    """Fill the per-step targets' limits with the utilisation benchmark's measurements of the
    same batch size (the step's parts and XLA's cost analysis), when both ran."""
    from benchmarks.bench_utilisation import step_limit

    by_name = {r["name"]: r for r in records if not r.get("failed")}
    if "train_step" not in by_name or "utilisation" not in by_name:
        return
    measured = {m["batch"]: m for m in by_name["utilisation"]["measurements"]}
    for target, m in zip(by_name["train_step"]["targets"],
                         by_name["train_step"]["measurements"], strict=True):
        if target["status"] != "met" and m["batch"] in measured:
            target["limit"] = step_limit(measured[m["batch"]], by_name["utilisation"]["peak"])


def format_cell(value: Any) -> str:
    """A table cell: None as an em dash, floats as given, pipes escaped.

    >>> format_cell(None), format_cell(1.5), format_cell("a|b")
    ('—', '1.5', 'a\\\\|b')
    """
    if value is None:
        return "—"
    return str(value).replace("|", "\\|")


def format_value(target: dict) -> str:
    """A target's value with its unit, to 3 significant digits or as many as keep it apart
    from its bound (an em dash if not run).

    >>> format_value({"value": 1.2345, "bound": 3.0, "unit": "x"})
    '1.23x'
    >>> format_value({"value": 2.99615, "bound": 3.0, "unit": "x"})
    '2.996x'
    >>> format_value({"value": None, "bound": 3.0, "unit": ""})
    '—'
    """
    if target["value"] is None:
        return "—"
    if "bound" not in target:  # a record saved before targets kept their bound
        return f"{target['value']:.3g}{target['unit']}"
    return f"{significant(target['value'], target['bound'])}{target['unit']}"


def format_target(target: dict) -> str:
    """One markdown line for a target: status, value, target and (if not met) the limit."""
    line = (f"- {target['what']}: **{target_status(target)}** ({format_value(target)}; "
            f"target {target['target']})")
    if target["limit"] and target["status"] in ("missed", "not judged"):
        line += f" — limited by {target['limit']}"
    return line


def render_record(number: int, record: dict) -> list[str]:
    """The markdown section of one benchmark."""
    lines = [f"## {number}. {record['title']}", ""]
    if record["skipped"]:
        lines += [f"*{'Failed' if record.get('failed') else 'Partly skipped'}: "
                  f"{record['skipped']}*", ""]
    if record["columns"]:
        lines.append("| " + " | ".join(record["columns"]) + " |")
        lines.append("|" + "---|" * len(record["columns"]))
        lines += ["| " + " | ".join(format_cell(c) for c in row) + " |" for row in record["rows"]]
        lines.append("")
    if record.get("breakdown"):
        lines += ["| stage of the cold fit | seconds |", "|---|---|"]
        lines += [f"| {format_cell(stage)} | {seconds} |" for stage, seconds in
                  record["breakdown"]]
        lines.append("")
    for note in record["notes"]:
        lines.append(f"```\n{note.rstrip()}\n```" if record.get("failed") else f"- {note}")
    if record["targets"]:
        lines += ["", "Targets:"]
        lines += [format_target(t) for t in record["targets"]]
    elif not record.get("failed"):
        lines += ["", "No numeric target: reported so that we know where the time goes."]
    load = " / ".join(str(v) for v in record.get("load_average", []))
    lines += ["", f"*Measured {record['date']} in {record.get('seconds', '?')} s, load average "
              f"{load or 'unknown'} at the end.*", ""]
    return lines


def summary_rows(records: Sequence[dict], info: dict) -> list[str]:
    """The summary table: every target of issue 15 (and the others), by target number."""
    rows = []
    for record in records:
        if record.get("failed"):
            rows.append((99, f"| — | {record['name']} | — | — | failed: "
                             f"{format_cell(record['skipped'])} |"))
        for t in record["targets"]:
            number = t.get("issue")
            rows.append((number or 98, f"| {number or '—'} | {format_cell(t['what'])} "
                                       f"| {format_cell(t['target'])} | {format_value(t)} "
                                       f"| {format_cell(target_status(t))} |"))
    gpu = info["jax_device"]["backend"] == "gpu"
    status = "this run is on the GPU" if gpu else f"not run: {NO_GPU}"
    rows.append((6, f"| 6 | {GPU_TARGET} | every target | — | {status} |"))
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def render_markdown(info: dict, records: Sequence[dict], quick: bool) -> str:
    """The whole ``results.md``: machine, the targets' summary, one section per benchmark."""
    device = info["jax_device"]
    title = "# drlim benchmarks" + (f" — {info['label']}" if info["label"] else "")
    lines = [
        title,
        "",
        "Written by `python -m benchmarks.run_all` (`make bench`). Each ratio is measured side "
        "by side in the same run; absolute times on a shared machine mean little.",
        "",
        "| machine | |",
        "|---|---|",
        f"| device label | {format_cell(info['label'] or None)} |",
        f"| CPU | {info['cpu']}, {info['cores']} cores, {info['clock_mhz']} MHz |",
        f"| JAX | {info['jax']} on {device['backend']} ({device['kind']}, "
        f"{device['count']} device(s)) |",
        f"| PyTorch | {info['torch'] or 'not installed'} |",
        f"| Python | {info['python']} |",
        f"| started | {info['date']} |",
        f"| load average (1/5/15 min) at start | {' / '.join(map(str, info['load_average']))} |",
        f"| sizes | {'quick (tiny, not representative)' if quick else 'full'} |",
        "",
        "## Targets (issue 15)",
        "",
        "| # | target | bound | value | status |",
        "|---|---|---|---|---|",
        *summary_rows(records, info),
        "",
    ]
    ordered = sorted(records, key=lambda r: list(BENCHMARKS).index(r["name"]))
    for number, record in enumerate(ordered, start=1):
        lines += render_record(number, record)
    return "\n".join(lines).rstrip() + "\n"


def merge_previous(path: Path, info: dict, records: list[dict], quick: bool) -> list[dict]:
    """Add the records of ``path`` (a previous results.json) that were not rerun, if comparable.

    Comparable means the same CPU model, clock (to 1 MHz) and cores, device label, JAX
    backend and sizes (quick or full): two AMD EPYCs of other clocks ran PyTorch twice as
    fast as each other.
    """
    if not path.exists():
        return records
    try:
        previous = json.loads(path.read_text())
        old = previous["machine"]
        same = (old["cpu"], round(old["clock_mhz"] or 0), old["cores"], old["label"],
                old["jax_device"]["backend"], previous["quick"]) == (
            info["cpu"], round(info["clock_mhz"] or 0), info["cores"], info["label"],
            info["jax_device"]["backend"], quick)
    except (ValueError, KeyError, TypeError):
        return records
    if not same:
        return records
    rerun = {r["name"] for r in records}
    kept = [r for r in previous.get("results", [])
            if r.get("name") not in rerun and r.get("name") in BENCHMARKS]
    return kept + records


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, write the markdown and the JSON; 1 if a benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.md",
                        help="markdown file to write; the JSON goes beside it (.json)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few minutes")
    parser.add_argument("--only", nargs="+", choices=tuple(BENCHMARKS), metavar="NAME",
                        help=f"run only these: {', '.join(BENCHMARKS)}")
    parser.add_argument("--device-label", default="",
                        help="name of the device, shown in the results (e.g. 'NVIDIA H200')")
    args = parser.parse_args(argv)
    if args.out.suffix != ".md":
        parser.error(f"--out must name a .md file, got {args.out}")
    info = machine(args.device_label)
    records = run_benchmarks(args.only or list(BENCHMARKS), args.quick)
    explain_step_limits(records)
    info["load_average_end"] = load_average()
    json_path = args.out.with_suffix(".json")
    if args.only:
        records = merge_previous(json_path, info, records, args.quick)
    write_atomic(json_path, json.dumps({"machine": info, "quick": args.quick,
                                        "results": records}, indent=1) + "\n")
    write_atomic(args.out, render_markdown(info, records, args.quick))
    print(f"[bench] wrote {args.out} and {json_path}")
    return 1 if any(r.get("failed") for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
