"""Training benchmark: seconds per epoch of the 100-sample CIFAR-10 protocol and test-set throughput.

The protocol of ``conf/cifar.yaml`` (100 class-balanced training images, batch 128, the paper's AutoAugment, SGD +
OneCycle, learnable tight-frame scattering J=2 L=8) on synthetic CIFAR-shaped data: random images written as
torchvision's ``cifar-10-batches-py`` pickles into a temporary folder, so the real data pipeline (reading,
AutoAugment + Cutout, collation) is part of the measurement. Heads: ``linear`` and ``hybrid-wrn`` (hybrid wide ResNet,
``--width`` k, default 8 as published).

- seconds/epoch: median wall time of ``train_epoch`` (one pass over the 100 images, forward + backward +
  optimizer and scheduler steps) after one warm-up epoch;
- test throughput: images/s of ``evaluate`` over ``--test-images`` test images (batch 256, eval mode, no grad);
- the epoch split into phases (median over the timed epochs, device synchronised between phases): data and
  augmentation (``next(loader)`` + the copy to the device), forward (model + loss + the loop's bookkeeping),
  backward, optimizer (step + scheduler), logging (filter motion + ``log_metrics`` to a real MLflow SQLite store)
  and evaluation amortised per epoch (10000 test images every ``train.test_every`` epochs, from the measured
  throughput).

    python benchmarks/train.py [--epochs 3] [--test-images 1000] [--threads 2] [--device cpu] [--out FILE]

Fixed filters (the S+LL cell: fixed tight-frame scattering + linear head, 100 images) evaluate from cached
scattering coefficients (``parametricSN.training.eval_cache``): the table "S+LL: epoch with evaluation amortised"
gives the training epoch plus the evaluation of 10000 test images every ``train.test_every`` epochs, before (every
evaluation scatters the test images) and after (the head alone on the cached coefficients, plus the one scattering
pass amortised over the cell's ``train.epochs``). ``--heads`` without ``s+ll`` skips it.

The packed-vs-sequential comparison is ``benchmarks/pack.py``; the FFT floor of a scattering step is in
``benchmarks/scattering.py``.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import common
import numpy as np
import torch

from parametricSN.allocator import retain_freed_memory
from parametricSN.config import load_config
from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.training import build_loss, build_optimizer, build_schedule, evaluate, seed_everything, train_epoch
from parametricSN.training.eval_cache import EvalCache
from parametricSN.training.filter_report import FilterReport
from parametricSN.training.optim import group_lrs

PHASES = ("data", "forward", "backward", "optimizer", "logging", "evaluation")
FULL_TEST_SET = 10000

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


def profile_epoch(
    model, loaders, optimizer, schedule, loss_fn, dev: torch.device, logger, report: FilterReport, epoch: int
) -> dict[str, float]:
    """Seconds of one training epoch spent in each phase but evaluation (see the module docstring)."""
    spent = dict.fromkeys(PHASES[:-1], 0.0)

    def lap(phase: str, t0: float) -> float:
        _sync(dev)
        now = time.perf_counter()
        spent[phase] += now - t0
        return now

    model.train()
    loaders.set_epoch(epoch)
    metrics = group_lrs(optimizer)
    batches = iter(loaders.train)
    loss_sum, seen = torch.zeros((), device=dev), 0
    t = time.perf_counter()
    while True:
        try:
            x, y = next(batches)
        except StopIteration:
            lap("data", t)
            break
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        t = lap("data", t)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss_sum += loss.detach() * len(y)
        seen += len(y)
        t = lap("forward", t)
        loss.backward()
        t = lap("backward", t)
        optimizer.step()
        schedule.after_optimizer_step()
        t = lap("optimizer", t)
    schedule.after_epoch()
    t = time.perf_counter()
    metrics["train_loss"] = float(loss_sum) / seen
    metrics.update(report.on_epoch_end(epoch))  # filter motion, as the loop's epoch hook
    logger.log_metrics(metrics, step=epoch)
    lap("logging", t)
    return spent


def _timed(fn, dev: torch.device) -> float:
    _sync(dev)
    t0 = time.perf_counter()
    fn()
    _sync(dev)
    return time.perf_counter() - t0


def timed_training(cfg, dev: torch.device, epochs: int) -> tuple:
    """Build ``cfg``'s loaders, model, optimizer, schedule and loss, and train ``epochs + 1`` epochs (the first
    warms up: allocations, caches); returns them and the epochs' wall times."""
    loaders = build_loaders(cfg)
    seed_everything(cfg.general.seed)
    model = build_model(cfg).to(dev)
    optimizer = build_optimizer(model, cfg)
    schedule = build_schedule(optimizer, cfg, len(loaders.train))
    loss_fn = build_loss(cfg.train.loss)
    times = []
    for epoch in range(1, epochs + 2):
        loaders.set_epoch(epoch)
        times.append(
            _timed(
                lambda: train_epoch(model, loaders.train, optimizer, schedule, loss_fn, dev, cfg.train.accum_steps), dev
            )
        )
    return loaders, model, optimizer, schedule, loss_fn, times


