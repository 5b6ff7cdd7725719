"""Wavelet families compared on Fashion-MNIST: each built-in family, learnable and fixed, over several seeds.

Per family and learnable/fixed, ``--seeds`` runs of ``conf/fashion_mnist.yaml`` (tight-frame scattering J=2, L=8 +
linear head, 28x28) on ``--train`` training images for ``--epochs`` epochs, tested on ``--test`` images, no tracker.
Prints one row per cell: the test accuracy (mean ± std over the seeds), the frame bounds A / B of the bank at
initialisation and at the end (mean over seeds; min and max of its Littlewood–Paley sum,
:mod:`parametricSN.scattering.frames`), and the time of one training step (scattering + linear head, forward and
backward, batch ``--batch``, fastest of ``--steps``, the models taking turns) relative to Morlet's of the same kind. Writes ``--out``.

    python benchmarks/families.py [--families morlet gabor cauchy] [--train 500] [--test 2000] [--epochs 10] \\
        [--seeds 0 1 2] [--data-root /usr/share/datasets/fashion-mnist] [--threads 1] [--out benchmarks/results/families.json]

A tiny check that it runs: ``--train 20 --test 100 --epochs 1 --seeds 0 --steps 2``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from common import FASHION_MNIST as CONFIG
from common import fashion_mnist_overrides


def config(family: str, learnable: bool, seed: int, args: argparse.Namespace):
    from parametricSN.config import load_config

    return load_config(
        CONFIG,
        [
            *fashion_mnist_overrides(args),
            f"scattering.family={family}",
            f"scattering.learnable={str(learnable).lower()}",
            f"general.seed={seed}",
            "train.save_model=false",
        ],
    )


def bounds(scattering) -> tuple[float, float]:
    from parametricSN.scattering.frames import bank_littlewood_paley, frame_bounds

    with torch.no_grad():
        A, B = frame_bounds(bank_littlewood_paley(scattering))
    return float(A), float(B)


def step_times(cfgs: list, args: argparse.Namespace) -> list[float]:
    """Seconds of one forward + backward + SGD step of each config's model on a random batch: the fastest of
    ``args.steps`` steps, the models taking turns (on a shared machine the minimum, interleaved, is what compares)."""
    from parametricSN.models import build_model

    torch.manual_seed(0)
    x = torch.rand(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    models = [build_model(cfg) for cfg in cfgs]
    opts = [torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=1e-3) for m in models]
    best = [float("inf")] * len(models)
    for step in range(args.steps + 1):
        for i, (model, opt) in enumerate(zip(models, opts)):
            start = time.perf_counter()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if step:  # the first step builds caches
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def run_cell(family: str, learnable: bool, args: argparse.Namespace) -> dict:
    from parametricSN.models import build_scattering
    from parametricSN.training import NullLogger, train

    accs, init, end = [], [], []
    for seed in args.seeds:
        cfg = config(family, learnable, seed, args)
        init.append(bounds(build_scattering(cfg)))
        result = train(cfg, NullLogger())
        accs.append(result.test_acc)
        print(f"{family} {'learnable' if learnable else 'fixed'} seed {seed}: {result.test_acc:.2f} %", flush=True)
        last = result.history[-1]
        end.append((last["frame_A"], last["frame_B"]) if learnable else init[-1])
    return {
        "family": family,
        "learnable": learnable,
        "acc": accs,
        "A_init": statistics.mean(a for a, _ in init),
        "B_init": statistics.mean(b for _, b in init),
        "A_end": statistics.mean(a for a, _ in end),
        "B_end": statistics.mean(b for _, b in end),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", nargs="+", default=["morlet", "gabor", "cauchy"])
    p.add_argument("--train", type=int, default=500)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--threads", type=int, default=1)  # small batches: 2 threads on a busy 2-core machine ran 20x slower
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/families.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    rows = [run_cell(f, learnable, args) for f in args.families for learnable in (True, False)]
    cfgs = [config(r["family"], r["learnable"], args.seeds[0], args) for r in rows]
    for r, t in zip(rows, step_times(cfgs, args)):
        r["step_s"] = t
    morlet = {r["learnable"]: r["step_s"] for r in rows if r["family"] == "morlet"}
    print(
        f"Fashion-MNIST, {args.train} training / {args.test} test images, {args.epochs} epochs, "
        f"seeds {args.seeds}, tight-frame J=2 L=8 + linear, CPU ({args.threads} threads)\n"
    )
    print("| family | scattering | test acc (%) | A init | B init | A end | B end | step time vs Morlet |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        acc = r["acc"]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        rel = r["step_s"] / morlet[r["learnable"]] if r["learnable"] in morlet else float("nan")
        print(
            f"| {r['family']} | {'learnable' if r['learnable'] else 'fixed'} | {statistics.mean(acc):.2f} ± {std:.2f} "
            f"| {r['A_init']:.3f} | {r['B_init']:.3f} | {r['A_end']:.3f} | {r['B_end']:.3f} | {rel:.2f}× "
            f"({1000 * r['step_s']:.0f} ms) |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
