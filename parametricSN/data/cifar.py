"""CIFAR-10 (``dataset.name: cifar``) in torchvision's layout (``<root>/cifar-10-batches-py``) or as an
image-folder export (``dataset.format: imagefolder``, read by the generic image-folder reader).

The python version of CIFAR-10 is five training pickles ``data_batch_1..5`` and one ``test_batch``; each is a
dict with ``data`` (uint8, ``(n, 3072)``: the 1024 red, then 1024 green, then 1024 blue values of a 32x32 image,
row-major) and ``labels`` (n ints in 0..9); ``batches.meta`` holds ``label_names``. The pickles were written by
Python 2, so they are read with ``encoding="latin1"`` and their keys may be ``str`` or ``bytes``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from parametricSN.config import DEFAULT_DATA_ROOT
from parametricSN.data.imagefolder import read_tree
from parametricSN.data.registry import DatasetSpec, register_dataset
from parametricSN.data.splits import README_HINT, DatasetError, Split, first_existing

BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
OBTAIN = (
    "download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and extract it into dataset.root "
    "(it creates cifar-10-batches-py/), or run once online with dataset.download=true"
)


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(
            f"CIFAR-10: {str(path)!r} is missing from {str(path.parent)!r}; the folder is incomplete: {OBTAIN}"
        )
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except Exception as exc:  # any unpickling failure means the file is not a CIFAR batch
        raise DatasetError(
            f"CIFAR-10: {str(path)!r} is not a readable CIFAR-10 pickle ({type(exc).__name__}: {exc}); {OBTAIN}"
        ) from None
    if not isinstance(entry, dict):
        raise DatasetError(f"CIFAR-10: {str(path)!r} holds a {type(entry).__name__}, expected a dict; {OBTAIN}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _read_batches(folder: Path, names: tuple, split: str) -> Split:
    images, labels = [], []
    for name in names:
        path = folder / name
        entry = _unpickle(path)
        if "data" not in entry or "labels" not in entry:
            raise DatasetError(
                f"CIFAR-10: {str(path)!r} lacks the 'data'/'labels' entries of a CIFAR-10 batch "
                f"(keys: {sorted(entry)}); {OBTAIN}"
            )
        data = np.asarray(entry["data"])
        lab = np.asarray(entry["labels"], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(lab) != len(data):
            raise DatasetError(
                f"CIFAR-10: {str(path)!r} has data {data.dtype} {data.shape} and {len(lab)} labels; "
                f"expected uint8 (n, 3072) and n labels; {OBTAIN}"
            )
        if lab.size and (lab.min() < 0 or lab.max() >= len(CLASSES)):
            raise DatasetError(f"CIFAR-10: {str(path)!r} has labels outside 0..9; {OBTAIN}")
        # channel-planar rows -> (n, 32, 32, 3) height-width-channel images
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(lab)
    return Split(
        f"cifar/{split}",
        np.ascontiguousarray(np.concatenate(images)),
        np.concatenate(labels),
        _class_names(folder),
        "RGB",
    )


def _class_names(folder: Path) -> tuple:
    meta = folder / "batches.meta"
    if meta.is_file():
        names = _unpickle(meta).get("label_names")
        if names is not None and len(names) == len(CLASSES):
            return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return CLASSES


def download_cifar(root: Path) -> None:
    """Fetch and extract torchvision's CIFAR-10 archive into ``root`` (md5-checked by torchvision)."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    root.mkdir(parents=True, exist_ok=True)
    download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)


def read_cifar(root: Path, download: bool) -> tuple:
    """(train, test) splits from ``root/cifar-10-batches-py``, downloading it first when missing and allowed."""
    folder = root / BATCH_DIR
    if not folder.is_dir():
        if not download:
            raise DatasetError(f"CIFAR-10: {str(folder)!r} does not exist and dataset.download is false; {OBTAIN}")
        try:
            download_cifar(root)
        except Exception as exc:  # network or disk failure: say where we looked and how to get the data
            raise DatasetError(
                f"CIFAR-10: {str(folder)!r} does not exist and downloading it failed "
                f"({type(exc).__name__}: {exc}); {OBTAIN}"
            ) from None
        if not folder.is_dir():
            raise DatasetError(f"CIFAR-10: the downloaded archive did not create {str(folder)!r}; {OBTAIN}")
    return _read_batches(folder, TRAIN_BATCHES, "train"), _read_batches(folder, TEST_BATCHES, "test")


def read_cifar_folder(root: Path, default_root: bool) -> tuple:
    """(train, test) splits from an image-folder export ``train/<class>/*``, ``test/<class>/*``.

    With the default root, ``data/cifar10/`` is looked at first, then ``data/`` itself.
    """
    candidates = [root / "cifar10", root] if default_root else [root]
    folder = first_existing(candidates, lambda f: (f / "train").is_dir() and (f / "test").is_dir())
    if folder is None:
        looked = ", ".join(repr(str(c)) for c in candidates)
        raise DatasetError(
            f"CIFAR-10 image folder: no train/ and test/ folders in {looked}; export CIFAR-10 as "
            f"train/<class>/*.png and test/<class>/*.png there, or use dataset.format=native; "
            f"{README_HINT}"
        )
    return read_tree(folder, "cifar", "RGB")


@register_dataset("cifar")
def cifar() -> DatasetSpec:
    """32x32 RGB, 10 classes; channel statistics of the training set as the paper's code uses them."""
    return DatasetSpec(
        readers={
            "native": lambda d: read_cifar(Path(d.root).expanduser(), d.download),
            "imagefolder": lambda d: read_cifar_folder(Path(d.root).expanduser(), d.root == DEFAULT_DATA_ROOT),
        },
        obtain=OBTAIN,
        num_classes=len(CLASSES),
        channels=3,
        native_size=(32, 32),
        normalization=((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    )
