r"""Wavelet families: a learnable filter family is one registered object, declared beside its generator.

A family is a subclass of :class:`WaveletFamily` decorated with :func:`register_family`::

    @register_family(
        "morlet",
        params={
            "theta": {"meaning": "orientation", "unit": "rad", "group": "orientation"},
            "xi": {"meaning": "frequency", "unit": "rad/pixel", "group": "scattering"},
            ...
        },
        orientation="theta",    # the parameter the equivariant parameterization rotates (None: no orientation)
        frequency="xi",         # the parameter that places the filter's centre frequency (for figures), or None
        admissible=True,        # zero mean (psi_hat(0) = 0)
    )
    class Morlet(WaveletFamily):
        def filters(self, shape, params, periodize=True): ...   # (n, M, N) real Fourier-domain wavelets
        def tight_frame(self, J, L): ...                          # the canonical values per (j, l), float64
        def random(self, J, L, generator, n): ...                 # n random values drawn from generator only

Each parameter says what it means, its unit (figures and reports), its learning-rate group and optionally its
``bounds`` ``(low, high)`` (either may be None): the generator sees every parameter clamped into its bounds
(:meth:`WaveletFamily.build`), so a parameter that an optimizer pushes out of them leaves the filter defined (its
gradient is 0 there). The built-ins' decorators take literal arguments: the config reads them from the source
without importing torch (:mod:`parametricSN.config.names`), so ``scattering.family`` and the group names of
``scattering.lr`` are checked by ``load_config`` alone. Families registered from a plugin file
(``general.plugins``) are found here once that file has run.

Every generator is a pure function of tensors, differentiable in every parameter, on any device and dtype; complex
values go through :func:`parametricSN.scattering.filters.polar`, whose gradient stays finite at subnormal
magnitudes.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

DEFAULT_FAMILY = "morlet"


class WaveletFamily:
    """A learnable wavelet family (see the module docstring). :func:`register_family` sets the declared facts:
    ``name``, ``params`` (name -> facts, in order), ``orientation``, ``frequency``, ``admissible``."""

    name: str = ""
    params: dict[str, dict[str, Any]] = {}
    orientation: Optional[str] = None
    frequency: Optional[str] = None
    admissible: bool = True

    # ---- what a family implements -----------------------------------------------------------------------
    def filters(self, shape: tuple[int, int], params: Mapping[str, Tensor], periodize: bool = True) -> Tensor:
        """``(n, M, N)`` real Fourier-domain wavelets on the ``shape`` grid (zero frequency at ``[0, 0]``), one per
        entry of the parameter vectors (each of length ``n``)."""
        raise NotImplementedError

    def tight_frame(self, J: int, L: int) -> dict[str, Tensor]:
        """The canonical values, float64, length ``J*L``, filter ``n = j*L + l``."""
        raise NotImplementedError

    def random(self, J: int, L: int, generator: torch.Generator, n: int) -> dict[str, Tensor]:
        """``n`` random values per parameter, float64, drawn from ``generator`` only."""
        raise NotImplementedError

    # ---- what the layers ask ----------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in declaration order."""
        return tuple(self.params)

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Learning-rate group -> its parameters, in the order the groups first appear."""
        out: dict[str, tuple[str, ...]] = {}
        for name, facts in self.params.items():
            out[facts["group"]] = out.get(facts["group"], ()) + (name,)
        return out

    def label(self, name: str) -> str:
        """``"width σ (pixels)"``-style axis label of parameter ``name``: its meaning, name and unit."""
        facts = self.params[name]
        unit = f" ({facts['unit']})" if facts.get("unit") else ""
        return f"{facts.get('meaning', name)} {name}{unit}"

    def constrain(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Every parameter clamped into its declared bounds (the identity inside them, gradient included)."""
        out = {}
        for name in self.names:
            low, high = self.params[name].get("bounds", (None, None))
            t = params[name]
            out[name] = t if low is None and high is None else torch.clamp(t, min=low, max=high)
        return out

    def build(self, shape: tuple[int, int], params: Mapping[str, Tensor], periodize: bool = True) -> Tensor:
        """:meth:`filters` of the constrained parameters: what the layers call."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise ValueError(f"{self.name} filters need the parameters {self.names}; missing {missing}")
        return self.filters(shape, self.constrain(params), periodize)

    def expand_equivariant(self, params: Mapping[str, Tensor], L: int) -> dict[str, Tensor]:
        r"""Per-scale values ``(..., J)`` -> per-filter values ``(..., J*L)``: orientation ``l`` of scale ``j`` is
        :math:`\theta_j - l\pi/L`, every other parameter is shared by the scale's ``L`` filters."""
        if self.orientation is None:
            raise ValueError(f"the {self.name} family has no orientation parameter: no equivariant parameterization")
        out = {}
        for name in self.names:
            t = params[name]
            if name == self.orientation:
                offsets = torch.arange(L, dtype=t.dtype, device=t.device) * (math.pi / L)
                out[name] = (t[..., :, None] - offsets).reshape(*t.shape[:-1], -1)
            else:
                out[name] = t.repeat_interleave(L, dim=-1)
        return out

    def __repr__(self) -> str:
        return f"<wavelet family {self.name!r}: {', '.join(self.names)}>"


