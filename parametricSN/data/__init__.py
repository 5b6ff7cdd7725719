"""Datasets in their native layouts, seeded class-balanced subsets, augmentations, ``build_loaders(cfg)``.

Datasets (``dataset.name``): ``cifar``, ``fashion_mnist``, ``kth``, ``covidx``, ``imagefolder`` (any
``train/<class>/*``, ``test/<class>/*`` tree). A new dataset is one module with a function decorated by
``@register_dataset("name")`` that returns its :class:`DatasetSpec` (importing this package imports every module
that has one, :func:`parametricSN.config.names.builtin_modules`; your own: ``general.plugins``).

Typical use::

    from parametricSN.data import build_loaders
    loaders = build_loaders(cfg)
    for epoch in range(cfg.train.epochs):
        loaders.set_epoch(epoch)
        for images, labels in loaders.train: ...

The registry, the splits and the dataset modules (numpy and Pillow, no torch) are imported here, so that every
dataset is registered before any lookup; the other names (torch, torchvision) load on first use (see
:mod:`parametricSN._lazy`).
"""

import importlib

from parametricSN._lazy import lazy_package
from parametricSN.config.names import builtin_modules
from parametricSN.data.registry import DatasetSpec, available_datasets, dataset_spec, register_dataset
from parametricSN.data.splits import DatasetError, Split

for _module in builtin_modules("data", "register_dataset"):  # importing a dataset module registers it
    importlib.import_module(_module)
del _module

__all__ = lazy_package(
    __name__,
    {
        "EpochSampler": "datasets",
        "SubsetDataset": "datasets",
        "Loaders": "loaders",
        "build_datasets": "loaders",
        "build_loaders": "loaders",
        "read_splits": "loaders",
        "balanced_subset": "subsets",
        "derive_seed": "subsets",
        "Cutout": "transforms",
        "build_transform": "transforms",
    },
) + ["DatasetError", "DatasetSpec", "Split", "available_datasets", "dataset_spec", "register_dataset"]
