"""Scattering benchmark: the ``fast`` backend side by side with the ``kymatio`` backend (kymatio 0.3's core fed
with our filters), on this machine, in one run.

Measures, for each J: forward with fixed filters, forward+backward of a learnable canonical layer (filters
rebuilt from the parameters every step), filter regeneration alone, and peak memory of the learnable step
(CPU: peak RSS growth measured in a fresh subprocess; CUDA: torch.cuda.max_memory_allocated). Prints a table
with ratios (kymatio / fast) and writes JSON.

    python benchmarks/scattering.py [--batch 128] [--threads 2] [--J 2 3] [--device cpu] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from parametricSN.scattering import ParametricScattering2D


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_pair(fns: dict, device: str, repeat: int) -> dict:
    """Best-of-``repeat`` seconds of each function, run in alternation (a, b, a, b, ...) after one warm-up
    each, so that a noisy neighbour slows both sides alike. The minimum is the least noisy estimate."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def make_layer(J: int, backend: str, learnable: bool, device: str) -> ParametricScattering2D:
    return ParametricScattering2D(J=J, shape=(32, 32), L=8, max_order=2, init="tight-frame",
                                  learnable=learnable, backend=backend).to(device)


def step_fn(layer: ParametricScattering2D, x: torch.Tensor):
    def step():
        layer.zero_grad(set_to_none=True)
        layer(x).square().mean().backward()
    return step


def measure_memory(J: int, backend: str, batch: int, device: str, threads: int) -> float:
    """Peak memory (MiB) of one learnable forward+backward above what was resident before it, in a fresh
    process so the peaks of the two backends do not mix (CPU: Linux's peak RSS, reset through
    /proc/self/clear_refs, with the stock allocator so that it counts live memory, not blocks kept for reuse;
    CUDA: torch.cuda.max_memory_allocated)."""
    code = f"""
import torch, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
torch.set_num_threads({threads})
from scattering import make_layer, step_fn
layer = make_layer({J}, {backend!r}, True, {device!r})
x = torch.randn({batch}, 3, 32, 32, device={device!r})
if {device!r}.startswith('cuda'):
    torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    step_fn(layer, x)(); torch.cuda.synchronize()
    print((torch.cuda.max_memory_allocated() - base) / 2**20)
else:
    def status(field):
        for line in open('/proc/self/status'):
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    open('/proc/self/clear_refs', 'w').write('5')  # reset the peak RSS to the current RSS
    base = status('VmRSS')
    step_fn(layer, x)()
    print(status('VmHWM') - base)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(Js: list[int], batch: int, device: str, repeat: int, threads: int) -> list[dict]:
    rows = []
    x = torch.randn(batch, 3, 32, 32, device=device)
    backends = ("fast", "kymatio")
    for J in Js:
        row: dict = {"J": J, "batch": batch}
        fixed = {b: make_layer(J, b, False, device) for b in backends}
        learn = {b: make_layer(J, b, True, device) for b in backends}
        with torch.no_grad():
            t = time_pair({b: (lambda S=fixed[b]: S(x)) for b in backends}, device, repeat)
        row.update({f"forward_fixed_{b}": t[b] for b in backends})
        t = time_pair({b: step_fn(learn[b], x) for b in backends}, device, repeat)
        row.update({f"step_learnable_{b}": t[b] for b in backends})
        for b in backends:
            row[f"peak_mem_mib_{b}"] = measure_memory(J, b, batch, device, threads)
        layer = learn["fast"]

        def regen_step() -> None:
            bank = layer._filter_bank(torch.float32)
            sum(t.sum() for t in [bank.psi, *bank.psi_coarse]).backward()

        t = time_pair({"regen": lambda: layer._filter_bank(torch.float32), "regen_fb": regen_step}, device, repeat)
        row["filter_regen"], row["filter_regen_fwd_bwd"] = t["regen"], t["regen_fb"]
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'J':>2} {'measure':<22} {'fast':>12} {'kymatio':>12} {'kymatio/fast':>13}")
    for r in rows:
        for name, unit, scale in (("forward_fixed", "ms", 1e3), ("step_learnable", "ms", 1e3),
                                  ("peak_mem_mib", "MiB", 1.0)):
            f, k = r[f"{name}_fast"], r[f"{name}_kymatio"]
            print(f"{r['J']:>2} {name + ' (' + unit + ')':<22} {f * scale:>12.1f} {k * scale:>12.1f} "
                  f"{k / f:>12.2f}x")
        print(f"{r['J']:>2} {'filter_regen (ms)':<22} {r['filter_regen'] * 1e3:>12.2f}")
        print(f"{r['J']:>2} {'filter_regen f+b (ms)':<22} {r['filter_regen_fwd_bwd'] * 1e3:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--J", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default="benchmarks/results/scattering.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.J, args.batch, args.device, args.repeat, args.threads)
    print(f"input {args.batch} x 3 x 32 x 32, L=8, max_order=2, device={args.device}, threads={args.threads}, "
          f"torch {torch.__version__}")
    print_table(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "device": args.device, "threads": args.threads,
            "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
