"""Models: classifier heads on scattering coefficients (or pixels) and the factory ``build_model(cfg)``.

    from parametricSN.models import build_model, register_head
    torch.manual_seed(cfg.general.seed)      # head weights come from the global RNG; build_model never seeds
    model = build_model(cfg)                 # HybridModel: model.scattering (or None), model.head
    logits = model(images)                   # (B, C, H, W) -> (B, num_classes)

Heads (``model.name``): ``linear``, ``hybrid-wrn`` (hybrid wide ResNet), ``mlp``, ``wrn``, ``resnet50``. A new head
is one module with a builder decorated by ``@register_head("name", reads=..., packs=...)``; importing this package
imports every module that has one (:func:`parametricSN.config.names.builtin_modules`), which registers it.
"""

import importlib

from parametricSN.config.names import builtin_modules
from parametricSN.models.factory import HybridModel, build_model, build_scattering, learnable_scattering
from parametricSN.models.registry import available_heads, build_head, register_head

for _module in builtin_modules("models", "register_head"):
    importlib.import_module(_module)
del _module

__all__ = [
    "HybridModel",
    "available_heads",
    "build_head",
    "build_model",
    "build_scattering",
    "learnable_scattering",
    "register_head",
]
