"""Loading a config: YAML files, dotted overrides, plugins and validation.

A config is a tree of dataclasses, one per YAML section (:mod:`parametricSN.config.schema`, where each key also
says whether it changes a result, may change on resume and may differ inside a pack, and which values it takes).
Every key a YAML file or a command-line override names must exist in the schema, have the right type and a possible
value; anything else raises :class:`ConfigError` naming the key and what was expected.

    cfg = load_config("conf/cifar.yaml", overrides=["scattering.J=3", "train.epochs=10"])
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import math
import os
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from parametricSN.config.names import builtin_datasets, current_name, family_facts, family_groups, head_facts
from parametricSN.config.no_effect import warn_no_effect
from parametricSN.config.schema import DEFAULT_DATA_ROOT, Config, ConfigError, dataset_described, key_rules
from parametricSN.config.strict_yaml import UniqueKeyLoader, shown, yaml_problem

# ---- what the rest of the package owns --------------------------------------------------------------------
# A fixed list of values is the key's schema entry (``key(choices=...)``). The values that registries hold (heads,
# datasets and their formats, augmentations) are registered here by that code when it is imported; this module
# imports none of it (it sits below every other layer). A key nobody has registered yet is not checked here: the
# entry points (``psn``, ``train``) import every package and validate again before a run is created.
ChoiceProvider = Callable[["Config"], Sequence[str]]

_CHOICES: dict[str, ChoiceProvider] = {}
_CHECKS: dict[str, Callable[[Config], None]] = {}


def register_choices(key: str, provider: ChoiceProvider) -> None:
    """``provider(cfg)`` returns the valid values of the dotted ``key`` (it may depend on other keys, e.g. the
    formats of ``dataset.format`` depend on ``dataset.name``; keys registered earlier are checked first)."""
    section, _, name = key.partition(".")
    if section not in _SECTIONS or name not in _section_types(_SECTIONS[section]):
        raise ValueError(f"register_choices: {key!r} is not a config key")  # a programming error
    _CHOICES[key] = provider


def _bootstrap_choices() -> None:
    """The built-in heads and datasets (:mod:`parametricSN.config.names`, read from their decorators), checked
    until the dataset registry replaces its names: the registries need torch, a config does not. Registered first,
    so ``dataset.name`` is checked before the keys whose choices depend on it."""
    _CHOICES.setdefault("dataset.name", lambda cfg: builtin_datasets())
    _CHOICES["model.name"] = lambda cfg: sorted(head_facts())  # plugin heads add themselves to head_facts()
    _CHOICES["scattering.family"] = lambda cfg: sorted(family_facts())  # and plugin families to the registry


def register_check(name: str, check: Callable[[Config], None]) -> None:
    """Run ``check(cfg)`` (which raises :class:`ConfigError`) on every validated config, after the choices."""
    _CHECKS[name] = check


_PLUGINS: dict[str, Any] = {}  # plugin entry -> its module, so a plugin file runs once per process


def import_plugins(entries: Sequence[str]) -> None:
    """Import ``general.plugins``: module names (``mypkg.heads``) or Python files (``my_data.py``, relative to the
    working directory), whose decorators register heads and datasets before names are checked."""
    for entry in entries:
        if entry in _PLUGINS:
            continue
        try:
            if entry.endswith(".py") or os.sep in entry:
                path = Path(entry).expanduser().resolve()
                if not path.is_file():
                    raise ConfigError(f"general.plugins: file {entry!r} not found")
                name = "psn_plugin_" + "".join(c if c.isalnum() else "_" for c in str(path))
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(entry)
        except ConfigError:
            raise
        except Exception as exc:  # an import error in the user's plugin: name it, with the reason
            raise ConfigError(f"general.plugins: cannot import {entry!r} ({type(exc).__name__}: {exc})") from None
        _PLUGINS[entry] = module


# ---- type coercion -----------------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " or null"
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` or raise ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(key, value, inner)
    expected = f"{key}: expected {_type_name(tp)}, got {shown(value)} ({type(value).__name__})"
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(expected)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(expected)
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads "5e-4" as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(expected)
        if not math.isfinite(number):  # .inf / nan would only surface later as a diverged run
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # a name like 2024 or 1e3
            return str(value)
        raise ConfigError(
            f"{expected}; quote the value to mean text (YAML reads yes/no/on/off/true/false as booleans)"
            if isinstance(value, bool)
            else expected
        )
    if tp is list:
        if isinstance(value, list):
            return value
        raise ConfigError(expected)
    if tp is dict:
        if isinstance(value, dict):
            return {str(k): _coerce(f"{key}.{k}", v, float) for k, v in value.items()}
        raise ConfigError(f"{expected}; e.g. {key}={{name: 0.1}}")
    raise ConfigError(f"{key}: unsupported schema type {tp!r}")  # pragma: no cover - schema bug


@functools.cache  # evaluating the string annotations is most of the time of parsing an override
def _section_types(section_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(section_cls)}


_SECTIONS = _section_types(Config)


def _set(cfg: Config, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if section not in _SECTIONS:
        raise ConfigError(f"{dotted}: unknown section {section!r}; sections are {', '.join(_SECTIONS)}")
    sec = getattr(cfg, section)
    types_ = _section_types(type(sec))
    if not key or "." in key or key not in types_:
        raise ConfigError(f"{dotted}: unknown key; {section} has {', '.join(types_)}")
    setattr(sec, key, current_name(dotted, _coerce(dotted, value, types_[key])))


def _apply_mapping(cfg: Config, data: Any, source: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    for section, body in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{section}: unknown section in {source}; sections are {', '.join(_SECTIONS)}")
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{section}: expected a mapping of keys in {source}, got {shown(body)}")
        for key, value in body.items():
            _set(cfg, f"{section}.{key}", value)


def parse_override(text: str) -> tuple[str, Any]:
    """``"scattering.J=3"`` -> ``("scattering.J", 3)``; the value is read as YAML, then typed by the schema."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected key=value, e.g. scattering.J=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: cannot read value: {yaml_problem(exc)}") from None
    return key.strip(), value


