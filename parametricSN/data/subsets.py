"""Seeded randomness of the data layer, and exactly class-balanced subsets.

Every random draw here is a pure function of integer keys: ``numpy.random.SeedSequence(keys)`` hashes the keys
into a state for the PCG64 generator, and both are specified bit for bit, so the same keys give the same numbers
on every machine with the same NumPy version (pinned in dependencies/requirements.txt: NumPy keeps the PCG64 bit
stream stable, but does not promise that ``Generator`` methods such as ``permutation`` never change).
Streams are separated by a tag (:data:`TRAIN_SUBSET`, :data:`TEST_SUBSET`, :data:`SHUFFLE`, :data:`AUGMENT`,
:data:`VAL_SUBSET`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from parametricSN.config import ConfigError, choices
from parametricSN.data.splits import DatasetError, Split

TRAIN_SUBSET, TEST_SUBSET, SHUFFLE, AUGMENT, LOADER, VAL_SUBSET = range(6)
_U64 = 2**64


def _entropy(keys: tuple) -> list:
    # SeedSequence wants non-negative integers; negative seeds wrap to distinct large values
    return [int(k) % _U64 for k in keys]


def rng(*keys: int) -> np.random.Generator:
    """A PCG64 generator determined by ``keys``, e.g. ``rng(seed, SHUFFLE, epoch)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(_entropy(keys))))


def derive_seed(*keys: int) -> int:
    """A 63-bit integer seed determined by ``keys`` (for ``torch.manual_seed`` / ``torch.Generator``)."""
    hi, lo = np.random.SeedSequence(_entropy(keys)).generate_state(2, dtype=np.uint32)
    return ((int(hi) << 32) | int(lo)) & (2**63 - 1)


def _class_members(labels: np.ndarray, n: int, num_classes: int, name: str, classes: Optional[tuple]) -> tuple:
    """``([indices of class c in dataset order for c = 0..num_classes-1], n / num_classes)``, or DatasetError when
    ``n`` is not a positive multiple of ``num_classes`` or a class has fewer than ``n / num_classes`` items."""
    if n <= 0 or n % num_classes:
        raise DatasetError(
            f"{name}: a class-balanced subset of {n} items needs a positive multiple of the {num_classes} classes"
        )
    per_class = n // num_classes
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    for c, idx in enumerate(members):
        if len(idx) < per_class:
            label = f"class {c}" + (f" ({classes[c]})" if classes else "")
            raise DatasetError(
                f"{name}: {label} has {len(idx)} images but the subset of {n} needs "
                f"{per_class} per class; lower the sample count"
            )
    return members, per_class


def balanced_subset(
    labels: np.ndarray,
    n: Optional[int],
    seed: int,
    num_classes: int,
    stream: int = TRAIN_SUBSET,
    name: str = "dataset",
    classes: Optional[tuple] = None,
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
    members, per_class = _class_members(labels, n, num_classes, name, classes)
    gen = rng(seed, stream)
    chosen = [gen.permutation(idx)[:per_class] for idx in members]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def paper_subset(
    labels: np.ndarray,
    n: Optional[int],
    seed: int,
    num_classes: int,
    name: str = "dataset",
    classes: Optional[tuple] = None,
    order: Optional[np.ndarray] = None,
    skip: int = 0,
) -> np.ndarray:
    """Sorted indices of the class-balanced subset the paper's code selected for ``seed`` (``dataset.subset: paper``).

    With ``m`` the size of the smallest class and ``P = numpy.random.RandomState(seed).permutation(m)``, class c
    contributes ``I_c[P[0]], ..., I_c[P[n/C - 1]]``, where ``I_c`` lists the indices of class c in the original's
    dataset order: one permutation, the same positions in every class. ``order`` gives that order as a permutation
    of the indices (None: the order of ``labels``). The train and the test split each get a fresh
    ``RandomState(seed)``, so a published seed selects exactly the published images. ``n=None`` selects every item
    (the original needed a number; the whole split is what its full-size test subsets selected).
    The original listed the indices class by class in permutation order; they are returned sorted here, which
    only changes the order a loader visits them in (the original's torch shuffle is not reproduced anyway).
    ``seed`` must be in [0, 2**32), the seeds ``RandomState`` accepts. ``skip`` starts at ``P[skip]`` instead
    (the validation split takes the positions after the training subset's: see :func:`validation_subset`).
    """
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels), dtype=np.int64)
    if not 0 <= seed < 2**32:
        raise ValueError(f"the paper's subset needs a seed in [0, 2**32) (numpy RandomState), got {seed}")
    order = np.arange(len(labels)) if order is None else np.asarray(order, dtype=np.int64)
    members, per_class = _class_members(labels[order], n, num_classes, name, classes)
    m = min(len(idx) for idx in members)
    positions = np.random.RandomState(seed).permutation(m)[skip : skip + per_class]
    return np.sort(np.concatenate([order[idx[positions]] for idx in members])).astype(np.int64)


