"""Registry of classifier heads: every head family registers a builder under a name, and
:func:`build_head` is the one place that turns a name into a module.

A builder has the signature::

    builder(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module

where ``in_shape = (channels, height, width)`` is the shape of one example entering the head (scattering
coefficients, or raw pixels for ``scattering.architecture: identity``) and ``cfg`` is the ``model`` section of
the config. The module maps ``(B, *in_shape)`` to logits ``(B, num_classes)``. Adding a head is one new file
with one decorated builder: ``parametricSN/models/__init__.py`` imports every module of the package that has one.

A head declares at registration what it reads and whether it packs (``reads``, ``packs``). A built-in head gives
them as literals, which the config loader reads from the source without importing torch
(:mod:`parametricSN.config.names`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from torch import nn

from parametricSN.config import ConfigError, ModelConfig
from parametricSN.config.names import HEAD_MODEL_KEYS, HeadFacts, head_facts

HeadBuilder = Callable[[tuple[int, int, int], int, ModelConfig], nn.Module]

_HEADS: dict[str, HeadBuilder] = {}


def register_head(
    name: str, reads: Optional[tuple[str, ...]] = None, packs: bool = False
) -> Callable[[HeadBuilder], HeadBuilder]:
    """Decorator: register ``builder`` as the head called ``name`` (names are unique). ``reads``: the ``model``
    keys it reads (the others are reported as having no effect; None: undeclared, assumed to read them all);
    ``packs``: whether ``train_pack`` may pack it (its forward composes channel-wise leaves only, see
    :mod:`parametricSN.models.packed`)."""
    facts = HeadFacts(reads=tuple(HEAD_MODEL_KEYS if reads is None else reads), packs=packs)

    def decorator(builder: HeadBuilder) -> HeadBuilder:
        old = _HEADS.get(name)
        # Re-importing the same module (importlib.reload) re-registers the same builder; anything else is a clash.
        if old is not None and (old.__module__, old.__qualname__) != (builder.__module__, builder.__qualname__):
            raise ValueError(f"head {name!r} is already registered by {old.__module__}.{old.__qualname__}")
        _HEADS[name] = builder
        head_facts()[name] = facts
        return builder

    return decorator


def available_heads() -> list[str]:
    """Names of the registered heads, sorted."""
    return sorted(_HEADS)


def build_head(name: str, in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    """Build the head registered as ``name`` for inputs of shape ``in_shape`` and ``num_classes`` outputs."""
    if name not in _HEADS:
        raise ConfigError(f"model.name: unknown head {name!r}; registered heads are {', '.join(available_heads())}")
    c, h, w = (int(s) for s in in_shape)
    return _HEADS[name]((c, h, w), int(num_classes), cfg)
