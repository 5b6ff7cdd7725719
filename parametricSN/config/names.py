"""What the config knows of the built-in heads, datasets and wavelet families without importing them, and former
names.

A built-in head or dataset is one module in ``parametricSN/models`` or ``parametricSN/data`` with one decorated
builder: ``@register_head("mlp", reads=("depth", "hidden", "dropout"), packs=True)`` or
``@register_dataset("kth")``. Those modules import torch; loading a config does not. So the config reads the
decorators' arguments from the modules' source (:func:`declared`: literal arguments, found with ``ast``, nothing
imported), and the packages import the same modules to register them (:func:`builtin_modules`): adding a built-in
is its file and its decorator, with no list to keep in sync.

:func:`parametricSN.config.validate` checks ``model.name`` against :func:`head_facts` (the built-ins, and the heads
plugins register) and ``dataset.name`` against :func:`builtin_datasets` until the dataset registry, once imported,
answers instead. So an unknown head or dataset is rejected by ``load_config`` alone, whatever the caller imported.
"""

from __future__ import annotations

import ast
import functools
import pkgutil
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]  # parametricSN/


@dataclass(frozen=True)
class HeadFacts:
    """What a head declares when it registers: the ``model`` keys it reads (the others have no effect with it,
    :mod:`parametricSN.config.no_effect`) and whether it can be packed (:mod:`parametricSN.models.packed`: its
    forward composes channel-wise leaves only)."""

    reads: tuple[str, ...] = ()
    packs: bool = False


HEAD_MODEL_KEYS = ("width", "depth", "hidden", "dropout", "weights", "init")  # the model keys a head may read


@functools.cache
def declared(package: str, decorator: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """``name -> (module, keyword arguments)`` of every module-level ``@decorator("name", ...)`` in the modules of
    ``parametricSN.<package>``, read from their source (the arguments must be literals); nothing is imported."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    folder = PACKAGE.joinpath(*package.split("."))
    for info in pkgutil.iter_modules([str(folder)]):
        path = folder / f"{info.name}.py"
        text = "" if info.ispkg else path.read_text(encoding="utf-8")
        for match in re.finditer(rf"^@{decorator}\(", text, re.MULTILINE):
            line = text.count("\n", 0, match.start()) + 1
            call = _decorator_call(text[match.start() + 1 :])
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == decorator):
                raise ValueError(f"{path}:{line}: cannot read @{decorator}(...)")  # a programming error
            try:
                name = ast.literal_eval(call.args[0])
                kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{line}: @{decorator} of a built-in takes literal arguments") from None
            found[name] = (f"parametricSN.{package}.{info.name}", kwargs)
    return found


def _decorator_call(text: str) -> ast.expr | None:
    """The expression at the start of ``text``, which may span lines (parsing the decorator alone, not its
    module: a tenth of the time)."""
    lines = text.split("\n", 20)
    for end in range(1, len(lines) + 1):
        try:
            return ast.parse("\n".join(lines[:end]).strip(), mode="eval").body
        except SyntaxError:
            continue
    return None


def builtin_modules(package: str, decorator: str) -> list[str]:
    """The modules of ``parametricSN.<package>`` that register a built-in with ``@decorator``, sorted: the
    package imports them."""
    return sorted({module for module, _ in declared(package, decorator).values()})


def builtin_datasets() -> tuple[str, ...]:
    """The names of the built-in datasets, sorted."""
    return tuple(sorted(declared("data", "register_dataset")))


_HEADS: dict[str, HeadFacts] = {}  # model.name -> facts; heads registered by users are added when they register


@functools.cache  # once per process: the built-ins' facts, then whatever registers adds to the same dict
def head_facts() -> dict[str, HeadFacts]:
    """``model.name -> HeadFacts`` of every head known: the built-ins (from their decorators) and those registered
    since (:func:`parametricSN.models.register_head` adds to this dict)."""
    for name, (_, kwargs) in declared("models", "register_head").items():
        reads, packs = tuple(kwargs.get("reads", HEAD_MODEL_KEYS)), kwargs.get("packs", False)
        _HEADS.setdefault(name, HeadFacts(reads=reads, packs=packs))
    return _HEADS


FAMILIES_MODULE = "parametricSN.scattering.families"


def family_facts() -> dict[str, dict[str, Any]]:
    """``scattering.family -> {"params": {name: {"group": ...}}, "orientation": ...}`` of every wavelet family
    known: the built-ins (``@register_family`` in ``parametricSN/scattering/families``, read from the source) and,
    once the family registry has been imported (by a plugin that registers a family, or by the layers), every
    family registered there. The registry is looked up in ``sys.modules``, never imported: the config stays light
    and below the scattering package."""
    builtins = declared("scattering.families", "register_family")
    facts = {}
    for name, (_, kwargs) in builtins.items():
        like = kwargs.get("like")  # a family declared like another: its parameters and roles
        base = {k: builtins[like][1].get(k) for k in ("params", "orientation", "frequency")} if like else {}
        facts[name] = {**kwargs, **base}
    registry = sys.modules.get(FAMILIES_MODULE)
    if registry is not None:
        facts.update(registry.registered_facts())
    return facts


def family_groups(family: str) -> tuple[str, ...]:
    """The learning-rate groups of ``family`` (``()`` for an unknown one), in order."""
    params = family_facts().get(family, {}).get("params", {})
    return tuple(dict.fromkeys(p["group"] for p in params.values()))


def packable_heads() -> tuple[str, ...]:
    """The heads that declared they pack, sorted."""
    return tuple(sorted(n for n, f in head_facts().items() if f.packs))


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
