"""Datasets in their native layouts, seeded class-balanced subsets, augmentations, ``build_loaders(cfg)``.

    from parametricSN.data import build_loaders
    loaders = build_loaders(cfg)
    for epoch in range(cfg.train.epochs):
        loaders.set_epoch(epoch)
        for images, labels in loaders.train: ...
"""
from parametricSN.data.datasets import EpochSampler, SubsetDataset
from parametricSN.data.loaders import Loaders, build_datasets, build_loaders, read_splits
from parametricSN.data.splits import DatasetError, Split
from parametricSN.data.subsets import balanced_subset, derive_seed
from parametricSN.data.transforms import NORMALIZATION, Cutout, build_transform

__all__ = ["build_loaders", "build_datasets", "read_splits", "Loaders", "Split", "SubsetDataset", "EpochSampler",
           "DatasetError", "balanced_subset", "derive_seed", "build_transform", "Cutout", "NORMALIZATION"]
