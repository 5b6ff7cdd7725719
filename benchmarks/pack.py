"""Packed vs sequential: N seeds of one 100-sample CIFAR cell trained as one pack vs one after the other.

Same protocol as ``benchmarks/train.py`` (synthetic CIFAR pickles, 100 images, batch 128, autoaugment, SGD +
OneCycle, learnable tight-frame scattering J=2 L=8), heads ``linear`` and ``hybrid-wrn``. For each head:

- sequential: each member's own ``train_epoch`` (the single-run loop), its seconds summed over the N members;
- packed: ``train_members(..., stacked=True)`` of the pack of the same N members (``parametricSN.training.loop``);

both with their data pipeline (each member's own augmented images: N x the data work either way) and "compute
only" (the epoch's batches read beforehand, so only model, loss, backward and optimizer are timed). Reported:
the median seconds per epoch after one warm-up epoch and the speed-up = epochs/s of the pack / epochs/s of N
sequential runs = (sum of the N members' s/epoch) / (pack s/epoch). Sequential and packed epochs alternate, so a
noisy neighbour slows both alike. ``bound`` is the most any packing can gain on the device (see
``ideal_pack_bound``): about 1x where one run's step already keeps the device busy (a CPU), large where a step is
mostly fixed cost (launches on a GPU).

    python benchmarks/pack.py [--n 10] [--epochs 3] [--width 8] [--heads linear cnn] [--threads 2]
                              [--device cpu] [--out benchmarks/results/pack.json]
    python benchmarks/pack.py --n 2 --epochs 1 --width 1     # smoke run
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import CONFIG, _sync, write_results, write_synthetic_cifar  # noqa: E402  (benchmarks/ is not a package)

from parametricSN.allocator import retain_freed_memory  # noqa: E402
from parametricSN.config import load_config  # noqa: E402
from parametricSN.data import build_loaders  # noqa: E402
from parametricSN.models import build_model  # noqa: E402
from parametricSN.models.packed import pack_models  # noqa: E402
from parametricSN.training import build_loss, build_optimizer, build_schedule, seed_everything, train_epoch  # noqa: E402
from parametricSN.training.loop import train_members  # noqa: E402


class Fixed(list):
    """An epoch's batches read beforehand, for the compute-only timings (a list has the length the loop needs)."""


def timed(fn, dev: torch.device) -> float:
    _sync(dev)
    t0 = time.perf_counter()
    fn()
    _sync(dev)
    return time.perf_counter() - t0


def bench_head(root: Path, head: str, width: int, n: int, epochs: int, device: str) -> dict:
    dev = torch.device(device)
    widen = [f"model.width={width}"] if head == "cnn" else []  # the linear head has no width
    cfgs = [
        load_config(
            CONFIG,
            [
                f"dataset.root={root}",
                "dataset.download=false",
                f"model.name={head}",
                *widen,
                f"general.device={device}",
                # each epoch runs twice per side (with data, compute only): twice the steps
                f"train.epochs={2 * (epochs + 1)}",
                f"general.seed={seed}",
            ],
        )
        for seed in range(n)
    ]
    cfg = cfgs[0]
    loaders = [build_loaders(c) for c in cfgs]
    members = []
    for c in cfgs:
        seed_everything(c.general.seed)
        members.append(build_model(c))
    packed = pack_models(members, head).to(dev)
    singles = [copy.deepcopy(m).to(dev) for m in members]
    loss_fn = build_loss(cfg.train.loss)
    single_opt = [build_optimizer(m, cfg) for m in singles]
    single_sched = [build_schedule(o, cfg, len(lo.train)) for o, lo in zip(single_opt, loaders)]
    pack_opt = build_optimizer(packed, cfg)
    pack_sched = build_schedule(pack_opt, cfg, len(loaders[0].train))

    times: dict[str, list[float]] = {k: [] for k in ("sequential", "packed", "sequential_compute", "packed_compute")}
    for epoch in range(1, epochs + 2):  # epoch 1 warms up
        for lo in loaders:
            lo.set_epoch(epoch)
        pre = [Fixed(lo.train) for lo in loaders]
        seq = timed(
            lambda: [
                train_epoch(m, lo.train, o, s, loss_fn, dev)
                for m, lo, o, s in zip(singles, loaders, single_opt, single_sched)
            ],
            dev,
        )
        pk = timed(
            lambda: train_members(
                packed, [lo.train for lo in loaders], pack_opt, pack_sched, loss_fn, dev, stacked=True
            ),
            dev,
        )
        seq_c = timed(
            lambda: [
                train_epoch(m, b, o, s, loss_fn, dev) for m, b, o, s in zip(singles, pre, single_opt, single_sched)
            ],
            dev,
        )
        pk_c = timed(lambda: train_members(packed, pre, pack_opt, pack_sched, loss_fn, dev, stacked=True), dev)
        if epoch > 1:
            for key, value in zip(times, (seq, pk, seq_c, pk_c)):
                times[key].append(value)
    med = {k: statistics.median(v) for k, v in times.items()}
    bound = ideal_pack_bound(copy.deepcopy(members[0]).to(dev), [b[0] for b in pre], loss_fn, dev)
    return {
        "head": head,
        "width": width if head == "cnn" else None,
        "n": n,
        "params_per_member": sum(p.numel() for p in members[0].parameters()),
        **med,
        "speedup": med["sequential"] / med["packed"],
        "speedup_compute": med["sequential_compute"] / med["packed_compute"],
        **bound,
        "epoch_times": times,
    }


