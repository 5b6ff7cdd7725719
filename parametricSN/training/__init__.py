"""Training: the loop, losses, optimizer/scheduler factory, checkpoints, determinism.

``train(cfg, logger) -> RunResult(run_id, test_acc, history)`` runs one experiment. This package never imports
MLflow nor ``parametricSN.tracking``: it reports through the :class:`Logger` protocol, which the tracking package
implements and installs as the default (``parametricSN.train(cfg)`` supplies it).

The names below load on first use (see :mod:`parametricSN._lazy`): ``parametricSN.training.interrupt`` imports no
torch.
"""

from parametricSN._lazy import lazy_package

__all__ = lazy_package(
    __name__,
    {
        "CheckpointError": "checkpoint",
        "load_checkpoint": "checkpoint",
        "restore_checkpoint": "checkpoint",
        "save_checkpoint": "checkpoint",
        "deterministic_mode": "determinism",
        "resolve_device": "determinism",
        "rng_state": "determinism",
        "seed_everything": "determinism",
        "set_rng_state": "determinism",
        "DivergenceError": "divergence",
        "FilterReport": "filter_report",
        "Logger": "logger",
        "NullLogger": "logger",
        "set_default_logger": "logger",
        "EpochHook": "loop",
        "Member": "loop",
        "Trainee": "loop",
        "evaluate": "loop",
        "fit": "loop",
        "train_epoch": "loop",
        "build_loss": "losses",
        "cosine_loss": "losses",
        "cross_entropy_loss": "losses",
        "Schedule": "optim",
        "build_optimizer": "optim",
        "build_schedule": "optim",
        "optimizer_steps_per_epoch": "optim",
        "RunResult": "run",
        "train": "run",
        "train_pack": "pack",
    },
)
