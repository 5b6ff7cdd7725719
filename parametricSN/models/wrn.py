"""``wrn`` head: a standard pre-activation wide ResNet (Zagoruyko & Komodakis, WRN-d-k) on pixels.

    conv3x3 to 16 -> 3 stages of (d − 4)/6 pre-activation blocks at 16k, 32k, 64k channels, strides 1, 2, 2
                  -> BN -> ReLU -> global average pooling -> Linear(64k, num_classes)

The registered head is WRN-16-k with k = ``model.width`` (8 by default: WRN-16-8, 2 blocks per stage,
widths 16/128/256/512, ≈ 11.0 M parameters on CIFAR-10) and dropout ``model.dropout`` between the two
convolutions of each block. Any input size works: global pooling is a mean over space. Initialisation follows
``model.init`` (see :func:`~parametricSN.models.layers.init_wrn_weights`). This head is not in the paper's code,
whose pixel baseline was the ``hybrid-wrn`` head on raw pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from parametricSN.config import ModelConfig
from parametricSN.models.layers import GlobalAvgPool, conv1x1, conv3x3, init_wrn_weights
from parametricSN.models.registry import register_head


class PreActBlock(nn.Module):
    """Pre-activation block: a = ReLU(BN(x)); y = conv(dropout(ReLU(BN(conv_s(a))))) + shortcut, where the
    shortcut is x, or a strided 1×1 convolution of a when the channel count or resolution changes."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv3x3(planes, planes)
        self.shortcut = conv1x1(in_planes, planes, stride) if stride != 1 or in_planes != planes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.bn1(x))
        out = self.conv1(a)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))
        return out + (x if self.shortcut is None else self.shortcut(a))


class WideResNet(nn.Module):
    """Pre-activation WRN-``depth``-``k`` for inputs of shape ``in_shape = (C, h, w)``."""

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        num_classes: int,
        depth: int = 16,
        k: int = 8,
        dropout: float = 0.0,
        init: str = "default",
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"wide ResNet depth must be 6n + 4 with n >= 1, got {depth}")
        n = (depth - 4) // 6
        widths = (16, 16 * k, 32 * k, 64 * k)
        self.conv0 = conv3x3(in_shape[0], widths[0])
        self.stage1 = self._stage(widths[0], widths[1], n, 1, dropout)
        self.stage2 = self._stage(widths[1], widths[2], n, 2, dropout)
        self.stage3 = self._stage(widths[2], widths[3], n, 2, dropout)
        self.bn = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=True)
        self.pool = GlobalAvgPool()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(widths[3], num_classes)
        init_wrn_weights(self, init)

    @staticmethod
    def _stage(in_planes: int, planes: int, n: int, stride: int, dropout: float) -> nn.Sequential:
        return nn.Sequential(
            PreActBlock(in_planes, planes, stride, dropout),
            *(PreActBlock(planes, planes, 1, dropout) for _ in range(n - 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv0(x)
        x = self.stage3(self.stage2(self.stage1(x)))
        x = self.pool(self.relu(self.bn(x)))
        return self.fc(self.flatten(x))


@register_head("wrn", reads=("width", "dropout", "init"))
def wrn16_8(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    return WideResNet(in_shape, num_classes, depth=16, k=cfg.width, dropout=cfg.dropout, init=cfg.init)