def ideal_pack_bound(model: torch.nn.Module, batches: list, loss_fn, dev: torch.device, repeat: int = 3) -> dict:
    """The most any pack can gain on this device: one model's forward+backward on the N members' batches
    concatenated (one pass, one filter bank: less work than a pack) vs N passes over one batch each.

    ``bound = N * t(B) / t(N*B)``: if a step's time grows linearly with the batch, the per-step fixed cost a pack
    shares is nil and no packing can beat sequential runs by more than this."""
    x1, y1 = (t.to(dev) for t in batches[0])
    xn, yn = torch.cat([x for x, _ in batches]).to(dev), torch.cat([y for _, y in batches]).to(dev)

    def step(x, y):
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()

    best = {"one": float("inf"), "all": float("inf")}
    for _ in range(repeat + 1):  # the first round warms up
        best["one"] = min(best["one"], timed(lambda: step(x1, y1), dev))
        best["all"] = min(best["all"], timed(lambda: step(xn, yn), dev))
    return {
        "step_one_batch": best["one"],
        "step_n_batches": best["all"],
        "ideal_bound": len(batches) * best["one"] / best["all"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10, help="seeds in the pack")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up)")
    parser.add_argument("--width", type=int, default=8, help="cnn widening factor k")
    parser.add_argument("--heads", nargs="+", default=["linear", "cnn"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="benchmarks/results/pack.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"allocator tuned as psn does (parametricSN.allocator): {retain_freed_memory()}")
    with tempfile.TemporaryDirectory(prefix="psn-bench-") as tmp:
        write_synthetic_cifar(Path(tmp), train_per_class=10, test_images=10)
        rows = [bench_head(Path(tmp), h, args.width, args.n, args.epochs, args.device) for h in args.heads]
    print(
        f"packed vs sequential, N={args.n} seeds of the 100-sample CIFAR cell (synthetic data, autoaugment, "
        f"batch 128, learnable scattering J=2 L=8), device={args.device}, threads={args.threads}, "
        f"torch {torch.__version__}"
    )
    print(
        f"{'model':<12} {'N x single s/ep':>16} {'pack s/ep':>10} {'speed-up':>9} "
        f"{'compute: N x single':>20} {'pack':>8} {'speed-up':>9} {'bound':>7}"
    )
    for r in rows:
        name = "LS+" + (f"cnn k={r['width']}" if r["head"] == "cnn" else r["head"])
        print(
            f"{name:<12} {r['sequential']:>16.3f} {r['packed']:>10.3f} {r['speedup']:>8.2f}x "
            f"{r['sequential_compute']:>20.3f} {r['packed_compute']:>8.3f} {r['speedup_compute']:>8.2f}x "
            f"{r['ideal_bound']:>6.2f}x"
        )
    print(
        "bound: N x (one member's fwd+bwd on its batch) / (fwd+bwd on the N batches at once): the most any pack "
        "can gain here"
    )
    write_results(args, rows)


if __name__ == "__main__":
    main()
