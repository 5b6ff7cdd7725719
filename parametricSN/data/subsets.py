"""Seeded randomness of the data layer, and exactly class-balanced subsets.

Every random draw here is a pure function of integer keys: ``numpy.random.SeedSequence(keys)`` hashes the keys
into a state for the PCG64 generator, and both are specified bit for bit, so the same keys give the same numbers
on every machine with the same NumPy version (pinned in dependencies/requirements.txt: NumPy keeps the PCG64 bit
stream stable, but does not promise that ``Generator`` methods such as ``permutation`` never change).
Streams are separated by a tag (:data:`TRAIN_SUBSET`, :data:`TEST_SUBSET`, :data:`SHUFFLE`, :data:`AUGMENT`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from parametricSN.data.splits import DatasetError

TRAIN_SUBSET, TEST_SUBSET, SHUFFLE, AUGMENT, LOADER = range(5)
_U64 = 2 ** 64


def _entropy(keys: tuple) -> list:
    # SeedSequence wants non-negative integers; negative seeds wrap to distinct large values
    return [int(k) % _U64 for k in keys]


def rng(*keys: int) -> np.random.Generator:
    """A PCG64 generator determined by ``keys``, e.g. ``rng(seed, SHUFFLE, epoch)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(_entropy(keys))))


def derive_seed(*keys: int) -> int:
    """A 63-bit integer seed determined by ``keys`` (for ``torch.manual_seed`` / ``torch.Generator``)."""
    hi, lo = np.random.SeedSequence(_entropy(keys)).generate_state(2, dtype=np.uint32)
    return ((int(hi) << 32) | int(lo)) & (2 ** 63 - 1)


def balanced_subset(labels: np.ndarray, n: Optional[int], seed: int, num_classes: int,
                    stream: int = TRAIN_SUBSET, name: str = "dataset", classes: Optional[tuple] = None
                    ) -> np.ndarray:
    """Sorted indices of ``n / num_classes`` items of every class, drawn without replacement.

    For class c (in order 0..num_classes-1) the chosen items are the first ``n / num_classes`` of a uniform
    random permutation of ``{i : labels[i] = c}`` drawn from ``rng(seed, stream)``; the result depends on
    ``(seed, stream, labels)`` only. ``n=None`` selects every item. Raises :class:`DatasetError` when ``n`` is
    not a positive multiple of ``num_classes`` or a class has fewer than ``n / num_classes`` items.
    """
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels), dtype=np.int64)
    if n <= 0 or n % num_classes:
        raise DatasetError(f"{name}: a class-balanced subset of {n} items needs a positive multiple of the "
                           f"{num_classes} classes")
    per_class = n // num_classes
    gen = rng(seed, stream)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            label = f"class {c}" + (f" ({classes[c]})" if classes else "")
            raise DatasetError(f"{name}: {label} has {len(members)} images but the subset of {n} needs "
                               f"{per_class} per class; lower the sample count")
        chosen.append(gen.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen)).astype(np.int64)
