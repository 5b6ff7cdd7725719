"""Fashion-MNIST from its IDX files, gzipped or not.

IDX format: a 4-byte magic ``0x00 0x00 <type> <ndim>`` (type 0x08 = unsigned byte), then ``ndim`` big-endian
uint32 dimensions, then the values in row-major order. The images file is ``(N, 28, 28)``, the labels file
``(N,)`` with values 0..9.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from parametricSN.config import DEFAULT_DATA_ROOT
from parametricSN.data.registry import DatasetSpec, register_dataset
from parametricSN.data.splits import README_HINT, DatasetError, Split

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
OBTAIN = (
    "install Debian's dataset-fashion-mnist package (files under /usr/share/datasets/fashion-mnist) or put "
    "the four IDX files from https://github.com/zalandoresearch/fashion-mnist (data/fashion/) in dataset.root"
)


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array stored in an IDX file (``.gz`` files are decompressed)."""
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: damaged compressed data inside a .gz
        raise DatasetError(
            f"Fashion-MNIST: cannot read {str(path)!r} ({type(exc).__name__}: {exc}); the file "
            f"is damaged, replace it; {OBTAIN}"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(
            f"Fashion-MNIST: {str(path)!r} is not an unsigned-byte IDX file (bad magic {raw[:4].hex()!r}); {OBTAIN}"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"Fashion-MNIST: {str(path)!r} is truncated inside its header; {OBTAIN}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise DatasetError(
            f"Fashion-MNIST: {str(path)!r} declares shape {shape} ({size} bytes) but holds "
            f"{len(raw) - header} bytes of data; the file is truncated or corrupt; {OBTAIN}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _holds_all(folder: Path) -> bool:
    return all(_file(folder, stem) is not None for pair in FILES.values() for stem in pair)


def candidates(root: Path, default_root: bool) -> list:
    """Folders searched, in order. Explicit roots: the root and torchvision's ``FashionMNIST/raw`` in it;
    the default root also tries ``data/fashion-mnist`` and the Debian package's folder."""
    found = [root, root / "FashionMNIST" / "raw"]
    if default_root:
        found = [root / "fashion-mnist", *found, SYSTEM_DIR]
    return found


def _read_split(folder: Path, split: str) -> Split:
    img_stem, lab_stem = FILES[split]
    images, labels = read_idx(_file(folder, img_stem)), read_idx(_file(folder, lab_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"Fashion-MNIST {split} in {str(folder)!r}: images {images.shape} and labels "
            f"{labels.shape} do not match (expected (N, H, W) and (N,)); {OBTAIN}"
        )
    if labels.size and labels.max() >= len(CLASSES):
        raise DatasetError(f"Fashion-MNIST {split} in {str(folder)!r}: labels outside 0..9; {OBTAIN}")
    return Split(f"fashion_mnist/{split}", images, labels.astype(np.int64), CLASSES, "L")


def read_fashion_mnist(root: Path, default_root: bool) -> tuple:
    """(train, test) splits from the first candidate folder holding all four IDX files."""
    looked = candidates(root, default_root)
    for folder in looked:
        if not folder.is_dir():
            continue
        if _holds_all(folder):
            return _read_split(folder, "train"), _read_split(folder, "test")
        missing = [stem for pair in FILES.values() for stem in pair if _file(folder, stem) is None]
        if len(missing) < 4:  # some IDX files but not all: an incomplete copy, not a folder to skip
            raise DatasetError(
                f"Fashion-MNIST: {str(folder)!r} is incomplete, it lacks "
                f"{', '.join(m + '[.gz]' for m in missing)}; {OBTAIN}"
            )
    names = ", ".join(f"{a}[.gz], {b}[.gz]" for a, b in FILES.values())
    raise DatasetError(
        f"Fashion-MNIST: no folder holds {names}; looked in "
        f"{', '.join(repr(str(f)) for f in looked)}; {OBTAIN}; {README_HINT}"
    )


@register_dataset("fashion_mnist")
def fashion_mnist() -> DatasetSpec:
    """28x28 grey, 10 classes; statistics measured on the 60000 training images."""
    return DatasetSpec(
        readers={"native": lambda d: read_fashion_mnist(Path(d.root).expanduser(), d.root == DEFAULT_DATA_ROOT)},
        obtain=OBTAIN,
        num_classes=len(CLASSES),
        channels=1,
        native_size=(28, 28),
        normalization=((0.2860,), (0.3530,)),
    )
