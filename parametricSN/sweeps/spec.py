"""Sweep specs (``experiments/*.yaml``): parsing, validation and expansion into cells.

A spec is data::

    name: cifar10-linear            # the MLflow experiment every run logs to
    base: conf/cifar.yaml           # config every run starts from
    overrides: [model.name=linear]  # fixed for every run
    cases:                          # optional bundles of keys that vary together
      - {dataset.train_sample_num: 100, train.epochs: 5000}
    grid:                           # cartesian product of these values (times each case)
      general.seed: [1, 2]
    published:                      # optional: the paper's mean ± std for the cells ``where`` matches
      - {where: {dataset.train_sample_num: 100}, mean: 37.84, std: 0.57}

The runs are ``cases × grid`` (a case is ``{}`` when there are none), in file order, the last grid key varying
fastest. A relative ``base`` is looked up next to the spec, then in the spec folder's parent (the repository
root for the shipped ``experiments/``), then in the working directory. Every mistake — unknown top-level or config key, a value of the wrong
type, a key repeated in a mapping or set in two places — raises :class:`SpecError` naming the file and key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from parametricSN.config import Config, ConfigError, config_from_dict, keys_where, parse_override
from parametricSN.config.strict_yaml import UniqueKeyLoader, yaml_problem
from parametricSN.naming import sweep_run_name
from parametricSN.sweeps.errors import SpecError
from parametricSN.sweeps.search import parse_search

TOP_LEVEL = ("name", "description", "base", "overrides", "cases", "grid", "published", "search")
# Keys that do not change a run's result (the schema says which: config.schema.key(result=False)): left out of the
# cell identity, so that the same cell logged to another store, read from another data folder or run with more
# loader workers or on another device is the same cell.
NON_RESULT_KEYS = keys_where("result", False)
NON_RESULT_SECTIONS = ("mlflow",)  # every key of it is in NON_RESULT_KEYS already
SEED_KEY = "general.seed"


@dataclass(frozen=True)
class Published:
    """A published result: ``mean ± std`` (test accuracy, %) for the cells whose keys equal ``where``."""

    where: dict[str, Any]
    mean: float
    std: float

    def matches(self, params: dict[str, str]) -> bool:
        """True when every ``where`` key has this value in ``params`` (MLflow's string form of the config)."""
        return all(k in params and same_value(params[k], v) for k, v in self.where.items())


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its overrides (on top of the spec's base), the keys the sweep varies and their
    values here, the resolved config and its identity hash."""

    index: int
    overrides: tuple[str, ...]
    varying: dict[str, Any]
    config: Config
    hash: str

    @property
    def seed(self) -> int:
        return self.config.general.seed

    def name(self, spec_name: str) -> str:
        """The cell's one label, everywhere (its MLflow run, the sweep's lines, ``--status``): ``mlflow.run_name``
        when the spec sets one, else :func:`parametricSN.naming.sweep_run_name`."""
        return self.config.mlflow.run_name or sweep_run_name(spec_name, self.varying)


@dataclass
class SweepSpec:
    """A parsed spec; :meth:`cells` expands and validates it."""

    path: Path
    name: str
    base: Optional[Path]
    overrides: list[str] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    grid: dict[str, list] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    description: str = ""
    search: Any = None  # the ``search:`` section for ``psn tune`` (parametricSN.sweeps.search.Search), or None

    @property
    def varying_keys(self) -> list[str]:
        """Keys that take more than one value across the runs (case keys, then grid keys), and the seed."""
        keys: list[str] = []
        for case in self.cases:
            keys += [k for k in case if k not in keys]
        keys = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in self.cases}) > 1]
        return keys + [k for k, values in self.grid.items() if len(values) > 1 or k == SEED_KEY]

    def cells(self, extra: Optional[list[str]] = None) -> list[Cell]:
        """Every run, validated through the config schema; ``extra`` overrides (``key=value``) apply last."""
        varying = self.varying_keys
        base = self._base_mapping()
        try:
            last = [parse_override(t) for t in [f"mlflow.experiment_name={json.dumps(self.name)}", *(extra or [])]]
        except ConfigError as exc:
            raise SpecError(f"{self.path}: {exc}") from None
        cells = []
        for case in self.cases or [{}]:
            for combo in itertools.product(*self.grid.values()):
                values = {**case, **dict(zip(self.grid, combo))}
                overrides = (*self.overrides, *(override_text(k, v) for k, v in values.items()))
                try:
                    cfg = config_from_dict(_merged(base, [*values.items(), *last]))
                except ConfigError as exc:
                    raise SpecError(f"{self.path}: run {len(cells) + 1} ({_describe(values)}): {exc}") from None
                cells.append(
                    Cell(len(cells), overrides, {k: values[k] for k in varying if k in values}, cfg, cell_hash(cfg))
                )
        return cells

    def _base_mapping(self) -> dict[str, dict[str, Any]]:
        """The base config file with the spec's fixed overrides applied, as a nested mapping (read once: the
        per-run configs are built from it, then validated one by one)."""
        data: Any = {}
        if self.base is not None:
            try:
                data = yaml.safe_load(self.base.read_text()) or {}
            except yaml.YAMLError as exc:
                raise SpecError(
                    f"{self.path}: base: {self.base} is not valid YAML: {' '.join(str(exc).split())}"
                ) from None
            if not isinstance(data, dict) or not all(isinstance(v, (dict, type(None))) for v in data.values()):
                raise SpecError(f"{self.path}: base: {self.base} is not a mapping of config sections")
        return _merged({k: dict(v or {}) for k, v in data.items()}, [parse_override(t) for t in self.overrides])


def _merged(base: dict[str, dict[str, Any]], items: list[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """``base`` (section -> key -> value) with the dotted ``(key, value)`` pairs set, later ones winning."""
    out = {section: dict(body) for section, body in base.items()}
    for dotted, value in items:
        section, _, key = dotted.partition(".")
        out.setdefault(section, {})[key] = value
    return out


def param_text(value: Any) -> str:
    """How MLflow shows a config value as a param (``str``): ``True``, ``100``, ``0.06``, ``tight-frame``."""
    return str(value)


def override_text(key: str, value: Any) -> str:
    """``key=value`` that :func:`parametricSN.config.parse_override` reads back as ``value`` (plain text when it
    reads back unchanged, JSON — which is YAML — otherwise, e.g. the text ``"true"``)."""
    if isinstance(value, str):
        try:
            if yaml.safe_load(value) == value:
                return f"{key}={value}"
        except yaml.YAMLError:
            pass
    return f"{key}={json.dumps(value)}"


def same_value(param: str, value: Any) -> bool:
    """Whether MLflow's param text ``param`` stands for ``value`` (``"100"`` for 100 or 100.0, ``"True"``)."""
    if param == param_text(value):
        return True
    try:
        parsed = yaml.safe_load(param)
    except yaml.YAMLError:
        return False
    return type(parsed) is not bool and type(value) is not bool and parsed == value


