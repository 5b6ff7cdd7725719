"""The paper's AutoAugment port and Cutout (``parametricSN/data/autoaugment_paper.py``), op by op."""

import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps
from scipy import ndimage
from torchvision import transforms as T

from parametricSN.data.autoaugment_paper import (
    CIFAR10_POLICY,
    NO_MAGNITUDE,
    RANGES,
    PaperAutoAugment,
    PaperCutout,
    apply_operation,
    draw_value,
    magnitude_bin,
)
from parametricSN.data.transforms import build_transform

# The documented bins, written out by hand: bin m of each operation's range (10 equal bins).
BINS = {
    "ShearX": lambda m: (-0.3 + 0.06 * m, -0.24 + 0.06 * m),
    "ShearY": lambda m: (-0.3 + 0.06 * m, -0.24 + 0.06 * m),
    "TranslateX": lambda m: ((-150 + 30 * m) / 331, (-120 + 30 * m) / 331),
    "TranslateY": lambda m: ((-150 + 30 * m) / 331, (-120 + 30 * m) / 331),
    "Rotate": lambda m: (-30 + 6 * m, -24 + 6 * m),  # degrees, signed: bins 0-4 turn one way, 5-9 the other
    "Solarize": lambda m: (25.6 * m, 25.6 * (m + 1)),
    "Posterize": lambda m: (4 + 0.4 * m, 4.4 + 0.4 * m),
    "Contrast": lambda m: (0.1 + 0.18 * m, 0.28 + 0.18 * m),
    "Color": lambda m: (0.1 + 0.18 * m, 0.28 + 0.18 * m),
    "Brightness": lambda m: (0.1 + 0.18 * m, 0.28 + 0.18 * m),
    "Sharpness": lambda m: (0.1 + 0.18 * m, 0.28 + 0.18 * m),
}


@pytest.fixture(scope="module")
def img():
    return Image.fromarray(np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8))


def hand(img, name, value):
    """The operation computed directly: numpy for the pixel maps, PIL's enhancers, scipy's cubic spline with
    hand-written matrices about the port's centre (16.5, 16.5) for the geometry."""
    a = np.asarray(img)
    if name == "Solarize":
        return np.where(a >= value, 255 - a, a).astype(np.uint8)
    if name == "Posterize":
        bits = int(round(value))
        return a & np.uint8((0xFF << (8 - bits)) & 0xFF)
    if name in ("Contrast", "Color", "Brightness", "Sharpness"):
        return np.asarray(getattr(ImageEnhance, name)(img).enhance(value))
    c = np.array([16.5, 16.5])
    if name == "TranslateX":
        mat, off = np.eye(2), np.array([0.0, 32 * value])
    elif name == "TranslateY":
        mat, off = np.eye(2), np.array([32 * value, 0.0])
    else:
        t = np.deg2rad(value)
        mat = {
            "ShearX": np.array([[1, value], [0, 1]]),
            "ShearY": np.array([[1, 0], [value, 1]]),
            "Rotate": np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]),
        }[name]
        off = c - mat @ c
    return np.stack(
        [ndimage.affine_transform(a[..., k], mat, off, order=3, mode="constant", cval=0.0) for k in range(3)], axis=2
    )


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_operation_at_each_magnitude_bin(img, name):
    for m in range(10):
        lo, hi = BINS[name](m)
        assert magnitude_bin(name, m) == pytest.approx((lo, hi), abs=1e-12)
        torch.default_generator.manual_seed(m)
        value = draw_value(name, m)
        assert lo <= value <= hi
        np.testing.assert_array_equal(
            np.asarray(apply_operation(img, name, value)), hand(img, name, value), err_msg=f"{name} bin {m}"
        )


def test_magnitudes_fill_their_bin_uniformly():
    torch.default_generator.manual_seed(0)
    values = np.array([draw_value("Rotate", 2) for _ in range(400)])
    assert values.min() >= -18 and values.max() <= -12  # bin 2 of +-30 degrees: always the same direction
    assert values.min() < -17.8 and values.max() > -12.2 and abs(values.mean() + 15) < 0.3


def test_geometry_is_exact_on_the_pixel_grid_and_fills_with_black(img):
    a = np.asarray(img)
    shifted = np.asarray(apply_operation(img, "TranslateX", 3 / 32))  # reads column c + 3
    np.testing.assert_array_equal(shifted[:, :29], a[:, 3:])
    assert (shifted[:, 29:] == 0).all()
    # a quarter turn about the port's centre (16.5, 16.5), not the true centre (15.5, 15.5): out[r, c] = in[33 - c, r]
    turned = np.asarray(apply_operation(img, "Rotate", 90.0))
    assert (turned[:, :2] == 0).all()
    for r in range(31):  # (the last row meets the border up to rounding of cos 90 degrees)
        np.testing.assert_array_equal(turned[r, 2:31], a[31:2:-1, r])