# ---- validation --------------------------------------------------------------------------------------------
def _check(condition: bool, key: str, expected: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"{key}: expected {expected}, got {shown(value)}")


def _check_keys(flat: dict[str, Any]) -> None:
    """Each key's own rule, as its schema entry states it (choices, bounds)."""
    for key, rule in key_rules().items():
        value = flat[key]
        if value is not None and not rule.test(value):
            raise ConfigError(rule.message.format(key=key, expected=rule.expected, value=shown(value), raw=value))


def _check_family(cfg: Config) -> None:
    """``scattering.lr`` names groups of the family; ``equivariant`` needs a family with an orientation (the
    family itself was checked with the choices)."""
    sc = cfg.scattering
    if sc.architecture != "scattering":
        return
    groups = ("scattering",) if sc.parameterization == "pixelwise" else family_groups(sc.family)
    unknown = [g for g in sc.lr if g not in groups]
    _check(
        not unknown,
        "scattering.lr",
        f"learning-rate groups of the {sc.family} family ({', '.join(groups)})"
        + (" (pixelwise: the filters are one group)" if sc.parameterization == "pixelwise" else ""),
        sc.lr,
    )
    if sc.parameterization == "equivariant":
        _check(
            family_facts()[sc.family].get("orientation") is not None,
            "scattering.parameterization",
            f"canonical or pixelwise: the {sc.family} family has no orientation to rotate",
            sc.parameterization,
        )


