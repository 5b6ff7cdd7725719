"""``dataset.name: imagefolder``: any tree ``<root>/train/<class>/*`` + ``<root>/test/<class>/*`` of images.

Images may be PNG or JPEG (any format Pillow reads, see ``splits.IMAGE_EXTENSIONS``), RGB or grey, of any size.
The classes are the sorted sub-folder names of ``train/`` (``test/`` must have the same); they are read from the
tree when the config is validated, so a bad root is reported before a run starts. The images are grey (1
channel) when the first image of every training class is grey, else RGB (3 channels; grey images are then
repeated over the three channels). Every image is resized to ``ceil(RESIZE_RATIO * (height, width))`` and
cropped to ``dataset.height x dataset.width``, as the KTH-TIPS2-b and X-ray pipelines do. The normalisation
statistics are ``dataset.mean`` / ``dataset.std``, or computed from the training subset and cached in the root
(see :mod:`parametricSN.data.stats`).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from parametricSN.config import DatasetConfig
from parametricSN.data.registry import DatasetSpec, register_dataset
from parametricSN.data.splits import README_HINT, DatasetError, Split, list_images, read_image_folder

RESIZE_RATIO = 256 / 224  # resize 8/7 larger, then crop: the usual ImageNet-style test geometry
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
OBTAIN = (
    "put the images in dataset.root as train/<class>/<image> and test/<class>/<image> (the same class folders in both)"
)


def read_tree(folder: Path, name: str, mode: str) -> tuple[Split, Split]:
    """(train, test) splits of ``folder/train/<class>/*`` and ``folder/test/<class>/*`` decoded in ``mode``."""
    train = read_image_folder(folder / "train", f"{name}/train", mode)
    test = read_image_folder(folder / "test", f"{name}/test", mode)
    if train.classes != test.classes:
        raise DatasetError(
            f"{name} image folder {str(folder)!r}: train classes {list(train.classes)} differ "
            f"from test classes {list(test.classes)}; {OBTAIN}"
        )
    return train, test


def _tree(d: DatasetConfig) -> Path:
    root = Path(d.root).expanduser()
    missing = [s for s in ("train", "test") if not (root / s).is_dir()]
    if missing:
        raise DatasetError(
            f"imagefolder: dataset.root {str(root)!r} has no {' or '.join(m + '/' for m in missing)} "
            f"folder; {OBTAIN}; {README_HINT}"
        )
    return root


def _mode(train: Path) -> str:
    """ "L" when the first image of every class folder under ``train`` is grey, else "RGB"."""
    for cls in sorted(p for p in train.iterdir() if p.is_dir()):
        files = list_images(cls)
        if files:
            try:
                with Image.open(files[0]) as im:  # reads the header only
                    if im.mode not in GREY_MODES:
                        return "RGB"
            except OSError as exc:
                raise DatasetError(f"imagefolder: cannot decode image {str(files[0])!r} ({exc})") from None
    return "L"


def describe(d: DatasetConfig) -> tuple[int, int]:
    """(number of class folders under ``train/``, channels) of the tree at ``dataset.root``."""
    train = _tree(d) / "train"
    classes = [p for p in train.iterdir() if p.is_dir()]
    if not classes:
        raise DatasetError(f"imagefolder: {str(train)!r} has no class sub-folders; {OBTAIN}")
    return len(classes), 1 if _mode(train) == "L" else 3


def read(d: DatasetConfig) -> tuple[Split, Split]:
    root = _tree(d)
    return read_tree(root, "imagefolder", _mode(root / "train"))


@register_dataset("imagefolder")
def imagefolder() -> DatasetSpec:
    """A tree of your own images; classes, channels and statistics come from the data."""
    return DatasetSpec(
        readers={"native": read, "imagefolder": read}, obtain=OBTAIN, describe=describe, resize_ratio=RESIZE_RATIO
    )
