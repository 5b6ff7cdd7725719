"""The 100-sample CIFAR-10 challenge: learnable tight-frame scattering + wide-ResNet head, 10 seeds.

Published reference (Gauthier et al., Parametric Scattering Networks): 43.60 ± 0.87 % test accuracy over 10 seeds
(J=2, L=8, tight-frame init, learnable, hybrid WRN k=8, 100 training images, AutoAugment). Every run is logged to
MLflow; the script prints each seed's accuracy and the mean ± std.

    python competition/cifar-10_100sample.py                          # the full protocol (GPU recommended)
    python competition/cifar-10_100sample.py --seeds 2 train.epochs=10 # a quick look; any dotted override works
    python competition/cifar-10_100sample.py --head myhead            # your own head (see below)

To try your own head, register it before the runs start (or put it in parametricSN/models/ for good)::

    from torch import nn
    from parametricSN.models import register_head

    @register_head("myhead")
    def my_head(in_shape, num_classes, cfg):          # in_shape = (channels, h, w) of the scattering output
        c, h, w = in_shape
        return nn.Sequential(nn.BatchNorm2d(c), nn.Flatten(), nn.Linear(c * h * w, num_classes))
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from parametricSN.config import load_config
from parametricSN import train

CONFIG = Path(__file__).resolve().parent.parent / "conf" / "cifar.yaml"
# The ten seeds of the published runs.
SEEDS = (207715039, 491659600, 737523103, 493572006, 827192296, 877498678, 1103100946, 1210393663, 1277404878,
         1377264326)
# The protocol on top of conf/cifar.yaml: the wide-ResNet head, 3000 epochs, a three-phase one-cycle schedule
# peaking at 0.1 for the head and 0.2 for the filters.
PROTOCOL = ("model.name=cnn", "model.width=8", "train.epochs=3000", "train.test_every=100", "optim.max_lr=0.1",
            "optim.three_phase=true", "scattering.lr_orientation=0.2", "scattering.lr_scattering=0.2",
            "scattering.init=tight-frame", "scattering.learnable=true", "mlflow.experiment_name=cifar10-100sample")


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="how many of the published seeds to run")
    parser.add_argument("--head", default=None, help="a registered head to use instead of the wide ResNet")
    parser.add_argument("--config", default=str(CONFIG), help="base config (default conf/cifar.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, applied last")
    args = parser.parse_args(argv)
    if not 1 <= args.seeds <= len(SEEDS):
        parser.error(f"--seeds must be between 1 and {len(SEEDS)}")
    head = [f"model.name={args.head}"] if args.head else []
    accuracies = []
    for seed in SEEDS[:args.seeds]:
        cfg = load_config(args.config, [*PROTOCOL, *head, f"general.seed={seed}", *args.overrides])
        result = train(cfg)
        accuracies.append(result.test_acc)
        print(f"seed {seed}: test_acc {result.test_acc:.2f} % (run {result.run_id})", flush=True)
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(f"100-sample CIFAR-10, {len(accuracies)} seeds: {statistics.mean(accuracies):.2f} ± {spread:.2f} % "
          f"(published: 43.60 ± 0.87 %)")
    return accuracies


if __name__ == "__main__":
    main()
