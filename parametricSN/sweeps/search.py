"""The ``search:`` section of a sweep spec: what ``psn tune`` searches, scored on the validation split.

    search:
      metric: val_acc                # val_acc (default, mode max) | val_loss (mode min); never a test metric
      mode: max
      trials: 8                      # configs sampled
      searcher: random               # random | optuna (Optuna's TPE through Ray Tune); both seeded by seed:
      seed: 0
      seeds_per_trial: 1             # a config scores the mean over the spec's first K seeds
      scheduler: {name: asha, grace_period: 1, reduction_factor: 2}   # or {name: fifo}
      space:                         # config key -> one distribution
        optim.max_lr: {loguniform: [0.01, 0.3]}
        scattering.lr_orientation: {loguniform: [0.01, 0.3]}
        optim.weight_decay: {choice: [0.0, 5.0e-4]}

Distributions: ``loguniform: [a, b]`` (0 < a < b), ``uniform: [a, b]`` (a < b), ``randint: [a, b]`` (an integer
in a..b, both included), ``choice: [v, ...]``. Every mistake is a :class:`~parametricSN.sweeps.spec.SpecError`
naming the file and the key. This module imports no Ray: :mod:`parametricSN.sweeps.tune` turns the section into
Ray Tune objects when ``psn tune`` runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from parametricSN.sweeps.errors import SpecError

DISTRIBUTIONS = ("loguniform", "uniform", "randint", "choice")
METRICS = {"val_acc": "max", "val_loss": "min"}
SEARCHERS = ("random", "optuna")
SCHEDULERS = {"asha": ("grace_period", "reduction_factor"), "fifo": ()}
KEYS = ("metric", "mode", "trials", "searcher", "seed", "seeds_per_trial", "scheduler", "space")


@dataclass(frozen=True)
class Dimension:
    """One searched config key: ``kind`` (one of :data:`DISTRIBUTIONS`) and its arguments."""

    key: str
    kind: str
    args: tuple  # (low, high), or the choices


@dataclass(frozen=True)
class Scheduler:
    name: str = "asha"  # asha | fifo
    grace_period: int = 1  # asha: epochs every trial runs before it can be stopped
    reduction_factor: int = 2  # asha: 1 in reduction_factor trials goes on at each rung


@dataclass(frozen=True)
class Search:
    """A parsed ``search:`` section."""

    space: dict = field(default_factory=dict)  # key -> Dimension
    metric: str = "val_acc"
    mode: str = "max"
    trials: int = 8
    searcher: str = "random"
    seed: int = 0
    seeds_per_trial: int = 1
    scheduler: Scheduler = field(default_factory=Scheduler)

    def key(self) -> str:
        """12 hex digits identifying the search (everything but ``trials``, which a rerun may raise)."""
        data = {k: v for k, v in asdict(self).items() if k != "trials"}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _int(value: Any, err: Callable[[str, str], Exception], key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise err(key, f"expected an integer >= {low}, got {value!r}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dimension(key: str, body: Any, err: Callable[[str, str], Exception]) -> Dimension:
    where = f"search.space: {key}"
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in DISTRIBUTIONS:
        raise err(where, f"expected one of {{{': [...]}, {'.join(DISTRIBUTIONS)}: [...]}}, got {body!r}")
    kind, args = next(iter(body.items()))
    if not isinstance(args, list) or not args:
        raise err(f"{where}.{kind}", f"expected a non-empty list, got {args!r}")
    if kind == "choice":
        return Dimension(key, kind, tuple(args))
    if len(args) != 2:
        raise err(f"{where}.{kind}", f"expected [low, high], got {args!r}")
    low, high = args
    if kind == "randint":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in args) or low > high:
            raise err(f"{where}.randint", f"expected integers [low, high] with low <= high, got {args!r}")
    else:
        args = [float(v) if isinstance(v, str) and _is_float(v) else v for v in args]  # YAML 1.1 reads 1e-3 as text
        low, high = args
        if not all(_number(v) for v in args) or low >= high or (kind == "loguniform" and low <= 0):
            rule = "0 < low < high" if kind == "loguniform" else "low < high"
            raise err(f"{where}.{kind}", f"expected numbers [low, high] with {rule}, got {args!r}")
    return Dimension(key, kind, (low, high))


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_search(path: Path, data: Any, check_key: Callable[[Path, str, Any], str]) -> Optional[Search]:
    """The spec's ``search:`` mapping as a :class:`Search` (None when the spec has none). ``check_key(path, where,
    key)`` rejects a key that is not a config key (the spec's own check); errors name ``path`` and the key."""

    def err(key: str, message: str) -> SpecError:
        return SpecError(f"{path}: {key}: {message}")

    if data is None:
        return None
    if not isinstance(data, dict):
        raise err("search", f"expected a mapping with {', '.join(KEYS)}")
    for key in data:
        if key not in KEYS:
            raise err(f"search.{key}", f"unknown key; search has {', '.join(KEYS)}")
    metric = data.get("metric", "val_acc")
    if metric not in METRICS:
        hint = " (a search never reads the test split)" if str(metric).startswith("test") else ""
        raise err("search.metric", f"expected one of {', '.join(METRICS)}, got {metric!r}{hint}")
    mode = data.get("mode", METRICS[metric])
    if mode not in ("max", "min"):
        raise err("search.mode", f"expected max or min, got {mode!r}")
    searcher = data.get("searcher", "random")
    if searcher not in SEARCHERS:
        raise err("search.searcher", f"expected one of {', '.join(SEARCHERS)}, got {searcher!r}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise err("search.seed", f"expected an integer, got {seed!r}")
    sched = data.get("scheduler", {"name": "asha"})
    if isinstance(sched, str):
        sched = {"name": sched}
    if not isinstance(sched, dict) or sched.get("name") not in SCHEDULERS:
        raise err(
            "search.scheduler",
            f"expected {{name: asha, grace_period: G, reduction_factor: R}} or {{name: fifo}}, got {sched!r}",
        )
    for key in sched:
        if key != "name" and key not in SCHEDULERS[sched["name"]]:
            raise err(
                f"search.scheduler.{key}",
                f"unknown key for {sched['name']}; it takes {', '.join(('name',) + SCHEDULERS[sched['name']])}",
            )
    scheduler = Scheduler(
        sched["name"],
        _int(sched.get("grace_period", 1), err, "search.scheduler.grace_period", 1),
        _int(sched.get("reduction_factor", 2), err, "search.scheduler.reduction_factor", 2),
    )
    space = data.get("space")
    if not isinstance(space, dict) or not space:
        raise err("search.space", "expected a mapping {config.key: {loguniform|uniform|randint|choice: [...]}}")
    dims = {}
    for key, body in space.items():
        check_key(path, f"search.space: {key}", key)
        if key == "general.seed":
            raise err(
                "search.space: general.seed",
                "seeds are not searched: a trial runs the spec's first "
                "search.seeds_per_trial seeds (grid: general.seed)",
            )
        dims[key] = _dimension(key, body, err)
    return Search(
        space=dims,
        metric=metric,
        mode=mode,
        trials=_int(data.get("trials", 8), err, "search.trials", 1),
        searcher=searcher,
        seed=seed,
        seeds_per_trial=_int(data.get("seeds_per_trial", 1), err, "search.seeds_per_trial", 1),
        scheduler=scheduler,
    )