def original_order(split: Split) -> np.ndarray:
    """The split's items in the order the paper's code listed them: in-memory splits (CIFAR-10 pickles,
    Fashion-MNIST) as stored; file-backed ones by path, which within a class is the order of torchvision's
    ``ImageFolder`` (sorted file names) that the original read KTH-TIPS2-b and COVIDx through."""
    if not split.lazy:
        return np.arange(len(split), dtype=np.int64)
    paths = [str(p) for p in split.images]
    return np.asarray(sorted(range(len(paths)), key=paths.__getitem__), dtype=np.int64)


SUBSETS = choices("dataset.subset")  # paper | balanced


def select_subset(
    kind: str, split: Split, n: Optional[int], seed: int, num_classes: int, stream: int, name: str = "dataset"
) -> np.ndarray:
    """``dataset.subset`` of ``split``: :func:`paper_subset` in :func:`original_order` (``paper``) or
    :func:`balanced_subset` on ``stream`` (``balanced``)."""
    if kind == "paper":
        return paper_subset(split.labels, n, seed, num_classes, name, split.classes, original_order(split))
    if kind == "balanced":
        return balanced_subset(split.labels, n, seed, num_classes, stream, name, split.classes)
    raise ValueError(f"dataset.subset: expected one of {', '.join(SUBSETS)}, got {kind!r}")


def validation_subset(
    kind: str, split: Split, train_idx: np.ndarray, n: int, seed: int, num_classes: int
) -> np.ndarray:
    """Sorted indices of ``dataset.val_sample_num = n`` items of ``split`` (the training split), ``n / num_classes``
    per class, none of them in the training subset ``train_idx``.

    ``paper``: the next ``n / num_classes`` positions of the seed's permutation, ``P[t], ..., P[t + n/C - 1]`` with
    ``t`` the training subset's images per class (what the seed did not select, in the order it would have).
    ``balanced``: :func:`balanced_subset` of the items outside ``train_idx`` on its own stream (:data:`VAL_SUBSET`).
    A split without enough images left is a :class:`ConfigError` naming ``dataset.val_sample_num``.
    """
    key = "dataset.val_sample_num"
    if n <= 0 or n % num_classes:
        raise ConfigError(f"{key}: expected 0 or a positive multiple of the {num_classes} classes, got {n}")
    labels = np.asarray(split.labels)
    per_class, train_per_class = n // num_classes, len(train_idx) // num_classes
    if kind == "paper":
        left = min(np.count_nonzero(labels == c) for c in range(num_classes)) - train_per_class
    else:
        rest = np.setdiff1d(np.arange(len(labels)), train_idx)
        left = min(np.count_nonzero(labels[rest] == c) for c in range(num_classes))
    if left <= 0 or len(train_idx) == len(labels):
        raise ConfigError(
            f"{key}: the training subset takes every image of {split.name} (for KTH-TIPS2-b: the "
            f"whole physical sample), so none is left to validate on; set {key}=0 or lower "
            f"dataset.train_sample_num"
        )
    if left < per_class:
        raise ConfigError(
            f"{key}: {split.name} has {left} images per class left beside the training subset, but "
            f"{n} validation images need {per_class}; lower {key} or dataset.train_sample_num"
        )
    if kind == "paper":
        return paper_subset(
            labels, n, seed, num_classes, split.name, split.classes, original_order(split), skip=train_per_class
        )
    return rest[balanced_subset(labels[rest], n, seed, num_classes, VAL_SUBSET, split.name, split.classes)]
