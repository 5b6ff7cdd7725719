"""``dataset.val_sample_num``: a class-balanced validation split drawn from the training split, disjoint from the
training subset, for every dataset and subset mode (``parametricSN/data/subsets.py:validation_subset``)."""

import numpy as np
import pytest

from parametricSN.config import ConfigError
from parametricSN.data import build_loaders, read_splits
from parametricSN.data.subsets import paper_subset
from tests.data.test_loaders import _cfg

# dataset case -> (train_sample_num, val_sample_num) that the fakes of test_loaders.WRITERS leave room for
SIZES = {"cifar": (20, 20), "cifar-imagefolder": (10, 20), "fashion_mnist": (10, 20), "kth": (11, 11), "covidx": (4, 4)}


@pytest.mark.parametrize("subset", ["paper", "balanced"])
@pytest.mark.parametrize("case", list(SIZES))
def test_validation_is_balanced_seeded_and_disjoint_from_training(tmp_path, case, subset):
    n_train, n_val = SIZES[case]
    cfg = _cfg(
        tmp_path,
        case,
        f"dataset.train_sample_num={n_train}",
        f"dataset.val_sample_num={n_val}",
        f"dataset.subset={subset}",
        "general.seed=3",
    )
    loaders = build_loaders(cfg)
    train_split, _ = read_splits(cfg)
    val_idx = loaders.val_indices
    assert len(val_idx) == n_val == len(loaders.val.dataset) and len(np.unique(val_idx)) == n_val
    assert not set(val_idx) & set(loaders.train_indices)
    keys = loaders.val.dataset.keys()  # the same images, by file or pixels, are not in the training subset
    assert not set(keys) & set(loaders.train.dataset.keys())
    assert not set(keys) & set(loaders.test.dataset.keys())  # drawn from the training split
    assert np.array_equal(
        np.bincount(train_split.labels[val_idx], minlength=cfg.num_classes),
        [n_val // cfg.num_classes] * cfg.num_classes,
    )
    assert np.array_equal(build_loaders(cfg).val_indices, val_idx)  # seeded
    # the training subset is the one the run would use without a validation split
    cfg.dataset.val_sample_num = 0
    plain = build_loaders(cfg)
    assert np.array_equal(plain.train_indices, loaders.train_indices) and plain.val is None


def test_paper_validation_takes_the_next_positions_of_the_seeds_permutation(tmp_path):
    cfg = _cfg(
        tmp_path,
        "cifar",
        "dataset.train_sample_num=10",
        "dataset.val_sample_num=20",
        "dataset.subset=paper",
        "general.seed=207715039",
    )
    train, _ = read_splits(cfg)
    both = paper_subset(train.labels, 30, 207715039, 10)  # 3 positions per class: 1 for training, 2 for validation
    loaders = build_loaders(cfg)
    assert sorted([*loaders.train_indices, *loaders.val_indices]) == both.tolist()


def test_kth_whole_sample_leaves_nothing_to_validate_on(tmp_path):
    cfg = _cfg(tmp_path, "kth", "dataset.train_sample_num=22", "dataset.val_sample_num=11")
    with pytest.raises(
        ConfigError,
        match=r"^dataset.val_sample_num: the training subset takes every image of "
        r"kth/train \(for KTH-TIPS2-b: the whole physical sample\)",
    ):
        build_loaders(cfg)


def test_too_many_validation_images_and_bad_counts(tmp_path):
    cfg = _cfg(tmp_path, "cifar", "dataset.train_sample_num=20", "dataset.val_sample_num=30")
    with pytest.raises(
        ConfigError, match="2 images per class left beside the training subset, but 30 validation images need 3"
    ):
        build_loaders(cfg)
    for value, expected in (("15", "a positive multiple of the 10 classes"), ("-10", "a value >= 0")):
        with pytest.raises(ConfigError, match=f"dataset.val_sample_num: expected {expected}"):
            _cfg(tmp_path / value, "cifar", f"dataset.val_sample_num={value}")
    with pytest.raises(ConfigError, match="train.evaluate_test: expected true unless dataset.val_sample_num > 0"):
        _cfg(tmp_path / "e", "cifar", "train.evaluate_test=false")
