import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import AutoAugment, AutoAugmentPolicy

from parametricSN.data import Cutout, build_transform, dataset_spec

RNG = np.random.default_rng(0)
RGB = Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8))
GREY = Image.fromarray(RNG.integers(0, 256, (28, 28), dtype=np.uint8))


@pytest.mark.parametrize("img", [RGB, GREY], ids=["rgb", "grey"])
def test_cutout_fills_one_clipped_square_with_the_mean(img):
    before = np.array(img)
    fill = np.rint(before.reshape(before.shape[0] * before.shape[1], -1).mean(0)).astype(np.uint8)
    sizes = set()
    for seed in range(40):
        torch.default_generator.manual_seed(seed)
        after = np.array(Cutout(16)(img))
        assert np.array_equal(np.array(img), before)  # input untouched
        changed = np.argwhere((after != before).reshape(*after.shape[:2], -1).any(-1))
        rows, cols = changed[:, 0], changed[:, 1]
        assert rows.max() - rows.min() < 16 and cols.max() - cols.min() < 16
        box = after[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].reshape(-1, fill.size)
        assert np.all(box == fill)  # the whole box, not only changed pixels, holds the mean
        sizes.add(len(box))
    assert max(sizes) == 256 and min(sizes) < 256  # full squares inside, clipped ones at the border


@pytest.mark.parametrize(
    "dataset,size,channels", [("cifar", 32, 3), ("fashion_mnist", 28, 1), ("kth", 64, 3), ("covidx", 64, 1)]
)
@pytest.mark.parametrize("augment", ["autoaugment", "resize-crop", "noaugment"])
def test_output_shapes(dataset, size, channels, augment):
    mode = "RGB" if channels == 3 else "L"
    src = 200 if dataset in ("kth", "covidx") else size
    img = Image.fromarray(RNG.integers(0, 256, (src, src, 3), dtype=np.uint8)).convert(mode)
    for train in (True, False):
        torch.default_generator.manual_seed(0)
        x = build_transform(dataset, augment, size, size, train=train)(img)
        assert x.shape == (channels, size, size) and x.dtype == torch.float32


def test_autoaugment_pipeline_is_the_published_one():
    steps = build_transform("cifar", "autoaugment", 32, 32, train=True).transforms
    kinds = [type(s) for s in steps]
    assert kinds == [T.RandomCrop, T.RandomHorizontalFlip, AutoAugment, Cutout, T.ToTensor, T.Normalize]
    assert steps[0].padding == 4 and steps[2].policy == AutoAugmentPolicy.CIFAR10 and steps[3].length == 16
    assert [type(s) for s in build_transform("cifar", "resize-crop", 32, 32, True).transforms] == [
        T.RandomCrop,
        T.RandomHorizontalFlip,
        T.ToTensor,
        T.Normalize,
    ]


def test_random_under_seed_and_test_pipeline_deterministic():
    train_tf = build_transform("cifar", "autoaugment", 32, 32, train=True)
    outs = []
    for seed in (0, 0, 1):
        torch.default_generator.manual_seed(seed)
        outs.append(train_tf(RGB))
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])
    test_tf = build_transform("cifar", "autoaugment", 32, 32, train=False)
    torch.default_generator.manual_seed(0)
    a = test_tf(RGB)
    torch.default_generator.manual_seed(1)
    assert torch.equal(a, test_tf(RGB))
    assert torch.equal(a, build_transform("cifar", "noaugment", 32, 32, train=False)(RGB))


def test_normalisation_maps_the_dataset_mean_to_zero():
    mean, std = dataset_spec("cifar").normalization
    img = Image.fromarray(np.broadcast_to(np.rint(np.array(mean) * 255).astype(np.uint8), (32, 32, 3)).copy())
    x = build_transform("cifar", "noaugment", 32, 32, train=False)(img)
    assert x.abs().max() < 0.5 / 255 / min(std) + 1e-6
    white = build_transform("fashion_mnist", "noaugment", 28, 28, train=False)(Image.new("L", (28, 28), 255))
    assert torch.allclose(white, torch.full_like(white, (1 - 0.2860) / 0.3530))


def test_kth_and_xray_resize_then_crop():
    steps = build_transform("kth", "noaugment", 128, 128, train=False).transforms
    assert steps[0].size == (200, 200) and steps[1].size == (128, 128)
    steps = build_transform("covidx", "resize-crop", 224, 224, train=True).transforms
    assert steps[0].size == (260, 260) and isinstance(steps[1], T.RandomCrop)
    # non-native CIFAR sizes are resized first
    assert build_transform("cifar", "noaugment", 64, 64, train=False)(RGB).shape == (3, 64, 64)


def test_bad_arguments():
    with pytest.raises(ValueError, match="augment 'flip' is not one of"):
        build_transform("cifar", "flip", 32, 32, train=True)
    with pytest.raises(ValueError, match="no transforms for dataset 'mnist'"):
        build_transform("mnist", "noaugment", 32, 32, train=True)
