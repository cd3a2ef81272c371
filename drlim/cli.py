"""The ``drlim`` command: list, run and reproduce the paper's experiments, draw figures.

    drlim list
    drlim run mnist-4-9 --out runs/mnist-4-9 --steps 500
    drlim figures runs/* --out figures
    drlim reproduce [--quick]
    drlim compare [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from drlim.experiment import ExperimentConfig, override, run_experiment

if TYPE_CHECKING:
    from drlim.compare import CompareConfig

DEFAULT_EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def experiments_dir() -> Path:
    """Where experiment files live: ``$DRLIM_EXPERIMENTS`` or the repository's ``experiments/``."""
    return Path(os.environ.get("DRLIM_EXPERIMENTS", DEFAULT_EXPERIMENTS))


def _load_file(path: Path) -> ModuleType:
    """Execute one experiment file and return it as a module."""
    spec = importlib.util.spec_from_file_location(f"drlim_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_experiments(directory: Path | None = None) -> dict[str, ModuleType]:
    """Every paper experiment file, by experiment name, in file-name order."""
    directory = directory or experiments_dir()
    found = {}
    for path in sorted(directory.glob("*.py")):
        module = _load_file(path)
        config = getattr(module, "CONFIG", None)
        if isinstance(config, ExperimentConfig):
            found[config.name] = module
    return found


def experiment_config(name: str, quick: bool = False, **changes) -> ExperimentConfig:
    """The configuration of experiment ``name``, with ``--quick`` and field overrides applied."""
    experiments = load_experiments()
    if name not in experiments:
        raise SystemExit(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    module = experiments[name]
    config = module.CONFIG
    if quick:
        config = override(config, getattr(module, "QUICK", {}))
    return override(config, changes) if changes else config


def _summary(module: ModuleType) -> str:
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def cmd_list(_: argparse.Namespace, __: list[str]) -> None:
    for name, module in load_experiments().items():
        print(f"{name:24s} {_summary(module)}")


def cmd_run(args: argparse.Namespace, extra: list[str]) -> None:
    changes = _parse_overrides(extra)
    if args.seed is not None:
        changes["seed"] = args.seed
    config = experiment_config(args.experiment, args.quick, **changes)
    out = Path(args.out or Path("runs") / config.name)
    result = run_experiment(config, out)
    print(f"{config.name}: wrote {out} in {result['seconds']:.1f} s")


def cmd_figures(args: argparse.Namespace, _: list[str]) -> None:
    from drlim.figures import make_figures

    written = make_figures([Path(p) for p in args.run_dirs], Path(args.out))
    for path in written:
        print(path)


def cmd_reproduce(args: argparse.Namespace, _: list[str]) -> None:
    from drlim.figures import make_figures, norb_data_figure, update_readme

    runs = Path(args.runs)
    experiments = load_experiments()
    run_dirs = []
    started = time.perf_counter()
    for index, name in enumerate(experiments, 1):
        if args.only and name not in args.only:
            continue
        config = experiment_config(name, args.quick, seed=args.seed)
        print(f"[{index}/{len(experiments)}] {name} ...", flush=True)
        result = run_experiment(config, runs / name, progress=False)
        print(f"[{index}/{len(experiments)}] {name} done in {result['seconds']:.1f} s", flush=True)
        run_dirs.append(runs / name)
    written = make_figures(run_dirs, Path(args.out))
    written.append(norb_data_figure(Path(args.out)))
    table = (Path(args.out) / "results.md").read_text()
    if not args.quick and update_readme(Path(args.readme), table):
        print(f"updated the results table in {args.readme}")
    print(f"wrote {len(written)} files to {args.out} in {time.perf_counter() - started:.0f} s")


def compare_config(quick: bool = False, directory: Path | None = None) -> CompareConfig:
    """The comparison's configuration: ``CONFIG`` of ``experiments/compare.py``.

    With ``quick``, the file's ``QUICK`` if it has one, else :data:`drlim.compare.QUICK`.
    """
    from drlim import compare

    path = (directory or experiments_dir()) / "compare.py"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: it holds the comparison's CompareConfig")
    module = _load_file(path)
    config = getattr(module, "QUICK", compare.QUICK) if quick else getattr(module, "CONFIG", None)
    if not isinstance(config, compare.CompareConfig):
        raise SystemExit(f"{path} must define CONFIG = CompareConfig(...), got {config!r}")
    return config


def cmd_compare(args: argparse.Namespace, _: list[str]) -> None:
    from drlim.compare import main as compare

    compare(compare_config(args.quick), out=Path(args.out), runs=Path(args.runs))


def _parse_overrides(extra: list[str]) -> dict[str, str]:
    """``--field value`` pairs left over by argparse, as a dict of strings."""
    if len(extra) % 2 or any(not key.startswith("--") for key in extra[::2]):
        raise SystemExit(f"overrides must be '--FIELD VALUE' pairs, got {' '.join(extra)}")
    return {key[2:]: value for key, value in zip(extra[::2], extra[1::2], strict=True)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drlim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the experiments, one line each").set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="run one experiment; any config field: --FIELD VALUE")
    run.add_argument("experiment")
    run.add_argument("--out", help="run directory (default runs/EXPERIMENT)")
    run.add_argument("--seed", type=int)
    run.add_argument("--quick", action="store_true", help="a small, fast version")
    run.set_defaults(func=cmd_run)

    figs = sub.add_parser("figures", help="figures from saved run directories (no training)")
    figs.add_argument("run_dirs", nargs="+")
    figs.add_argument("--out", default="figures")
    figs.set_defaults(func=cmd_figures)

    rep = sub.add_parser("reproduce", help="every experiment, then every figure and a summary")
    rep.add_argument("--quick", action="store_true")
    rep.add_argument("--out", default="figures")
    rep.add_argument("--runs", default="runs")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--only", nargs="*", help="run only these experiments")
    rep.add_argument("--readme", default="README.md",
                     help="README whose results table a full run refreshes")
    rep.set_defaults(func=cmd_reproduce)

    cmp = sub.add_parser("compare", help="DrLIM against PCA, Isomap, LLE, spectral and t-SNE")
    cmp.add_argument("--quick", action="store_true")
    cmp.add_argument("--out", default="figures")
    cmp.add_argument("--runs", default="runs", help="embeddings go to RUNS/compare")
    cmp.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.func(args, extra)


if __name__ == "__main__":
    main(sys.argv[1:])
