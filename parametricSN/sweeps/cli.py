"""The ``psn sweep`` and ``psn report`` subcommands (registered by :func:`add_subcommands`).

psn sweep experiments/cifar10-linear.yaml --dry-run
psn sweep experiments/cifar10-linear.yaml --workers 2 --only dataset.train_sample_num=100,500 --seeds 3
psn sweep experiments/cifar10-linear.yaml --status
psn sweep experiments/cifar10-linear.yaml --launcher ray --address auto --gpus-per-run 0.25
psn report --experiment cifar10-linear --plot cifar10-linear.png --figures figures/
psn tune experiments/cifar10-100sample-search.yaml --gpus-per-trial 0.25
"""

from __future__ import annotations

import argparse
import sys

from parametricSN.commands import absolute_uri, sweep_command
from parametricSN.config import parse_override
from parametricSN.sweeps.launch import LaunchOptions
from parametricSN.sweeps.launchers import make_launcher
from parametricSN.sweeps.options import DEFAULT_TIMEOUT
from parametricSN.sweeps.spec import Cell, SpecError, load_spec, param_text, same_value


def _values(text: str) -> list[str]:
    """``a,b,[1,2]`` -> ``["a", "b", "[1,2]"]``: commas split, except inside brackets, braces and quotes."""
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    return parts + [current]


def _select(cells: list[Cell], only: list[str], spec_path: str) -> list[Cell]:
    """Keep the cells whose resolved config has, for every ``key=a,b,...`` of ``only``, one of the values."""
    for text in only:
        key, _ = parse_override(text)
        values = [parse_override(f"{key}={v}")[1] for v in _values(text.partition("=")[2])]
        if cells and key not in cells[0].config.flat():
            raise SpecError(f"{spec_path}: --only {text}: unknown config key {key!r}")
        kept = [c for c in cells if any(same_value(param_text(c.config.flat()[key]), v) for v in values)]
        if cells and not kept:
            has = dict.fromkeys(param_text(c.config.flat()[key]) for c in cells)
            raise SpecError(f"{spec_path}: --only {text}: no cell has that value; {key} is {', '.join(has)} here")
        cells = kept
    return cells


def _first_seeds(cells: list[Cell], k: int) -> list[Cell]:
    """The cells whose seed is one of the first ``k`` values of general.seed (in spec order)."""
    seeds: list[int] = []
    for c in cells:
        if c.seed not in seeds:
            seeds.append(c.seed)
    keep = set(seeds[:k])
    return [c for c in cells if c.seed in keep]


def again_command(args: argparse.Namespace) -> str:
    """The ``psn sweep`` command line of ``args`` (the options that differ from their defaults, the spec and the
    store made absolute: it works from any folder), to continue."""
    options: list[str] = []
    for action in args._parser._actions:
        if not action.option_strings or action.dest in ("help", "status", "dry_run", "tracking_uri"):
            continue
        value = getattr(args, action.dest, None)
        if value == action.default:
            continue
        flag = action.option_strings[-1]
        if isinstance(value, list):
            options += [x for v in value for x in (flag, str(v))]
        elif value is True:
            options.append(flag)
        else:
            options += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return sweep_command(args.spec, args.tracking_uri, args.overrides, options)