def validate(cfg: Config, with_data: bool = True) -> Config:
    """Raise ConfigError on the first impossible value; return ``cfg``.

    Checks every key's own rule (its schema entry), imports ``general.plugins``, then checks every registered
    choice (see :func:`register_choices`) and check (:func:`register_check`), then the rules that span keys.
    ``with_data=False`` skips what looks at the dataset itself (the registered checks and the class counts), for
    rebuilding a saved model whose data may be gone.
    """
    flat = cfg.flat()
    _check_keys(flat)
    import_plugins(cfg.general.plugins)
    for key, provider in _CHOICES.items():
        choices = tuple(provider(cfg))
        _check(flat[key] in choices, key, "one of " + ", ".join(choices), flat[key])
    for check in _CHECKS.values() if with_data else ():
        check(cfg)
    _check(
        0 <= cfg.optim.base_momentum <= cfg.optim.max_momentum < 1,
        "optim.base_momentum",
        "0 <= optim.base_momentum <= optim.max_momentum < 1",
        (cfg.optim.base_momentum, cfg.optim.max_momentum),
    )
    _check(
        cfg.train.evaluate_test or cfg.dataset.val_sample_num > 0,
        "train.evaluate_test",
        "true unless dataset.val_sample_num > 0 (a run evaluates on the test or a validation split)",
        False,
    )
    sc = cfg.scattering
    _check_family(cfg)
    if sc.second_order_only:
        _check(
            sc.max_order == 2 and sc.J >= 2,
            "scattering.second_order_only",
            "false unless max_order is 2 and J >= 2 (there are no order-2 paths otherwise)",
            True,
        )
    if sc.architecture == "scattering":
        for key, size in (("dataset.height", cfg.dataset.height), ("dataset.width", cfg.dataset.width)):
            _check(size % 2**sc.J == 0, key, f"a multiple of 2**scattering.J = {2**sc.J}", size)

    if cfg.dataset.subset == "paper":  # numpy's RandomState, which the paper's selection draws from
        _check(
            0 <= cfg.general.seed < 2**32,
            "general.seed",
            "an integer in [0, 2**32) with dataset.subset=paper (or use dataset.subset=balanced)",
            cfg.general.seed,
        )
    root = cfg.dataset.root
    if root != DEFAULT_DATA_ROOT and not Path(root).expanduser().exists():
        raise ConfigError(
            f"dataset.root: the folder {root!r} does not exist; point dataset.root at the "
            f"{cfg.dataset.name} data (see data/README.md) or leave it at {DEFAULT_DATA_ROOT!r}"
        )
    if dataset_described() and with_data:  # registered with dataset.name's choices, which were checked above
        n_cls = cfg.num_classes  # for a dataset read from a tree (imagefolder) this looks at the tree
        for key in ("dataset.train_sample_num", "dataset.test_sample_num", "dataset.val_sample_num"):
            n = flat[key]
            if n is None or (key == "dataset.val_sample_num" and n == 0):
                continue
            _check(
                n >= n_cls and n % n_cls == 0,
                key,
                f"a positive multiple of the {n_cls} classes of {cfg.dataset.name} (class-balanced subsets)",
                n,
            )
    return cfg


# ---- public entry points ----------------------------------------------------------------------------------
def load_config(path: Union[str, os.PathLike, None] = None, overrides: Optional[list[str]] = None) -> Config:
    """Read a YAML config (or the defaults when ``path`` is None), apply ``key=value`` overrides, validate.

    A key that has no effect with the chosen options (``optim.lr`` under onecycle, ...) raises a
    :class:`parametricSN.config.no_effect.NoEffectWarning` when an override names it or the file gives it a
    non-default value (so full config dumps, which list every key, stay quiet).
    """
    cfg = Config()
    in_file: set[str] = set()
    if path is not None:
        data = read_config_file(Path(path))
        _apply_mapping(cfg, data, str(path))
        in_file = {f"{s}.{k}" for s, body in data.items() if isinstance(body, dict) for k in body}
    named = []
    for text in overrides or []:
        key, value = parse_override(text)
        _set(cfg, key, value)
        named.append(key)
    validate(cfg)
    flat, defaults = cfg.flat(), Config().flat()
    warn_no_effect(cfg, set(named) | {k for k in in_file if flat.get(k) != defaults.get(k)})
    return cfg


def read_config_file(p: Path) -> dict:
    """The mapping in YAML file ``p``; ConfigError naming the file when it is missing, not UTF-8, empty,
    not YAML, or names a key twice."""
    if p.is_dir():
        raise ConfigError(f"config file {str(p)!r} is a directory; give a YAML file (e.g. {str(p / 'run.yaml')!r})")
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {yaml_problem(exc)}") from None
    if data is None:
        raise ConfigError(f"config file {str(p)!r} is empty; give at least one section (see conf/)")
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of sections, got {type(data).__name__}")
    return data


def config_from_dict(data: dict, with_data: bool = True) -> Config:
    """Build and validate a config from a nested mapping (e.g. one saved with a run)."""
    cfg = Config()
    _apply_mapping(cfg, data, "mapping")
    return validate(cfg, with_data)


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``key=value`` overrides to ``cfg`` in place and validate it (e.g. to a resumed run's config)."""
    for text in overrides:
        key, value = parse_override(text)
        _set(cfg, key, value)
    return validate(cfg)


_bootstrap_choices()  # the built-in names, before any validation (see config.names)
