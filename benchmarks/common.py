"""What the benchmark scripts share (``benchmarks/`` is not a package: a script next to this file imports it as
``common``): the JSON results file and the Fashion-MNIST cell of the model-level comparisons."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

FASHION_MNIST = Path(__file__).resolve().parents[1] / "conf" / "fashion_mnist.yaml"


def write_results(out: Path | str, rows: list[dict], **settings: Any) -> None:
    """``{"meta": torch version, ``settings``, machine, cores; "rows": rows}`` as JSON to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "torch": torch.__version__,
        **settings,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


def fashion_mnist_overrides(args: Any) -> list[str]:
    """The overrides of ``conf/fashion_mnist.yaml`` every comparison cell shares: the data (``args.data_root``,
    ``args.train`` and ``args.test`` images), ``args.epochs`` epochs tested once at the end, on CPU, no figures."""
    return [
        f"dataset.root={args.data_root}",
        f"dataset.train_sample_num={args.train}",
        f"dataset.test_sample_num={args.test}",
        f"train.epochs={args.epochs}",
        f"train.test_every={args.epochs}",
        "general.device=cpu",
        "viz.figures=false",
    ]
