"""The image steps of the training path (Pillow image in, tensor out), equal to torchvision's, without torchvision.

``import torchvision.transforms`` runs torchvision's ``__init__``, which imports ``torchvision.models``,
``torchvision.datasets`` and ``torchvision.ops`` (whose ``roi_align`` imports ``torch._dynamo``; torch's optimizers
import that anyway when the first one is built). These eight steps are the ones the training path uses; each draws
the same random numbers from torch's global generator, in the same order, and returns the same pixels as the
torchvision transform of the same name (tests/data/test_imageops.py compares them image for image, and their
``repr`` too: the normalisation cache key hashes it); they are also faster (``benchmarks/augment.py``). torchvision
is still imported where it is needed: the ``resnet50`` head, ``augment: autoaugment`` (its AutoAugment) and
downloading CIFAR-10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image, ImageOps

Size = Union[int, Sequence[int]]


def _pair(size: Size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"a size is an int or (height, width), got {size!r}")
    return size[0], size[1]


def _black(img: Image.Image) -> Union[int, tuple]:
    """0 in every channel of ``img``, as Pillow wants a fill colour."""
    bands = len(img.getbands())
    return 0 if bands == 1 else (0,) * bands


class Compose:
    """Apply ``steps`` in order."""

    def __init__(self, transforms: list[Callable]) -> None:
        self.transforms = transforms

    def __call__(self, img):
        for step in self.transforms:
            img = step(img)
        return img

    def __repr__(self) -> str:
        return "Compose(" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class Resize:
    """Bilinear resize (Pillow's, antialiased) to ``size`` = (height, width); an image of that size is returned
    as is."""

    def __init__(self, size: Sequence[int]) -> None:
        if isinstance(size, int) or len(size) != 2:
            raise ValueError(f"Resize takes (height, width), got {size!r}")
        self.size = size

    def __call__(self, img: Image.Image) -> Image.Image:
        h, w = self.size
        if (img.height, img.width) == (h, w):
            return img
        return img.resize((w, h), Image.BILINEAR)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation=bilinear, max_size=None, antialias=True)"


class CenterCrop:
    """The central ``size`` window (zero-padded first when the image is smaller); an odd margin puts the extra
    pixel after the window when ``round`` does (banker's rounding, as torchvision)."""

    def __init__(self, size: Size) -> None:
        self.size = (int(size), int(size)) if isinstance(size, int) else size  # as given: its repr is torchvision's
        self._hw = _pair(self.size)

    def __call__(self, img: Image.Image) -> Image.Image:
        th, tw = self._hw
        if th > img.height or tw > img.width:
            dw, dh = max(tw - img.width, 0), max(th - img.height, 0)
            img = ImageOps.expand(img, border=(dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), fill=_black(img))
            if (img.height, img.width) == (th, tw):
                return img
        top, left = int(round((img.height - th) / 2.0)), int(round((img.width - tw) / 2.0))
        return img.crop((left, top, left + tw, top + th))

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """Zero-pad by ``padding`` pixels on every side, then crop a uniformly placed ``size`` window: row then column
    offset, each one ``torch.randint`` draw (none when the image already has that size)."""

    def __init__(self, size: Size, padding: Optional[int] = None) -> None:
        self.size = _pair(size)
        self.padding = padding

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.padding is not None:
            img = ImageOps.expand(img, border=self.padding, fill=_black(img))
        th, tw = self.size
        h, w = img.height, img.width
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the image {(h, w)}")
        if (h, w) == (th, tw):
            return img
        top = int(torch.randint(0, h - th + 1, size=(1,)).item())
        left = int(torch.randint(0, w - tw + 1, size=(1,)).item())
        return img.crop((left, top, left + tw, top + th))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (one ``torch.rand`` draw)."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Image.Image) -> Image.Image:
        if torch.rand(1) < self.p:
            return img.transpose(Image.FLIP_LEFT_RIGHT)
        return img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomRotation:
    """Rotate about the centre by an angle drawn uniformly from [-degrees, degrees] (one ``uniform_`` draw),
    nearest-neighbour, same canvas, corners filled with 0."""

    def __init__(self, degrees: float) -> None:
        if degrees < 0:
            raise ValueError(f"RandomRotation degrees must be >= 0, got {degrees}")
        self.degrees = [-float(degrees), float(degrees)]

    def __call__(self, img: Image.Image) -> Image.Image:
        angle = float(torch.empty(1).uniform_(float(self.degrees[0]), float(self.degrees[1])).item())
        return img.rotate(angle, Image.NEAREST, False, None, fillcolor=_black(img))

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees}, interpolation=nearest, expand=False, fill=0)"


class ToTensor:
    """Pillow image with 8 bits per channel (or 1-bit) -> float tensor (C, H, W) in [0, 1]."""

    def __call__(self, img: Image.Image) -> torch.Tensor:
        if img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
            raise ValueError(f"ToTensor takes 8-bit images; convert the {img.mode!r} image to 'L' or 'RGB' first")
        arr = np.array(img, np.uint8, copy=True)
        if img.mode == "1":
            arr = arr * np.uint8(255)
        x = torch.from_numpy(arr).view(img.height, img.width, len(img.getbands()))
        return x.permute(2, 0, 1).contiguous().to(dtype=torch.get_default_dtype()).div(255)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean) / std`` per channel, on a copy."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = mean, std

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
        if (std == 0).any():
            raise ValueError(f"Normalize: a std of 0 in {self.std}")
        return x.clone().sub_(mean).div_(std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"
