"""Sphinx configuration of the parametricSN documentation (``make docs``: ``docs/capture.py``, then a strict build).

Pages are Markdown (MyST); the API reference is autodoc over the public packages. The build is strict (``-W
--keep-going -n`` in the Makefile): a warning, a broken cross-reference or a missing include fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package of this tree, whatever is installed
os.environ.setdefault("OMP_NUM_THREADS", "1")

project = "parametricSN"
author = "parametricSN contributors"
copyright = "parametricSN contributors"
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples/README.md"]
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "parametricSN"

# autodoc: the members a module exports (its __all__), in source order, with their signatures' types
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Types from other libraries (no inventories are fetched: the build runs offline) and names that appear only in
# annotations are not cross-referenced.
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|np|mlflow|ray|matplotlib|PIL|yaml|nn|optim)(\..*)?"),
    (r"py:.*", r"(collections\.abc|typing|types|pathlib|argparse|dataclasses|subprocess|io|os)\..*"),
    (r"py:class", r"(Path|Tensor|Any|Optional|Callable|Iterator|Iterable|Mapping|Sequence|TextIO|Module)"),
]


# ---- references to the package's own objects --------------------------------------------------------------------
# Docstrings name objects by the module that defines them (``parametricSN.config.schema.Config``) or, inside a
# module, by their bare name (``pad_sizes``); the reference documents many of them where they are exported
# (``parametricSN.config.Config``). An unresolved reference is therefore looked up, in this order, as
#   1. the one documented object with the same name (its last dotted component), which it then links to;
#   2. an object that exists in the package but is not in the reference (an internal helper, a private module;
#      a bare name is looked for in the package's loaded modules), which is shown as code without a link;
# and anything else (a name that exists nowhere) stays a broken reference, which fails the strict build.
# (Fragments such as ``list[dict[str`` are Sphinx splitting a generic attribute type at its commas: not
# references.)
def _exists(target: str, module: str | None, cls: str | None) -> bool:
    import importlib

    candidates = [target]
    if module:
        candidates += [f"{module}.{cls}.{target}" if cls else "", f"{module}.{target}"]
    for name in filter(None, candidates):
        if not name.startswith("parametricSN"):
            continue
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for attr in parts[i:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            return True
    if "." not in target:  # a bare name used in the docstring of an object re-exported elsewhere
        return any(
            name.startswith("parametricSN") and getattr(mod, target, None) is not None
            for name, mod in list(sys.modules.items())
        )
    return False


def _resolve_own(app, env, node, contnode):  # noqa: ANN001 - Sphinx's event signature
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    if "[" in target:
        return contnode
    domain = env.get_domain("py")
    last = target.rsplit(".", 1)[-1]
    matches = [
        (name, obj)
        for name, obj in domain.objects.items()
        if name.startswith("parametricSN.") and name.rsplit(".", 1)[-1] == last and not obj.aliased
    ]
    if len(matches) == 1 and (target.startswith("parametricSN.") or "." not in target):
        name, obj = matches[0]
        from sphinx.util.nodes import make_refnode

        return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, name)
    if _exists(target, node.get("py:module"), node.get("py:class")):
        return contnode
    return None


def setup(app):  # noqa: ANN001
    app.connect("missing-reference", _resolve_own)
