"""``hybrid-wrn`` head: the hybrid wide ResNet put on top of scattering coefficients (Oyallon et al., "Scattering
networks for hybrid representation learning"; the parametricSN paper's CIFAR-10 head).

    x (C×h×w) -> BN (no affine) -> conv3x3 to 16k -> BN -> ReLU
              -> n basic blocks at 32k channels -> n basic blocks at 64k channels   (no striding: h×w kept)
              -> average pooling onto a 2×2 grid -> flatten -> Linear(64k·2·2, num_classes)

k = ``model.width``, n = ``model.depth``. With k = 8, n = 4 on CIFAR-10 scattering coefficients (J = 2, L = 8:
3·81 = 243 channels at 8×8) this has 22,596,746 parameters (≈ 22.6 M).

The 2×2 grid pooling is a fixed ``AvgPool2d`` with kernel = stride = ⌈h/2⌉ × ⌈w/2⌉ and ``ceil_mode``: for even
sizes it equals the original code's ``AdaptiveAvgPool2d(2)``; for odd sizes (Fashion-MNIST, J = 2: 7×7) the last
window is the mean of the rows/columns left over. Unlike adaptive pooling its CUDA backward is deterministic.

Initialisation (``model.init``): ``default`` keeps PyTorch's layer initialisation, as the paper's code did;
``kaiming`` re-draws the convolutions He-normal (fan-out). See :func:`~parametricSN.models.layers.init_wrn_weights`.
On raw pixels (``scattering.architecture: identity``) this head is the paper's pixel baseline ("onlycnn").
"""

from __future__ import annotations

import math

import torch
from torch import nn

from parametricSN.config import ModelConfig
from parametricSN.models.layers import conv1x1, conv3x3, init_wrn_weights
from parametricSN.models.registry import register_head


class BasicBlock(nn.Module):
    """Post-activation residual block (He et al.): y = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)).

    The shortcut is the identity, or a 1×1 convolution + BN when the channel count changes. Stride 1.
    """

    def __init__(self, in_planes: int, planes: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = (
            nn.Identity() if in_planes == planes else nn.Sequential(conv1x1(in_planes, planes), nn.BatchNorm2d(planes))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def _stage(in_planes: int, planes: int, n: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_planes, planes), *(BasicBlock(planes, planes) for _ in range(n - 1)))


class HybridWideResNet(nn.Module):
    """The hybrid wide ResNet of the module docstring, for inputs of shape ``in_shape = (C, h, w)``."""

    def __init__(
        self, in_shape: tuple[int, int, int], num_classes: int, k: int = 8, n: int = 4, init: str = "default"
    ) -> None:
        super().__init__()
        c, h, w = in_shape
        self.bn0 = nn.BatchNorm2d(c, affine=False)
        self.conv0 = conv3x3(c, 16 * k)
        self.bn1 = nn.BatchNorm2d(16 * k)
        self.relu = nn.ReLU(inplace=True)
        self.stage1 = _stage(16 * k, 32 * k, n)
        self.stage2 = _stage(32 * k, 64 * k, n)
        self.pool = nn.AvgPool2d(kernel_size=(math.ceil(h / 2), math.ceil(w / 2)), ceil_mode=True)
        # The stages keep h×w, so the pooled grid follows from the pool alone: run it on a 1-channel dummy.
        grid = self.pool(torch.zeros(1, 1, h, w)).shape[-2:]
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64 * k * grid[0] * grid[1], num_classes)
        init_wrn_weights(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv0(self.bn0(x))))
        x = self.stage1(x)
        x = self.stage2(x)
        x = self.pool(x)
        return self.fc(self.flatten(x))


@register_head("hybrid-wrn", reads=("width", "depth", "init"), packs=True)
def cnn(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    return HybridWideResNet(in_shape, num_classes, k=cfg.width, n=cfg.depth, init=cfg.init)
