"""Ray cluster benchmark: wall time of one ``psn sweep --launcher ray`` on a cluster of 1 node against 2 nodes (each
a real raylet with ``--cpus`` CPUs, Ray's ``cluster_utils.Cluster``), the same spec and store type, side by side.

The spec: ``--cells`` seeds of a small Fashion-MNIST cell (500 training images, 28x28, J=2, L=8, linear head,
``--epochs`` epochs), one CPU and one torch thread per run. The sweep is a separate process that joins the cluster
by address, as on a real cluster; each row is a fresh SQLite store. On a machine with fewer cores than the cluster
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


def sweep_seconds(nodes: int, cpus: int, cells: int, epochs: int, root: Path) -> float:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=cpus)
        cluster.wait_for_nodes()
        with tempfile.TemporaryDirectory(prefix="psn-bench-ray-") as tmp:
            folder = Path(tmp)
            (folder / "base.yaml").write_text(BASE.format(root=root, epochs=epochs))
            (folder / "spec.yaml").write_text(
                f"name: nodes\nbase: base.yaml\ngrid:\n  general.seed: {list(range(cells))}\n"
            )
            command = [sys.executable, "-m", "parametricSN", "sweep", "spec.yaml", "--launcher", "ray"]
            command += ["--address", cluster.address, "--cpus-per-run", "1"]
            command += ["--tracking-uri", f"sqlite:///{folder}/store.db"]
            start = time.perf_counter()
            subprocess.run(
                command, cwd=folder, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
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
    one = sweep_seconds(1, args.cpus, args.cells, args.epochs, args.fmnist_root)
    two = sweep_seconds(2, args.cpus, args.cells, args.epochs, args.fmnist_root)
    print(f"{args.cells} cells x {args.epochs} epochs, {args.cpus} CPU(s) per node, {os.cpu_count()} cores here")
    print(f"{'nodes':>5}  {'sweep wall s':>12}")
    print(f"{1:>5}  {one:12.1f}")
    print(f"{2:>5}  {two:12.1f}")
    print(f"2 nodes / 1 node: {two / one:.2f}x the time")
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "cells": args.cells,
                    "epochs": args.epochs,
                    "cpus": args.cpus,
                    "one_node_s": one,
                    "two_nodes_s": two,
                    "machine": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
