"""The dataset registry: specs, registration, what the config asks of it, and computed statistics."""

import numpy as np
import pytest

from parametricSN.config import ConfigError, load_config, register_choices
from parametricSN.data import DatasetSpec, Split, available_datasets, dataset_spec, register_dataset
from parametricSN.data.stats import compute_statistics


def test_the_built_in_datasets_and_what_the_config_reads_from_them():
    assert {"cifar", "fashion_mnist", "kth", "covidx", "imagefolder"} <= set(available_datasets())
    for name, shape in (("cifar", (10, 3)), ("fashion_mnist", (10, 1)), ("kth", (11, 3)), ("covidx", (2, 1))):
        cfg = load_config(None, [f"dataset.name={name}", f"dataset.train_sample_num={shape[0]}"])
        assert (cfg.num_classes, cfg.in_channels) == shape == dataset_spec(name).shape(cfg.dataset)
    assert dataset_spec("cifar").formats == ("native", "imagefolder")
    with pytest.raises(ConfigError, match="dataset.format: expected one of native, got 'imagefolder'"):
        load_config(None, ["dataset.name=kth", "dataset.train_sample_num=11", "dataset.format=imagefolder"])
    with pytest.raises(ConfigError, match="dataset.name: unknown dataset 'mnist'"):
        dataset_spec("mnist")


def test_registration_clashes_and_incomplete_specs_are_errors():
    with pytest.raises(ValueError, match="'cifar' is already registered by parametricSN.data.cifar.cifar"):
        register_dataset("cifar")(lambda: dataset_spec("cifar"))
    with pytest.raises(ValueError, match="num_classes >= 1 and channels 1 or 3"):
        DatasetSpec(readers={"native": lambda d: None}, obtain="", num_classes=2, channels=2)
    with pytest.raises(ValueError, match="not a config key"):
        register_choices("dataset.colour", lambda cfg: ())


def test_a_spec_limits_its_augmentations():
    @register_dataset("plain_test")
    def plain() -> DatasetSpec:
        return DatasetSpec(
            readers={"native": lambda d: None},
            obtain="nowhere",
            num_classes=2,
            channels=1,
            native_size=(8, 8),
            normalization=((0.5,), (0.5,)),
            augments=("noaugment",),
        )

    with pytest.raises(ConfigError, match="dataset.augment: expected one of noaugment, got 'autoaugment-paper'"):
        load_config(
            None, ["dataset.name=plain_test", "dataset.train_sample_num=2", "dataset.height=8", "dataset.width=8"]
        )


def test_computed_statistics_are_the_pixel_moments():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 6, 4, 3), dtype=np.uint8)
    split = Split("t/train", images, np.zeros(5, dtype=np.int64), ("a",), "RGB")
    mean, std = compute_statistics(split, [])
    x = images.reshape(-1, 3) / 255
    assert np.allclose(mean, x.mean(0)) and np.allclose(std, x.std(0))
    flat = Split("t/train", np.full((2, 4, 4), 7, np.uint8), np.zeros(2, dtype=np.int64), ("a",), "L")
    assert compute_statistics(flat, [])[1] == (1.0,)  # a constant channel: only its mean is removed