def _describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={param_text(v)}" for k, v in values.items()) or "no varying keys"


def identity(cfg: Config) -> dict[str, Any]:
    """The config keys that define a result: everything but :data:`NON_RESULT_KEYS`."""
    return {k: v for k, v in cfg.flat().items() if k not in NON_RESULT_KEYS}


def cell_hash(cfg: Config) -> str:
    """A 16-hex-digit SHA-256 of :func:`identity` (canonical JSON): equal configs, equal cells."""
    text = json.dumps(identity(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---- parsing ------------------------------------------------------------------------------------------------
_CONFIG_KEYS = frozenset(Config().flat())


def _err(path: Path, key: str, message: str) -> SpecError:
    return SpecError(f"{path}: {key}: {message}")


def _check_config_key(path: Path, where: str, key: Any) -> str:
    if not isinstance(key, str) or key not in _CONFIG_KEYS:
        raise _err(
            path,
            where,
            f"unknown config key {key!r}; keys are dotted names such as scattering.J (see `psn config show`)",
        )
    if key == "mlflow.experiment_name":
        raise _err(path, where, "mlflow.experiment_name is set by the spec's name:, not per run")
    return key


def _resolve_base(path: Path, base: str) -> Path:
    p = Path(base).expanduser()
    if p.is_absolute():
        candidates = [p]
    else:
        folder = path.resolve().parent
        candidates = list(dict.fromkeys([folder / p, folder.parent / p, Path.cwd() / p]))
    for c in candidates:
        if c.is_file():
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise _err(path, "base", f"config file {base!r} not found (looked for {looked})")


def load_spec(path: Union[str, Path]) -> SweepSpec:
    """Read and check a spec file (structure and key names; values are checked by :meth:`SweepSpec.cells`)."""
    path = Path(path)
    if path.is_dir():
        raise SpecError(f"{path}: is a directory; give a sweep spec file (see experiments/)")
    if not path.is_file():
        raise SpecError(f"{path}: sweep spec not found")
    try:  # duplicate keys are errors (a sweep would lose half a grid); YAML problems fit on one line
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping with {', '.join(TOP_LEVEL)}")
    for key in data:
        if key not in TOP_LEVEL:
            raise _err(path, str(key), f"unknown top-level key; a spec has {', '.join(TOP_LEVEL)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _err(path, "name", "expected the experiment name (text)")
    base = data.get("base")
    if base is not None and not isinstance(base, str):
        raise _err(path, "base", f"expected a config file path, got {base!r}")
    spec = SweepSpec(
        path=path,
        name=name,
        base=_resolve_base(path, base) if base else None,
        description=str(data.get("description") or ""),
    )

    overrides = data.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise _err(path, "overrides", "expected a list of key=value texts, e.g. [model.name=linear]")
    fixed = []
    for text in overrides:
        try:
            key, _ = parse_override(text)
        except ConfigError as exc:
            raise _err(path, "overrides", str(exc)) from None
        fixed.append(_check_config_key(path, f"overrides: {key}", key))
    spec.overrides = list(overrides)

    cases = data.get("cases") or []
    if not isinstance(cases, list) or not all(isinstance(c, dict) and c for c in cases):
        raise _err(path, "cases", "expected a list of non-empty mappings {config.key: value, ...}")
    for i, case in enumerate(cases):
        for key in case:
            _check_config_key(path, f"cases[{i}]: {key}", key)
    spec.cases = cases

    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise _err(path, "grid", "expected a mapping {config.key: [values, ...]}")
    case_keys = {k for c in cases for k in c}
    for key, values in grid.items():
        _check_config_key(path, f"grid: {key}", key)
        if not isinstance(values, list) or not values:
            raise _err(path, f"grid: {key}", f"expected a non-empty list of values, got {values!r}")
        if key in case_keys:
            raise _err(path, f"grid: {key}", "set in both cases and grid; keep it in one of them")
    for key in case_keys | set(grid):
        if key in fixed:
            raise _err(path, key, "set in both overrides and cases/grid; keep it in one of them")
    spec.grid = grid

    published = data.get("published") or []
    if not isinstance(published, list):
        raise _err(path, "published", "expected a list of {where: {...}, mean: M, std: S}")
    for i, entry in enumerate(published):
        where = f"published[{i}]"
        if not isinstance(entry, dict) or set(entry) - {"where", "mean", "std"} or "mean" not in entry:
            raise _err(path, where, "expected {where: {config.key: value}, mean: M, std: S}")
        cond = entry.get("where") or {}
        if not isinstance(cond, dict):
            raise _err(path, f"{where}.where", "expected a mapping {config.key: value}")
        for key in cond:
            _check_config_key(path, f"{where}.where: {key}", key)
        nums = {}
        for k in ("mean", "std"):
            v = entry.get(k, 0.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _err(path, f"{where}.{k}", f"expected a number, got {v!r}")
            nums[k] = float(v)
        spec.published.append(Published(dict(cond), nums["mean"], nums["std"]))
    spec.search = parse_search(path, data.get("search"), _check_config_key)
    return spec
