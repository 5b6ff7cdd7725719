"""The MLflow implementation of ``parametricSN.training.Logger``.

It talks to the store through an explicit ``MlflowClient`` and run id — never MLflow's global "active run" —
so several loggers (or a logger inside a caller's own MLflow run) do not interfere.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from torch import nn

from parametricSN.config import Config
from parametricSN.naming import train_run_name
from parametricSN.tags import ERROR_TAG
from parametricSN.tracking.model_io import ARTIFACT_DIR, FILE_NAME, save_model_file
from parametricSN.tracking.preflight import TrackingError, check_artifacts_writable
from parametricSN.tracking.store import (
    client_for,
    default_artifact_location,
    get_or_create_experiment,
    resolve_tracking_uri,
    retry_locked,
)

log = logging.getLogger(__name__)

MAX_PARAMS_PER_BATCH = 100  # MLflow's limit per log_batch call
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 5000


class MlflowLogger:
    """Log one run at a time into the MLflow store ``tracking_uri`` under ``experiment_name``.

    The experiment is created when missing, with ``artifact_location`` (default: see
    :func:`parametricSN.tracking.store.default_artifact_location`). ``tags`` are added to every run it opens
    (a sweep tags each run with its sweep name and cell).
    """

    def __init__(
        self,
        tracking_uri: Optional[str] = None,
        experiment_name: str = "default",
        artifact_location: Optional[str] = None,
        run_name: Optional[str] = None,
        tags: Optional[dict[str, str]] = None,
    ) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment_name = experiment_name
        self.artifact_location = artifact_location or default_artifact_location(self.tracking_uri, experiment_name)
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.client = client_for(self.tracking_uri)
        self.run_id: Optional[str] = None
        self.reopen: Optional[str] = None  # set by for_run: start_run continues this run
        self.logged: dict[str, int] = {}  # a reopened run: the last step stored per metric (not logged again)

    @classmethod
    def for_run(cls, run_id: str, tracking_uri: Optional[str] = None, experiment_name: str = "default") -> MlflowLogger:
        """A logger whose :meth:`start_run` reopens the existing run ``run_id`` (status back to RUNNING; new
        metrics are appended to its history) instead of creating one: how a run is resumed.

        The epochs a resumed run trains again (those after its checkpoint that a killed process had already
        logged) are not logged twice: a metric point at or below the last step the store holds for that metric
        is skipped (by determinism it is the same value)."""
        logger = cls(tracking_uri, experiment_name)
        logger.reopen = run_id
        return logger

    @classmethod
    def from_config(cls, cfg: Config, tags: Optional[dict[str, str]] = None) -> MlflowLogger:
        """A logger for ``cfg.mlflow`` (tracking_uri, experiment_name, artifact_location, run_name)."""
        m = cfg.mlflow
        return cls(m.tracking_uri, m.experiment_name, m.artifact_location, m.run_name, tags=tags)

    # ---- run lifecycle ----------------------------------------------------------------------------------
    def start_run(self, cfg: Config) -> str:
        """Create the run (or reopen it, see :meth:`for_run`), after checking that the experiment's artifact
        folder is writable: a store that cannot take the run fails here, before any run exists."""
        if self.reopen is not None:
            retry_locked(self.client.update_run, self.reopen, status=RunStatus.to_string(RunStatus.RUNNING))
            if ERROR_TAG in retry_locked(self.client.get_run, self.reopen).data.tags:  # it describes a past stop
                retry_locked(self.client.delete_tag, self.reopen, ERROR_TAG)
            self.run_id = self.reopen
            self.logged = self._last_steps()
            return self.run_id
        try:
            exp_id = retry_locked(get_or_create_experiment, self.client, self.experiment_name, self.artifact_location)
            check_artifacts_writable(self.client.get_experiment(exp_id).artifact_location)
        except MlflowException as exc:
            raise TrackingError(
                f"the tracking store {self.tracking_uri!r} cannot create experiment "
                f"{self.experiment_name!r}: {' '.join(exc.message.split())[:300]}"
            ) from None
        tags = {
            "dataset": cfg.dataset.name,
            "model": cfg.model.name,
            "scattering": ("learnable" if cfg.scattering.learnable else "fixed")
            if cfg.scattering.architecture == "scattering"
            else "identity",
            **self.tags,
        }
        run = retry_locked(
            self.client.create_run, exp_id, run_name=self.run_name or train_run_name(cfg.flat()), tags=tags
        )
        self.run_id = run.info.run_id
        return self.run_id

    def end_run(self) -> None:
        retry_locked(self.client.set_terminated, self._run(), RunStatus.to_string(RunStatus.FINISHED))
        self.run_id = None

    def set_failed(self, error: BaseException) -> None:
        """Tag the run with ``error`` and end it FAILED (KILLED for Ctrl-C). Never raises: the caller is
        already handling ``error``, which must not be masked by a second failure of the store."""
        if self.run_id is None:
            return
        status = RunStatus.KILLED if isinstance(error, KeyboardInterrupt) else RunStatus.FAILED
        message = f"{type(error).__name__}: {error}"[:MAX_TAG_LENGTH]
        try:
            retry_locked(self.client.set_tag, self.run_id, ERROR_TAG, message)
            retry_locked(self.client.set_terminated, self.run_id, RunStatus.to_string(status))
        except Exception as exc:  # noqa: BLE001 - reported, and the original error still propagates
            log.warning("could not mark MLflow run %s as failed: %s", self.run_id, exc)
        self.run_id = None

    # ---- logging ----------------------------------------------------------------------------------------
    def log_params(self, params: dict[str, Any]) -> None:
        items = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            retry_locked(self.client.log_batch, self._run(), params=items[i : i + MAX_PARAMS_PER_BATCH])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        points = [Metric(k, float(v), now, int(step)) for k, v in metrics.items() if step > self.logged.get(k, -1)]
        if points:
            retry_locked(self.client.log_batch, self._run(), metrics=points)

    def _last_steps(self) -> dict[str, int]:
        """The highest step stored for each metric of the reopened run."""
        run = retry_locked(self.client.get_run, self._run())
        return {
            key: max((m.step for m in retry_locked(self.client.get_metric_history, self.run_id, key)), default=-1)
            for key in run.data.metrics
        }

    def log_text(self, text: str, name: str) -> None:
        self.client.log_text(self._run(), text, name)

    def log_figure(self, fig: Any, name: str) -> None:
        self.client.log_figure(self._run(), fig, name)

    def log_file(self, path: os.PathLike[str] | str, artifact_dir: Optional[str] = None) -> None:
        self.client.log_artifact(self._run(), str(path), artifact_dir)

    def log_model(self, model: nn.Module, cfg: Config) -> None:
        """Store ``model/model.pt`` (weights + config), reloadable with ``parametricSN.tracking.load_model``."""
        with tempfile.TemporaryDirectory(prefix="psn-model-") as tmp:
            path = save_model_file(Path(tmp) / FILE_NAME, model, cfg)
            self.client.log_artifact(self._run(), str(path), ARTIFACT_DIR)

    def set_tags(self, tags: dict[str, str]) -> None:
        """Tag the open run (e.g. ``pack_id`` / ``pack_index`` of a packed run)."""
        for key, value in tags.items():
            self.client.set_tag(self._run(), key, str(value)[:MAX_TAG_LENGTH])

    def _run(self) -> str:
        if self.run_id is None:
            raise RuntimeError("MlflowLogger: no open run; call start_run first")
        return self.run_id
