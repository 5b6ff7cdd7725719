"""Command line: ``psn config show``.

Config errors print one line, without a traceback, and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from parametricSN.config import ConfigError, load_config


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", required=True, help="YAML config file (see conf/)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. scattering.J=3")


def _cmd_config_show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    print(cfg.to_yaml(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="psn", description="Learnable parametric scattering networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_cfg = sub.add_parser("config", help="inspect configs")
    cfg_sub = p_cfg.add_subparsers(dest="config_command", required=True)
    p_show = cfg_sub.add_parser("show", help="print the resolved config (file + overrides + defaults)")
    _add_config_args(p_show)
    p_show.set_defaults(func=_cmd_config_show)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"psn: config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
