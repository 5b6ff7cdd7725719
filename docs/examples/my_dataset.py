"""A dataset of your own, in one file: ``csv-images``, grey images stored as CSV text, one image per line.

    psn train -c conf/fashion_mnist.yaml general.plugins=[docs/examples/my_dataset.py] \
        dataset.name=csv-images dataset.root=/path/to/folder dataset.subset=balanced

The layout, as Kaggle publishes MNIST and Fashion-MNIST: ``train.csv`` and ``test.csv`` in ``dataset.root``, a
header line, then ``label,pixel0,...,pixel783`` per image (28 × 28 grey values 0–255, row by row) with labels
0–9. The reader returns the two :class:`~parametricSN.data.Split` s; everything else (class-balanced seeded
subsets, augmentation, normalisation, loaders) is the package's. A missing or malformed file is a
:class:`~parametricSN.data.DatasetError` that says where it looked and what it expected: the CLI prints it in one
line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parametricSN.config import DatasetConfig
from parametricSN.data import DatasetError, DatasetSpec, Split, register_dataset

SIDE = 28
CLASSES = tuple(str(c) for c in range(10))
OBTAIN = "train.csv and test.csv (label,pixel0,...,pixel783 per line, with a header) in dataset.root"


def read_csv_split(path: Path, name: str) -> Split:
    """The images and labels of one CSV file."""
    if not path.is_file():
        raise DatasetError(f"csv-images: {path} not found; expected {OBTAIN}")
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise DatasetError(f"csv-images: {path} is not a table of integers ({exc})") from None
    if table.shape[1] != 1 + SIDE * SIDE or table.min() < 0 or table[:, 1:].max() > 255 or table[:, 0].max() > 9:
        raise DatasetError(f"csv-images: {path}: expected a label 0-9 and {SIDE * SIDE} values 0-255 per line")
    images = table[:, 1:].reshape(-1, SIDE, SIDE).astype(np.uint8)
    return Split(name, images, table[:, 0].copy(), CLASSES, "L")


def read_csv_images(d: DatasetConfig) -> tuple[Split, Split]:
    root = Path(d.root).expanduser()
    return read_csv_split(root / "train.csv", "csv-images/train"), read_csv_split(root / "test.csv", "csv-images/test")


@register_dataset("csv-images")
def csv_images() -> DatasetSpec:
    return DatasetSpec(
        readers={"native": read_csv_images},
        obtain=OBTAIN,
        num_classes=len(CLASSES),
        channels=1,
        native_size=(SIDE, SIDE),
        normalization=None,  # computed from the training subset once, and cached beside the data
    )
