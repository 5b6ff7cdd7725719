"""``linear`` head: a linear classifier on batch-normalised inputs.

    logits = W · vec(BN(x)) + b,    x ∈ R^{C×h×w}

BatchNorm2d standardises each of the C channels (scattering coefficients differ in scale by orders of
magnitude between orders and scales); the flattened C·h·w vector then goes through one ``nn.Linear``.
Reads no ``model`` keys besides ``name``.
"""

from __future__ import annotations

from torch import nn

from parametricSN.config import ModelConfig
from parametricSN.models.registry import register_head


class LinearHead(nn.Sequential):
    """BatchNorm2d(C) -> flatten -> Linear(C·h·w, num_classes)."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int) -> None:
        c, h, w = in_shape
        super().__init__(nn.BatchNorm2d(c), nn.Flatten(), nn.Linear(c * h * w, num_classes))


@register_head("linear", reads=(), packs=True)
def linear(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    return LinearHead(in_shape, num_classes)
