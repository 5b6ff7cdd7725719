"""The factory: ``build_model(cfg)`` turns a config into a :class:`HybridModel`, logits = head(S(x)).

Seeding: ``build_model`` never seeds anything. Head weights are drawn from torch's global RNG, so the caller
seeds it first (the training loop does ``torch.manual_seed(cfg.general.seed)`` right before ``build_model``);
the scattering layer draws a random init (``scattering.init: random``) from its own generator, seeded with
``cfg.general.seed`` through ``ParametricScattering2D(..., seed=cfg.general.seed)``, and does not touch the
global RNG. Same config + same global seed => the same initial weights.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from parametricSN.config import Config, choices
from parametricSN.data.registry import dataset_spec
from parametricSN.models.registry import build_head
from parametricSN.scattering import ParametricScattering2D

# scattering.architecture: scattering layer + head, or the head on pixels
ARCHITECTURES = choices("scattering.architecture")


class HybridModel(nn.Module):
    """logits = head(S(x)) with S a :class:`ParametricScattering2D`, or head(x) when ``scattering`` is None.

    ``input_shape`` is the (C, H, W) of one image; ``head_input_shape`` is what the head sees:
    (C·K, H / 2^J, W / 2^J) after scattering (K = S.n_coefficients), or ``input_shape`` itself.
    """

    def __init__(
        self,
        scattering: Optional[ParametricScattering2D],
        head: nn.Module,
        input_shape: tuple[int, int, int],
        head_input_shape: tuple[int, int, int],
    ) -> None:
        super().__init__()
        self.scattering = scattering
        self.head = head
        self.input_shape = tuple(input_shape)
        self.head_input_shape = tuple(head_input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"expected images of shape (B, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(x.shape)}; check dataset.height/width and the dataset's channels"
            )
        if self.scattering is not None:
            x = self.scattering(x)
        return self.head(x)


def learnable_scattering(model: nn.Module) -> Optional[ParametricScattering2D]:
    """``model.scattering`` when it has trainable parameters; None when it is absent or fixed."""
    scattering = getattr(model, "scattering", None)
    if scattering is None or not any(p.requires_grad for p in scattering.parameters()):
        return None
    return scattering


def build_scattering(cfg: Config) -> ParametricScattering2D:
    """The scattering layer the config describes, for images of (dataset.height, dataset.width)."""
    sc = cfg.scattering
    return ParametricScattering2D(
        sc.J,
        shape=(cfg.dataset.height, cfg.dataset.width),
        L=sc.L,
        max_order=sc.max_order,
        init=sc.init,
        learnable=sc.learnable,
        parameterization=sc.parameterization,
        seed=cfg.general.seed,
        backend=sc.backend,
        second_order_only=sc.second_order_only,
        family=sc.family,
        periodize=sc.periodize,
    )


def build_model(cfg: Config, num_classes: Optional[int] = None, in_channels: Optional[int] = None) -> HybridModel:
    """Scattering layer (unless ``scattering.architecture: identity``) + the head named ``model.name``.

    The head gets its input shape: (in_channels · K, H // 2^J, W // 2^J) for scattering, the raw
    (in_channels, H, W) for identity; and ``cfg.num_classes`` outputs (``num_classes`` / ``in_channels`` replace
    what the dataset registry says, e.g. when a saved model is rebuilt without its data). Seed torch's global RNG
    before calling (see the module docstring); this function does not.
    """
    if num_classes is None or in_channels is None:
        known = dataset_spec(cfg.dataset.name).shape(cfg.dataset)  # = (cfg.num_classes, cfg.in_channels)
        num_classes, in_channels = num_classes or known[0], in_channels or known[1]
    input_shape = (in_channels, cfg.dataset.height, cfg.dataset.width)
    scattering: Optional[ParametricScattering2D] = None
    head_input_shape = input_shape
    if cfg.scattering.architecture == "scattering":
        scattering = build_scattering(cfg)
        scale = 2**cfg.scattering.J
        head_input_shape = (
            in_channels * scattering.n_coefficients,
            cfg.dataset.height // scale,
            cfg.dataset.width // scale,
        )
    head = build_head(cfg.model.name, head_input_shape, num_classes, cfg.model)
    return HybridModel(scattering, head, input_shape, head_input_shape)
