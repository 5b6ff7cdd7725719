"""The paper's AutoAugment and Cutout (``dataset.augment: autoaugment-paper``), reproduced on purpose quirks and all.

The published CIFAR-10 runs did not use torchvision's AutoAugment but a third-party port of the CIFAR-10 policy.
It has the same 25 sub-policies (:data:`CIFAR10_POLICY`) as torchvision's, but its own way of turning a magnitude
index m (0..9) into a value, and a Cutout with a placement bug. This module reproduces that pipeline exactly.

**Magnitudes.** For an operation with range [lo, hi] the grid ``np.linspace(lo, hi, 11)`` cuts the range into 10
bins, and magnitude m draws a value *uniformly inside bin m*, ``[grid[m], grid[m + 1]]``. The ranges
(:data:`RANGES`) are signed where the operation has a direction: the sign comes from the bin, not from a coin, so
``Rotate`` at m = 2 always turns by -18..-12 degrees and at m = 9 by +24..+30 degrees. Factors of the
``ImageEnhance`` operations span [0.1, 1.9] (1 = identity), so low bins weaken and high bins strengthen.
``Posterize`` keeps ``round(u)`` bits for u in bin m of [4, 8]; ``Solarize`` inverts pixels >= u for u in bin m of
[0, 256]. ``AutoContrast``, ``Equalize`` and ``Invert`` have no magnitude.

**Geometry.** Shears, translations and rotations are applied to each channel of the uint8 array with
``scipy.ndimage.affine_transform`` at its defaults: cubic spline interpolation (order 3, with prefilter), points
outside the image filled with 0 (black). Coordinates are (row, column); an output pixel o reads the input at
``A o + b``.

**Randomness.** Every draw (sub-policy, whether each operation fires, its magnitude, Cutout's corner) comes from
torch's global generator, which the dataset seeds per item (see ``datasets.py``), so an image's augmentation is a
function of (seed, epoch, item) whatever the number of workers. The original drew the same distributions from
Python's ``random`` (policy, probabilities, magnitudes) and NumPy's global generator (Cutout): the numbers differ,
the distributions do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps
from scipy import ndimage

CUTOUT_LENGTH = 16

# The 25 sub-policies of AutoAugment's CIFAR-10 policy: two (operation, probability, magnitude bin) each.
# Magnitudes of AutoContrast, Equalize and Invert are listed as the policy lists them and are not used.
CIFAR10_POLICY: tuple = (
    (("Invert", 0.1, 7), ("Contrast", 0.2, 6)),
    (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
    (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
    (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.5, 8), ("Equalize", 0.9, 2)),
    (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
    (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
    (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
    (("Equalize", 0.6, 5), ("Equalize", 0.5, 1)),
    (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
    (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
    (("Equalize", 0.3, 7), ("AutoContrast", 0.4, 8)),
    (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
    (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
    (("Solarize", 0.5, 2), ("Invert", 0.0, 3)),
    (("Equalize", 0.2, 0), ("AutoContrast", 0.6, 0)),
    (("Equalize", 0.2, 8), ("Equalize", 0.6, 4)),
    (("Color", 0.9, 9), ("Equalize", 0.6, 6)),
    (("AutoContrast", 0.8, 4), ("Solarize", 0.2, 8)),
    (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
    (("Solarize", 0.4, 5), ("AutoContrast", 0.9, 3)),
    (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.9, 2), ("Solarize", 0.8, 3)),
    (("Equalize", 0.8, 8), ("Invert", 0.1, 3)),
    (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, 1)),
)

# Value range [lo, hi] of every operation with a magnitude; bin m is [grid[m], grid[m + 1]] of linspace(lo, hi, 11).
RANGES = {
    "ShearX": (-0.3, 0.3),
    "ShearY": (-0.3, 0.3),
    "TranslateX": (-150 / 331, 150 / 331),  # fraction of the image size (150 px of a 331 px image)
    "TranslateY": (-150 / 331, 150 / 331),
    "Rotate": (-30.0, 30.0),  # degrees
    "Solarize": (0.0, 256.0),  # threshold
    "Posterize": (4.0, 8.0),  # bits kept, before rounding
    "Contrast": (0.1, 1.9),
    "Color": (0.1, 1.9),
    "Brightness": (0.1, 1.9),
    "Sharpness": (0.1, 1.9),
}
NO_MAGNITUDE = ("AutoContrast", "Equalize", "Invert")
OPERATIONS = tuple(RANGES) + NO_MAGNITUDE
_ENHANCE = {
    "Contrast": ImageEnhance.Contrast,
    "Color": ImageEnhance.Color,
    "Brightness": ImageEnhance.Brightness,
    "Sharpness": ImageEnhance.Sharpness,
}
_PLAIN = {"AutoContrast": ImageOps.autocontrast, "Equalize": ImageOps.equalize, "Invert": ImageOps.invert}


def _uniform() -> float:
    """U[0, 1) from torch's global generator, in double precision (as Python's ``random.random``)."""
    return float(torch.rand((), dtype=torch.float64))


def magnitude_bin(name: str, m: int) -> tuple[float, float]:
    """The interval ``[grid[m], grid[m + 1]]`` that magnitude bin ``m`` (0..9) of operation ``name`` draws from."""
    grid = np.linspace(*RANGES[name], 11)
    return float(grid[m]), float(grid[m + 1])


def draw_value(name: str, m: int) -> Optional[float]:
    """A value of operation ``name`` at magnitude bin ``m``: uniform in :func:`magnitude_bin` (None if unused)."""
    if name in NO_MAGNITUDE:
        return None
    lo, hi = magnitude_bin(name, m)
    return lo + (hi - lo) * _uniform()


def affine_parameters(name: str, value: float, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` of a geometric operation on an ``h x w`` image: output pixel (r, c) reads input ``A (r, c) + b``.

    ``ShearX`` A = [[1, s], [0, 1]], ``ShearY`` A = [[1, 0], [s, 1]], ``Rotate`` A = [[cos t, -sin t], [sin t, cos t]]
    (t = value in degrees), all about the centre ``o = (h/2 + 0.5, w/2 + 0.5)``: ``b = o - A o``.
    ``TranslateX`` b = (0, w u), ``TranslateY`` b = (h u, 0), A = identity.
    """
    # Quirk kept: the port's centre is (h/2 + 0.5, w/2 + 0.5), one pixel past the true centre ((h-1)/2, (w-1)/2),
    # so its shears and rotations also shift the image by about a pixel. Its ShearX shears rows by column (an
    # up/down shear) and ShearY columns by row: the names are the port's, the behaviour too.
    if name == "TranslateX":
        return np.eye(2), np.array([0.0, w * value])
    if name == "TranslateY":
        return np.eye(2), np.array([h * value, 0.0])
    if name == "ShearX":
        a = np.array([[1.0, value], [0.0, 1.0]])
    elif name == "ShearY":
        a = np.array([[1.0, 0.0], [value, 1.0]])
    elif name == "Rotate":
        t = math.radians(value)
        a = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    else:
        raise ValueError(f"{name!r} is not a geometric operation")
    centre = np.array([h / 2 + 0.5, w / 2 + 0.5])
    return a, centre - a @ centre


