"""Run drlim's performance benchmarks and write ``results.md`` (and ``results.json``).

    .venv/bin/python benchmarks/run_all.py --out benchmarks/results.md        # make bench
    .venv/bin/python benchmarks/run_all.py --smoke --out /tmp/results.md      # ~1 minute
    .venv/bin/python benchmarks/run_all.py --only train_step knn              # some of them
    .venv/bin/python benchmarks/run_all.py --device-label "NVIDIA H200"       # name the device

The benchmarks (issue 8), each in its own module with ``run(smoke) -> dict``:
train_step, time_to_quality, knn, transform, memory, utilisation. Each compares
side by side in one run, because the machines are shared and noisy. With ``--only``, the
other benchmarks' previous results in the JSON file are kept when they were measured on
the same machine and mode. A benchmark that fails is reported as failed (with the error)
and the exit status is 1; the others still run.
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

from bench_common import BENCH_DIR, load_average, machine, result

from drlim._io import write_bytes, write_json

# Issue 8's order; the runner measures utilisation right after train_step so that it
# reuses the compiled step.
BENCHMARKS = {
    "train_step": "bench_train_step",
    "time_to_quality": "bench_time_to_quality",
    "knn": "bench_neighbour_graph",
    "transform": "bench_transform",
    "memory": "bench_memory",
    "utilisation": "bench_utilisation",
}
RUN_ORDER = ("train_step", "utilisation", "time_to_quality", "knn", "transform", "memory")


def run_one(name: str, smoke: bool) -> dict:
    """Run benchmark ``name``; a failure becomes a record that says so (nothing is lost)."""
    if name not in BENCHMARKS:
        raise ValueError(f"name must be one of {tuple(BENCHMARKS)}, got {name!r}")
    start = time.perf_counter()
    try:
        record = importlib.import_module(BENCHMARKS[name]).run(smoke=smoke)
    except Exception as error:  # noqa: BLE001 - any failure is reported, the rest still runs
        record = result(name, name, [], [], notes=[traceback.format_exc(limit=3)],
                        skipped=f"failed: {type(error).__name__}: {error}")
        record["failed"] = True
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def run_benchmarks(names: Sequence[str], smoke: bool, log=print) -> list[dict]:
    """Run the named benchmarks (in :data:`RUN_ORDER`), returning their records."""
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"names must be among {tuple(BENCHMARKS)}, got {unknown}")
    records = []
    for name in RUN_ORDER:
        if name in names:
            log(f"[bench] {name} ...", flush=True)
            record = run_one(name, smoke)
            status = "FAILED " + record["skipped"] if record.get("failed") else "done"
            log(f"[bench] {name} {status} in {record['seconds']} s", flush=True)
            records.append(record)
    return records


def format_cell(value: Any) -> str:
    """A table cell: None as an em dash, floats as given, pipes escaped.

    >>> format_cell(None), format_cell(1.5), format_cell("a|b")
    ('—', '1.5', 'a\\\\|b')
    """
    if value is None:
        return "—"
    return str(value).replace("|", "\\|")


def format_target(target: dict) -> str:
    """One markdown line for a target: status, value, target and (if not met) the limit."""
    value = target["value"]
    shown = "—" if value is None else f"{value:.3g}{target['unit']}"
    line = f"- {target['what']}: **{target['status']}** ({shown}; target {target['target']})"
    if target["limit"] and target["status"] == "missed":
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
    for note in record["notes"]:
        lines.append(f"```\n{note.rstrip()}\n```" if record.get("failed") else f"- {note}")
    if record["targets"]:
        lines += ["", "Targets:"]
        lines += [format_target(t) for t in record["targets"]]
    elif not record.get("failed"):
        lines += ["", "No numeric target: reported so that we know how far the limit is."]
    load = " / ".join(str(v) for v in record.get("load_average", []))
    lines += ["", f"*Measured {record['date']} in {record.get('seconds', '?')} s, load average "
              f"{load or 'unknown'} at the end.*", ""]
    return lines


def render_markdown(info: dict, records: Sequence[dict], smoke: bool) -> str:
    """The whole ``results.md``: machine, summary of targets, one section per benchmark."""
    device = info["jax_device"]
    title = "# drlim benchmarks" + (f" — {info['label']}" if info["label"] else "")
    lines = [
        title,
        "",
        "Written by `benchmarks/run_all.py` (`make bench`). Each ratio is measured side by side "
        "in the same run; absolute times on a shared machine mean little.",
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
        f"| sizes | {'smoke (tiny, not representative)' if smoke else 'full'} |",
        "",
        "## Summary",
        "",
        "| benchmark | target | value | status |",
        "|---|---|---|---|",
    ]
    ordered = sorted(records, key=lambda r: list(BENCHMARKS).index(r["name"]))
    for record in ordered:
        if record.get("failed"):
            lines.append(f"| {record['name']} | — | — | failed |")
        for t in record["targets"]:
            value = "—" if t["value"] is None else f"{t['value']:.3g}{t['unit']}"
            lines.append(f"| {record['name']}: {t['what']} | {format_cell(t['target'])} "
                         f"| {value} | {t['status']} |")
    lines.append("")
    for record in ordered:
        lines += render_record(list(BENCHMARKS).index(record["name"]) + 1, record)
    return "\n".join(lines).rstrip() + "\n"


def merge_previous(path: Path, info: dict, records: list[dict], smoke: bool) -> list[dict]:
    """Add the records of ``path`` (a previous results.json) that were not rerun, if comparable.

    Comparable means the same CPU, device label, JAX backend and sizes (smoke or full).
    """
    if not path.exists():
        return records
    try:
        previous = json.loads(path.read_text())
        old = previous["machine"]
        same = (old["cpu"], old["label"], old["jax_device"]["backend"], previous["smoke"]) == (
            info["cpu"], info["label"], info["jax_device"]["backend"], smoke)
    except (ValueError, KeyError, TypeError):
        return records
    if not same:
        return records
    rerun = {r["name"] for r in records}
    kept = [r for r in previous.get("results", []) if r.get("name") not in rerun]
    return kept + records


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, write the markdown and the JSON; 1 if a benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.md",
                        help="markdown file to write; the JSON goes beside it (.json)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, about a minute")
    parser.add_argument("--only", nargs="+", choices=tuple(BENCHMARKS), metavar="NAME",
                        help=f"run only these: {', '.join(BENCHMARKS)}")
    parser.add_argument("--device-label", default="",
                        help="name of the device, shown in the results (e.g. 'NVIDIA H200')")
    args = parser.parse_args(argv)
    if args.out.suffix != ".md":
        parser.error(f"--out must name a .md file, got {args.out}")
    info = machine(args.device_label)
    records = run_benchmarks(args.only or list(BENCHMARKS), args.smoke)
    info["load_average_end"] = load_average()
    json_path = args.out.with_suffix(".json")
    if args.only:
        records = merge_previous(json_path, info, records, args.smoke)
    write_json(json_path, {"machine": info, "smoke": args.smoke, "results": records})
    write_bytes(args.out, render_markdown(info, records, args.smoke).encode())
    print(f"[bench] wrote {args.out} and {json_path}")
    return 1 if any(r.get("failed") for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
