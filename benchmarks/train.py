"""Training benchmark: seconds per epoch of the 100-sample CIFAR-10 protocol and test-set throughput.

The protocol of ``conf/cifar.yaml`` (100 class-balanced training images, batch 128, the paper's AutoAugment, SGD +
OneCycle, learnable tight-frame scattering J=2 L=8) on synthetic CIFAR-shaped data: random images written as
torchvision's ``cifar-10-batches-py`` pickles into a temporary folder, so the real data pipeline (reading,
AutoAugment + Cutout, collation) is part of the measurement. Heads: ``linear`` and ``cnn`` (hybrid wide ResNet,
``--width`` k, default 8 as published).

- seconds/epoch: median wall time of ``train_epoch`` (one pass over the 100 images, forward + backward +
  optimizer and scheduler steps) after one warm-up epoch;
- test throughput: images/s of ``evaluate`` over ``--test-images`` test images (batch 256, eval mode, no grad).

    python benchmarks/train.py [--epochs 3] [--test-images 1000] [--threads 2] [--device cpu] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from parametricSN.config import load_config
from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.training import build_loss, build_optimizer, build_schedule, evaluate, seed_everything, train_epoch

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "cifar.yaml"


def write_synthetic_cifar(root: Path, train_per_class: int, test_images: int, seed: int = 0) -> None:
    """Random uint8 images in torchvision's CIFAR-10 python layout (5 train batches, 1 test batch, meta)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def dump(name: str, labels: np.ndarray) -> None:
        data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [int(v) for v in labels]}, f, protocol=2)

    train_labels = np.repeat(np.arange(10), train_per_class)
    for i, part in enumerate(np.array_split(rng.permutation(train_labels), 5), start=1):
        dump(f"data_batch_{i}", part)
    dump("test_batch", np.arange(test_images) % 10)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f, protocol=2)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_head(root: Path, head: str, width: int, epochs: int, test_images: int, device: str) -> dict:
    cfg = load_config(CONFIG, [f"dataset.root={root}", "dataset.download=false", f"model.name={head}",
                               f"model.width={width}", f"train.epochs={epochs + 1}",
                               f"dataset.test_sample_num={test_images}", f"general.device={device}"])
    dev = torch.device(device)
    loaders = build_loaders(cfg)
    seed_everything(cfg.general.seed)
    model = build_model(cfg).to(dev)
    optimizer = build_optimizer(model, cfg)
    schedule = build_schedule(optimizer, cfg, len(loaders.train))
    loss_fn = build_loss(cfg.train.loss)
    times = []
    for epoch in range(1, epochs + 2):  # epoch 1 warms up (allocations, caches)
        loaders.set_epoch(epoch)
        _sync(dev)
        t0 = time.perf_counter()
        train_epoch(model, loaders.train, optimizer, schedule, loss_fn, dev, cfg.train.accum_steps)
        _sync(dev)
        times.append(time.perf_counter() - t0)
    evaluate(model, [next(iter(loaders.test))], loss_fn, dev)  # warm-up batch
    _sync(dev)
    t0 = time.perf_counter()
    evaluate(model, loaders.test, loss_fn, dev)
    _sync(dev)
    test_s = time.perf_counter() - t0
    return {"head": head, "width": width if head == "cnn" else None,
            "params": sum(p.numel() for p in model.parameters()),
            "train_images": len(loaders.train_indices), "batch": cfg.dataset.train_batch_size,
            "sec_per_epoch": statistics.median(times[1:]), "epoch_times": times[1:],
            "test_images": len(loaders.test_indices), "test_images_per_s": len(loaders.test_indices) / test_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per head (after one warm-up)")
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--width", type=int, default=8, help="cnn widening factor k")
    parser.add_argument("--heads", nargs="+", default=["linear", "cnn"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/train.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="psn-bench-") as tmp:
        write_synthetic_cifar(Path(tmp), train_per_class=10, test_images=args.test_images)
        rows = [bench_head(Path(tmp), h, args.width, args.epochs, args.test_images, args.device)
                for h in args.heads]
    print(f"100-sample CIFAR protocol (synthetic data, paper AutoAugment, batch 128, learnable scattering J=2 L=8), "
          f"device={args.device}, threads={args.threads}, torch {torch.__version__}")
    print(f"{'model':<12} {'params':>12} {'s/epoch':>10} {'test img/s':>12}")
    for r in rows:
        name = "LS+" + (f"cnn k={r['width']}" if r["head"] == "cnn" else r["head"])
        print(f"{name:<12} {r['params']:>12,} {r['sec_per_epoch']:>10.3f} {r['test_images_per_s']:>12.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "device": args.device, "threads": args.threads,
            "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "epochs_timed": args.epochs}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