def bench_head(root: Path, head: str, width: int, epochs: int, test_images: int, device: str, logger=None) -> dict:
    widen = [f"model.width={width}"] if head == "cnn" else []  # the linear head has no width
    cfg = load_config(
        CONFIG,
        [
            f"dataset.root={root}",
            "dataset.download=false",
            f"model.name={head}",
            *widen,
            f"train.epochs={2 * epochs + 1}",
            f"dataset.test_sample_num={test_images}",
            f"general.device={device}",
        ],
    )
    dev = torch.device(device)
    loaders, model, optimizer, schedule, loss_fn, times = timed_training(cfg, dev, epochs)
    evaluate(model, [next(iter(loaders.test))], loss_fn, dev)  # warm-up batch
    _sync(dev)
    t0 = time.perf_counter()
    evaluate(model, loaders.test, loss_fn, dev)
    _sync(dev)
    test_s = time.perf_counter() - t0
    phases = {}
    if logger is not None:
        logger.start_run(cfg)
        report = FilterReport(model, cfg)
        laps = [
            profile_epoch(model, loaders, optimizer, schedule, loss_fn, dev, logger, report, e)
            for e in range(epochs + 2, 2 * epochs + 2)
        ]
        logger.end_run()
        phases = {k: statistics.median(lap[k] for lap in laps) for k in PHASES[:-1]}
        phases["evaluation"] = test_s / len(loaders.test_indices) * FULL_TEST_SET / cfg.train.test_every
    return {
        "head": head,
        "width": width if head == "cnn" else None,
        "phases": phases,
        "params": sum(p.numel() for p in model.parameters()),
        "train_images": len(loaders.train_indices),
        "batch": cfg.dataset.train_batch_size,
        "sec_per_epoch": statistics.median(times[1:]),
        "epoch_times": times[1:],
        "test_images": len(loaders.test_indices),
        "test_images_per_s": len(loaders.test_indices) / test_s,
    }


def bench_fixed_linear(root: Path, epochs: int, test_images: int, device: str) -> dict:
    """The S+LL cell (fixed scattering + linear head): seconds per training epoch, and per epoch with the
    evaluation amortised, without and with the cached coefficients (see the module docstring)."""
    cell = load_config(CONFIG)  # the cell's own epochs and test period, for the amortisation
    cfg = load_config(
        CONFIG,
        [
            f"dataset.root={root}",
            "dataset.download=false",
            "model.name=linear",
            "scattering.learnable=false",
            f"train.epochs={epochs + 1}",
            f"dataset.test_sample_num={test_images}",
            f"general.device={device}",
        ],
    )
    dev = torch.device(device)
    loaders, model, optimizer, schedule, loss_fn, times = timed_training(cfg, dev, epochs)
    evaluate(model, [next(iter(loaders.test))], loss_fn, dev)  # warm-up batch
    scale = FULL_TEST_SET / len(loaders.test_indices)  # to the full test set
    uncached = _timed(lambda: evaluate(model, loaders.test, loss_fn, dev), dev) * scale
    cache = EvalCache(model)
    first = _timed(lambda: evaluate(*cache.inputs(loaders.test), loss_fn, dev), dev) * scale  # scatters + caches
    head = _timed(lambda: evaluate(*cache.inputs(loaders.test), loss_fn, dev), dev) * scale
    train_s, every = statistics.median(times[1:]), cell.train.test_every
    return {
        "cell": "S+LL",
        "train_images": len(loaders.train_indices),
        "sec_per_epoch": train_s,
        "test_every": every,
        "cell_epochs": cell.train.epochs,
        "eval_uncached_s": uncached,
        "eval_first_cached_s": first,
        "eval_cached_s": head,
        "epoch_amortised_before_s": train_s + uncached / every,
        "epoch_amortised_after_s": train_s + head / every + (first - head) / cell.train.epochs,
    }


