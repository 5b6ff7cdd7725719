"""The built-in names of every registry-backed config key, and what each built-in head reads: known to the config
loader without importing the code that implements them (that code imports torch; loading a config does not).

:func:`parametricSN.config.validate` checks names against these until the registries themselves are imported,
which then answer instead (they add what plugins register: ``general.plugins``). So an unknown head, dataset or
init is rejected by ``load_config`` alone, whatever the caller imported. tests/test_config_names.py imports every
registry and checks that it agrees with this module.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class HeadFacts:
    """What a head declares when it registers: the ``model`` keys it reads (the others have no effect with it,
    :mod:`parametricSN.config_warnings`) and whether it can be packed (:mod:`parametricSN.models.packed`: its
    forward composes channel-wise leaves only)."""

    reads: tuple[str, ...] = ()
    packs: bool = False


HEAD_MODEL_KEYS = ("width", "depth", "hidden", "dropout", "weights", "init")  # the model keys a head may read

# model.name -> facts. Heads registered by users (models.register_head) are added here when they register.
HEADS: dict[str, HeadFacts] = {
    "linear": HeadFacts(reads=(), packs=True),
    "hybrid-wrn": HeadFacts(reads=("width", "depth", "init"), packs=True),
    "mlp": HeadFacts(reads=("depth", "hidden", "dropout"), packs=True),
    "wrn": HeadFacts(reads=("width", "dropout", "init"), packs=False),
    "resnet50": HeadFacts(reads=("weights",), packs=False),
}

# The valid values of the keys whose registries are fixed lists (or, for heads and datasets, what the built-in
# registries hold before any plugin adds to them).
BUILTIN_CHOICES: dict[str, tuple[str, ...]] = {
    "dataset.name": ("cifar", "covidx", "fashion_mnist", "imagefolder", "kth"),
    "dataset.subset": ("paper", "balanced"),
    "dataset.sample": ("a", "b", "c", "d"),
    "scattering.architecture": ("scattering", "identity"),
    "scattering.init": ("tight-frame", "random"),
    "scattering.parameterization": ("canonical", "equivariant", "pixelwise"),
    "scattering.backend": ("fast", "kymatio"),
    "model.name": tuple(sorted(HEADS)),
    "model.init": ("default", "kaiming"),
    "optim.name": ("sgd", "adam"),
    "optim.scheduler": ("onecycle", "cosine", "step", "multistep", "none"),
    "train.loss": ("cross-entropy", "cosine"),
}

# Former names, still accepted: key -> {old name: new name}. Setting one warns once per config.
RENAMED: dict[str, dict[str, str]] = {
    "model.name": {"cnn": "hybrid-wrn", "wrn16_8": "wrn"},
    "dataset.name": {"xray": "covidx"},
    "dataset.augment": {"original-cifar": "resize-crop"},
}


class DeprecatedNameWarning(FutureWarning):
    """A config names something by its former name (:data:`RENAMED`)."""


def current_name(key: str, value: object) -> object:
    """``value``, or its new name (with a :class:`DeprecatedNameWarning`) when ``key`` renamed it."""
    new = RENAMED.get(key, {}).get(value) if isinstance(value, str) else None
    if new is None:
        return value
    warnings.warn(f"{key}: {value!r} is a former name; use {new!r}", DeprecatedNameWarning, stacklevel=4)
    return new


def packable_heads() -> tuple[str, ...]:
    """The heads that declared they pack, sorted."""
    return tuple(sorted(n for n, f in HEADS.items() if f.packs))
