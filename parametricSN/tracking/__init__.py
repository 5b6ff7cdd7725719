"""Tracking: everything MLflow — where runs are stored, the run logger, model save/load.

``MlflowLogger`` implements ``parametricSN.training.Logger`` and, once this package is imported, is the logger of
``train(cfg)`` calls that pass none; ``load_model(run_id_or_path, tracking_uri=None)`` rebuilds a trained model
(eval mode) from a run or a model file.
"""
from parametricSN.tracking.mlflow_logger import ERROR_TAG, MlflowLogger
from parametricSN.tracking.model_io import ModelFileError, load_model, load_model_with_config, save_model_file
from parametricSN.tracking.preflight import TrackingError
from parametricSN.commands import resume_command
from parametricSN.tracking.resume import prepare_resume, prepare_resume_runs
from parametricSN.tracking.store import client_for, default_artifact_location, resolve_tracking_uri
from parametricSN.training.logger import set_default_logger

set_default_logger(MlflowLogger.from_config)

__all__ = ["ERROR_TAG", "MlflowLogger", "ModelFileError", "TrackingError", "client_for", "default_artifact_location",
           "load_model", "load_model_with_config", "prepare_resume", "prepare_resume_runs", "resolve_tracking_uri",
           "resume_command",
           "save_model_file"]
