"""Augmentations and normalisation (Pillow images, torchvision's transforms), shaped by the dataset's spec.

``augment`` (train split only; the test split always gets the deterministic path):

- ``noaugment``: resize only.
- ``resize-crop``: random crop (CIFAR/Fashion-MNIST: pad 4 then crop back; KTH/X-ray/image folders: crop from
  the resized image) + horizontal flip; KTH also rotates by up to 10 degrees (``DatasetSpec.rotation``), as
  textures have no preferred orientation.
- ``autoaugment``: ``resize-crop`` + torchvision's AutoAugment (CIFAR-10 policy) + :class:`Cutout` (16 px).
- ``autoaugment-paper``: ``resize-crop`` + the paper's own AutoAugment port and Cutout, reproduced exactly
  (``autoaugment_paper.py``); the default of ``conf/cifar.yaml``.

Datasets with a ``native_size`` (CIFAR-10 32x32, Fashion-MNIST 28x28) are resized only when ``(height, width)``
differs from it. Others are first resized to ``ceil(resize_ratio * size)`` and then cropped to
``(height, width)`` (centre crop at test time): KTH 200x200 -> 128x128, X-ray 260x260 -> 224x224.
Finally ``ToTensor`` maps to [0, 1] and ``Normalize`` subtracts the dataset mean and divides by its std.

Every random choice is drawn from torch's global generator, which the dataset seeds per item (see
``datasets.py``); :class:`Cutout` does the same, so one ``torch.manual_seed`` fixes the whole pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from parametricSN.config import register_choices
from parametricSN.data.autoaugment_paper import PaperAutoAugment, PaperCutout
from parametricSN.data.registry import DatasetSpec, Stats, available_datasets, dataset_spec

AUGMENTS = ("autoaugment", "autoaugment-paper", "resize-crop", "noaugment")
CUTOUT_LENGTH = 16
CIFAR_PAD = 4


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


def geometry(spec: DatasetSpec, augment: str, size: tuple, train: bool) -> list:
    """Resize / crop / flip steps that bring an image of dataset ``spec`` to ``size`` = (height, width)."""
    random = train and augment != "noaugment"
    if spec.native_size is not None:
        steps = [] if tuple(size) == tuple(spec.native_size) else [T.Resize(size)]
        if random:
            steps += [T.RandomCrop(size, padding=CIFAR_PAD), T.RandomHorizontalFlip()]
        return steps
    pre = tuple(math.ceil(spec.resize_ratio * s) for s in size)
    if not random:
        return [T.Resize(pre), T.CenterCrop(size)]
    steps = [T.Resize(pre)]
    if spec.rotation:
        steps.append(T.RandomRotation(spec.rotation))
    return steps + [T.RandomCrop(size), T.RandomHorizontalFlip()]


def build_transform(
    dataset: Union[str, DatasetSpec], augment: str, height: int, width: int, train: bool, stats: Optional[Stats] = None
) -> Callable:
    """Pillow image -> normalised float32 tensor ``(C, height, width)`` for ``dataset`` (a registered name or
    spec); ``train=False`` gives the deterministic test pipeline whatever ``augment`` is. ``stats`` = (mean, std)
    replaces the spec's normalisation (needed when the spec has none: it is computed from the data)."""
    if isinstance(dataset, str):
        if dataset not in available_datasets():
            raise ValueError(f"no transforms for dataset {dataset!r}; known: {', '.join(available_datasets())}")
        dataset = dataset_spec(dataset)
    if augment not in AUGMENTS:
        raise ValueError(f"augment {augment!r} is not one of {', '.join(AUGMENTS)}")
    steps = geometry(dataset, augment, (height, width), train)
    if train and augment == "autoaugment":
        steps += [T.AutoAugment(T.AutoAugmentPolicy.CIFAR10), Cutout(CUTOUT_LENGTH)]
    if train and augment == "autoaugment-paper":
        steps += [PaperAutoAugment(), PaperCutout(CUTOUT_LENGTH)]
    mean, std = stats if stats is not None else (dataset.normalization or (None, None))
    if mean is None:
        raise ValueError(f"dataset {dataset.name!r} has no fixed statistics: pass stats=(mean, std)")
    return T.Compose(steps + [T.ToTensor(), T.Normalize(mean, std)])


register_choices("dataset.augment", lambda cfg: dataset_spec(cfg.dataset.name).augments or AUGMENTS)
