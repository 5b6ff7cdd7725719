"""Tracking: everything MLflow — where runs are stored, the run logger, model save/load.

``MlflowLogger`` implements ``parametricSN.training.Logger`` and, once this package is imported, is the logger of
``train(cfg)`` calls that pass none; ``load_model(run_id_or_path, tracking_uri=None)`` rebuilds a trained model
(eval mode) from a run or a model file.

The names below load on first use (see :mod:`parametricSN._lazy`): ``parametricSN.tracking.preflight`` imports
neither MLflow nor torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parametricSN._lazy import lazy_package
from parametricSN.commands import resume_command
from parametricSN.training.logger import set_default_logger

if TYPE_CHECKING:
    from parametricSN.config import Config
    from parametricSN.tracking.mlflow_logger import MlflowLogger

__all__ = lazy_package(
    __name__,
    {
        "ERROR_TAG": "mlflow_logger",
        "MlflowLogger": "mlflow_logger",
        "ModelFileError": "model_io",
        "load_model": "model_io",
        "load_model_with_config": "model_io",
        "save_model_file": "model_io",
        "TrackingError": "preflight",
        "prepare_resume": "resume",
        "prepare_resume_runs": "resume",
        "client_for": "store",
        "default_artifact_location": "store",
        "resolve_tracking_uri": "store",
    },
) + ["resume_command"]


def _mlflow_logger(cfg: Config) -> MlflowLogger:
    """The default logger (MLflow is imported by the first run that uses it)."""
    from parametricSN.tracking.mlflow_logger import MlflowLogger

    return MlflowLogger.from_config(cfg)


set_default_logger(_mlflow_logger)
