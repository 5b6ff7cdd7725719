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
from dataclasses import dataclass, field
from typing import Any, Optional

from torch import nn

from parametricSN.allocator import retain_freed_memory
from parametricSN.config import Config, validate
from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.training.curves import curve_figures
from parametricSN.training.determinism import (deterministic_mode, resolve_device, rng_state, seed_everything,
                                               set_rng_state)
from parametricSN.training.filter_report import FilterReport
from parametricSN.training.logger import Logger, default_logger
from parametricSN.training.loop import fit
from parametricSN.training.losses import build_loss
from parametricSN.training.optim import build_optimizer, build_schedule
from parametricSN.training.resume import resume_point


@dataclass(frozen=True)
class RunResult:
    """What :func:`train` returns: the tracker's run id ("" without a tracker), the final test accuracy (%)
    and one metric dict per epoch (``epoch``, ``train_loss``, ``train_acc``, ``lr_<group>``, ``motion_<param>``
    when the scattering is learnable, and ``test_loss`` / ``test_acc`` on test epochs)."""

    run_id: str
    test_acc: float
    history: list[dict[str, float]] = field(default_factory=list)


def train(cfg: Config, logger: Optional[Logger] = None, *, model: Optional[nn.Module] = None,
          loaders: Any = None, resume: Optional[dict[str, Any]] = None) -> RunResult:
    """Train and test ``cfg``'s model; see :func:`_train`. The caller's global random generators (torch,
    CUDA, Python, NumPy), which the run seeds for itself, are restored afterwards.

    ``resume``: a checkpoint (``load_checkpoint``) of this run to continue from, with a ``logger`` that reopens
    the run (``MlflowLogger.for_run``); see :mod:`parametricSN.training.resume`."""
    retain_freed_memory()
    saved = rng_state()
    try:
        return _train(cfg, logger, model=model, loaders=loaders, resume=resume)
    finally:
        set_rng_state(saved)


def _train(cfg: Config, logger: Optional[Logger] = None, *, model: Optional[nn.Module] = None,
           loaders: Any = None, resume: Optional[dict[str, Any]] = None) -> RunResult:
    """Train and test ``cfg``'s model on ``cfg``'s data, reporting to ``logger`` (by default the installed one,
    :func:`parametricSN.training.logger.default_logger`: MLflow once ``parametricSN.tracking`` is imported).

    ``model`` / ``loaders`` replace ``build_model(cfg)`` / ``build_loaders(cfg)`` (e.g. a head of your own);
    a replaced model is seeded by whoever built it, and its saved weights reload with ``load_model`` only if
    ``build_model(cfg)`` builds the same architecture. If training fails, the run is marked failed with the
    error and the exception propagates; if only storing a figure or the model fails afterwards, that is
    reported as a warning and the finished run and its result are kept.
    """
    validate(cfg)  # again, now that every registry is imported: a bad name never opens a run
    device = resolve_device(cfg.general.device)
    logger = logger if logger is not None else default_logger(cfg)
    if loaders is None:  # before the run exists: a missing or damaged dataset leaves no run behind
        loaders = build_loaders(cfg)  # (the loaders own their generators: this draws nothing from the seed)
    run_id = logger.start_run(cfg)
    try:
        if resume is None:  # a resumed run has its params (MLflow params cannot change); config.yaml is updated
            logger.log_params(cfg.flat())
        logger.log_text(cfg.to_yaml(), "config.yaml")
        with deterministic_mode(cfg.general.deterministic):
            if model is None:
                seed_everything(cfg.general.seed)
                model = build_model(cfg)
            model = model.to(device)
            optimizer = build_optimizer(model, cfg)
            schedule = build_schedule(optimizer, cfg, batches_per_epoch=len(loaders.train))
            # before a resume's restore, so that "before" is the seeded initial model; motion from the run's start
            initial = (resume or {}).get("extra", {}).get("initial_filters") or None  # {}: no learnable scattering
            filters = FilterReport(model, cfg, initial=initial)
            past = resume_point(resume, model, optimizer, schedule) if resume is not None else {}
            history = fit(cfg, model, loaders, optimizer, schedule, build_loss(cfg.train.loss), device, logger,
                          hooks=[filters], **past)
        # the last epoch is always a test epoch; nan when it evaluated validation images only (train.evaluate_test)
        test_acc = float(history[-1].get("test_acc", float("nan")))
    except BaseException as exc:
        if hasattr(exc, "run_id"):  # RunInterrupted, Terminated, DivergenceError: the CLI names the run
            exc.run_id = run_id
        logger.set_failed(exc)
        raise
    return finish_run(cfg, logger, RunResult(run_id=run_id, test_acc=test_acc, history=history), model, filters)


def finish_run(cfg: Config, logger: Logger, result: RunResult, model: nn.Module, filters: FilterReport
               ) -> RunResult:
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
    for name, fig in curve_figures(history).items():
        logger.log_figure(fig, name)

