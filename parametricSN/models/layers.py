"""Small building blocks shared by several head families."""

from __future__ import annotations

import torch
from torch import nn

from parametricSN.config import choices


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows or precedes it)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias, the projection shortcut of residual blocks."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class GlobalAvgPool(nn.Module):
    """(B, C, H, W) -> (B, C, 1, 1), the mean over space.

    A plain mean works for any spatial size and its backward is an expand, deterministic on every device,
    unlike ``nn.AdaptiveAvgPool2d`` whose CUDA backward has no deterministic kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(-2, -1), keepdim=True)


def init_resnet_weights(module: nn.Module) -> None:
    """He-normal (fan-out) convolutions, unit-scale BatchNorms: the usual ResNet / WRN initialisation.

    Draws from torch's global RNG, which the caller seeds (see ``build_model``).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


WRN_INITS = choices("model.init")  # default | kaiming


def init_wrn_weights(module: nn.Module, scheme: str = "default") -> None:
    """Initialise a wide-ResNet head by ``model.init``.

    ``default`` keeps PyTorch's layer initialisation, applied when the layers were built: convolution and linear
    weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (std 1/sqrt(3 fan_in)), BatchNorm weight 1 and bias 0. The paper's
    heads used exactly this (its code never re-initialised them). ``kaiming`` re-draws every convolution He-normal
    with std sqrt(2 / fan_out) (:func:`init_resnet_weights`): for a 3x3 conv from c to c channels that is
    sqrt(6) ~ 2.45 times larger.
    """
    if scheme == "kaiming":
        init_resnet_weights(module)
    elif scheme != "default":
        raise ValueError(f"model.init: expected default or kaiming, got {scheme!r}")
