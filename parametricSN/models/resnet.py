"""``resnet50`` head: torchvision's ResNet-50, randomly initialised unless ``model.weights`` names a local
state_dict file (weights are never downloaded).

Adaptations to the input ``(C, h, w)``:
- small inputs (min(h, w) < 64: CIFAR / Fashion-MNIST pixels and every scattering output) get the CIFAR stem,
  a 3×3 stride-1 convolution and no max-pool, so that the five stride-2 steps of the ImageNet stem do not
  reduce an 8×8 input to nothing before the first residual stage;
- larger inputs keep the 7×7 stride-2 stem and max-pool, with C input channels (1 for X-ray, 3 for KTH);
- torchvision's ``AdaptiveAvgPool2d((1, 1))`` is replaced by a plain spatial mean (same numbers, deterministic
  CUDA backward).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from parametricSN.config import ConfigError, ModelConfig
from parametricSN.models.layers import GlobalAvgPool
from parametricSN.models.registry import register_head

if TYPE_CHECKING:
    import torchvision

SMALL_INPUT = 64  # below this side length the ImageNet stem (÷4) would leave too little to the stages (÷8)


def resnet50_for(in_shape: tuple[int, int, int], num_classes: int) -> torchvision.models.ResNet:
    """A randomly initialised torchvision ResNet-50 with its stem adapted to ``in_shape`` (see module docstring)."""
    # Imported here, when the head is built: torchvision.models costs seconds (it pulls in torch._dynamo), and
    # registering the head must not make every run pay it.
    import torchvision.models

    c, h, w = in_shape
    net = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    if min(h, w) < SMALL_INPUT:
        net.conv1 = nn.Conv2d(c, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif c != 3:
        net.conv1 = nn.Conv2d(c, 64, kernel_size=7, stride=2, padding=3, bias=False)
    # torchvision initialises its convolutions He-normal (fan-out); give a replaced stem the same.
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.avgpool = GlobalAvgPool()
    return net


def _listing(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def read_local_weights(path: str) -> Mapping[str, torch.Tensor]:
    """The state_dict saved with ``torch.save(head.state_dict(), path)``; ConfigError naming ``model.weights``
    when the file is missing, unreadable or holds something else. Read before the network is built, so that a bad
    file fails at once."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"model.weights: no file at {str(file)!r}; give a local state_dict saved with "
            "torch.save(head.state_dict(), path), or set model.weights=null for random init "
            "(weights are never downloaded)"
        )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        raise ConfigError(f"model.weights: cannot read {str(file)!r} as a torch state_dict: {exc}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(
            f"model.weights: {str(file)!r} does not hold a state_dict (a mapping of names to "
            "tensors); save one with torch.save(head.state_dict(), path)"
        )
    return state


def load_local_weights(net: nn.Module, path: str, state: Mapping[str, torch.Tensor]) -> None:
    """Load ``state`` (read from ``path`` by :func:`read_local_weights`) into ``net``, strictly; ConfigError naming
    ``model.weights`` when its keys or tensor shapes differ from ``net`` (e.g. saved for another input shape or
    number of classes)."""
    file = Path(path).expanduser()
    own = net.state_dict()
    missing = sorted(own.keys() - state.keys())
    unexpected = sorted(state.keys() - own.keys())
    mismatched = sorted(
        f"{k} (file {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in own.keys() & state.keys()
        if state[k].shape != own[k].shape
    )
    if missing or unexpected or mismatched:
        problems = [
            f"{label}: {_listing(keys)}"
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatch", mismatched),
            )
            if keys
        ]
        raise ConfigError(
            f"model.weights: {str(file)!r} does not match this resnet50 head "
            f"(input and number of classes must be those it was saved with); " + "; ".join(problems)
        )
    net.load_state_dict(state)


@register_head("resnet50", reads=("weights",))
def resnet50(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    state = read_local_weights(cfg.weights) if cfg.weights is not None else None
    net = resnet50_for(in_shape, num_classes)
    if state is not None:
        load_local_weights(net, cfg.weights, state)
    return net
