"""Shared helpers for the model tests: the registered heads, a fixed batch of images, parameter counts."""

from __future__ import annotations

import torch

from parametricSN.config import Config
from parametricSN.models import available_heads

HEADS = tuple(available_heads())  # every registered head (the built-in ones: tests import no plugin before this)


def images(cfg: Config, batch: int = 2) -> torch.Tensor:
    """A fixed batch of random images of the config's shape."""
    g = torch.Generator().manual_seed(1234)
    return torch.randn(batch, cfg.in_channels, cfg.dataset.height, cfg.dataset.width, generator=g)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
