"""KTH-TIPS2-b texture images: ``<root>/KTH-TIPS2-b/<material>/sample_<a-d>/*.png``.

Eleven materials, each photographed as four physical samples a-d (108 images per sample and material in the
published archive). The protocol trains on one physical sample and tests on the other three, so no physical
object appears in both train and test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parametricSN.config import choices
from parametricSN.data.registry import DatasetSpec, register_dataset
from parametricSN.data.splits import README_HINT, DatasetError, Split, list_images

FOLDER = "KTH-TIPS2-b"
SAMPLES = choices("dataset.sample")  # a, b, c, d
NUM_MATERIALS = 11
OBTAIN = (
    "download https://www.csc.kth.se/cvap/databases/kth-tips/kth-tips2-b_col_200x200.tar and extract it "
    "into dataset.root (it creates KTH-TIPS2-b/<material>/sample_<a-d>/)"
)


def kth_folder(root: Path) -> Path:
    """``root/KTH-TIPS2-b``, or ``root`` itself when it already is that folder."""
    for folder in (root / FOLDER, root):
        if folder.name == FOLDER and folder.is_dir():
            return folder
    raise DatasetError(f"KTH-TIPS2-b: {str(root / FOLDER)!r} does not exist; {OBTAIN}; {README_HINT}")


def read_kth(root: Path, sample: str) -> tuple:
    """(train, test) splits: physical sample ``sample`` of every material, and the other three samples."""
    if sample not in SAMPLES:
        raise DatasetError(f"KTH-TIPS2-b: sample {sample!r} is not one of {', '.join(SAMPLES)}")
    folder = kth_folder(root)
    materials = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(materials) != NUM_MATERIALS:
        raise DatasetError(
            f"KTH-TIPS2-b: {str(folder)!r} holds {len(materials)} material folders "
            f"({', '.join(materials) or 'none'}), expected {NUM_MATERIALS}; {OBTAIN}"
        )
    parts = {"train": ([], []), "test": ([], [])}
    for label, material in enumerate(materials):
        for s in SAMPLES:
            sample_dir = folder / material / f"sample_{s}"
            if not sample_dir.is_dir():
                raise DatasetError(
                    f"KTH-TIPS2-b: {str(sample_dir)!r} is missing (every material needs sample_a..sample_d); {OBTAIN}"
                )
            files = list_images(sample_dir)
            if not files:
                raise DatasetError(f"KTH-TIPS2-b: {str(sample_dir)!r} holds no images; {OBTAIN}")
            paths, labels = parts["train" if s == sample else "test"]
            paths += files
            labels += [label] * len(files)
    return tuple(
        Split(f"kth/{name}", paths, np.asarray(labels, dtype=np.int64), tuple(materials), "RGB")
        for name, (paths, labels) in parts.items()
    )


@register_dataset("kth")
def kth() -> DatasetSpec:
    """200x200 RGB textures, 11 materials: resized to 200/128 of the input size and cropped, rotated by up to 10
    degrees when training; ImageNet statistics, as in the paper's code."""
    return DatasetSpec(
        readers={"native": lambda d: read_kth(Path(d.root).expanduser(), d.sample)},
        obtain=OBTAIN,
        num_classes=NUM_MATERIALS,
        channels=3,
        resize_ratio=200 / 128,
        rotation=10.0,
        normalization=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    )
