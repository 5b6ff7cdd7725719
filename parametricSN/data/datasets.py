"""Torch datasets over a :class:`Split` subset, with augmentation that does not depend on ``num_workers``.

The training sampler (:class:`EpochSampler`) yields keys ``(epoch, position)``; the dataset turns a key into
the per-item seed ``derive_seed(seed, AUGMENT, epoch, origin)`` (``origin`` = the item's index in its split),
and runs the transforms inside ``torch.random.fork_rng`` after ``torch.manual_seed(per-item seed)``. The image
an item yields is therefore a function of (seed, epoch, item) only: it is the same whichever worker process
decodes it, in whatever order, and the caller's global torch RNG is left untouched. Because the epoch travels
inside the key, persistent workers need no message when the epoch changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Union

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from parametricSN.data.splits import Split
from parametricSN.data.subsets import AUGMENT, SHUFFLE, derive_seed, rng


class SubsetDataset(Dataset):
    """Items ``indices`` of ``split`` as ``(image tensor, label)`` pairs.

    ``augment_seed=None`` marks a deterministic (test) dataset: keys are plain positions and the transform is
    applied as is. Otherwise keys are ``(epoch, position)`` pairs (a plain position means epoch 0) and the
    transform runs under the per-item seed described in the module docstring.
    """

    def __init__(
        self, split: Split, indices: np.ndarray, transform: Callable, augment_seed: Union[int, None] = None
    ) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.split = split.take(self.indices)  # only the chosen images stay in memory (and go to workers)
        self.transform = transform
        self.augment_seed = augment_seed

    def __len__(self) -> int:
        return len(self.indices)

    def item_seed(self, epoch: int, position: int) -> int:
        """The torch seed of item ``position`` at ``epoch``."""
        return derive_seed(self.augment_seed, AUGMENT, epoch, int(self.indices[position]))

    def __getitem__(self, key: Union[int, tuple]) -> tuple:
        epoch, position = key if isinstance(key, tuple) else (0, key)
        position = int(position)
        image = self.split.image(position)
        label = int(self.split.labels[position])
        if self.augment_seed is None:
            return self.transform(image), label
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only: torch.manual_seed would also reseed (and, outside fork_rng's devices,
            # never restore) the CUDA generators of the process, which dropout on CUDA draws from
            torch.default_generator.manual_seed(self.item_seed(epoch, position))
            return self.transform(image), label

    def keys(self) -> list:
        """Identity of every item (file path, or split name and index), for overlap checks."""
        return [self.split.key(i) for i in range(len(self))]


class EpochSampler(Sampler):
    """Yields ``(epoch, position)`` for every position of a dataset of size ``n``, in an order fixed by
    ``(seed, epoch)``: a uniform permutation from ``rng(seed, SHUFFLE, epoch)`` (or 0..n-1 without shuffle).
    :meth:`set_epoch` selects the epoch of the next iteration."""

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """Positions in the order epoch ``epoch`` visits them."""
        return rng(self.seed, SHUFFLE, epoch).permutation(self.n) if self.shuffle else np.arange(self.n)

    def __iter__(self) -> Iterator[tuple]:
        epoch = self.epoch  # read once: a set_epoch during iteration applies to the next epoch
        return iter([(epoch, int(i)) for i in self.order(epoch)])

    def __len__(self) -> int:
        return self.n
