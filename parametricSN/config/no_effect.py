"""Keys that do nothing with the chosen options: one warning each, naming the key and why.

A config key can be valid yet ignored: ``optim.lr`` under the onecycle schedule (which peaks at ``optim.max_lr``),
``model.dropout`` for a head without dropout (what each head reads: ``config.names.head_facts``), ``optim.momentum``
with Adam, ... Setting one usually means the user expects an effect they will not get, so :func:`warn_no_effect`
warns about it — but only about keys the user named (see :func:`parametricSN.config.load_config`), so defaults
never warn.

The rules are one table, :data:`NO_EFFECT`, of ``(key, condition, reason)``: ``condition(cfg)`` is true when
``key`` has no effect. Adding a key or an option is one more row.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from parametricSN.config.names import HEAD_MODEL_KEYS, head_facts
from parametricSN.config.schema import Config


class NoEffectWarning(UserWarning):
    """A key the user set has no effect with the chosen options."""


SCATTERING_KEYS = (
    "J",
    "L",
    "max_order",
    "init",
    "learnable",
    "parameterization",
    "family",
    "periodize",
    "lr_orientation",
    "lr_scattering",
    "lr",
    "second_order_only",
    "backend",
)
ONECYCLE_KEYS = (
    "max_lr",
    "div_factor",
    "final_div_factor",
    "pct_start",
    "three_phase",
    "base_momentum",
    "max_momentum",
)


def _head_ignores(key: str) -> Callable[[Config], bool]:
    return lambda c: c.model.name in head_facts() and key not in head_facts()[c.model.name].reads


def _rows() -> list[tuple[str, Callable[[Config], bool], str]]:
    sched = lambda *names: lambda c: c.optim.scheduler not in names  # noqa: E731 - a table of lambdas
    rows: list[tuple[str, Callable[[Config], bool], str]] = [
        (
            "optim.lr",
            lambda c: c.optim.scheduler == "onecycle",
            "the onecycle schedule sets the head's learning rate from optim.max_lr",
        ),
        ("optim.momentum", lambda c: c.optim.name != "sgd", "only SGD uses momentum"),
        (
            "optim.momentum",
            lambda c: c.optim.scheduler == "onecycle" and c.optim.cycle_momentum,
            "onecycle with optim.cycle_momentum=true cycles momentum between optim.max_momentum and "
            "optim.base_momentum",
        ),
        ("optim.cycle_momentum", sched("onecycle"), "only optim.scheduler=onecycle cycles momentum"),
        ("optim.nesterov", lambda c: c.optim.name != "sgd", "only SGD uses Nesterov momentum"),
        ("optim.T_max", sched("cosine"), "only optim.scheduler=cosine uses it"),
        ("optim.step_size", sched("step"), "only optim.scheduler=step uses it"),
        ("optim.milestones", sched("multistep"), "only optim.scheduler=multistep uses it"),
        ("optim.gamma", sched("step", "multistep"), "only optim.scheduler=step or multistep uses it"),
        ("dataset.sample", lambda c: c.dataset.name != "kth", "only dataset.name=kth has physical samples"),
        ("dataset.format", lambda c: c.dataset.name != "cifar", "only cifar has another format"),
        ("dataset.download", lambda c: c.dataset.name != "cifar", "only cifar is downloaded"),
        ("viz.animation_every", lambda c: not _learnable(c), "only a learnable scattering is animated"),
    ]
    rows += [(f"optim.{k}", sched("onecycle"), "only optim.scheduler=onecycle uses it") for k in ONECYCLE_KEYS]
    rows += [
        (
            f"optim.{k}",
            lambda c: c.optim.scheduler == "onecycle" and not c.optim.cycle_momentum,
            "optim.cycle_momentum is false",
        )
        for k in ("base_momentum", "max_momentum")
    ]
    rows += [(f"model.{k}", _head_ignores(k), "the chosen head (model.name) does not use it") for k in HEAD_MODEL_KEYS]
    rows += [
        (
            f"scattering.{k}",
            lambda c: c.scattering.architecture != "scattering",
            "scattering.architecture=identity has no scattering layer",
        )
        for k in SCATTERING_KEYS
    ]
    rows += [
        (
            f"scattering.{k}",
            lambda c: c.scattering.architecture == "scattering" and not c.scattering.learnable,
            "the scattering is fixed (scattering.learnable=false)",
        )
        for k in ("lr_orientation", "lr_scattering", "lr")
    ]
    return rows


def _learnable(c: Config) -> bool:
    return c.scattering.architecture == "scattering" and c.scattering.learnable


NO_EFFECT = _rows()


def no_effect(cfg: Config, named: set[str]) -> list[str]:
    """One message per key in ``named`` that has no effect under ``cfg`` (first matching reason)."""
    messages: dict[str, str] = {}
    for key, condition, reason in NO_EFFECT:
        if key in named and key not in messages and condition(cfg):
            messages[key] = f"{key} has no effect: {reason}"
    return list(messages.values())


def warn_no_effect(cfg: Config, named: set[str]) -> None:
    """``warnings.warn`` a :class:`NoEffectWarning` for each message of :func:`no_effect`."""
    for message in no_effect(cfg, named):
        warnings.warn(message, NoEffectWarning, stacklevel=3)
