"""Start-up benchmark: wall time of whole ``psn`` processes (median of ``--repeat`` runs, default 5).

What a user (and every sweep worker and test subprocess) pays before any work starts:

- ``psn --help`` and each subcommand's ``--help`` (targets: < 1 s; they import neither torch, torchvision,
  mlflow nor ray);
- ``psn config show -c conf/cifar.yaml`` (target < 2 s; no torch);
- ``python -c "import parametricSN"`` (target < 2 s);
- ``psn train`` of a tiny one-epoch run (Fashion-MNIST, 100 training and 100 test images, linear head, a fresh
  SQLite store in a temporary folder): the time from the command to its first epoch, plus that epoch.

For each command it also reports which heavy modules the process imported (``-X importtime`` of one extra run).

    python benchmarks/startup.py [--repeat 5] [--out FILE.json]

The training row needs Fashion-MNIST (Debian's ``dataset-fashion-mnist`` under /usr/share/datasets/fashion-mnist,
or ``--fmnist-root``); without it that row is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "mlflow", "ray", "torch._dynamo")
PSN = [sys.executable, "-m", "parametricSN"]
FMNIST = Path("/usr/share/datasets/fashion-mnist")


def commands(fmnist_root: Path, store: Path) -> dict[str, list[str]]:
    cmds = {
        "psn --help": [*PSN, "--help"],
        "psn train --help": [*PSN, "train", "--help"],
        "psn sweep --help": [*PSN, "sweep", "--help"],
        "psn report --help": [*PSN, "report", "--help"],
        "psn deform --help": [*PSN, "deform", "--help"],
        "psn config show -c conf/cifar.yaml": [*PSN, "config", "show", "-c", str(ROOT / "conf" / "cifar.yaml")],
        "import parametricSN": [sys.executable, "-c", "import parametricSN"],
    }
    if fmnist_root.is_dir():
        cmds["psn train (tiny, 1 epoch)"] = [
            *PSN,
            "train",
            "-c",
            str(ROOT / "conf" / "fashion_mnist.yaml"),
            "--quiet",
            f"dataset.root={fmnist_root}",
            "dataset.train_sample_num=100",
            "dataset.test_sample_num=100",
            "train.epochs=1",
            "viz.figures=false",
            "train.save_model=false",
            f"mlflow.tracking_uri=sqlite:///{store}",
        ]
    return cmds


def run_once(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed


def heavy_imports(cmd: list[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level modules one run of ``cmd`` imports (from ``-X importtime``)."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=ROOT, env=env, capture_output=True, text=True)
    names = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return [m for m in HEAVY if m in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fmnist-root", type=Path, default=FMNIST)
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="psn-startup-") as tmp:
        for name, cmd in commands(args.fmnist_root, Path(tmp) / "store.db").items():
            times = [run_once(cmd, env) for _ in range(args.repeat)]
            rows.append(
                {
                    "command": name,
                    "median_s": statistics.median(times),
                    "min_s": min(times),
                    "heavy_imports": heavy_imports(cmd, env),
                }
            )
            print(
                f"{name:38s} {rows[-1]['median_s']:6.2f} s (min {rows[-1]['min_s']:.2f})  "
                f"imports: {', '.join(rows[-1]['heavy_imports']) or '-'}",
                flush=True,
            )
    if args.out:
        args.out.write_text(
            json.dumps(
                {"machine": platform.platform(), "cpus": os.cpu_count(), "repeat": args.repeat, "rows": rows}, indent=2
            )
        )


if __name__ == "__main__":
    main()
