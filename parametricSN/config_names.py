"""The built-in names of every registry-backed config key, and what each built-in head reads: known to the config
loader without importing the code that implements them (that code imports torch; loading a config does not).

:func:`parametricSN.config.validate` checks names against these until the registries themselves are imported,
which then answer instead (they add what plugins register: ``general.plugins``). So an unknown head, dataset or
init is rejected by ``load_config`` alone, whatever the caller imported. tests/test_config_names.py imports every
registry and checks that it agrees with this module.
"""
from __future__ import annotations

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
    "cnn": HeadFacts(reads=("width", "depth", "init"), packs=True),
    "mlp": HeadFacts(reads=("depth", "hidden", "dropout"), packs=True),
    "wrn16_8": HeadFacts(reads=("width", "dropout", "init"), packs=False),
    "resnet50": HeadFacts(reads=("weights",), packs=False),
}

# The valid values of the keys whose registries are fixed lists (or, for heads and datasets, what the built-in
# registries hold before any plugin adds to them).
BUILTIN_CHOICES: dict[str, tuple[str, ...]] = {
    "dataset.name": ("cifar", "fashion_mnist", "imagefolder", "kth", "xray"),
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


def packable_heads() -> tuple[str, ...]:
    """The heads that declared they pack, sorted."""
    return tuple(sorted(n for n, f in HEADS.items() if f.packs))
