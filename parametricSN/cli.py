"""Command line: ``psn train``, ``psn deform`` and ``psn config show`` (also ``python -m parametricSN ...``).

    psn train -c conf/cifar.yaml scattering.J=3 train.epochs=10
    psn train --resume RUN_ID [train.epochs=20]
    psn train --resume RUN_ID --checkpoint PATH      # from a local checkpoint (its tracking server was away)
    psn train -c conf/cifar.yaml --seeds 0,1,2 train.epochs=10     # three seeds packed as one model
    psn train --resume RUN_ID                  # a pack member's id resumes the whole pack
    psn deform RUN_ID tight-frame --num-images 100
    psn config show -c conf/cifar.yaml scattering.J=3
    psn sweep experiments/cifar10-linear.yaml --dry-run      (see parametricSN/sweeps/cli.py)
    psn report --experiment cifar10-linear

Errors the user can fix print one line on stderr, without a traceback: a config error exits with status 2;
a missing or malformed dataset or checkpoint, an unusable tracking store (a server away past
``mlflow.outage_limit``, a full disk) and a diverged run exit with status 1.
SIGINT (Ctrl-C) and SIGTERM finish the current epoch, checkpoint it, and print one line with the run id and
the command that resumes it (status 128 + the signal number). Warnings print as ``psn: warning: ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Optional

from parametricSN.allocator import fast_exit, retain_freed_memory
from parametricSN.config import ConfigError, load_config
from parametricSN.deformation import cli as deform_cli
from parametricSN.sweeps.cli import add_subcommands as add_sweep_subcommands
from parametricSN.sweeps.cli import intermixed

# Building the parser and loading a config import neither torch nor MLflow (``psn --help`` answers at once); each
# command imports what it uses when it runs.


def _add_config_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("-c", "--config", required=required, help="YAML config file (see conf/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. scattering.J=3")


def _cmd_config_show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    print(cfg.to_yaml(), end="")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    if args.resume and args.config:
        raise ConfigError(
            "--resume continues a run with its own config; leave -c out (give only the keys "
            "that may change, e.g. train.epochs=20)"
        )
    if not args.resume and not args.config:
        raise ConfigError("psn train needs -c CONFIG (a new run) or --resume RUN_ID")
    if args.checkpoint and not args.resume:
        raise ConfigError("--checkpoint is a local checkpoint of the run given with --resume RUN_ID")
    from parametricSN.commands import resume_command
    from parametricSN.tracking import MlflowLogger, prepare_resume_runs
    from parametricSN.tracking.describe import config_description
    from parametricSN.tracking.resume import Delivered
    from parametricSN.training import train, train_pack
    from parametricSN.training.interrupt import RunInterrupted, Terminated, graceful_stop
    from parametricSN.training.progress import with_progress

    with graceful_stop():
        if args.resume:  # a pack member's id resumes its whole pack
            try:
                cfgs, state, loggers = prepare_resume_runs(args.resume, args.overrides, args.checkpoint)
            except Delivered as done:
                print(f"psn: {done}", file=sys.stderr)
                return 0
            pack = "members" in state
            seeds = [c.general.seed for c in cfgs]
            if args.seeds and args.seeds != seeds:
                raise ConfigError(
                    f"--seeds: run {args.resume} continues the seeds {','.join(map(str, seeds))}; leave --seeds out"
                )
        else:
            cfg, state, pack = load_config(args.config, args.overrides), None, bool(args.seeds)
            cfgs = (
                [dataclasses.replace(cfg, general=dataclasses.replace(cfg.general, seed=s)) for s in args.seeds]
                if pack
                else [cfg]
            )
            about = config_description(args.config)  # the config file's header comment: its experiment's
            loggers = [MlflowLogger.from_config(c, experiment_description=about) for c in cfgs]
        try:
            loggers = with_progress(loggers, quiet=args.quiet)
            results = train_pack(cfgs, loggers, resume=state) if pack else [train(cfgs[0], loggers[0], resume=state)]
        except (RunInterrupted, Terminated) as exc:
            exc.resume = resume_command(exc.run_id, loggers[0].tracking_uri)  # type: ignore[union-attr]
            raise
    if not pack:
        print(f"run_id: {results[0].run_id}")
        print(f"test_acc: {results[0].test_acc:.2f}")
    for cfg, result in zip(cfgs, results) if pack else ():  # a YAML list: seed, run_id, test_acc
        print(f"- seed: {cfg.general.seed}\n  run_id: {result.run_id}\n  test_acc: {result.test_acc:.2f}")
    return 0


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 0,1,2, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct, got {text!r}")
    return seeds


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.exit(_error(f"{self.prog}: error: {message} (see {self.prog} --help)", 2))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="psn", description="Learnable parametric scattering networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser(
        "train",
        help="train one configuration and log it to MLflow",
        description="Train and test the model a config describes; prints the MLflow run "
        "id and the final test accuracy (in %).",
    )
    _add_config_args(p_train, required=False)
    p_train.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue this run from its last checkpoint (keys "
        "that cannot change the results, e.g. train.epochs=20, may be given)",
    )
    p_train.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="with --resume: continue from this local checkpoint file (the one psn names when a run stops "
        "because its tracking server is away) instead of the run's newest checkpoint in the store",
    )
    p_train.add_argument(
        "--seeds",
        type=_seed_list,
        default=None,
        metavar="S1,S2,...",
        help="train the config once per seed, all seeds packed as one model (see train_pack)",
    )
    p_train.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only errors and the final line (no "
        "run id line, no progress; see log.every for the progress lines' interval)",
    )
    p_train.set_defaults(func=_cmd_train)
    intermixed(p_train)  # overrides before or after the options, as psn sweep takes them
    p_cfg = sub.add_parser("config", help="inspect configs")
    cfg_sub = p_cfg.add_subparsers(dest="config_command", required=True)
    p_show = cfg_sub.add_parser("show", help="print the resolved config (file + overrides + defaults)")
    _add_config_args(p_show)
    p_show.set_defaults(func=_cmd_config_show)
    intermixed(p_show)
    add_sweep_subcommands(sub)
    deform_cli.add_parser(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"psn: warning: {' '.join(str(message).split())}", file=sys.stderr)


_own_command: list[str] = []  # PSN_COMMAND as this process set it (a later main() in it replaces it)


def _set_command(argv: Optional[Sequence[str]]) -> None:
    """``$PSN_COMMAND``: the command that runs describe (``mlflow.note.content``). A process started by psn (a
    sweep's worker) keeps its parent's: the command a user typed."""
    if os.environ.get("PSN_COMMAND") in (None, *_own_command):
        command = shlex.join(["psn", *(sys.argv[1:] if argv is None else argv)]).replace("\0", "\\0")
        _own_command[:] = [command]
        os.environ["PSN_COMMAND"] = command


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, status 2), --help (status 0)
        return int(exc.code or 0)
    _set_command(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line per event on stderr
    # stdout holds the command's result only (a server's "View run ... at: URL" lines would break its YAML)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            # libraries' deprecation notices (SQLAlchemy inside MLflow, ...) are for developers, not CLI users
            warnings.simplefilter("ignore", DeprecationWarning)
            return args.func(args)
    except BrokenPipeError:  # stdout piped into a reader that stopped (psn sweep --dry-run | head -2)
        return _reader_gone()
    except (Exception, KeyboardInterrupt) as exc:
        status = _report(exc)
        if status is None:
            raise
        return status


def _reader_gone() -> int:
    """End quietly when stdout's reader has gone: stdout goes to /dev/null, so that the interpreter's final flush
    does not fail again; 128 + SIGPIPE, as a process killed by the signal would report."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def _loaded(*names: str) -> tuple[type, ...]:
    """The classes ``module:Class`` of ``names`` whose modules are imported. The error classes of the commands live
    in modules that import torch or MLflow, which ``psn --help`` must not import; an exception of a class whose
    module was never imported cannot have been raised, so the others need not be checked."""
    classes = []
    for name in names:
        module, _, cls = name.partition(":")
        if module in sys.modules:
            classes.append(getattr(sys.modules[module], cls))
    return tuple(classes)


def _report(exc: BaseException) -> Optional[int]:
    """Print the one line that reports ``exc`` and return the exit status; None for an exception that is a bug
    (its traceback is printed)."""
    if isinstance(
        exc,
        _loaded(
            "parametricSN.data.splits:DatasetError",  # before ConfigError: a subclass of it
            "parametricSN.training.checkpoint:CheckpointError",
            "parametricSN.tracking.preflight:TrackingError",
        ),
    ):
        return _error(f"psn: {exc}", 1)
    if isinstance(exc, ConfigError):
        return _error(f"psn: config error: {exc}", 2)
    if isinstance(exc, _loaded("parametricSN.training.divergence:DivergenceError")):
        return _error(f"psn: run {exc.run_id or '(untracked)'} {exc}; the run is marked FAILED", 1)
    if isinstance(
        exc, _loaded("parametricSN.training.interrupt:RunInterrupted", "parametricSN.training.interrupt:Terminated")
    ):
        runs = getattr(exc, "runs", 1)
        if exc.run_id and runs > 1:
            return _error(
                f"psn: pack of {runs} runs (run {exc.run_id} and the others) {exc}; its {runs} runs are "
                f"marked KILLED; resume them with: {getattr(exc, 'resume', '')}",
                128 + exc.signum,
            )
        if exc.run_id:
            return _error(
                f"psn: run {exc.run_id} {exc}; the run is marked KILLED; resume it with: {getattr(exc, 'resume', '')}",
                128 + exc.signum,
            )
        return _error(f"psn: {exc}; no run was started", 128 + exc.signum)
    if isinstance(exc, KeyboardInterrupt):  # before a run existed (config loading, imports)
        return _error("psn: interrupted; no run was started", 128 + signal.SIGINT)
    return None


MAX_ERROR = 1500  # characters: a backstop (values are already cut where they are named, see parametricSN.config.shown)


def _error(text: str, status: int) -> int:
    """Print ``text`` as one line on stderr (whitespace collapsed; past :data:`MAX_ERROR` characters its middle is
    elided, keeping the start, which names what is wrong, and the end, which says what to do); return ``status``."""
    line = " ".join(text.split())
    if len(line) > MAX_ERROR:
        line = f"{line[: MAX_ERROR * 2 // 3]} ... {line[-(MAX_ERROR // 3) :]}"
    print(line, file=sys.stderr, flush=True)
    return status


def run() -> int:
    """The ``psn`` command (and ``python -m parametricSN``): :func:`main`, then a quick exit. The process is psn's,
    so its allocator is tuned here (CPU temporaries reused, not page-faulted in every step); :func:`main` called
    from another program leaves that program's allocator alone."""
    retain_freed_memory()
    return fast_exit(main())


if __name__ == "__main__":
    sys.exit(run())
