"""One split of a dataset (train or test): images, integer labels, class names.

A :class:`Split` holds either a uint8 array of decoded images (small datasets: CIFAR-10, Fashion-MNIST) or a
list of image files that are decoded with Pillow only when an item is read (KTH-TIPS2-b, COVIDx, image
folders), so that building a split costs a directory listing, not a pass over every pixel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from parametricSN.config import ConfigError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
README_HINT = "see data/README.md for where each dataset goes and how to obtain it"


class DatasetError(ConfigError):
    """A dataset is missing, incomplete or malformed on disk.

    A subclass of :class:`ConfigError` because, like a bad config value, it is fixed by the user (put the data
    where ``dataset.root`` points, or point ``dataset.root`` at the data); the CLI reports it in one line.
    """


@dataclass(frozen=True)
class Split:
    """Images and labels of one split.

    ``images`` is a uint8 array ``(N, H, W)`` (grey) or ``(N, H, W, 3)`` (RGB), or a list of N image paths;
    ``labels`` is an int64 array ``(N,)`` with values in ``range(len(classes))``; ``mode`` is the Pillow mode
    ("L" or "RGB") every image is returned in; ``name`` identifies the split in messages and in :meth:`key`.
    """

    name: str
    images: Union[np.ndarray, list]
    labels: np.ndarray
    classes: tuple
    mode: str

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):  # pragma: no cover - reader bug, not a user error
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lazy(self) -> bool:
        """True when images are files decoded on access."""
        return not isinstance(self.images, np.ndarray)

    def key(self, i: int) -> str:
        """What identifies item ``i`` across splits: its file, or for in-memory images a hash of the pixels
        (positions would differ between splits whatever the images are)."""
        if self.lazy:
            return str(self.images[i])
        return "sha1:" + hashlib.sha1(np.ascontiguousarray(self.images[i]).tobytes()).hexdigest()

    def image(self, i: int) -> Image.Image:
        """Item ``i`` as a Pillow image in ``self.mode``."""
        if not self.lazy:
            return Image.fromarray(self.images[i]).convert(self.mode)
        path = self.images[i]
        try:
            with Image.open(path) as im:
                return im.convert(self.mode)
        except (OSError, ValueError) as exc:  # Pillow raises OSError subclasses for unreadable files
            raise DatasetError(
                f"{self.name}: cannot decode image {str(path)!r} ({exc}); the file is missing or "
                f"corrupt, restore it from the original archive ({README_HINT})"
            ) from None

    def take(self, indices: Sequence[int]) -> Split:
        """The sub-split of items ``indices`` (file splits check that those files exist)."""
        idx = np.asarray(indices, dtype=np.int64)
        if not self.lazy:
            return Split(self.name, self.images[idx], self.labels[idx], self.classes, self.mode)
        paths = [self.images[i] for i in idx]
        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise DatasetError(
                f"{self.name}: {len(missing)} listed image file(s) do not exist: "
                f"{', '.join(repr(m) for m in missing[:3])}{more}; {README_HINT}"
            )
        return Split(self.name, paths, self.labels[idx], self.classes, self.mode)


def list_images(folder: Path) -> list:
    """Image files directly inside ``folder``, sorted by name (so the order is the same on every machine)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def read_image_folder(folder: Path, name: str, mode: str) -> Split:
    """A split stored as ``folder/<class>/<image>``; classes are the sorted sub-folder names."""
    if not folder.is_dir():
        raise DatasetError(f"{name}: folder {str(folder)!r} does not exist; {README_HINT}")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(f"{name}: {str(folder)!r} has no class sub-folders (expected {folder}/<class>/*.png)")
    paths, labels = [], []
    for label, cls in enumerate(classes):
        files = list_images(folder / cls)
        if not files:
            raise DatasetError(
                f"{name}: class folder {str(folder / cls)!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        paths += files
        labels += [label] * len(files)
    return Split(name, paths, np.asarray(labels, dtype=np.int64), tuple(classes), mode)


def first_existing(candidates: Sequence[Path], is_dataset) -> Union[Path, None]:
    """The first folder in ``candidates`` for which ``is_dataset(folder)`` holds, else None."""
    for folder in candidates:
        if folder.is_dir() and is_dataset(folder):
            return folder
    return None
