"""Training: the loop, losses, optimizer/scheduler factory, checkpoints, determinism.

``train(cfg, logger) -> RunResult(run_id, test_acc, history)`` runs one experiment. This package never imports
MLflow nor ``parametricSN.tracking``: it reports through the :class:`Logger` protocol, which the tracking package
implements and installs as the default (``parametricSN.train(cfg)`` supplies it).
"""
from parametricSN.training.checkpoint import CheckpointError, load_checkpoint, restore_checkpoint, save_checkpoint
from parametricSN.training.determinism import (deterministic_mode, resolve_device, rng_state, seed_everything,
                                               set_rng_state)
from parametricSN.training.divergence import DivergenceError
from parametricSN.training.filter_report import FilterReport
from parametricSN.training.logger import Logger, NullLogger, set_default_logger
from parametricSN.training.loop import EpochHook, Member, Trainee, evaluate, fit, train_epoch
from parametricSN.training.losses import build_loss, cosine_loss, cross_entropy_loss
from parametricSN.training.optim import Schedule, build_optimizer, build_schedule, optimizer_steps_per_epoch
from parametricSN.training.run import RunResult, train
from parametricSN.training.pack import train_pack

__all__ = [
    "CheckpointError", "DivergenceError", "EpochHook", "FilterReport", "Logger", "Member", "NullLogger", "RunResult",
    "Schedule", "build_loss", "build_optimizer", "build_schedule", "cosine_loss", "cross_entropy_loss",
    "deterministic_mode", "evaluate", "fit", "load_checkpoint", "optimizer_steps_per_epoch", "resolve_device",
    "restore_checkpoint", "rng_state", "save_checkpoint", "seed_everything", "set_default_logger", "set_rng_state",
    "Trainee", "train", "train_epoch", "train_pack",
]