def _cmd_sweep(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    extra = list(args.overrides) + ([f"mlflow.tracking_uri={args.tracking_uri}"] if args.tracking_uri else [])
    cells = _select(spec.cells(extra), args.only, args.spec)  # imports general.plugins: a launcher may register
    options = LaunchOptions(args.workers, args.threads_per_run, args.address, args.cpus_per_run, args.gpus_per_run)
    launcher = make_launcher(args.launcher, options)  # an option it does not read is an error before anything runs
    if args.seeds is not None:
        cells = _first_seeds(cells, args.seeds)
    if args.dry_run:
        if spec.overrides or extra:
            print(f"every run: {' '.join(spec.overrides + extra)}")
        fixed = len(spec.overrides)
        for c in cells:
            print(f"{c.index + 1:5d}  {c.hash}  {' '.join(c.overrides[fixed:])}")
        print(f"{len(cells)} runs ({spec.name})")
        return 0
    if args.status:
        from parametricSN.sweeps.status import print_status

        uri = absolute_uri(cells[0].config.mlflow.tracking_uri if cells else args.tracking_uri)
        return print_status(spec, cells, uri, launcher.slots(), args.heartbeat_timeout, sys.stdout)
    from parametricSN.sweeps.runner import run_sweep

    if not cells:
        print(f"{spec.name}: no run selected", file=sys.stderr)
        return 0
    return run_sweep(
        spec,
        cells,
        launcher=launcher,
        pack=args.pack,
        heartbeat_timeout=args.heartbeat_timeout,
        status_every=args.status_every,
        again=again_command(args),
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from parametricSN.sweeps.tables import report

    print(
        report(
            args.experiment,
            args.tracking_uri,
            args.format,
            args.by or None,
            args.plot,
            args.spec,
            log=args.log,
            figures_dir=args.figures,
        ),
        end="",
    )
    return 0


def _positive(kind: type, least: float = 0):
    """An argparse type: ``kind(text)``, at least ``least``."""

    def parse(text: str):
        value = kind(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a value >= {least:g}, got {text}")
        return value

    return parse


def intermixed(parser: argparse.ArgumentParser) -> None:
    """Let ``parser`` take its options and positionals in any order (``SPEC --only k=v key=value``)."""
    base = type(parser)

    class Intermixed(base):  # type: ignore[misc, valid-type]
        _inside = False

        def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
            if self._inside:  # parse_known_intermixed_args calls parse_known_args itself
                return super().parse_known_args(args, namespace)
            self._inside = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._inside = False

    parser.__class__ = Intermixed


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``report`` to the ``psn`` subcommand parser ``sub``."""
    p = sub.add_parser(
        "sweep",
        help="run an experiment family (a sweep spec from experiments/)",
        description="Expand a sweep spec into runs and train those without a FINISHED run; "
        "rerun the same command to continue an interrupted sweep.",
    )
    p.add_argument("spec", help="sweep spec YAML (see experiments/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides applied to every run")
    p.add_argument("--dry-run", action="store_true", help="print every run (its overrides) and the count")
    p.add_argument(
        "--launcher",
        default="local",
        metavar="NAME",
        help="where the runs execute: local (worker processes on this machine, the default), ray (Ray tasks), or "
        "a launcher that a plugin in general.plugins registers",
    )
    p.add_argument(
        "--workers",
        type=_positive(int, 1),
        default=1,
        help="local: worker processes, each training run after run (default 1)",
    )
    p.add_argument("--address", default=None, help="ray: auto or ray://host:port (default: a local Ray)")
    p.add_argument(
        "--cpus-per-run", type=_positive(float), default=1.0, help="ray: CPUs reserved per run (its torch threads)"
    )
    p.add_argument("--gpus-per-run", type=_positive(float), default=0.0, help="ray: GPUs per run (0.25: 4 share)")
    p.add_argument(
        "--pack",
        type=_positive(int, 1),
        default=1,
        metavar="N",
        help="train up to N cells that differ only in their seed as one packed model (default 1: none)",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="key=a,b",
        help="run only the cells whose key is one of the values (repeat for more keys)",
    )
    p.add_argument(
        "--seeds", type=_positive(int, 1), default=None, metavar="K", help="run only the first K values of general.seed"
    )
    p.add_argument("--tracking-uri", default=None, help="MLflow store or server for every run")
    p.add_argument(
        "--threads-per-run",
        type=_positive(int),
        default=None,
        metavar="N",
        help="local: torch threads per run (default: the cores divided among the workers)",
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=_positive(float),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"a RUNNING run silent this long is dead: closed FAILED and its cell run again from its "
        f"last checkpoint (default {DEFAULT_TIMEOUT:g}; runs beat every 30 s)",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="print each cell's state and the totals, then exit (reads the store, never creates it)",
    )
    p.add_argument(
        "--status-every",
        type=_positive(float),
        default=300.0,
        metavar="SECONDS",
        help="print the totals while running every SECONDS (default 300; 0: never)",
    )
    p.set_defaults(func=_cmd_sweep, _parser=p)
    intermixed(p)

    r = sub.add_parser("report", help="mean ± std per cell of an experiment, beside the published numbers")
    r.add_argument("--experiment", required=True, help="MLflow experiment name (a spec's name:)")
    r.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/store.db")
    r.add_argument("--format", choices=("markdown", "csv"), default="markdown")
    r.add_argument(
        "--by",
        nargs="+",
        default=[],
        metavar="key",
        help="group by these keys (default: every varying key but the seed)",
    )
    r.add_argument("--plot", default=None, metavar="FILE.png", help="accuracy vs training-set size, as PNG")
    r.add_argument(
        "--figures",
        default=None,
        metavar="DIR",
        help="write every figure of the report into DIR (PNG): accuracy vs training-set size, and the mean test "
        "accuracy over epochs per cell with its seed spread",
    )
    r.add_argument(
        "--spec",
        default=None,
        help="read published numbers from this spec (default: the ones the sweep stored with the experiment)",
    )
    r.add_argument(
        "--log",
        action="store_true",
        help="also store the report as the experiment's summary run (replacing the previous one)",
    )
    r.add_argument("--no-log", action="store_false", dest="log", help=argparse.SUPPRESS)  # the old default's opt-out
    r.set_defaults(func=_cmd_report)
    add_tune_subcommand(sub)


def _cmd_tune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from parametricSN.sweeps.tune import plan_search, run_search

    plan = plan_search(load_spec(args.spec), args.tracking_uri, args.trials, args.cpus_per_trial)
    return run_search(
        plan,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        output=Path(args.output),
    )


def add_tune_subcommand(sub: argparse._SubParsersAction) -> None:
    """Add ``tune`` (a spec's ``search:`` on Ray Tune, see :mod:`parametricSN.sweeps.tune`)."""
    t = sub.add_parser(
        "tune",
        help="search a spec's search: space on a validation split (Ray Tune)",
        description="Sample configs from the spec's search: section, train each on the training "
        "subset and score it on the validation split (never the test split), stopping "
        "poor ones early (ASHA); print the top 5 and write DIR/best.yaml for psn sweep. "
        "Rerun the same command to continue an interrupted search.",
    )
    t.add_argument("spec", help="sweep spec YAML with a search: section")
    t.add_argument("--trials", type=_positive(int), default=None, help="configs to try (default: search.trials)")
    t.add_argument("--address", default=None, help="auto or ray://host:port (default: a local Ray)")
    t.add_argument(
        "--cpus-per-trial",
        type=_positive(float),
        default=1.0,
        help="CPUs reserved per trial; also its torch threads (default 1)",
    )
    t.add_argument("--gpus-per-trial", type=_positive(float), default=0.0, help="GPUs per trial (0.25: 4 share)")
    t.add_argument("--tracking-uri", default=None, help="MLflow store or server for every trial")
    t.add_argument(
        "--output",
        default=".",
        metavar="DIR",
        help="where best.yaml, best-trial.yaml and the search state (.psn-tune/) go (default: .)",
    )
    t.set_defaults(func=_cmd_tune)
