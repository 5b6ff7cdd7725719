"""Scattering benchmark: the ``fast`` backend side by side with the ``kymatio`` backend (kymatio 0.3's core fed
with our filters), on this machine, in one run.

Measures, for each J: forward with fixed filters, forward+backward of a learnable canonical layer (filters
rebuilt from the parameters every step), filter regeneration alone, and peak memory of the learnable step
(CPU: peak RSS growth measured in a fresh subprocess; CUDA: torch.cuda.max_memory_allocated). Prints a table
with ratios (kymatio / fast) and writes JSON.

The FFT floor of the learnable step: the step is run once under a ``TorchFunctionMode`` that records every
``torch.fft`` call (function, input shape and dtype, arguments); the floor replays exactly those FFTs alone on
random inputs of the same shapes, forward and backward (each FFT's backward is an FFT of the same size, as autograd
runs it in the real step). ``step / floor`` is how much a backend spends beyond the FFTs it makes; both backends
are also given as multiples of the fast backend's floor. With ``--compile`` the fast step is also timed with the
core (``scattering2d``) under ``torch.compile`` (compile time reported apart).

    python benchmarks/scattering.py [--batch 128] [--threads 2] [--J 2 3] [--device cpu] [--compile] [--out FILE]
    python benchmarks/scattering.py --batch 8 --J 2 --repeat 2        # smoke run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from common import write_results
from torch.overrides import TorchFunctionMode

import parametricSN.scattering.layer as layer_module
from parametricSN.allocator import retain_freed_memory
from parametricSN.scattering import ParametricScattering2D

FFT_MODULE = torch.fft.fft2.__module__  # "torch._C._fft": where every torch.fft function lives


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
    return ParametricScattering2D(
        J=J, shape=(32, 32), L=8, max_order=2, init="tight-frame", learnable=learnable, backend=backend
    ).to(device)


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


class FFTRecorder(TorchFunctionMode):
    """Records ``(function, input shape, input dtype, other args, kwargs)`` of every torch.fft call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == FFT_MODULE:
            self.calls.append((func, tuple(args[0].shape), args[0].dtype, args[1:], kwargs))
        return func(*args, **kwargs)


def record_ffts(step) -> list[tuple]:
    with FFTRecorder() as rec:
        step()
    return rec.calls


def fft_replay(calls: list[tuple], device: str):
    """A function running ``calls`` alone, forward and backward, on fixed random inputs and output gradients."""
    inputs = [torch.randn(shape, dtype=dtype, device=device, requires_grad=True) for _, shape, dtype, _, _ in calls]
    with torch.no_grad():
        grads = [torch.randn_like(f(x.detach(), *a, **k)) for (f, _, _, a, k), x in zip(calls, inputs)]

    def replay() -> None:
        outs = [f(x, *a, **k) for (f, _, _, a, k), x in zip(calls, inputs)]
        torch.autograd.backward(outs, grads)
        for x in inputs:
            x.grad = None

    return replay


def time_compiled(step, device: str, repeat: int) -> dict:
    """``step`` with the fast core replaced by ``torch.compile(scattering2d)``: compile seconds and best step."""
    eager = layer_module.scattering2d
    layer_module.scattering2d = torch.compile(eager, dynamic=False)
    try:
        t0 = time.perf_counter()
        step()  # compiles
        compile_s = time.perf_counter() - t0
        return {"compile_s": compile_s, "step_compiled": time_pair({"c": step}, device, repeat)["c"]}
    finally:
        layer_module.scattering2d = eager


def fft_summary(calls: list[tuple]) -> list[str]:
    """``"count x function[shape] dtype"`` per distinct FFT call, most frequent first."""
    counts = Counter(f"{f.__name__}{list(shape)} {str(dtype).replace('torch.', '')}" for f, shape, dtype, _, _ in calls)
    return [f"{n} x {what}" for what, n in counts.most_common()]


def run(Js: list[int], batch: int, device: str, repeat: int, threads: int, compile_core: bool = False) -> list[dict]:
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
        steps = {b: step_fn(learn[b], x) for b in backends}
        calls = {b: record_ffts(steps[b]) for b in backends}
        t = time_pair({**steps, **{f"floor_{b}": fft_replay(calls[b], device) for b in backends}}, device, repeat)
        row.update({f"step_learnable_{b}": t[b] for b in backends})
        row.update({f"fft_floor_{b}": t[f"floor_{b}"] for b in backends})
        row.update({f"ffts_{b}": fft_summary(calls[b]) for b in backends})
        if compile_core:
            row.update(time_compiled(steps["fast"], device, repeat))
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
        for name, unit, scale in (
            ("forward_fixed", "ms", 1e3),
            ("step_learnable", "ms", 1e3),
            ("peak_mem_mib", "MiB", 1.0),
        ):
            f, k = r[f"{name}_fast"], r[f"{name}_kymatio"]
            print(f"{r['J']:>2} {name + ' (' + unit + ')':<22} {f * scale:>12.1f} {k * scale:>12.1f} {k / f:>12.2f}x")
        f, k = r["fft_floor_fast"], r["fft_floor_kymatio"]
        print(f"{r['J']:>2} {'FFT floor (ms)':<22} {f * 1e3:>12.1f} {k * 1e3:>12.1f} {k / f:>12.2f}x")
        print(
            f"{r['J']:>2} {'step / own FFT floor':<22} {r['step_learnable_fast'] / f:>11.2f}x "
            f"{r['step_learnable_kymatio'] / k:>11.2f}x"
        )
        print(
            f"{r['J']:>2} {'step / fast FFT floor':<22} {r['step_learnable_fast'] / f:>11.2f}x "
            f"{r['step_learnable_kymatio'] / f:>11.2f}x"
        )
        if "step_compiled" in r:
            c = r["step_compiled"]
            print(
                f"{r['J']:>2} {'compiled step (ms)':<22} {c * 1e3:>12.1f}   = {c / f:.2f}x floor, "
                f"{r['step_learnable_fast'] / c:.2f}x eager (compile {r['compile_s']:.0f} s)"
            )
        print(f"{r['J']:>2} {'filter_regen (ms)':<22} {r['filter_regen'] * 1e3:>12.2f}")
        print(f"{r['J']:>2} {'filter_regen f+b (ms)':<22} {r['filter_regen_fwd_bwd'] * 1e3:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--J", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="also time the fast core under torch.compile")
    parser.add_argument("--out", default="benchmarks/results/scattering.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"allocator tuned as psn does (parametricSN.allocator): {retain_freed_memory()}")
    rows = run(args.J, args.batch, args.device, args.repeat, args.threads, args.compile)
    print(
        f"input {args.batch} x 3 x 32 x 32, L=8, max_order=2, device={args.device}, threads={args.threads}, "
        f"torch {torch.__version__}"
    )
    print_table(rows)
    write_results(args.out, rows, device=args.device, threads=args.threads)


if __name__ == "__main__":
    main()
