"""Device choice, deterministic kernels, seeding and the random state a checkpoint must carry.

Where randomness comes from in a run, and how each source is pinned:

- **data** (subset, shuffle order, augmentations): a function of ``(general.seed, epoch, sample index)``
  inside ``parametricSN.data``; the loop calls ``Loaders.set_epoch(epoch)`` before every epoch, so it
  needs no state beyond the epoch number.
- **model initialisation**: ``build_model`` draws from torch's global generator, which :func:`seed_everything`
  seeds with ``general.seed`` right before the model is built (random scattering init has its own
  ``seed`` argument).
- **during training** (dropout, DataLoader base seeds): torch's global generator, continuing from the
  state it had after the model was built. :func:`rng_state` / :func:`set_rng_state` capture and restore it
  (plus CUDA's, Python's and NumPy's, in case a third-party transform uses them) for exact resume.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from parametricSN.config import ConfigError

CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs to be deterministic (CUDA >= 10.2)


def resolve_device(spec: str) -> torch.device:
    """``general.device`` -> a torch device: ``auto`` = ``cuda`` when available, else ``cpu``.

    Asking for CUDA on a machine without it is a :class:`ConfigError` (the fix is ``general.device=cpu``).
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"general.device: {spec!r} requested but CUDA is not available here; use general.device=cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"general.device: {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return device


@contextmanager
def deterministic_mode(enabled: bool) -> Iterator[None]:
    """Within the block, ``enabled`` turns on PyTorch's deterministic algorithms and cuDNN's deterministic,
    non-benchmarking mode, and sets ``CUBLAS_WORKSPACE_CONFIG`` (unless already set). The previous global
    settings are restored on exit, so a run does not leak them into the caller's process.

    With ``enabled=False`` nothing changes: CPU results are reproducible anyway; on CUDA some kernels
    (atomics in backward passes) then are not.
    """
    if not enabled:
        yield
        return
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]
        if saved[4] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved[4]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), Python's ``random`` and NumPy's global generator."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def rng_state() -> dict[str, Any]:
    """Every global generator's state, as tensors and plain Python values (loadable with ``weights_only``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA states only where the devices exist)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