def _affine(img: Image.Image, name: str, value: float) -> Image.Image:
    arr = np.asarray(img)
    a, b = affine_parameters(name, value, arr.shape[0], arr.shape[1])
    # scipy's defaults, as the port called it: cubic spline (order 3), outside points filled with 0 (black)
    if arr.ndim == 2:  # grey images (an extension: the port handled 3-channel arrays only)
        return Image.fromarray(ndimage.affine_transform(arr, a, b))
    return Image.fromarray(
        np.stack([ndimage.affine_transform(arr[:, :, c], a, b) for c in range(arr.shape[2])], axis=2)
    )


def apply_operation(img: Image.Image, name: str, value: Optional[float]) -> Image.Image:
    """Operation ``name`` at ``value`` (as drawn by :func:`draw_value`) on a uint8 Pillow image."""
    if name in _PLAIN:
        return _PLAIN[name](img)
    if name in _ENHANCE:
        return _ENHANCE[name](img).enhance(value)
    if name == "Solarize":
        return ImageOps.solarize(img, value)  # inverts every pixel >= value (a float threshold)
    if name == "Posterize":
        return ImageOps.posterize(img, int(round(value)))
    return _affine(img, name, value)


class PaperAutoAugment:
    """One uniformly chosen sub-policy of ``policies`` (default :data:`CIFAR10_POLICY`) per call; each of its two
    operations fires with its probability, at a value drawn from its magnitude bin (module docstring)."""

    def __init__(self, policies: Sequence = CIFAR10_POLICY) -> None:
        for sub in policies:
            for name, p, m in sub:
                if name not in OPERATIONS or not 0 <= p <= 1 or not 0 <= m <= 9:
                    raise ValueError(f"invalid AutoAugment operation {(name, p, m)!r}")
        self.policies = tuple(policies)

    def __call__(self, img: Image.Image) -> Image.Image:
        sub = self.policies[int(torch.randint(len(self.policies), ()))]
        for name, p, m in sub:
            if _uniform() < p:
                img = apply_operation(img, name, draw_value(name, m))
        return img

    def __repr__(self) -> str:
        return f"PaperAutoAugment({len(self.policies)} sub-policies)"


class PaperCutout:
    """The port's Cutout: a ``length x length`` square set to the image's mean, placed as the port placed it.

    Draws ``top`` and ``left`` uniformly from the integers ``[-length//2, size - length)``; the square covers rows
    ``[max(top, 0), top + length)`` and columns ``[0 if left < 0 else max(top, 0), left + length)``.
    """

    def __init__(self, length: int = CUTOUT_LENGTH) -> None:
        if length < 1:
            raise ValueError(f"PaperCutout: the square's side must be >= 1 px, got {length}")
        self.length = length

    def __call__(self, img: Image.Image) -> Image.Image:
        arr = np.array(img)  # a copy: the input image is left untouched
        h, w = arr.shape[:2]
        n = self.length
        if min(h, w) - n <= -(n // 2):
            raise ValueError(
                f"Cutout of {n} px as the paper placed it needs images larger than {n - n // 2} px, got {h}x{w}"
            )
        # Quirk kept: one scalar fill, the mean over all pixels *and channels* (not per channel), which numpy
        # truncates (not rounds) when it writes the float into the uint8 array.
        fill = arr.mean()
        top = int(torch.randint(-(n // 2), h - n, ()))
        left = int(torch.randint(-(n // 2), w - n, ()))
        bottom, right = top + n, left + n  # from the unclipped corner
        top = max(top, 0)
        # Quirk kept: the port's bug ``left = top`` — a non-negative left is replaced by the (clipped) top, so the
        # square's columns run from top to left + n: wider, narrower, or empty when top >= left + n (only on
        # images larger than 2 n).
        left = 0 if left < 0 else top
        arr[top:bottom, left:right] = fill
        return Image.fromarray(arr)

    def __repr__(self) -> str:
        return f"PaperCutout(length={self.length})"
