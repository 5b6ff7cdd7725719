"""Tiny datasets written in the real on-disk formats (configs that point at them: ``tests.configs.make_cfg``).

Every image is drawn from a seeded NumPy generator, so each item differs from the others (tests can tell items
apart by their pixels) and the files are the same on every run.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
KTH_MATERIALS = [
    "aluminium_foil",
    "brown_bread",
    "corduroy",
    "cork",
    "cotton",
    "cracker",
    "lettuce_leaf",
    "linen",
    "white_bread",
    "wood",
    "wool",
]


def _labels(per_class: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` of every label, shuffled (real batches are not sorted by class)."""
    return rng.permutation(np.repeat(np.arange(num_classes), per_class))


def write_cifar(root: Path, train_per_class: int = 4, test_per_class: int = 2, seed: int = 0) -> dict:
    """``root/cifar-10-batches-py`` as the python version of CIFAR-10: five ``data_batch_i`` pickles, one
    ``test_batch`` and ``batches.meta``; dicts with bytes keys, ``data`` uint8 (n, 3072) channel-planar.
    Returns the HWC images and labels written, ``{"train": (x, y), "test": (x, y)}``."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    out = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        y = _labels(per_class, 10, rng)
        x = rng.integers(0, 256, size=(len(y), 32, 32, 3), dtype=np.uint8)
        out[split] = (x, y)
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        for name, part in zip(names, np.array_split(np.arange(len(y)), len(names))):
            entry = {
                b"batch_label": name.encode(),
                b"labels": [int(v) for v in y[part]],
                b"data": x[part].transpose(0, 3, 1, 2).reshape(len(part), 3072),
                b"filenames": [f"img_{i}.png".encode() for i in part],
            }
            with open(folder / name, "wb") as f:
                pickle.dump(entry, f, protocol=2)
    meta = {b"num_cases_per_batch": 10000, b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return out


def write_png(path: Path, shape: tuple, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8)).save(path)


def write_cifar_folder(root: Path, train_per_class: int = 3, test_per_class: int = 2, seed: int = 0) -> None:
    """An image-folder export ``root/{train,test}/<class>/*.png`` of 32x32 RGB images."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        for cls in CIFAR_NAMES:
            for i in range(n):
                write_png(root / split / cls / f"{cls}_{i}.png", (32, 32, 3), rng)


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` (uint8) as an IDX file, gzipped when ``path`` ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def write_fashion_mnist(
    folder: Path, gz: bool = True, train_per_class: int = 3, test_per_class: int = 2, seed: int = 0
) -> dict:
    """The four Fashion-MNIST IDX files (28x28 images) in ``folder``; returns what was written."""
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    out = {}
    for split, prefix, n in (("train", "train", train_per_class), ("test", "t10k", test_per_class)):
        y = _labels(n, 10, rng).astype(np.uint8)
        x = rng.integers(0, 256, size=(len(y), 28, 28), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y)
        out[split] = (x, y)
    return out


def write_kth(root: Path, per_sample: int = 2, side: int = 40, seed: int = 0) -> Path:
    """``root/KTH-TIPS2-b/<material>/sample_<a-d>/*.png`` for the 11 materials (``side`` x ``side`` RGB)."""
    rng = np.random.default_rng(seed)
    base = root / "KTH-TIPS2-b"
    for m, material in enumerate(KTH_MATERIALS):
        for s in "abcd":
            for i in range(per_sample):
                write_png(base / material / f"sample_{s}" / f"{m}{s}-scale_{i}_im_{i}_col.png", (side, side, 3), rng)
    return base


def write_covidx(root: Path, train_per_class: int = 4, test_per_class: int = 2, side: int = 48, seed: int = 0) -> None:
    """COVIDx CXR-2: ``train/``, ``test/`` with grey PNGs and ``train.txt``, ``test.txt`` lists
    ``patient_id filename label source``."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        lines = []
        for i, label in enumerate(_labels(n, 2, rng)):
            name = f"{split}_{i:03d}.png"
            write_png(root / split / name, (side, side), rng)
            lines.append(f"{1000 + i} {name} {('negative', 'positive')[label]} {('rsna', 'ricord')[i % 2]}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
