"""The ``drlim`` command: list, run and reproduce the paper's experiments, draw figures.

    drlim list
    drlim run mnist-4-9 --out runs/mnist-4-9 --steps 500
    drlim run mnist-4-9 --out runs/mnist-4-9 --resume
    drlim figures runs/* --out figures
    drlim reproduce [--quick]
    drlim compare [--quick] [--set NAME] [--rescore | --resume]

A mistake on the command line prints one line and exits with status 2; a run that fails
prints one line and exits with status 1 (``--debug`` shows the traceback). A run directory
belongs to one run: it is locked while written, a non-empty one is refused unless
``--resume`` or ``--overwrite`` is given, and a failed run removes what it created.
JAX, Flax and scikit-learn are imported only by the commands that compute.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import importlib.util
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

from drlim.config import (
    ExperimentConfig,
    changed_settings,
    overridable_fields,
    override,
)

if TYPE_CHECKING:
    from drlim.compare import CompareConfig

DEFAULT_EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
# experiments/compare.py holds the comparison's runs (`drlim compare`), not one paper
# experiment; `drlim list` reads its docstring without importing it.
COMPARE_FILE = "compare.py"
LOCK_NAME = ".lock"
CHECKPOINT_NAME = "checkpoint.msgpack"  # drlim.train.CHECKPOINT_NAME, without importing JAX
log = logging.getLogger("drlim")


class UsageError(ValueError):
    """A mistake in the command line: reported in one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def experiments_dir() -> Path:
    """Where experiment files live: ``$DRLIM_EXPERIMENTS``, else the installed package
    ``drlim.experiments`` (the top-level ``experiments/`` folder, installed), else the
    checkout's ``experiments/`` when drlim runs from source without being installed."""
    if "DRLIM_EXPERIMENTS" in os.environ:
        return Path(os.environ["DRLIM_EXPERIMENTS"])
    spec = importlib.util.find_spec("drlim.experiments")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return DEFAULT_EXPERIMENTS


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
        if path.name.startswith(("compare", "_")):
            continue
        module = _load_file(path)
        config = getattr(module, "CONFIG", None)
        if isinstance(config, ExperimentConfig):
            found[config.name] = module
    return found


def experiment_config(name: str, quick: bool = False, **changes) -> ExperimentConfig:
    """The configuration of experiment ``name``, with ``--quick`` and field overrides applied.

    A bad change raises :class:`UsageError` naming its option (``argument --steps: ...``).
    """
    experiments = load_experiments()
    if name not in experiments:
        raise UsageError(f"experiment must be one of {tuple(experiments)}, got {name!r}")
    module = experiments[name]
    config = module.CONFIG
    if quick:
        config = override(config, getattr(module, "QUICK", {}))
    for key, value in changes.items():
        try:
            config = override(config, {key: value})
        except ValueError as error:
            raise UsageError(f"argument --{key}: {error}") from None
    return config


