"""The ``psn sweep`` and ``psn report`` subcommands (registered by :func:`add_subcommands`).

    psn sweep experiments/cifar10-linear.yaml --dry-run
    psn sweep experiments/cifar10-linear.yaml --workers 2 --only dataset.train_sample_num=100
    psn sweep experiments/cifar10-linear.yaml --launcher ray --address auto --gpus-per-run 0.25
    psn report --experiment cifar10-linear --plot cifar10-linear.png
    psn tune experiments/cifar10-100sample-search.yaml --gpus-per-trial 0.25
"""
from __future__ import annotations

import argparse
import sys

from parametricSN.config import parse_override
from parametricSN.sweeps.spec import Cell, SpecError, load_spec, param_text, same_value


def _select(cells: list[Cell], only: list[str], spec_path: str) -> list[Cell]:
    """Keep the cells whose resolved config has every ``key=value`` of ``only``."""
    for text in only:
        key, value = parse_override(text)
        if cells and key not in cells[0].config.flat():
            raise SpecError(f"{spec_path}: --only {text}: unknown config key {key!r}")
        cells = [c for c in cells if same_value(param_text(c.config.flat()[key]), value)]
    return cells


def _cmd_sweep(args: argparse.Namespace) -> int:
    if args.launcher != "ray" and (args.address or args.gpus_per_run):
        raise SpecError("--address and --gpus-per-run are for --launcher ray")
    spec = load_spec(args.spec)
    extra = list(args.overrides) + ([f"mlflow.tracking_uri={args.tracking_uri}"] if args.tracking_uri else [])
    cells = _select(spec.cells(extra), args.only, args.spec)
    if args.dry_run:
        if spec.overrides:
            print(f"every run: {' '.join(spec.overrides + extra)}")
        fixed = len(spec.overrides)
        for c in cells:
            print(f"{c.index + 1:5d}  {c.hash}  {' '.join(c.overrides[fixed:])}")
        print(f"{len(cells)} runs ({spec.name})")
        return 0
    from parametricSN.sweeps.runner import run_sweep

    if not cells:
        print(f"{spec.name}: no run selected", file=sys.stderr)
        return 0
    try:
        return run_sweep(spec, cells, launcher=args.launcher, workers=args.workers, address=args.address,
                         cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run, pack=args.pack)
    except KeyboardInterrupt:  # the workers got the same Ctrl-C: their runs are closed KILLED
        print(f"psn: sweep {spec.name} interrupted; run the same command again to continue (finished runs are "
              f"kept and skipped)", file=sys.stderr)
        return 130


def _cmd_report(args: argparse.Namespace) -> int:
    from parametricSN.sweeps.report import report

    print(report(args.experiment, args.tracking_uri, args.format, args.by or None, args.plot, args.spec,
                 log=args.log), end="")
    return 0


def _positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected a value >= 0, got {text}")
        return value
    return parse


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``report`` to the ``psn`` subcommand parser ``sub``."""
    p = sub.add_parser("sweep", help="run an experiment family (a sweep spec from experiments/)",
                       description="Expand a sweep spec into runs and train those without a FINISHED run; "
                                   "rerun the same command to continue an interrupted sweep.")
    p.add_argument("spec", help="sweep spec YAML (see experiments/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides applied to every run")
    p.add_argument("--dry-run", action="store_true", help="print every run (its overrides) and the count")
    p.add_argument("--launcher", choices=("local", "ray"), default="local")
    p.add_argument("--workers", type=_positive(int), default=1, help="local: runs at a time (default 1)")
    p.add_argument("--address", default=None, help="ray: auto or ray://host:port (default: a local Ray)")
    p.add_argument("--cpus-per-run", type=_positive(float), default=1.0, help="ray: CPUs reserved per run")
    p.add_argument("--gpus-per-run", type=_positive(float), default=0.0, help="ray: GPUs per run (0.25: 4 share)")
    p.add_argument("--pack", type=_positive(int), default=1, metavar="N",
                   help="train up to N cells that differ only in their seed as one packed model (default 1: none)")
    p.add_argument("--only", action="append", default=[], metavar="key=value", help="run only matching cells")
    p.add_argument("--tracking-uri", default=None, help="MLflow store or server for every run")
    p.set_defaults(func=_cmd_sweep)

    r = sub.add_parser("report", help="mean ± std per cell of an experiment, beside the published numbers")
    r.add_argument("--experiment", required=True, help="MLflow experiment name (a spec's name:)")
    r.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/store.db")
    r.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    r.add_argument("--by", nargs="+", default=[], metavar="key", help="group by these keys (default: every "
                                                                       "varying key but the seed)")
    r.add_argument("--plot", default=None, metavar="FILE.png", help="accuracy vs training-set size, as PNG")
    r.add_argument("--spec", default=None, help="read published numbers from this spec (default: the ones the "
                                                "sweep stored with the experiment)")
    r.add_argument("--log", action="store_true", help="also store the report as the experiment's summary run "
                                                      "(replacing the previous one)")
    r.add_argument("--no-log", action="store_false", dest="log", help=argparse.SUPPRESS)  # the old default's opt-out
    r.set_defaults(func=_cmd_report)
    add_tune_subcommand(sub)


def _cmd_tune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from parametricSN.sweeps.tune import plan_search, run_search

    plan = plan_search(load_spec(args.spec), args.tracking_uri, args.trials, args.cpus_per_trial)
    return run_search(plan, address=args.address, cpus_per_trial=args.cpus_per_trial,
                      gpus_per_trial=args.gpus_per_trial, output=Path(args.output))


def add_tune_subcommand(sub: argparse._SubParsersAction) -> None:
    """Add ``tune`` (a spec's ``search:`` on Ray Tune, see :mod:`parametricSN.sweeps.tune`)."""
    t = sub.add_parser("tune", help="search a spec's search: space on a validation split (Ray Tune)",
                       description="Sample configs from the spec's search: section, train each on the training "
                                   "subset and score it on the validation split (never the test split), stopping "
                                   "poor ones early (ASHA); print the top 5 and write DIR/best.yaml for psn sweep. "
                                   "Rerun the same command to continue an interrupted search.")
    t.add_argument("spec", help="sweep spec YAML with a search: section")
    t.add_argument("--trials", type=_positive(int), default=None, help="configs to try (default: search.trials)")
    t.add_argument("--address", default=None, help="auto or ray://host:port (default: a local Ray)")
    t.add_argument("--cpus-per-trial", type=_positive(float), default=1.0,
                   help="CPUs reserved per trial; also its torch threads (default 1)")
    t.add_argument("--gpus-per-trial", type=_positive(float), default=0.0, help="GPUs per trial (0.25: 4 share)")
    t.add_argument("--tracking-uri", default=None, help="MLflow store or server for every trial")
    t.add_argument("--output", default=".", metavar="DIR", help="where best.yaml, best-trial.yaml and the search "
                                                                "state (.psn-tune/) go (default: .)")
    t.set_defaults(func=_cmd_tune)
