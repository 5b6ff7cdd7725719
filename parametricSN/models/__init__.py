"""Models: classifier heads on scattering coefficients (or pixels) and the factory ``build_model(cfg)``.

    from parametricSN.models import build_model, register_head
    torch.manual_seed(cfg.general.seed)      # head weights come from the global RNG; build_model never seeds
    model = build_model(cfg)                 # HybridModel: model.scattering (or None), model.head
    logits = model(images)                   # (B, C, H, W) -> (B, num_classes)

Heads (``model.name``): ``linear``, ``hybrid-wrn`` (hybrid wide ResNet), ``mlp``, ``wrn``, ``resnet50``. A new head
is one module with a builder decorated by ``@register_head("name")``, imported below.
"""

# Importing a head family registers it.
from parametricSN.models import hybrid_wrn, linear, mlp, resnet, wrn  # noqa: F401,E402  (registration side effect)
from parametricSN.models.factory import HybridModel, build_model, build_scattering, learnable_scattering
from parametricSN.models.registry import available_heads, build_head, register_head

__all__ = [
    "HybridModel",
    "available_heads",
    "build_head",
    "build_model",
    "build_scattering",
    "learnable_scattering",
    "register_head",
]
