"""Optimizer and learning-rate schedule built from ``cfg.optim`` (and the scattering learning rates).

Parameter groups, in this order:

1. ``head`` — every trainable parameter outside the scattering layer: lr ``optim.lr``, weight decay
   ``optim.weight_decay`` (SGD also ``optim.momentum`` and ``optim.nesterov``);
2. the scattering groups of ``model.scattering.param_groups(scattering.lr_orientation, scattering.lr_scattering,
   scattering.lr)`` — one per learning-rate group of the wavelet family (Morlet: θ alone as ``orientation``, then
   {ξ, σ, slant} as ``scattering``; a group's rate is ``scattering.lr[group]`` when set, else ``lr_orientation``
   for ``orientation`` and ``lr_scattering`` for the others) — with **no weight decay** (decaying a frequency or a width towards 0 is not a
   regulariser, it breaks the wavelet). They are left out when the model has no scattering layer or a fixed one.

Each group keeps its ``name``; the training loop logs ``lr_<name>`` per epoch.

Schedules (``optim.scheduler``):

- ``onecycle``: ``torch.optim.lr_scheduler.OneCycleLR`` stepped after every *optimizer* step, set up as the
  paper's code set it up. Let ``m = optim.max_lr``, ``d = optim.div_factor``, ``f = optim.final_div_factor``.
  Every group **starts** at ``m / d`` and **ends** at ``m / (d f)`` — the head's numbers, also for the scattering
  groups: the original built the scheduler with the single ``max_lr`` and only afterwards raised each scattering
  group's peak to its own rate. The **peaks** differ: the head at ``m``, the scattering groups at
  their own rates (above). Two phases (``three_phase: false``): cosine
  from start to peak over the first ``pct_start`` of the steps, then cosine from peak to end; three phases: start
  -> peak -> start (symmetric) -> end. ``optim.lr`` is not used by this schedule.
  Momentum: with ``optim.cycle_momentum`` (default, torch's default and what the paper ran) SGD's momentum
  (Adam's beta1) moves opposite to the lr — ``max_momentum`` at the start, ``base_momentum`` at the lr peak,
  back to ``max_momentum`` at the end — and ``optim.momentum`` is not used; without it SGD keeps
  ``optim.momentum`` (Adam its default betas). Total steps = ``epochs * ceil(batches_per_epoch / accum_steps)``.
- ``cosine``: ``CosineAnnealingLR`` with ``T_max = optim.T_max`` (``train.epochs`` when null), per epoch.
- ``step``: ``StepLR(optim.step_size, optim.gamma)``, per epoch.
- ``multistep``: ``MultiStepLR(optim.milestones, optim.gamma)``, per epoch.
- ``none``: constant rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from parametricSN.config import Config, ConfigError, choices
from parametricSN.models import learnable_scattering

HEAD_GROUP = "head"
OPTIMIZERS = choices("optim.name")  # the schema lists them; this module builds each
SCHEDULERS = choices("optim.scheduler")


def scattering_param_groups(model: nn.Module, cfg: Config) -> list[dict[str, Any]]:
    """The scattering layer's optimizer groups (weight decay 0), or ``[]`` when it is absent or fixed."""
    scattering = learnable_scattering(model)
    if scattering is None:
        return []
    groups = []
    sc = cfg.scattering
    for group in scattering.param_groups(sc.lr_orientation, sc.lr_scattering, sc.lr):
        params = [p for p in group["params"] if p.requires_grad]
        if params:
            groups.append({**group, "params": params, "weight_decay": 0.0})
    return groups


def param_groups(model: nn.Module, cfg: Config) -> list[dict[str, Any]]:
    """``[head, *scattering groups]`` as optimizer param-group dicts, each with a unique ``name``."""
    scat = scattering_param_groups(model, cfg)
    in_scattering = {id(p) for g in scat for p in g["params"]}
    head = [p for p in model.parameters() if p.requires_grad and id(p) not in in_scattering]
    groups = []
    if head:
        groups.append({"params": head, "lr": cfg.optim.lr, "weight_decay": cfg.optim.weight_decay, "name": HEAD_GROUP})
    groups.extend(scat)
    if not groups:
        raise ConfigError(
            "the model has no trainable parameters: choose a head with weights "
            "(model.name) or set scattering.learnable=true"
        )
    names = [g["name"] for g in groups]
    if len(set(names)) != len(names):  # lr_<name> metrics would overwrite each other
        raise ValueError(f"optimizer group names must be unique, got {names}")
    return groups


