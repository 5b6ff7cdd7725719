"""``psn train --resume RUN_ID [key=value ...]``: find a run's last checkpoint in the store and continue it.

The run keeps its id: its status goes back to RUNNING and the new epochs' metrics are appended to its
history. Training restarts from the newest checkpoint artifact (``checkpoints/epoch_NNNN.pt``, written every
``train.checkpoint_every`` epochs and when the run is stopped by SIGINT / SIGTERM); a damaged newest checkpoint
falls back to the one before it. The config is the checkpoint's own, changed only by overrides that
:func:`parametricSN.training.resume.check_resume_config` allows.

A run killed without a chance to checkpoint (SIGKILL, power loss) may have logged epochs after its last
checkpoint: they are trained again but not logged a second time (the store keeps the points it has; by
determinism they are the same values, see ``MlflowLogger.for_run``).
"""
from __future__ import annotations

import re
import tempfile
import warnings
from typing import Any, Optional

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from parametricSN.config import Config, ConfigError, apply_overrides, config_from_dict, parse_override
from parametricSN.tracking.mlflow_logger import MlflowLogger
from parametricSN.tracking.preflight import TrackingError
from parametricSN.tracking.store import client_for, resolve_tracking_uri
from parametricSN.training.checkpoint import CheckpointError, load_checkpoint
from parametricSN.training.resume import check_resume_config

CHECKPOINT_DIR = "checkpoints"
_EPOCH = re.compile(r"epoch_(\d+)\.pt$")


def _override_uri(overrides: list[str]) -> Optional[str]:
    uri = None
    for text in overrides:
        key, value = parse_override(text)
        if key == "mlflow.tracking_uri":
            uri = value
    return uri


def get_run_or_explain(client: Any, run_id: str, uri: str) -> Any:
    """``client.get_run(run_id)``; a missing run is a ConfigError, an unusable store a TrackingError."""
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise ConfigError(f"--resume: no run {run_id!r} in the tracking store {uri!r}; check the id "
                              "(mlflow ui) or give mlflow.tracking_uri=... of the store it is in") from None
        raise TrackingError(f"cannot read the tracking store {uri!r}: {' '.join(exc.message.split())[:300]}") \
            from None


def _newest_checkpoint(client: Any, run_id: str, dst: str) -> dict[str, Any]:
    names = sorted((f.path for f in client.list_artifacts(run_id, CHECKPOINT_DIR) if _EPOCH.search(f.path)),
                   key=lambda p: int(_EPOCH.search(p).group(1)), reverse=True)
    if not names:
        raise CheckpointError(f"run {run_id} has no checkpoint to resume from: it was stopped before its first "
                              "checkpoint (train.checkpoint_every=0 and no SIGINT / SIGTERM); start it again")
    for i, name in enumerate(names):
        try:
            return load_checkpoint(client.download_artifacts(run_id, name, dst))
        except (CheckpointError, MlflowException, OSError) as exc:
            if i + 1 == len(names):
                raise CheckpointError(f"run {run_id}: no readable checkpoint ({exc})") from None
            warnings.warn(f"run {run_id}: {name} cannot be read, resuming from {names[i + 1]}", stacklevel=2)
    raise AssertionError("unreachable")  # pragma: no cover


def prepare_resume(run_id: str, overrides: list[str]) -> tuple[Config, dict[str, Any], MlflowLogger]:
    """``(config, checkpoint, logger)`` for ``train(config, logger, resume=checkpoint)`` to continue run
    ``run_id``. The store is ``mlflow.tracking_uri`` from ``overrides``, else ``$MLFLOW_TRACKING_URI``, else the
    default; it is only read here (a mistyped SQLite path is an error, not a new empty store)."""
    uri = resolve_tracking_uri(_override_uri(overrides))
    client = client_for(uri, create=False)
    run = get_run_or_explain(client, run_id, uri)
    if run.info.lifecycle_stage == "deleted":
        raise ConfigError(f"--resume: run {run_id} is deleted; restore it first (mlflow runs restore)")
    with tempfile.TemporaryDirectory(prefix="psn-resume-") as tmp:
        state = _newest_checkpoint(client, run_id, tmp)
    logged = max((m.step for m in client.get_metric_history(run_id, "train_loss")), default=0)
    if run.info.status == "FINISHED" and logged > state["epoch"]:
        raise CheckpointError(f"run {run_id} finished {logged} epochs but its newest checkpoint is of epoch "
                              f"{state['epoch']}: it cannot be extended (train it with train.checkpoint_every "
                              "> 0 to be able to extend it later)")
    saved = config_from_dict(state["config"])
    cfg = apply_overrides(config_from_dict(state["config"]), overrides)
    check_resume_config(saved, cfg, int(state["epoch"]))
    experiment = client.get_experiment(run.info.experiment_id).name
    return cfg, state, MlflowLogger.for_run(run_id, uri, experiment)
