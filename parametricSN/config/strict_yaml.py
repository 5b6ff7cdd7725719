"""Strict YAML reading for configs: duplicate keys are errors, and YAML errors fit on one line."""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

MAX_PROBLEM = 200  # characters of a YAML problem kept in an error message

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 1, 4, 4, 60, 60


def shown(value: Any) -> str:
    """``repr(value)`` cut to a readable size: a few items of the outer level, long strings elided (so
    that a value built from YAML aliases is never printed in full)."""
    return _SHOWN.repr(value)


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping naming the same key twice (plain YAML keeps the last one silently,
    so a duplicated ``lr:`` would override the first without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # a list or mapping as a key (``? [a, b]``)
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a name, got {shown(key)}", key_node.start_mark
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {shown(key)}; keep one of them", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: what is wrong and where (PyYAML's own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    if len(problem) > MAX_PROBLEM:
        problem = problem[: MAX_PROBLEM - 3] + "..."
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem
