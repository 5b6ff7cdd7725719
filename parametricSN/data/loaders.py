"""``build_loaders(cfg)``: config -> train and test DataLoaders over seeded class-balanced subsets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from parametricSN.config import Config
from parametricSN.data.datasets import EpochSampler, SubsetDataset
from parametricSN.data.registry import dataset_spec
from parametricSN.data.splits import DatasetError, Split
from parametricSN.data.stats import normalization
from parametricSN.data.subsets import LOADER, TEST_SUBSET, TRAIN_SUBSET, derive_seed, select_subset, validation_subset
from parametricSN.data.transforms import build_transform


@dataclass
class Loaders:
    """Train and test loaders of one run.

    ``train`` yields ``(images float32 (B, C, H, W), labels int64 (B,))`` in the order of its
    :class:`EpochSampler`; ``test`` yields the test subset in index order, unaugmented. ``train_indices`` and
    ``test_indices`` are the sorted indices of the chosen items in the train and test splits. With
    ``dataset.val_sample_num`` > 0, ``val`` yields the validation images (items ``val_indices`` of the train split,
    none of them in the training subset) like ``test``; otherwise both are None. With ``train.evaluate_test``
    false, ``test`` is None and ``test_indices`` empty: the run never evaluates a test image.
    """

    train: DataLoader
    test: Optional[DataLoader]
    num_classes: int
    in_channels: int
    train_indices: np.ndarray
    test_indices: np.ndarray
    classes: tuple
    val: Optional[DataLoader] = None
    val_indices: Optional[np.ndarray] = None

    def set_epoch(self, epoch: int) -> None:
        """Fix the shuffle order and augmentation randomness of the next pass over ``train``."""
        self.train.sampler.set_epoch(epoch)


def read_splits(cfg: Config) -> tuple:
    """The full (train, test) :class:`Split` pair of ``cfg.dataset``, read by its registered spec."""
    return dataset_spec(cfg.dataset.name).read(cfg.dataset)


def _check_classes(cfg: Config, split: Split) -> None:
    if len(split.classes) != cfg.num_classes:
        raise DatasetError(
            f"{split.name}: found {len(split.classes)} classes ({', '.join(split.classes)}), but "
            f"{cfg.dataset.name} has {cfg.num_classes}"
        )


def _pin_memory(device: str) -> bool:
    # pinned host memory only helps (and only works) when batches go to a CUDA device
    return device != "cpu" and torch.cuda.is_available()


def build_datasets(cfg: Config, with_val: bool = False) -> tuple:
    """(train, test) :class:`SubsetDataset` of ``cfg``: subsets drawn with ``general.seed`` as ``dataset.subset``
    says (``paper``: the original code's selection; ``balanced``: independent per-class draws), train augmented
    with ``dataset.augment``, test with the deterministic pipeline. ``with_val``: (train, test, val), val None
    when ``dataset.val_sample_num`` is 0 (see :func:`parametricSN.data.subsets.validation_subset`)."""
    d, seed = cfg.dataset, cfg.general.seed
    train_split, test_split = read_splits(cfg)
    for split in (train_split, test_split):
        _check_classes(cfg, split)
    train_idx = select_subset(
        d.subset,
        train_split,
        d.train_sample_num,
        seed,
        cfg.num_classes,
        TRAIN_SUBSET,
        f"{train_split.name} (dataset.train_sample_num)",
    )
    test_idx = select_subset(
        d.subset,
        test_split,
        d.test_sample_num,
        seed,
        cfg.num_classes,
        TEST_SUBSET,
        f"{test_split.name} (dataset.test_sample_num)",
    )
    spec = dataset_spec(d.name)
    train_set = SubsetDataset(train_split, train_idx, None, augment_seed=seed)
    stats = normalization(spec, d, train_set.split)
    train_set.transform = build_transform(spec, d.augment, d.height, d.width, train=True, stats=stats)
    test_tf = build_transform(spec, d.augment, d.height, d.width, train=False, stats=stats)
    test_set = SubsetDataset(test_split, test_idx, test_tf)
    if not with_val:
        return train_set, test_set
    val_set = None
    if d.val_sample_num:
        val_idx = validation_subset(d.subset, train_split, train_idx, d.val_sample_num, seed, cfg.num_classes)
        val_set = SubsetDataset(train_split, val_idx, test_tf)
    return train_set, test_set, val_set


def build_loaders(cfg: Config) -> Loaders:
    """Train and test DataLoaders for ``cfg`` (see :class:`Loaders`).

    Batches: ``dataset.train_batch_size`` / ``dataset.test_batch_size``, the last batch kept even if short;
    ``general.num_workers`` worker processes (kept alive across epochs); pinned memory when batches go to CUDA.
    The loaders get their own torch generator, so creating an iterator never draws from the global RNG.
    """
    d, g = cfg.dataset, cfg.general
    train_set, test_set, val_set = build_datasets(cfg, with_val=True)
    common = dict(
        num_workers=g.num_workers,
        pin_memory=_pin_memory(g.device),
        drop_last=False,
        persistent_workers=g.num_workers > 0,
        generator=torch.Generator().manual_seed(derive_seed(g.seed, LOADER)),
    )
    train = DataLoader(
        train_set, batch_size=d.train_batch_size, sampler=EpochSampler(len(train_set), g.seed, shuffle=True), **common
    )
    test = (
        DataLoader(test_set, batch_size=d.test_batch_size, shuffle=False, **common) if cfg.train.evaluate_test else None
    )
    val = DataLoader(val_set, batch_size=d.test_batch_size, shuffle=False, **common) if val_set else None
    return Loaders(
        train=train,
        test=test,
        num_classes=cfg.num_classes,
        in_channels=cfg.in_channels,
        train_indices=train_set.indices,
        test_indices=test_set.indices if test is not None else np.zeros(0, dtype=np.int64),
        classes=train_set.split.classes,
        val=val,
        val_indices=val_set.indices if val_set else None,
    )