def build_optimizer(model: nn.Module, cfg: Config) -> Optimizer:
    """SGD or Adam (``optim.name``) over :func:`param_groups`."""
    groups = param_groups(model, cfg)
    o = cfg.optim
    if o.name == "sgd":
        if o.nesterov and o.momentum == 0:
            raise ConfigError(
                "optim.nesterov: expected false when optim.momentum is 0 (Nesterov momentum needs a momentum)"
            )
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)
    if o.name == "adam":
        return torch.optim.Adam(groups, lr=o.lr)
    raise ConfigError(f"optim.name: expected sgd or adam, got {o.name!r}")


def optimizer_steps_per_epoch(batches_per_epoch: int, accum_steps: int) -> int:
    """``ceil(batches / accum_steps)``: a trailing partial accumulation group still makes a step."""
    return math.ceil(batches_per_epoch / accum_steps)


@dataclass
class Schedule:
    """A learning-rate scheduler plus when it is stepped: after every optimizer step or after every epoch."""

    scheduler: Optional[LRScheduler]
    per_step: bool

    def after_optimizer_step(self) -> None:
        if self.scheduler is not None and self.per_step:
            self.scheduler.step()

    def after_epoch(self) -> None:
        if self.scheduler is not None and not self.per_step:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


def build_schedule(optimizer: Optimizer, cfg: Config, batches_per_epoch: int) -> Schedule:
    """The ``optim.scheduler`` schedule for ``optimizer`` (groups as built by :func:`build_optimizer`)."""
    o, epochs = cfg.optim, cfg.train.epochs
    if o.scheduler == "onecycle":
        total = epochs * optimizer_steps_per_epoch(batches_per_epoch, cfg.train.accum_steps)
        peaks = [o.max_lr if g.get("name") == HEAD_GROUP else g["lr"] for g in optimizer.param_groups]
        # One max_lr for every group fixes start (max_lr / div) and end (start / final_div) of all groups alike;
        # then each group's peak is raised to its own rate, exactly as the paper's scheduler factory did.
        sched = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=o.max_lr,
            total_steps=total,
            pct_start=o.pct_start,
            div_factor=o.div_factor,
            final_div_factor=o.final_div_factor,
            three_phase=o.three_phase,
            cycle_momentum=o.cycle_momentum,
            base_momentum=o.base_momentum,
            max_momentum=o.max_momentum,
        )
        for group, peak in zip(optimizer.param_groups, peaks):
            group["max_lr"] = peak
        return Schedule(sched, per_step=True)
    if o.scheduler == "cosine":
        t_max = o.T_max if o.T_max is not None else epochs
        return Schedule(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max), per_step=False)
    if o.scheduler == "step":
        return Schedule(
            torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.step_size, gamma=o.gamma), per_step=False
        )
    if o.scheduler == "multistep":
        return Schedule(
            torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(o.milestones), gamma=o.gamma),
            per_step=False,
        )
    if o.scheduler == "none":
        return Schedule(None, per_step=False)
    raise ConfigError(f"optim.scheduler: unknown schedule {o.scheduler!r}")


def group_momenta(optimizer: Optimizer) -> dict[str, float]:
    """``{"<group name>": current momentum}`` per param group: SGD's ``momentum`` or Adam's beta1."""
    return {
        str(g.get("name", i)): float(g["betas"][0] if "betas" in g else g["momentum"])
        for i, g in enumerate(optimizer.param_groups)
    }


def group_lrs(optimizer: Optimizer) -> dict[str, float]:
    """``{"lr_<group name>": current lr}`` for every param group."""
    return {f"lr_{g.get('name', i)}": float(g["lr"]) for i, g in enumerate(optimizer.param_groups)}
