"""``train(cfg)``: one complete run — data, model, optimizer, epochs, and everything reported to the tracker.

    from parametricSN.config import load_config
    from parametricSN import train
    result = train(load_config("conf/cifar.yaml", ["train.epochs=10"]))
    result.run_id, result.test_acc, result.history

Order of a run (it fixes what the seed controls): resolve the device, build the loaders (before the run
exists, so that a data error leaves no run behind), open the run and log the config, seed every global
generator with ``general.seed``, build the model (so its initialisation depends on the seed only, not on what
the data layer did), then train (:func:`parametricSN.training.loop.fit`),
then log the learning curves and filter figures (``viz.figures``), the filter animation (``viz.animation_every``)
and the model (``train.save_model``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from parametricSN.config import Config, validate
from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.training.determinism import (
    deterministic_mode,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
)
from parametricSN.training.filter_report import FilterReport
from parametricSN.training.logger import Logger, default_logger
from parametricSN.training.loop import Member, Trainee, fit
from parametricSN.training.losses import build_loss
from parametricSN.training.optim import build_optimizer, build_schedule, param_groups
from parametricSN.training.resume import resume_point
from parametricSN.training.tightness import tightness_penalty


@dataclass(frozen=True)
class RunResult:
    """What :func:`train` returns: the tracker's run id ("" without a tracker), the final test accuracy (%)
    and one metric dict per epoch (``epoch``, ``train_loss``, ``train_acc``, ``lr_<group>``, ``motion_<param>``
    when the scattering is learnable, and ``test_loss`` / ``test_acc`` on test epochs)."""

    run_id: str
    test_acc: float
    history: list[dict[str, float]] = field(default_factory=list)


def train(
    cfg: Config,
    logger: Optional[Logger] = None,
    *,
    model: Optional[nn.Module] = None,
    loaders: Any = None,
    resume: Optional[dict[str, Any]] = None,
) -> RunResult:
    """Train and test ``cfg``'s model on ``cfg``'s data, reporting to ``logger`` (by default the installed one,
    :func:`parametricSN.training.logger.default_logger`: MLflow once ``parametricSN.tracking`` is imported).

    ``model`` / ``loaders`` replace ``build_model(cfg)`` / ``build_loaders(cfg)`` (e.g. a head of your own);
    a replaced model is seeded by whoever built it, and its saved weights reload with ``load_model`` only if
    ``build_model(cfg)`` builds the same architecture. ``resume``: a checkpoint (``load_checkpoint``) of this run
    to continue from, with a ``logger`` that reopens the run (``MlflowLogger.for_run``); see
    :mod:`parametricSN.training.resume`. The caller's global random generators (torch, CUDA, Python, NumPy),
    which the run seeds for itself, are restored afterwards.

    If training fails, the run is marked failed with the error and the exception propagates; if only storing a
    figure or the model fails afterwards, that is reported as a warning and the finished run and its result are
    kept.
    """
    return train_runs([cfg], [logger], _single, models=[model], loaders=[loaders], resume=resume)[0]


# (models, configs, device, batches per epoch) -> what the optimizer steps
MakeTrainee = Callable[[list[nn.Module], list[Config], torch.device, int], Trainee]


def _single(models: list[nn.Module], cfgs: list[Config], device: torch.device, batches_per_epoch: int) -> Trainee:
    model = models[0].to(device)
    optimizer = build_optimizer(model, cfgs[0])
    return Trainee(model, optimizer, build_schedule(optimizer, cfgs[0], batches_per_epoch=batches_per_epoch))


def train_runs(
    cfgs: list[Config],
    loggers: list[Optional[Logger]],
    make_trainee: MakeTrainee,
    *,
    models: Optional[list[Optional[nn.Module]]] = None,
    loaders: Optional[list[Any]] = None,
    resume: Optional[dict[str, Any]] = None,
    tags: Optional[list[dict[str, str]]] = None,
) -> list[RunResult]:
    """Train ``cfgs`` (one run, or the members of a pack) through one :func:`fit`; one result per config.

    Order of each run (it fixes what the seed controls): the loaders (before any run exists, so that a data error
    leaves no run behind), the runs opened and their configs logged, ``seed_everything(seed)`` right before each
    ``build_model`` (its initialisation depends on the seed only), then ``make_trainee`` (the model the optimizer
    steps: the member itself, or the members packed), the filter reports, a resume's checkpoint restored, and
    :func:`fit`. ``tags``: per run, set when the logger has ``set_tags`` (a pack's ``pack_id``, ...).
    """
    for cfg in cfgs:
        validate(cfg)  # again, now that every registry is imported: a bad name never opens a run
    saved = rng_state()
    try:
        return _train_runs(
            cfgs, loggers, make_trainee, models or [None] * len(cfgs), loaders or [None] * len(cfgs), resume, tags
        )
    finally:
        set_rng_state(saved)


def _train_runs(
    cfgs: list[Config],
    loggers_: list[Optional[Logger]],
    make_trainee: MakeTrainee,
    models_: list[Optional[nn.Module]],
    loaders_: list[Any],
    resume: Optional[dict[str, Any]],
    tags: Optional[list[dict[str, str]]],
) -> list[RunResult]:
    device = resolve_device(cfgs[0].general.device)
    loggers = [lg if lg is not None else default_logger(c) for lg, c in zip(loggers_, cfgs)]
    # before any run exists: a missing or damaged dataset leaves no run behind (the loaders own their generators)
    loaders = [lo if lo is not None else build_loaders(c) for lo, c in zip(loaders_, cfgs)]
    saved = (resume.get("members") or [resume]) if resume is not None else [{} for _ in cfgs]
    members: list[Member] = []
    try:
        for c, logger, lo, past in zip(cfgs, loggers, loaders, saved):
            members.append(Member(c, lo, logger, run_id=logger.start_run(c), history=list(past.get("history", []))))
            if resume is None:  # a resumed run has its params (MLflow params cannot change); config.yaml is updated
                logger.log_params(c.flat())
                log_datasets = getattr(logger, "log_datasets", None)  # optional: MlflowLogger's dataset inputs
                if log_datasets is not None:
                    log_datasets(c, lo)
            logger.log_text(c.to_yaml(), "config.yaml")
            set_tags = getattr(logger, "set_tags", None)
            if tags and set_tags is not None:
                set_tags(tags[len(members) - 1])
        with deterministic_mode(cfgs[0].general.deterministic):
            models = []
            for c, model in zip(cfgs, models_):
                if model is None:  # the seed right before the model, nothing drawn in between
                    seed_everything(c.general.seed)
                    model = build_model(c)
                models.append(model)
            trainee = make_trainee(models, cfgs, device, len(loaders[0].train))
            for m, model, c, past in zip(members, models, cfgs, saved):
                # before a resume's restore, so that "before" is the seeded initial model; motion from the start
                initial = past.get("extra", {}).get("initial_filters") or None  # {}: no learnable scattering
                m.hooks = [FilterReport(model, c, initial=initial)]
                if trainee.stacked:  # the learning rates of the member's own groups (a fixed one has none)
                    m.lr_keys = [f"lr_{g['name']}" for g in param_groups(model, c)]
            # before the restore too: the penalty's target is the initial frame (a pack's: its members' summed)
            members[0].penalty = tightness_penalty(trainee.model, cfgs[0])
            start = resume_point(resume, trainee.model, trainee.optimizer, trainee.schedule) if resume else 1
            fit(trainee, members, build_loss(cfgs[0].train.loss), device, start_epoch=start)
        if trainee.stacked:
            for p, model in enumerate(models):
                trainee.model.unpack_into(p, model)
    except BaseException as exc:
        if hasattr(exc, "run_id") and members:  # RunInterrupted, Terminated, DivergenceError: the CLI names the
            exc.run_id = exc.run_id or members[0].run_id  # run (a pack's checkpoint is in its first member's)
            exc.runs = len(members)
        for m in members:
            m.logger.set_failed(exc)
        raise
    # the last epoch is always a test epoch
    # (nan when the run evaluated validation images only: train.evaluate_test=false)
    results = [
        RunResult(run_id=m.run_id, test_acc=float(m.history[-1].get("test_acc", "nan")), history=m.history)
        for m in members
    ]
    return [
        finish_run(m.cfg, m.logger, result, model, m.hooks[0]) for m, result, model in zip(members, results, models)
    ]


def finish_run(cfg: Config, logger: Logger, result: RunResult, model: nn.Module, filters: FilterReport) -> RunResult:
    """Store a trained run's outputs (curves, filter figures, the model, as ``cfg`` asks), end the run, and
    return ``result``."""
    run_id, history = result.run_id, result.history
    # Training is over and its metrics are logged: a failure to store a figure or the model must not turn a
    # finished run into a failed one, nor lose the result. It is reported and the run still ends normally.
    outputs = []
    if cfg.viz.figures:
        outputs.append(("the learning curves", lambda: _log_curves(logger, history)))
    outputs.append(("the filter figures and animation", lambda: filters.log(logger)))
    if cfg.train.save_model:
        outputs.append(("the model", lambda: logger.log_model(model, cfg)))
    for what, log_output in outputs:
        try:
            log_output()
        except Exception as exc:  # noqa: BLE001 - reported; the finished run must survive it
            warnings.warn(f"run {run_id}: could not store {what}: {type(exc).__name__}: {exc}", stacklevel=3)
    logger.end_run()
    return result


def _log_curves(logger: Logger, history: list[dict[str, float]]) -> None:
    from parametricSN.training.curves import curve_figures  # matplotlib: imported only by runs that draw

    for name, fig in curve_figures(history).items():
        logger.log_figure(fig, name)