def test_magnitude_free_operations_and_posterize_bits(img):
    for name, op in (
        ("AutoContrast", ImageOps.autocontrast),
        ("Equalize", ImageOps.equalize),
        ("Invert", ImageOps.invert),
    ):
        assert draw_value(name, 5) is None
        np.testing.assert_array_equal(np.asarray(apply_operation(img, name, None)), np.asarray(op(img)))
    assert np.asarray(apply_operation(img, "Posterize", 4.1)).max() <= 0xF0  # round(4.1) = 4 bits kept
    assert set(NO_MAGNITUDE) | set(RANGES) == {op for sub in CIFAR10_POLICY for op, _, _ in sub} | {"ShearX"}


def test_the_policy_is_autoaugments_cifar10_policy_as_torchvision_lists_it():
    theirs = T.AutoAugment(T.AutoAugmentPolicy.CIFAR10).policies
    assert len(CIFAR10_POLICY) == len(theirs) == 25
    for ours, tv in zip(CIFAR10_POLICY, theirs):
        for (name, p, m), (tv_name, tv_p, tv_m) in zip(ours, tv):
            assert (name, p) == (tv_name, tv_p)
            assert tv_m is None or m == tv_m


def test_a_sub_policy_fires_each_operation_with_its_probability(img):
    always_never = PaperAutoAugment([(("Invert", 1.0, 0), ("Equalize", 0.0, 0))])
    np.testing.assert_array_equal(np.asarray(always_never(img)), 255 - np.asarray(img))
    half = PaperAutoAugment([(("Invert", 0.5, 0), ("Invert", 0.0, 0))])
    torch.default_generator.manual_seed(0)
    fired = sum(not np.array_equal(np.asarray(half(img)), np.asarray(img)) for _ in range(200))
    assert 70 < fired < 130
    with pytest.raises(ValueError):
        PaperAutoAugment([(("Blur", 0.5, 3), ("Invert", 0.1, 0))])


def test_randomness_comes_from_torch_only(img):
    aa = PaperAutoAugment()

    def run(torch_seed, other_seed):
        torch.default_generator.manual_seed(torch_seed)
        random.seed(other_seed)
        np.random.seed(other_seed)
        return [np.asarray(PaperCutout()(aa(img))) for _ in range(8)]

    first = run(0, 1)
    assert all(np.array_equal(x, y) for x, y in zip(first, run(0, 2)))
    assert not all(np.array_equal(x, y) for x, y in zip(first, run(1, 1)))


def expected_cutout(a, top, left, n=16):
    """The port's placement, written out: rows [max(top,0), top+n), columns from (left<0 ? 0 : max(top,0)) to
    left+n, filled with the truncated mean of all pixels and channels."""
    out = a.copy()
    r0 = max(top, 0)
    c0 = 0 if left < 0 else r0
    out[r0 : top + n, c0 : left + n] = int(a.mean())
    return out


def test_cutout_places_the_square_with_the_ports_left_equals_top_bug():
    cases = set()
    for size in (32, 64):
        img = Image.fromarray(np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8))
        a = np.asarray(img)
        for seed in range(40):
            torch.default_generator.manual_seed(seed)
            top, left = int(torch.randint(-8, size - 16, ())), int(torch.randint(-8, size - 16, ()))
            torch.default_generator.manual_seed(seed)
            out = np.asarray(PaperCutout(16)(img))
            np.testing.assert_array_equal(out, expected_cutout(a, top, left))
            start = 0 if left < 0 else max(top, 0)
            cases.add(
                "left<0" if left < 0 else "empty" if start >= left + 16 else "wider" if start < left else "narrower"
            )
    assert cases == {"left<0", "wider", "narrower", "empty"}  # each branch of the placement was exercised
    # the fill is one scalar for all channels, truncated: a mean of 100.67 writes 100
    flat = Image.fromarray(np.full((32, 32, 3), (100, 101, 101), dtype=np.uint8) + np.uint8(0))
    torch.default_generator.manual_seed(1)
    filled = np.asarray(PaperCutout()(flat))
    changed = (filled != np.asarray(flat)).any(axis=2)
    assert changed.any() and (filled[changed] == 100).all()
    with pytest.raises(ValueError, match="larger than 8 px"):
        PaperCutout(16)(Image.new("RGB", (8, 8)))


def test_paper_pipeline_is_crop_flip_port_cutout_and_works_on_grey_images():
    tf = build_transform("cifar", "autoaugment-paper", 32, 32, train=True)
    kinds = [type(t) for t in tf.transforms]
    steps = T.RandomCrop, T.RandomHorizontalFlip, PaperAutoAugment, PaperCutout, T.ToTensor
    assert kinds == [*steps, T.Normalize]
    assert [type(t) for t in build_transform("cifar", "autoaugment-paper", 32, 32, train=False).transforms] == [
        T.ToTensor,
        T.Normalize,
    ]
    grey = Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8))
    for name in sorted(RANGES) + list(NO_MAGNITUDE):
        out = apply_operation(grey, name, draw_value(name, 7))
        assert out.mode == "L" and out.size == (28, 28)
    x = build_transform("fashion_mnist", "autoaugment-paper", 28, 28, train=True)(grey)
    assert x.shape == (1, 28, 28)
