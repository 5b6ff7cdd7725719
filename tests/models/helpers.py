"""Shared helpers for the model tests: one config per dataset shape, small heads by default."""
from __future__ import annotations

import torch

from parametricSN.config import Config, load_config
from parametricSN.data import dataset_spec

# dataset -> (side length, J): the shapes and scales of the paper's configs.
DATASET_SHAPES = {"cifar": (32, 2), "fashion_mnist": (28, 2), "kth": (128, 4), "xray": (224, 4)}
HEADS = ("linear", "cnn", "mlp", "wrn16_8", "resnet50")


def make_cfg(dataset: str = "cifar", *overrides: str, small: bool = True) -> Config:
    """A validated config for ``dataset`` at its paper shape and J; ``small`` shrinks the head and uses L = 4."""
    side, J = DATASET_SHAPES[dataset]
    base = [f"dataset.name={dataset}", f"dataset.height={side}", f"dataset.width={side}",
            f"dataset.train_sample_num={10 * dataset_spec(dataset).num_classes}", f"scattering.J={J}"]
    if small:
        base += ["scattering.L=4", "model.width=1", "model.depth=1", "model.hidden=16"]
    return load_config(None, overrides=base + list(overrides))


def images(cfg: Config, batch: int = 2) -> torch.Tensor:
    """A fixed batch of random images of the config's shape."""
    g = torch.Generator().manual_seed(1234)
    return torch.randn(batch, cfg.in_channels, cfg.dataset.height, cfg.dataset.width, generator=g)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
