"""The package's layers: which part imports which, read from the source with ``ast`` (every import statement,
also those inside functions). The graph must be acyclic, ``scattering/`` must import nothing of the project and
``training/`` must not import ``tracking/`` (nor MLflow)."""

from __future__ import annotations

import ast
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import parametricSN

PACKAGE = Path(parametricSN.__file__).resolve().parent
ROOT = "parametricSN"  # the package root: the composition root, allowed to use every part


def unit_of(module: str) -> str:
    """``parametricSN.data.cifar`` -> ``data``; ``parametricSN.config.load`` -> ``config``; ``parametricSN`` -> root."""
    parts = module.split(".")
    return ROOT if len(parts) == 1 else parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the project modules ``path`` imports (relative imports resolved)."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return {m for m in found if m == ROOT or m.startswith(ROOT + ".")}


def import_graph() -> dict[str, set[str]]:
    """unit -> the other units it imports (units: the subpackages and the top-level modules)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        src = unit_of(module_name(path))
        targets = graph.setdefault(src, set())
        for module in imported_modules(path):
            dst = unit_of(module)
            # `from parametricSN import train` also yields "parametricSN.train", which is no unit: skip such names
            is_unit = dst == ROOT or (PACKAGE / dst).is_dir() or (PACKAGE / f"{dst}.py").is_file()
            if is_unit and dst != src:
                targets.add(dst)
    return graph


def test_the_import_graph_between_parts_of_the_package_is_acyclic():
    graph = import_graph()
    assert {"scattering", "models", "data", "training", "tracking", "viz", "config", "cli"} <= set(graph)
    below_root = {u: deps - {ROOT} for u, deps in graph.items() if u != ROOT}
    try:
        order = list(TopologicalSorter(below_root).static_order())
    except CycleError as exc:  # the message names the cycle
        raise AssertionError(f"import cycle between parts of parametricSN: {exc.args[1]}") from None
    assert order  # every part, lowest layer first
    assert all(ROOT not in deps for u, deps in graph.items() if u not in (ROOT, "__main__")), (
        "only the package root (and __main__) may import from the root"
    )


def test_scattering_imports_nothing_of_the_project_and_training_no_tracking():
    graph = import_graph()
    assert graph["scattering"] == set()
    assert "tracking" not in graph["training"]
    assert "config" not in graph["scattering"] and {"models", "data", "training", "tracking"}.isdisjoint(
        graph["config"]
    )
    mlflow_in_training = [
        p for p in (PACKAGE / "training").rglob("*.py") if any(m.split(".")[0] == "mlflow" for m in _all_imports(p))
    ]
    assert mlflow_in_training == []


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_graph_finds_a_cycle(tmp_path, monkeypatch):
    """The check itself: a lazy import inside a function still counts as an edge."""
    fake = tmp_path / "parametricSN"
    for part, body in (("a", "def f():\n    from parametricSN.b import x\n"), ("b", "from parametricSN.a import y\n")):
        (fake / part).mkdir(parents=True)
        (fake / part / "__init__.py").write_text(body)
    (fake / "__init__.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    graph = import_graph()
    assert graph["a"] == {"b"} and graph["b"] == {"a"}
    with pytest.raises(CycleError):
        list(TopologicalSorter(graph).static_order())


def module_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (lazy imports included). ``from pkg import submodule`` inside
    ``pkg`` counts as importing the submodule only (Python has ``pkg`` half-initialised then; no cycle through it)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = {m for m in imported_modules(path) if m in modules and m != name}
        # `from parametricSN.training import interrupt` also yields the package itself: keep the submodule only
        graph[name] = {m for m in deps if not (name.startswith(m + ".") and any(d.startswith(m + ".") for d in deps))}
    return graph


def test_no_import_cycle_between_modules():
    try:
        list(TopologicalSorter(module_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between modules of parametricSN: {exc.args[1]}") from None
