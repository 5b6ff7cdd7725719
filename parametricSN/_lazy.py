"""Packages whose public names load on first use, so that importing one of their light submodules (or running
``psn --help``) does not import torch, torchvision or MLflow through the package's ``__init__``.

A package's ``__init__`` calls :func:`lazy_package` with a table ``public name -> submodule``;
``from parametricSN.training import train`` then imports ``parametricSN.training.run`` at that moment (PEP 562's
module ``__getattr__``, here on the package's module class). Submodules are imported as usual
(``from parametricSN.training import interrupt``).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


class LazyPackage(types.ModuleType):
    """A package module that imports the submodule holding a public name when the name is first looked up."""

    _exports: Mapping[str, str] = {}

    def __getattr__(self, name: str) -> Any:  # called only for names not bound yet
        submodule = self._exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self.__name__}.{submodule}"), name)
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # The import system binds a submodule to its package's attribute when it first loads it. Where a public
        # name is also the name of the submodule that defines it (``sweeps.report``, the function in
        # ``sweeps/report.py``), the package's attribute stays the public name, as an eager ``__init__`` left it.
        if (
            isinstance(value, types.ModuleType)
            and self._exports.get(name) == name
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(self.__dict__) | set(self._exports))


def lazy_package(name: str, exports: Mapping[str, str]) -> list[str]:
    """Make the package ``name`` (call it from its ``__init__`` with ``__name__``) export ``exports`` (public name
    -> the submodule, relative to the package, that defines it) on first use; returns the names, for ``__all__``."""
    package = sys.modules[name]
    package.__class__ = LazyPackage
    package.__dict__["_exports"] = dict(exports)
    return list(exports)
