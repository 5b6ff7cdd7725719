"""The FFT floor of a learnable scattering step: how far the ``fast`` backend is from the FFTs it cannot avoid.

One learnable step (filters rebuilt from the parameters, forward, backward; ``benchmarks/scattering.py``'s
``step_fn``) is run once under a ``TorchFunctionMode`` that records every ``torch.fft`` call it makes: function,
input shape and dtype, arguments. The floor replays exactly those FFTs alone on random inputs of the same shapes,
forward and backward (each FFT's backward is an FFT of the same size, as autograd runs it in the real step), so

    floor = time(recorded FFTs, forward + backward),   step / floor = how much the step spends beyond its FFTs.

Reported for both backends (each against its own FFTs, and the fast floor) next to kymatio / fast. With
``--compile`` the fast step is also timed with the core (``scattering2d``) under ``torch.compile`` (inductor fuses
the elementwise work between the FFTs, which stay library calls); compile time is reported separately.

    python benchmarks/floor.py [--batch 128] [--J 2 3] [--threads 2] [--device cpu] [--compile]
                               [--out benchmarks/results/floor.json]
    python benchmarks/floor.py --batch 8 --J 2 --repeat 2        # smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scattering import make_layer, step_fn, time_pair  # noqa: E402  (benchmarks/ is not a package)

import parametricSN.scattering.layer as layer_module  # noqa: E402

FFT_MODULE = torch.fft.fft2.__module__  # "torch._C._fft": where every torch.fft function lives


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


def summary(calls: list[tuple]) -> list[str]:
    counts = Counter(f"{f.__name__}{list(shape)} {str(dtype).replace('torch.', '')}" for f, shape, dtype, _, _ in calls)
    return [f"{n} x {what}" for what, n in counts.most_common()]


def run(Js: list[int], batch: int, device: str, repeat: int, compile_core: bool) -> list[dict]:
    rows = []
    x = torch.randn(batch, 3, 32, 32, device=device)
    for J in Js:
        layers = {b: make_layer(J, b, True, device) for b in ("fast", "kymatio")}
        steps = {b: step_fn(S, x) for b, S in layers.items()}
        calls = {b: record_ffts(steps[b]) for b in steps}
        fns = {**steps, **{f"floor_{b}": fft_replay(c, device) for b, c in calls.items()}}
        t = time_pair(fns, device, repeat)
        row = {"J": J, "batch": batch, "step_fast": t["fast"], "step_kymatio": t["kymatio"],
               "floor_fast": t["floor_fast"], "floor_kymatio": t["floor_kymatio"],
               "ffts_fast": summary(calls["fast"]), "ffts_kymatio": summary(calls["kymatio"])}
        if compile_core:
            eager = layer_module.scattering2d
            layer_module.scattering2d = torch.compile(eager, dynamic=False)
            try:
                t0 = time.perf_counter()
                steps["fast"]()  # compiles
                row["compile_s"] = time.perf_counter() - t0
                row["step_fast_compiled"] = time_pair({"c": steps["fast"]}, device, repeat)["c"]
            finally:
                layer_module.scattering2d = eager
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'J':>2} {'':<10} {'step ms':>9} {'FFT floor ms':>13} {'step/floor':>11} {'step/fast floor':>16}")
    for r in rows:
        for b in ("fast", "kymatio"):
            step, floor = r[f"step_{b}"], r[f"floor_{b}"]
            print(f"{r['J']:>2} {b:<10} {step * 1e3:>9.1f} {floor * 1e3:>13.1f} {step / floor:>10.2f}x "
                  f"{step / r['floor_fast']:>15.2f}x")
        print(f"{r['J']:>2} kymatio / fast step: {r['step_kymatio'] / r['step_fast']:.2f}x; "
              f"fast FFTs: {len(r['ffts_fast'])} kinds, e.g. {r['ffts_fast'][0]}")
        if "step_fast_compiled" in r:
            c = r["step_fast_compiled"]
            print(f"{r['J']:>2} fast, torch.compile'd core: {c * 1e3:.1f} ms = {c / r['floor_fast']:.2f}x floor, "
                  f"{r['step_fast'] / c:.2f}x eager (compile {r['compile_s']:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--J", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="also time the core under torch.compile")
    parser.add_argument("--out", default="benchmarks/results/floor.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.J, args.batch, args.device, args.repeat, args.compile)
    print(f"learnable step (filters + forward + backward), input {args.batch} x 3 x 32 x 32, L=8, "
          f"device={args.device}, threads={args.threads}, torch {torch.__version__}")
    print_table(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "device": args.device, "threads": args.threads,
            "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
