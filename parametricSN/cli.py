"""Command line: ``psn train``, ``psn deform`` and ``psn config show`` (also ``python -m parametricSN ...``).

    psn train -c conf/cifar.yaml scattering.J=3 train.epochs=10
    psn train -c conf/cifar.yaml --seeds 0,1,2 train.epochs=10     # three seeds packed as one model
    psn deform RUN_ID tight-frame --num-images 100
    psn config show -c conf/cifar.yaml scattering.J=3
    psn sweep experiments/cifar10-linear.yaml --dry-run      (see parametricSN/sweeps/cli.py)
    psn report --experiment cifar10-linear

Errors the user can fix print one line on stderr, without a traceback: a config error exits with status 2;
a missing or malformed dataset or checkpoint exits with status 1.
"""
from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from typing import Optional, Sequence

from parametricSN.config import Config, ConfigError, load_config
from parametricSN.data import DatasetError
from parametricSN.deformation import cli as deform_cli
from parametricSN.sweeps.cli import add_subcommands as add_sweep_subcommands
from parametricSN.tracking import MlflowLogger
from parametricSN.training import CheckpointError, train, train_pack


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", required=True, help="YAML config file (see conf/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. scattering.J=3")


def _cmd_config_show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    print(cfg.to_yaml(), end="")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's time limit, ``kill``) as an exception, so that the run is closed as KILLED in
    MLflow instead of being left RUNNING."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"terminated by signal {signum}")


def _cmd_train(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        if args.seeds:
            return _train_seeds(cfg, args.seeds)
        result = train(cfg, MlflowLogger.from_config(cfg))
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    print(f"run_id: {result.run_id}")
    print(f"test_acc: {result.test_acc:.2f}")
    return 0


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 0,1,2, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct, got {text!r}")
    return seeds


def _train_seeds(cfg: Config, seeds: list[int]) -> int:
    """``--seeds``: the config once per seed, trained as one pack; prints a YAML list of seed, run_id, test_acc."""
    cfgs = [dataclasses.replace(cfg, general=dataclasses.replace(cfg.general, seed=s)) for s in seeds]
    for seed, result in zip(seeds, train_pack(cfgs, [MlflowLogger.from_config(c) for c in cfgs])):
        print(f"- seed: {seed}\n  run_id: {result.run_id}\n  test_acc: {result.test_acc:.2f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="psn", description="Learnable parametric scattering networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train one configuration and log it to MLflow",
                             description="Train and test the model a config describes; prints the MLflow run "
                                         "id and the final test accuracy (in %).")
    _add_config_args(p_train)
    p_train.add_argument("--seeds", type=_seed_list, default=None, metavar="S1,S2,...",
                         help="train the config once per seed, all seeds packed as one model (see train_pack)")
    p_train.set_defaults(func=_cmd_train)
    p_cfg = sub.add_parser("config", help="inspect configs")
    cfg_sub = p_cfg.add_subparsers(dest="config_command", required=True)
    p_show = cfg_sub.add_parser("show", help="print the resolved config (file + overrides + defaults)")
    _add_config_args(p_show)
    p_show.set_defaults(func=_cmd_config_show)
    add_sweep_subcommands(sub)
    deform_cli.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, CheckpointError) as exc:  # before ConfigError: DatasetError is one of its subclasses
        print(f"psn: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"psn: config error: {exc}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"psn: {exc}; the MLflow run is marked KILLED", file=sys.stderr)
        return 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main())
