"""Ray cluster benchmark: wall time of one ``psn sweep --launcher ray`` and of one ``psn tune --address`` on a
cluster of 1 node against 2 nodes (each a real raylet with ``--cpus`` CPUs, Ray's ``cluster_utils.Cluster``), the
same spec and store type, side by side.

The spec: ``--cells`` seeds of a small Fashion-MNIST cell (500 training images, 28x28, J=2, L=8, linear head,
``--epochs`` epochs), one CPU and one torch thread per run; its search: ``--cells`` trials of ``optim.max_lr``
(random, FIFO: every trial runs every epoch) on 500 validation images. The sweep and the search are separate
processes that join the cluster by address, as on a real cluster; each row is a fresh SQLite store. On a machine with fewer cores than the cluster
has CPUs the two nodes share them, and the ratio says how much of the second node's work the machine could hold.

    python benchmarks/ray_nodes.py [--cells 4] [--epochs 5] [--cpus 1] [--out FILE.json]

Needs Fashion-MNIST (Debian's ``dataset-fashion-mnist`` under /usr/share/datasets/fashion-mnist, or
``--fmnist-root``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FMNIST = Path("/usr/share/datasets/fashion-mnist")
BASE = """dataset: {{name: fashion_mnist, root: {root}, train_sample_num: 500, test_sample_num: 500,
  subset: balanced, augment: noaugment, height: 28, width: 28, train_batch_size: 128}}
scattering: {{J: 2, L: 8}}
model: {{name: linear}}
train: {{epochs: {epochs}, test_every: {epochs}, save_model: false}}
viz: {{figures: false}}
general: {{device: cpu}}
"""


SPEC = """name: nodes
base: base.yaml
overrides: [dataset.val_sample_num=500]
grid:
  general.seed: {seeds}
search:
  metric: val_acc
  mode: max
  trials: {trials}
  searcher: random
  scheduler: {{name: fifo}}
  space:
    optim.max_lr: {{loguniform: [0.01, 0.3]}}
"""


def wall_seconds(command: str, nodes: int, cpus: int, cells: int, epochs: int, root: Path) -> float:
    """Seconds of one ``psn sweep`` (``command`` = "sweep") or ``psn tune`` ("tune") on a fresh cluster of ``nodes``."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=cpus)
        cluster.wait_for_nodes()
        with tempfile.TemporaryDirectory(prefix="psn-bench-ray-") as tmp:
            folder = Path(tmp)
            (folder / "base.yaml").write_text(BASE.format(root=root, epochs=epochs))
            seeds = list(range(cells)) if command == "sweep" else [0]
            (folder / "spec.yaml").write_text(SPEC.format(seeds=seeds, trials=cells))
            words = [sys.executable, "-m", "parametricSN", command, "spec.yaml", "--address", cluster.address]
            words += ["--launcher", "ray", "--cpus-per-run", "1"] if command == "sweep" else ["--cpus-per-trial", "1"]
            words += ["--tracking-uri", f"sqlite:///{folder}/store.db"]
            start = time.perf_counter()
            subprocess.run(
                words, cwd=folder, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
            )
            return time.perf_counter() - start
    finally:
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=1, help="CPUs of each node")
    parser.add_argument("--fmnist-root", type=Path, default=FMNIST)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = {
        command: [wall_seconds(command, n, args.cpus, args.cells, args.epochs, args.fmnist_root) for n in (1, 2)]
        for command in ("sweep", "tune")
    }
    print(
        f"{args.cells} cells (trials) x {args.epochs} epochs, {args.cpus} CPU(s) per node, {os.cpu_count()} cores here"
    )
    print(f"{'':>6}  {'1 node s':>9}  {'2 nodes s':>9}  {'2 / 1':>6}")
    for command, (one, two) in rows.items():
        print(f"{command:>6}  {one:9.1f}  {two:9.1f}  {two / one:5.2f}x")
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "cells": args.cells,
                    "epochs": args.epochs,
                    "cpus": args.cpus,
                    **{f"{command}_seconds": {"1": one, "2": two} for command, (one, two) in rows.items()},
                    "machine": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
