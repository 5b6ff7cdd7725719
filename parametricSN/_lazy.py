"""Packages whose public names load on first use, so that importing one of their light submodules (or running
``psn --help``) does not import torch, torchvision or MLflow through the package's ``__init__``.

A package's ``__init__`` calls :func:`lazy_package` with a table ``public name -> submodule``; it gives the package
a module-level ``__getattr__`` (PEP 562), so ``from parametricSN.training import train`` imports
``parametricSN.training.run`` at that moment. Submodules are imported as usual
(``from parametricSN.training import interrupt``). A public name is never also the name of a submodule: importing
that submodule would bind the package's attribute to it (tests/test_startup.py checks this).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any


def lazy_package(name: str, exports: Mapping[str, str]) -> list[str]:
    """Make the package ``name`` (call it from its ``__init__`` with ``__name__``) export ``exports`` (public name
    -> the submodule, relative to the package, that defines it) on first use; returns the names, for ``__all__``."""
    namespace = vars(sys.modules[name])
    table = dict(exports)

    def __getattr__(attr: str) -> Any:  # PEP 562: called only for names not bound yet
        submodule = table.get(attr)
        if submodule is None:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        value = getattr(importlib.import_module(f"{name}.{submodule}"), attr)
        namespace[attr] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    namespace.update(__getattr__=__getattr__, __dir__=__dir__, _exports=table)
    return list(table)