def write_results(args: argparse.Namespace, rows: list[dict]) -> None:
    """``{"meta": machine and settings, "rows": rows}`` as JSON to ``args.out``."""
    common.write_results(args.out, rows, device=args.device, threads=args.threads, epochs_timed=args.epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per head (after one warm-up)")
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--width", type=int, default=8, help="cnn widening factor k")
    parser.add_argument(
        "--heads",
        nargs="+",
        default=["linear", "cnn", "s+ll"],
        help="linear / cnn: learnable scattering + that head; s+ll: fixed scattering + linear, "
        "evaluation with and without cached coefficients",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/train.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"allocator tuned as psn does (parametricSN.allocator): {retain_freed_memory()}")
    with tempfile.TemporaryDirectory(prefix="psn-bench-") as tmp:
        from parametricSN.tracking import MlflowLogger

        write_synthetic_cifar(Path(tmp), train_per_class=10, test_images=args.test_images)
        logger = MlflowLogger(f"sqlite:///{tmp}/store.db", "bench", artifact_location=f"{tmp}/artifacts")
        rows = [
            bench_head(Path(tmp), h, args.width, args.epochs, args.test_images, args.device, logger)
            for h in args.heads
            if h != "s+ll"
        ]
        fixed = (
            bench_fixed_linear(Path(tmp), args.epochs, args.test_images, args.device) if "s+ll" in args.heads else None
        )
    print(
        f"100-sample CIFAR protocol (synthetic data, paper AutoAugment, batch 128, learnable scattering J=2 L=8), "
        f"device={args.device}, threads={args.threads}, torch {torch.__version__}"
    )
    print(f"{'model':<12} {'params':>12} {'s/epoch':>10} {'test img/s':>12}")
    for r in rows:
        name = "LS+" + (f"cnn k={r['width']}" if r["head"] == "cnn" else r["head"])
        print(f"{name:<12} {r['params']:>12,} {r['sec_per_epoch']:>10.3f} {r['test_images_per_s']:>12.1f}")
    print("\nepoch split into phases (s; evaluation amortised: 10000 test images every train.test_every epochs)")
    print(f"{'model':<12} " + " ".join(f"{p:>10}" for p in PHASES) + f" {'total':>10}")
    for r in rows:
        name = "LS+" + (f"cnn k={r['width']}" if r["head"] == "cnn" else r["head"])
        total = sum(r["phases"].values())
        print(f"{name:<12} " + " ".join(f"{r['phases'][p]:>10.3f}" for p in PHASES) + f" {total:>10.3f}")
        print(f"{'':<12} " + " ".join(f"{r['phases'][p] / total:>10.0%}" for p in PHASES))
    if fixed is not None:
        f = fixed
        print(
            f"\nS+LL: epoch with evaluation amortised (10000 test images every {f['test_every']} epochs, "
            f"{f['cell_epochs']} epochs; s)"
        )
        print(
            f"{'train epoch':>12} {'eval before':>12} {'eval cached':>12} {'1st (cache)':>12} "
            f"{'epoch before':>13} {'epoch after':>12}"
        )
        print(
            f"{f['sec_per_epoch']:>12.3f} {f['eval_uncached_s']:>12.3f} {f['eval_cached_s']:>12.3f} "
            f"{f['eval_first_cached_s']:>12.3f} {f['epoch_amortised_before_s']:>13.3f} "
            f"{f['epoch_amortised_after_s']:>12.3f}"
        )
        rows.append(fixed)
    write_results(args, rows)


if __name__ == "__main__":
    main()
