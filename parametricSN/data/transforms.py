"""Augmentations and per-dataset normalisation (torchvision transforms on Pillow images).

``augment`` (train split only; the test split always gets the deterministic path):

- ``noaugment``: resize only.
- ``original-cifar``: random crop (CIFAR/Fashion-MNIST: pad 4 then crop back; KTH/X-ray: crop from the resized
  image) + horizontal flip; KTH also rotates by up to 10 degrees, as textures have no preferred orientation.
- ``autoaugment``: ``original-cifar`` + torchvision's AutoAugment (CIFAR-10 policy) + :class:`Cutout` (16 px).
- ``autoaugment-paper``: ``original-cifar`` + the paper's own AutoAugment port and Cutout, reproduced exactly
  (``autoaugment_paper.py``); the default of ``conf/cifar.yaml``.

Small datasets (CIFAR-10 32x32, Fashion-MNIST 28x28) are resized only when ``(height, width)`` differs from
their native size. Large ones are first resized to ``ceil(RESIZE_RATIO * size)`` and then cropped to
``(height, width)`` (centre crop at test time): KTH 200x200 -> 128x128, X-ray 260x260 -> 224x224.
Finally ``ToTensor`` maps to [0, 1] and ``Normalize`` subtracts the dataset mean and divides by its std.

Every random choice is drawn from torch's global generator, which the dataset seeds per item (see
``datasets.py``); :class:`Cutout` does the same, so one ``torch.manual_seed`` fixes the whole pipeline.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

AUGMENTS = ("autoaugment", "autoaugment-paper", "original-cifar", "noaugment")
NATIVE_SIZE = {"cifar": (32, 32), "fashion_mnist": (28, 28)}
RESIZE_RATIO = {"kth": 200 / 128, "xray": 260 / 224}
CUTOUT_LENGTH = 16
CIFAR_PAD = 4

# channel means and standard deviations of the [0, 1] images
NORMALIZATION = {
    "cifar": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    "fashion_mnist": ((0.2860,), (0.3530,)),  # measured on the 60000 training images
    "kth": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # ImageNet statistics, as in the paper's code
    "xray": ((0.5888,), (0.1882,)),  # measured on COVIDx CXR-2 in grey
}


class Cutout:
    """Fill a ``length x length`` square with the image's per-channel mean (DeVries & Taylor, 2017).

    The square's centre is a uniformly drawn pixel ``(cy, cx)``; the square covers rows
    ``[cy - length//2, cy - length//2 + length)`` and the same columns, clipped at the image border, so near
    the border less than ``length**2`` pixels are covered.
    """

    def __init__(self, length: int = CUTOUT_LENGTH) -> None:
        if length < 1:
            raise ValueError(f"Cutout length must be >= 1, got {length}")
        self.length = length

    def __call__(self, img: Image.Image) -> Image.Image:
        arr = np.array(img)  # a copy: the input image is left untouched
        h, w = arr.shape[:2]
        cy, cx = int(torch.randint(h, (1,))), int(torch.randint(w, (1,)))
        y0, x0 = max(cy - self.length // 2, 0), max(cx - self.length // 2, 0)
        y1, x1 = min(cy - self.length // 2 + self.length, h), min(cx - self.length // 2 + self.length, w)
        fill = np.rint(arr.reshape(h * w, -1).mean(axis=0)).astype(arr.dtype)
        arr[y0:y1, x0:x1] = fill if arr.ndim == 3 else fill[0]
        return Image.fromarray(arr)

    def __repr__(self) -> str:
        return f"Cutout(length={self.length})"


def _geometry(dataset: str, augment: str, size: tuple, train: bool) -> list:
    """Resize / crop / flip steps that bring an image to ``size`` = (height, width)."""
    random = train and augment != "noaugment"
    if dataset in NATIVE_SIZE:
        steps = [] if size == NATIVE_SIZE[dataset] else [T.Resize(size)]
        if random:
            steps += [T.RandomCrop(size, padding=CIFAR_PAD), T.RandomHorizontalFlip()]
        return steps
    pre = tuple(math.ceil(RESIZE_RATIO[dataset] * s) for s in size)
    if not random:
        return [T.Resize(pre), T.CenterCrop(size)]
    steps = [T.Resize(pre)]
    if dataset == "kth":
        steps.append(T.RandomRotation(10))
    return steps + [T.RandomCrop(size), T.RandomHorizontalFlip()]


def build_transform(dataset: str, augment: str, height: int, width: int, train: bool) -> Callable:
    """Pillow image -> normalised float32 tensor ``(C, height, width)`` for ``dataset`` (cifar | kth | xray |
    fashion_mnist); ``train=False`` gives the deterministic test pipeline whatever ``augment`` is."""
    if dataset not in NORMALIZATION:
        raise ValueError(f"no transforms for dataset {dataset!r}; known: {', '.join(NORMALIZATION)}")
    if augment not in AUGMENTS:
        raise ValueError(f"augment {augment!r} is not one of {', '.join(AUGMENTS)}")
    steps = _geometry(dataset, augment, (height, width), train)
    if train and augment == "autoaugment":
        steps += [T.AutoAugment(T.AutoAugmentPolicy.CIFAR10), Cutout(CUTOUT_LENGTH)]
    if train and augment == "autoaugment-paper":
        from parametricSN.data import autoaugment_paper as paper  # it builds on Cutout, defined here
        steps += [paper.PaperAutoAugment(), paper.PaperCutout(CUTOUT_LENGTH)]
    mean, std = NORMALIZATION[dataset]
    return T.Compose(steps + [T.ToTensor(), T.Normalize(mean, std)])
