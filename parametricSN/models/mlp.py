"""``mlp`` head: a multilayer perceptron on batch-normalised inputs.

    z_0 = vec(BN(x)),   z_i = dropout(ReLU(W_i z_{i-1} + b_i)) for i = 1..depth,   logits = W z_depth + b

with ``depth = model.depth`` hidden layers of ``model.hidden`` units and dropout probability ``model.dropout``.
"""

from __future__ import annotations

from torch import nn

from parametricSN.config import ModelConfig
from parametricSN.models.registry import register_head


class MLPHead(nn.Sequential):
    """BatchNorm2d(C) -> flatten -> depth × (Linear, ReLU, Dropout) -> Linear(hidden, num_classes)."""

    def __init__(
        self, in_shape: tuple[int, int, int], num_classes: int, depth: int, hidden: int, dropout: float = 0.0
    ) -> None:
        c, h, w = in_shape
        layers: list[nn.Module] = [nn.BatchNorm2d(c), nn.Flatten()]
        width = c * h * w
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


@register_head("mlp", reads=("depth", "hidden", "dropout"), packs=True)
def mlp(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    return MLPHead(in_shape, num_classes, depth=cfg.depth, hidden=cfg.hidden, dropout=cfg.dropout)
