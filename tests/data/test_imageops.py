"""The training path's image steps (``parametricSN/data/imageops.py``) against torchvision's transforms of the same
name: same pixels, same tensors, same random draws (the global generator is in the same state afterwards) and the
same ``repr`` (the normalisation cache key hashes it), on colour and grey images of odd and even sizes."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as tv

from parametricSN.data import imageops as ours

RNG = np.random.default_rng(3)
IMAGES = {
    "rgb-32": Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)),
    "grey-28": Image.fromarray(RNG.integers(0, 256, (28, 28), dtype=np.uint8)),
    "rgb-37x50": Image.fromarray(RNG.integers(0, 256, (37, 50, 3), dtype=np.uint8)),
    "grey-21x16": Image.fromarray(RNG.integers(0, 256, (21, 16), dtype=np.uint8)),
}

# (our step, torchvision's) built from the same arguments, as the training path builds them
PAIRS = {
    "resize": lambda: (ours.Resize((24, 30)), tv.Resize((24, 30))),
    "resize-same-size": lambda: (ours.Resize((32, 32)), tv.Resize((32, 32))),
    "center-crop": lambda: (ours.CenterCrop((15, 12)), tv.CenterCrop((15, 12))),
    "center-crop-pads": lambda: (ours.CenterCrop((40, 41)), tv.CenterCrop((40, 41))),
    "random-crop-padded": lambda: (ours.RandomCrop((28, 16), padding=4), tv.RandomCrop((28, 16), padding=4)),
    "random-crop": lambda: (ours.RandomCrop((13, 11)), tv.RandomCrop((13, 11))),
    "flip": lambda: (ours.RandomHorizontalFlip(), tv.RandomHorizontalFlip()),
    "rotation": lambda: (ours.RandomRotation(10), tv.RandomRotation(10)),
}


def _pixels(img):
    return np.asarray(img) if isinstance(img, Image.Image) else img.numpy()


@pytest.mark.parametrize("image", IMAGES, ids=list(IMAGES))
@pytest.mark.parametrize("step", PAIRS, ids=list(PAIRS))
def test_each_step_gives_torchvisions_pixels_and_draws(step, image):
    mine, theirs = PAIRS[step]()
    assert repr(mine) == repr(theirs)
    img = IMAGES[image]
    for seed in range(12):
        torch.default_generator.manual_seed(seed)
        a = mine(img)
        after_mine = torch.rand(1)
        torch.default_generator.manual_seed(seed)
        b = theirs(img)
        assert type(a) is type(b) and a.mode == b.mode and a.size == b.size
        assert np.array_equal(_pixels(a), _pixels(b)), (step, image, seed)
        assert torch.equal(after_mine, torch.rand(1))  # as many draws as torchvision


@pytest.mark.parametrize("image", IMAGES, ids=list(IMAGES))
def test_to_tensor_and_normalize_give_torchvisions_tensors(image):
    img = IMAGES[image]
    c = len(img.getbands())
    mean, std = [0.4914, 0.4822, 0.4465][:c], [0.247, 0.243, 0.261][:c]
    a = ours.Compose([ours.ToTensor(), ours.Normalize(mean, std)])(img)
    b = tv.Compose([tv.ToTensor(), tv.Normalize(mean, std)])(img)
    assert a.dtype == b.dtype == torch.float32 and torch.equal(a, b)
    assert torch.equal(ours.ToTensor()(img.convert("1")), tv.ToTensor()(img.convert("1")))


def test_a_composed_pipeline_and_its_repr_are_torchvisions():
    def pipeline(T):
        return T.Compose(
            [T.Resize((40, 40)), T.RandomRotation(10), T.RandomCrop((32, 32)), T.RandomHorizontalFlip(), T.ToTensor()]
        )

    assert repr(pipeline(ours)) == repr(pipeline(tv))
    img = IMAGES["rgb-37x50"]
    torch.default_generator.manual_seed(7)
    a = torch.stack([pipeline(ours)(img) for _ in range(8)])
    torch.default_generator.manual_seed(7)
    assert torch.equal(a, torch.stack([pipeline(tv)(img) for _ in range(8)]))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="larger than the image"):
        ours.RandomCrop((40, 40))(IMAGES["rgb-32"])
    with pytest.raises(ValueError, match="convert the 'I' image"):
        ours.ToTensor()(IMAGES["grey-28"].convert("I"))
    with pytest.raises(ValueError, match="std of 0"):
        ours.Normalize([0.5], [0.0])(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="Resize takes"):
        ours.Resize(32)
