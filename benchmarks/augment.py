"""Augmentation benchmark: CPU seconds per 1000 CIFAR-sized images through each training transform.

Every ``dataset.augment`` choice of CIFAR-10 (``noaugment``, ``resize-crop``, ``autoaugment`` = torchvision's
AutoAugment + Cutout, ``autoaugment-paper`` = the paper's port + its Cutout) runs the full training transform
(geometry, augmentation, ToTensor, Normalize) on the same random 32x32 RGB images, single-threaded, in the
process: CPU time (``time.process_time``), best of ``--repeats`` passes. Prints a table (each choice relative to
``autoaugment``) and writes JSON.

    python benchmarks/augment.py [--images 1000] [--repeats 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from parametricSN.data.transforms import AUGMENTS, build_transform


def seconds_per_1000(tf, images: list, repeats: int) -> float:
    """Best CPU time over ``repeats`` passes of ``images`` through ``tf``, per 1000."""
    best = float("inf")
    for r in range(repeats):
        torch.manual_seed(r)
        start = time.process_time()
        for im in images:
            tf(im)
        best = min(best, time.process_time() - start)
    return best * 1000 / len(images)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "augment.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(args.images)]
    results = {}
    for augment in AUGMENTS:
        results[augment] = seconds_per_1000(build_transform("cifar", augment, 32, 32, train=True), images, args.repeats)
    ref = results["autoaugment"]
    print(f"CPU s per 1000 CIFAR images through the training transform (best of {args.repeats}, 1 thread)")
    print(f"  {'augment':<18} {'seconds':>7}     {'vs autoaugment':>14}")
    for augment, sec in results.items():
        print(f"  {augment:<18} {sec:7.3f} s   {sec / ref:10.2f} x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "seconds_per_1000": results,
                "images": args.images,
                "repeats": args.repeats,
                "torch": torch.__version__,
                "machine": platform.platform(),
            },
            indent=2,
        )
    )
    return results


if __name__ == "__main__":
    main()
