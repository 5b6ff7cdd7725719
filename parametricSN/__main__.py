from parametricSN.cli import run

raise SystemExit(run())