_FAMILIES: dict[str, WaveletFamily] = {}


def register_family(
    name: str,
    params: Optional[dict[str, dict[str, Any]]] = None,
    orientation: Optional[str] = None,
    frequency: Optional[str] = None,
    admissible: bool = True,
    like: Optional[str] = None,
) -> Callable[[type], type]:
    """Decorator: register the :class:`WaveletFamily` subclass as the family ``name`` with the declared facts
    (module docstring). Each parameter needs ``group``; ``meaning``, ``unit`` and ``bounds`` are optional.
    ``like="morlet"``: the parameters, orientation and frequency of that (already registered) family, for a family
    that differs from it in its generator only (``admissible`` is still this family's own)."""
    if like is not None:
        base = _FAMILIES[like]
        params, orientation, frequency = base.params, base.orientation, base.frequency
    if params is None:
        raise ValueError(f"family {name!r}: declare its params (or like= a registered family)")
    for p, facts in params.items():
        if not isinstance(facts, dict) or "group" not in facts:
            raise ValueError(f"family {name!r}: parameter {p!r} needs a learning-rate group ({{'group': ...}})")
        unknown = set(facts) - {"meaning", "unit", "group", "bounds"}
        if unknown:
            raise ValueError(f"family {name!r}: parameter {p!r} has unknown facts {sorted(unknown)}")
    for role, value in (("orientation", orientation), ("frequency", frequency)):
        if value is not None and value not in params:
            raise ValueError(f"family {name!r}: {role}={value!r} is not one of its parameters {tuple(params)}")

    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, WaveletFamily)):
            raise TypeError(f"@register_family({name!r}) decorates a WaveletFamily subclass, got {cls!r}")
        old = _FAMILIES.get(name)
        if old is not None and (type(old).__module__, type(old).__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"wavelet family {name!r} is already registered by {type(old).__module__}")
        cls.name, cls.params, cls.orientation, cls.frequency = name, dict(params), orientation, frequency
        cls.admissible = admissible
        _FAMILIES[name] = cls()
        return cls

    return decorator


def get_family(name: str) -> WaveletFamily:
    """The family registered as ``name``; ``ValueError`` listing the families otherwise."""
    _import_builtins()
    if name not in _FAMILIES:
        raise ValueError(f"unknown wavelet family {name!r}; the families are {', '.join(available_families())}")
    return _FAMILIES[name]


def available_families() -> list[str]:
    """The registered family names, sorted."""
    _import_builtins()
    return sorted(_FAMILIES)


def registered_facts() -> dict[str, dict[str, Any]]:
    """``name -> {"params", "orientation", "frequency", "admissible"}`` of every registered family (what the config
    checks, :func:`parametricSN.config.names.family_facts`)."""
    return {
        n: {"params": f.params, "orientation": f.orientation, "frequency": f.frequency, "admissible": f.admissible}
        for n, f in _FAMILIES.items()
    }  # (like= is resolved: these are the facts themselves)


_BUILTINS_IMPORTED = False


def _import_builtins() -> None:
    """Import every module of this package (each built-in family is one file with one decorator)."""
    global _BUILTINS_IMPORTED
    if _BUILTINS_IMPORTED:
        return
    _BUILTINS_IMPORTED = True
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__name__}.{info.name}")
