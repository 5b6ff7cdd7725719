"""Datasets in their native layouts, seeded class-balanced subsets, augmentations, ``build_loaders(cfg)``.

Datasets (``dataset.name``): ``cifar``, ``fashion_mnist``, ``kth``, ``covidx``, ``imagefolder`` (any
``train/<class>/*``, ``test/<class>/*`` tree). A new dataset is one module with a function decorated by
``@register_dataset("name")`` that returns its :class:`DatasetSpec`, imported below (or via ``general.plugins``).

    from parametricSN.data import build_loaders
    loaders = build_loaders(cfg)
    for epoch in range(cfg.train.epochs):
        loaders.set_epoch(epoch)
        for images, labels in loaders.train: ...
"""
from parametricSN.data.datasets import EpochSampler, SubsetDataset
from parametricSN.data.loaders import Loaders, build_datasets, build_loaders, read_splits
from parametricSN.data.registry import DatasetSpec, available_datasets, dataset_spec, register_dataset
from parametricSN.data.splits import DatasetError, Split
from parametricSN.data.subsets import balanced_subset, derive_seed
from parametricSN.data.transforms import Cutout, build_transform

# Importing a dataset module registers it.
from parametricSN.data import cifar, covidx, fashion_mnist, imagefolder, kth  # noqa: F401,E402  (registration)

__all__ = ["build_loaders", "build_datasets", "read_splits", "Loaders", "Split", "SubsetDataset", "EpochSampler",
           "DatasetError", "DatasetSpec", "available_datasets", "balanced_subset", "dataset_spec", "derive_seed",
           "build_transform", "Cutout", "register_dataset"]