def _summary(module: ModuleType) -> str:
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def cmd_list(_: argparse.Namespace) -> None:
    for name, module in load_experiments().items():
        print(f"{name:24s} {_summary(module)}")
    for path in sorted(experiments_dir().glob("compare*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        summary = doc.splitlines()[0] if doc else ""
        name = path.stem.replace("_", "-")
        command = "drlim compare" + (f" --set {name[8:]}" if name != "compare" else "")
        print(f"{name:24s} {summary} (a set of runs: {command})")


def cmd_run(args: argparse.Namespace) -> None:
    changes = {key: value for key, value in vars(args).items()
               if key in FIELD_DEFAULTS and value is not None}
    config = experiment_config(args.experiment, args.quick, **changes)
    out = Path(args.out or Path("runs") / config.name)
    started = time.perf_counter()
    with claim_run_dir(out, resume=args.resume, overwrite=args.overwrite):
        if args.resume:
            check_same_config(out, config)
        from drlim.runs import run_experiment

        result = run_experiment(config, out, resume=args.resume)
    print(run_summary(config, result, out, time.perf_counter() - started))


@contextlib.contextmanager
def claim_run_dir(out: Path, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """Hold ``out`` for one run: lock it, refuse it if another run's files are in it.

    The lock is an exclusive ``flock`` on ``out/.lock``, so a second run into the same
    directory stops at once. A directory holding files is refused unless ``resume`` (the run
    continues them) or ``overwrite`` (they are deleted first). If the run fails, what it
    created is removed, unless it left a checkpoint to resume from.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"argument --out: must be a directory, got {out}, which is a file")
    created = not out.exists()
    lock_existed = (out / LOCK_NAME).exists()
    with locked(out):
        before = {p.name for p in out.iterdir()} - {LOCK_NAME}
        if before and not (resume or overwrite):
            raise UsageError(
                f"argument --out: must be new or empty (or pass --resume to continue its run, "
                f"--overwrite to replace it), got {out}, which already holds a run"
            )
        if overwrite:
            _remove_entries(out, before)
            before = set()
        try:
            yield out
        except BaseException:
            _clean_after_failure(out, before | ({LOCK_NAME} if lock_existed else set()), created)
            raise


@contextlib.contextmanager
def locked(out: Path, option: str = "--out") -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``out/.lock`` (``out`` is created if need be), so that
    a second drlim command writing into ``out`` stops at once with a one-line error about
    ``option``, the argument that named it."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise UsageError(
            f"argument {option}: must be a directory drlim can write to, got {out} "
            f"({error.strerror})"
        ) from None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"argument {option}: must be free, got {out}, in use by another drlim run "
                f"(it holds {LOCK_NAME})"
            ) from None
        os.ftruncate(lock, 0)
        os.write(lock, f"{os.getpid()}\n".encode())
        yield out
    finally:
        os.close(lock)


def _clean_after_failure(out: Path, before: set[str], created: bool) -> None:
    if (out / CHECKPOINT_NAME).exists():
        log.warning("the checkpoint in %s stays: add --resume to continue from it", out)
        return
    _remove_entries(out, {p.name for p in out.iterdir()} - before)
    if created:
        shutil.rmtree(out, ignore_errors=True)


def _remove_entries(directory: Path, names: set[str]) -> None:
    for name in names:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def check_same_config(out: Path, config: ExperimentConfig) -> None:
    """Refuse to resume a run directory made with other settings (the result would mix them)."""
    changed = changed_settings(out, config)
    if changed:
        raise UsageError(
            f"argument --resume: must continue with the settings {out} was run with (or "
            f"--overwrite to start again), got other settings ({'; '.join(changed)})"
        )


def run_summary(config: ExperimentConfig, result: dict, out: Path, seconds: float) -> str:
    """One line: the run's numbers and whether each of its targets is met."""
    from drlim.report import check_targets, target_bound

    numbers = ", ".join(f"{k} {v:.3f}" for k, v in result.items()
                        if isinstance(v, float) and not k.endswith("seconds"))
    checked = check_targets(result, [list(t) for t in config.targets])
    verdicts = "; ".join(f"{t['metric']} {t['op']} {target_bound(t)}: {_verdict(t)}"
                         for t in checked)
    targets = f"targets met {sum(t['met'] for t in checked)}/{len(checked)} ({verdicts})"
    return (f"{config.name}: {numbers or 'no numbers'}; "
            f"{targets if checked else 'no targets'}; wrote {out} in {seconds:.1f} s")


def _verdict(target: dict) -> str:
    if target["met"]:
        return "met"
    unmeasured = target["value"] is None or target["bound"] is None
    return "not measured in this run" if unmeasured else "NOT met"


def cmd_figures(args: argparse.Namespace) -> None:
    from drlim.report import make_figures

    runs = [Path(p) for p in args.run_dirs]
    out = Path(args.out) if args.out else default_figures_dir(runs)
    runs = [r for r in runs if r.resolve() != out.resolve()]
    print(f"writing figures to {out.resolve()}", flush=True)
    for path in make_figures(runs, out):
        print(path)


def default_figures_dir(runs: list[Path]) -> Path:
    """``RUN_DIR/figures`` for one run, else ``figures/`` in the runs' common parent.

    >>> default_figures_dir([Path("runs/a"), Path("runs/b")]).as_posix()
    'runs/figures'
    """
    if len(runs) == 1:
        return runs[0] / "figures"
    return Path(os.path.relpath(os.path.commonpath([r.resolve() for r in runs]))) / "figures"


def cmd_reproduce(args: argparse.Namespace) -> None:
    from drlim.report import make_figures, norb_data_figure, update_readme
    from drlim.runs import run_experiment

    runs = Path(args.runs)
    experiments = load_experiments()
    unknown = sorted(set(args.only or ()) - set(experiments))
    if unknown:
        raise UsageError(f"argument --only: must name experiments of {', '.join(experiments)}, "
                         f"got {', '.join(unknown)}")
    run_dirs = []
    started = time.perf_counter()
    for index, name in enumerate(experiments, 1):
        if args.only and name not in args.only:
            continue
        config = experiment_config(name, args.quick, seed=args.seed)
        print(f"[{index}/{len(experiments)}] {name} ...", flush=True)
        with claim_run_dir(runs / name, overwrite=True):
            result = run_experiment(config, runs / name, progress=False)
        print(f"[{index}/{len(experiments)}] "
              f"{run_summary(config, result, runs / name, result['seconds'])}", flush=True)
        run_dirs.append(runs / name)
    print(f"drawing figures into {Path(args.out).resolve()}", flush=True)
    written = make_figures(run_dirs, Path(args.out))
    written.append(norb_data_figure(Path(args.out)))
    table = (Path(args.out) / "results.md").read_text()
    partial = [flag for flag, used in (("--quick", args.quick), ("--only", args.only),
                                       ("--seed", args.seed != 0)) if used]
    if partial:
        print(f"left the results table in {args.readme} as it is (it holds the full run at "
              f"seed 0; this run used {', '.join(partial)})")
    elif update_readme(Path(args.readme), table):
        print(f"updated the results table in {args.readme}")
    print(f"wrote {len(written)} files to {args.out} in {time.perf_counter() - started:.0f} s")


def compare_config(quick: bool = False, directory: Path | None = None,
                   name: str | None = None) -> CompareConfig:
    """The comparison's configuration: ``CONFIG`` of ``experiments/compare.py`` (of
    ``experiments/compare_NAME.py`` for the set ``name``).

    With ``quick``, the file's ``QUICK`` if it has one, else :data:`drlim.compare.QUICK`.
    """
    from drlim import compare

    path = (directory or experiments_dir()) / (f"compare_{name.replace('-', '_')}.py"
                                               if name else COMPARE_FILE)
    if not path.is_file():
        sets = sorted(p.stem.removeprefix("compare_").replace("_", "-")
                      for p in path.parent.glob("compare_*.py"))
        raise UsageError(f"argument --set: must name a comparison set of {path.parent} "
                         f"({', '.join(sets) or 'none'}), got no {path.name}")
    module = _load_file(path)
    config = getattr(module, "QUICK", compare.QUICK) if quick else getattr(module, "CONFIG", None)
    if not isinstance(config, compare.CompareConfig):
        raise ValueError(f"{path} must define CONFIG = CompareConfig(...), got {config!r}")
    return config


def cmd_compare(args: argparse.Namespace) -> None:
    """Run the comparison's runs into ``RUNS/compare`` (with ``--resume``, only those an
    earlier run did not finish; with ``--rescore``, score its saved runs again without
    fitting), then draw its report into ``--out``."""
    from drlim.compare import RUN_NAME, rescore_comparison, run_comparison
    from drlim.report import write_report

    suffix = f"_{args.set}" if args.set else ""
    run_dir = Path(args.runs) / f"{RUN_NAME}{suffix}"
    if args.rescore:
        if args.quick:
            raise UsageError("--rescore scores the saved runs as they are, so --quick has no "
                             "meaning with it")
        if not (run_dir / "results.json").is_file():
            raise UsageError(f"--rescore needs a saved comparison, got no {run_dir}/results.json")
        if args.resume:
            raise UsageError("--rescore fits nothing, so --resume has no meaning with it")
    with locked(run_dir, "--runs"):
        if args.rescore:
            result = rescore_comparison(run_dir)
        else:
            result = run_comparison(compare_config(args.quick, name=args.set), run_dir,
                                    resume=args.resume)
    for path in write_report(result, run_dir, Path(args.out), stem=f"comparison{suffix}"):
        print(path)


FIELD_DEFAULTS = overridable_fields(ExperimentConfig("experiment"))


def _add_field_options(run: argparse.ArgumentParser) -> None:
    """One ``--FIELD VALUE`` option per config field, its default shown."""
    group = run.add_argument_group(
        "config fields", "override any field of the experiment file (its value is the default; "
        "the field's own default is shown); lists are comma-separated, joined by '=' when "
        "they start with '-': --shifts=-6,6")
    for name, default in FIELD_DEFAULTS.items():
        is_list = isinstance(default, tuple)
        kind = type(default[0] if is_list and default else "" if is_list else default).__name__
        metavar = f"{kind.upper()}[,...]" if is_list else kind.upper()
        shown = ",".join(map(str, default)) if is_list else str(default)
        flags = {f"--{name}", f"--{name.replace('_', '-')}"}
        group.add_argument(*sorted(flags), dest=name, metavar=metavar,
                           help=f"(default {shown or 'empty'})")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="drlim", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    debug = OneLineParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the experiments, one line each",
                   parents=[debug]).set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="run one experiment; any config field: --FIELD VALUE",
                         parents=[debug])
    run.add_argument("experiment")
    run.add_argument("--out", help="run directory (default runs/EXPERIMENT)")
    run.add_argument("--quick", action="store_true", help="a small, fast version")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the run in --out from its last checkpoint")
    mode.add_argument("--overwrite", action="store_true",
                      help="delete what --out holds, then run")
    _add_field_options(run)
    run.set_defaults(func=cmd_run)

    figs = sub.add_parser("figures", help="figures from saved run directories (no training)",
                          parents=[debug])
    figs.add_argument("run_dirs", nargs="+")
    figs.add_argument("--out", help="where to write (default RUN_DIR/figures for one run, "
                                    "else figures/ beside the runs; printed)")
    figs.set_defaults(func=cmd_figures)

    rep = sub.add_parser("reproduce", help="every experiment, then every figure and a summary",
                         parents=[debug])
    rep.add_argument("--quick", action="store_true")
    rep.add_argument("--out", default="figures")
    rep.add_argument("--runs", default="runs")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--only", nargs="*", help="run only these experiments")
    rep.add_argument("--readme", default="README.md",
                     help="README whose results table a full run at seed 0 refreshes")
    rep.set_defaults(func=cmd_reproduce)

    cmp = sub.add_parser("compare", help="DrLIM against PCA, Isomap, LLE, spectral and t-SNE",
                         parents=[debug])
    cmp.add_argument("--quick", action="store_true")
    cmp.add_argument("--out", default="figures")
    cmp.add_argument("--runs", default="runs", help="embeddings go to RUNS/compare[_SET]")
    cmp.add_argument("--set", help="another set of runs: experiments/compare_SET.py, "
                                   "written as comparison_SET.*")
    cmp.add_argument("--rescore", action="store_true",
                     help="fit nothing: score the saved runs again with today's metrics")
    cmp.add_argument("--resume", action="store_true",
                     help="read back the rows an earlier run of the same settings finished "
                          "in RUNS/compare[_SET]; fit the rest")
    cmp.set_defaults(func=cmd_compare)
    return parser


def _prepare_output(command: str) -> None:
    """Stage messages on stderr; the non-interactive matplotlib backend for drawing."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    if command != "list":
        import matplotlib

        matplotlib.use("Agg")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    _prepare_output(args.command)
    try:
        args.func(args)
    except UsageError as error:
        if args.debug:
            raise
        parser.exit(2, f"drlim {args.command}: error: {error}\n")
    except KeyboardInterrupt:
        if args.debug:
            raise
        parser.exit(130, f"drlim {args.command}: interrupted\n")
    except Exception as error:
        if args.debug:
            raise
        parser.exit(1, f"drlim {args.command}: error: {type(error).__name__}: {error}\n")


if __name__ == "__main__":
    main(sys.argv[1:])


__all__ = [
    "OneLineParser",
    "UsageError",
    "build_parser",
    "check_same_config",
    "claim_run_dir",
    "cmd_compare",
    "cmd_figures",
    "cmd_list",
    "cmd_reproduce",
    "cmd_run",
    "compare_config",
    "default_figures_dir",
    "experiment_config",
    "experiments_dir",
    "load_experiments",
    "main",
    "run_summary",
]
