"""The tightness example: Fashion-MNIST with and without ``scattering.tightness``, side by side.

For each weight in ``--weights`` (0 = the paper's protocol), one run of ``conf/fashion_mnist.yaml`` (learnable
tight-frame scattering J=2, L=8 + linear head) on ``--train`` training images for ``--epochs`` epochs, tested on
``--test`` images, tracked in ``--store``; then ``psn deform`` of all the runs on the random-diffeo deformation
(``--num-images`` images, ``--levels`` strengths). Prints, per weight: the test accuracy, the final frame bounds
``frame_A`` / ``frame_B``, ``frame_distance`` (mean squared distance of the Littlewood–Paley sum from the initial
one) and the relative stability R = D/G (median over the strengths > 0; lower is more stable).

    python benchmarks/tightness.py [--weights 0 1 10] [--train 500] [--epochs 10] [--seeds 0 1 2] \\
        [--data-root /usr/share/datasets/fashion-mnist] [--store DIR] [--threads 2]

A tiny check that it runs: ``--train 20 --test 100 --epochs 1 --num-images 10 --levels 2``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
from pathlib import Path

import torch
from common import FASHION_MNIST as CONFIG
from common import fashion_mnist_overrides


def run_cell(weight: float, seed: int, args: argparse.Namespace, uri: str) -> dict:
    from parametricSN import train
    from parametricSN.config import load_config

    cfg = load_config(
        CONFIG,
        [
            *fashion_mnist_overrides(args),
            f"scattering.tightness={weight}",
            f"general.seed={seed}",
            f"mlflow.tracking_uri={uri}",
            "mlflow.experiment_name=tightness",
        ],
    )
    result = train(cfg)
    last = result.history[-1]
    return {
        "weight": weight,
        "seed": seed,
        "run_id": result.run_id,
        "test_acc": result.test_acc,
        **{k: last[k] for k in ("frame_A", "frame_B", "frame_distance")},
    }


def stability(rows: list[dict], args: argparse.Namespace, uri: str, out: Path) -> dict[str, float]:
    """Median R over the strengths > 0 per run id, from ``psn deform``'s CSV."""
    from parametricSN.cli import main

    code = main(
        [
            "deform",
            *(r["run_id"] for r in rows),
            "--tracking-uri",
            uri,
            "--deformations",
            "random-diffeo",
            "--num-images",
            str(args.num_images),
            "--levels",
            str(args.levels),
            "--output",
            str(out),
            "--device",
            "cpu",
            "--data-root",
            args.data_root,
        ]
    )
    if code:
        raise SystemExit(f"psn deform failed (exit {code})")
    R: dict[str, list[float]] = {}
    with open(out / "deformation.csv") as f:
        for row in csv.DictReader(f):
            if row["R"] not in ("", "nan", "None") and float(row["strength"]) > 0:
                R.setdefault(row["run_id"], []).append(float(row["R"]))
    return {run: statistics.median(v) for run, v in R.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 10.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train", type=int, default=500)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--num-images", type=int, default=100)
    parser.add_argument("--levels", type=int, default=8)
    parser.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--store", default=None, help="folder of the MLflow store (default: a temporary one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="psn-tight-") as tmp:
        store = Path(args.store or tmp).resolve()
        store.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{store}/store.db"
        rows = [run_cell(w, s, args, uri) for w in args.weights for s in args.seeds]
        R = stability(rows, args, uri, store / "deform")
    print(
        f"\nFashion-MNIST, {args.train} training images, {args.epochs} epochs, linear head, learnable tight-frame "
        f"J=2 L=8; mean over seeds {args.seeds}"
    )
    print(f"{'tightness':>10} {'test_acc':>9} {'frame_A':>8} {'frame_B':>8} {'distance':>10} {'R (median)':>11}")
    for w in args.weights:
        cell = [r for r in rows if r["weight"] == w]

        def mean(key: str) -> float:
            return statistics.fmean(r[key] for r in cell)

        r_mean = statistics.fmean(R[r["run_id"]] for r in cell)
        print(
            f"{w:>10g} {mean('test_acc'):>9.2f} {mean('frame_A'):>8.4f} {mean('frame_B'):>8.4f} "
            f"{mean('frame_distance'):>10.2e} {r_mean:>11.3f}"
        )


if __name__ == "__main__":
    main()
