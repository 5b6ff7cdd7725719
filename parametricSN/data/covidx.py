"""COVIDx CXR-2 chest X-rays: ``<root>/train/``, ``<root>/test/``, ``<root>/train.txt``, ``<root>/test.txt``.

Each line of a list is ``<patient id> <file name> <label> <source>``, label ``positive`` or ``negative``
(COVID-19 positive or not; the published test split holds 200 of each). Images are decoded to grey ("L").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parametricSN.config import DEFAULT_DATA_ROOT
from parametricSN.data.registry import DatasetSpec, register_dataset
from parametricSN.data.splits import README_HINT, DatasetError, Split, first_existing

CLASSES = ("negative", "positive")
HOME = "covidx-cxr2"  # folder under the default data root
OBTAIN = (
    "download COVIDx CXR-2 (https://www.kaggle.com/datasets/andyczhao/covidx-cxr2) and extract it so that "
    "train/, test/, train.txt and test.txt lie directly in dataset.root (or in data/covidx-cxr2/)"
)


def _is_covidx(folder: Path) -> bool:
    return all((folder / n).exists() for n in ("train", "test", "train.txt", "test.txt"))


def parse_list(path: Path) -> tuple:
    """(file names, labels) of a COVIDx list; file names may contain spaces (they sit between the patient id
    and the last two fields)."""
    names, labels = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if lineno == 1 and fields[0].lower() in ("patient_id", "patientid", "id"):
            continue  # a header row written by pandas exports
        if len(fields) < 4:
            raise DatasetError(
                f"COVIDx: {str(path)}:{lineno} has {len(fields)} fields, expected "
                f"'patient_id filename label source': {line.strip()!r}"
            )
        label = fields[-2].lower()
        if label not in CLASSES:
            raise DatasetError(
                f"COVIDx: {str(path)}:{lineno} has label {fields[-2]!r}; COVIDx CXR-2 labels are "
                f"{', '.join(CLASSES)} (is this an older 3-class COVIDx list?)"
            )
        names.append(" ".join(fields[1:-2]))
        labels.append(CLASSES.index(label))
    if not names:
        raise DatasetError(f"COVIDx: {str(path)!r} lists no images; {OBTAIN}")
    return names, labels


def read_covidx(root: Path, default_root: bool) -> tuple:
    """(train, test) splits; with the default root, ``data/covidx-cxr2/`` is looked at before ``data/``."""
    candidates = [root / HOME, root] if default_root else [root]
    folder = first_existing(candidates, _is_covidx)
    if folder is None:
        looked = ", ".join(repr(str(c)) for c in candidates)
        raise DatasetError(
            f"COVIDx CXR-2: no folder with train/, test/, train.txt and test.txt in {looked}; {OBTAIN}; {README_HINT}"
        )
    splits = []
    for split in ("train", "test"):
        names, labels = parse_list(folder / f"{split}.txt")
        paths = [folder / split / n for n in names]
        splits.append(Split(f"covidx/{split}", paths, np.asarray(labels, dtype=np.int64), CLASSES, "L"))
    return tuple(splits)


@register_dataset("covidx")
def covidx() -> DatasetSpec:
    """COVIDx CXR-2 in grey, 2 classes: resized to 260/224 of the input size and cropped; statistics measured on
    COVIDx CXR-2 in grey."""
    return DatasetSpec(
        readers={"native": lambda d: read_covidx(Path(d.root).expanduser(), d.root == DEFAULT_DATA_ROOT)},
        obtain=OBTAIN,
        num_classes=len(CLASSES),
        channels=1,
        resize_ratio=260 / 224,
        normalization=((0.5888,), (0.1882,)),
    )
