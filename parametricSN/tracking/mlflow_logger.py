"""The MLflow implementation of ``parametricSN.training.Logger``.

It talks to the store through an explicit ``MlflowClient`` and run id — never MLflow's global "active run" —
so several loggers (or a logger inside a caller's own MLflow run) do not interfere.

Every write is an operation (:mod:`parametricSN.tracking.spool` lists them; :mod:`parametricSN.tracking.operations`
carries them out) sent at once. With a tracking server (``http(s)``), an operation that fails while the server
does not answer starts an outage (:mod:`parametricSN.tracking.outage`): the operations wait in the run's local
spool, in order, while training goes on, and are delivered when the server answers again. :meth:`MlflowLogger.halt` tells the training loop to stop (after a checkpoint, kept in the spool) once
the outage is longer than ``mlflow.outage_limit``. A write that meets a full disk (the SQLite store or the artifact
folder) raises :class:`~parametricSN.tracking.faults.DiskFull`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from torch import nn

from parametricSN.commands import resume_command
from parametricSN.config import Config
from parametricSN.naming import train_run_name
from parametricSN.tags import ERROR_TAG
from parametricSN.tracking.describe import NOTE, code_version_tags, dataset_inputs, run_description, what_run
from parametricSN.tracking.faults import DiskFull, TrackingOutage, disk_full
from parametricSN.tracking.model_io import ARTIFACT_DIR, save_logged_model
from parametricSN.tracking.operations import Away, send
from parametricSN.tracking.outage import Outage, duration, is_server, short_http_retries
from parametricSN.tracking.preflight import TrackingError, check_artifacts_writable
from parametricSN.tracking.spool import Spool
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
DEFAULT_OUTAGE_LIMIT = 1800.0  # seconds; a run's is its mlflow.outage_limit


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
        experiment_description: str = "",
    ) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment_name = experiment_name
        self.artifact_location = artifact_location or default_artifact_location(self.tracking_uri, experiment_name)
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.experiment_description = experiment_description  # given to the experiment when it has none
        self.client = client_for(self.tracking_uri)
        self.run_id: Optional[str] = None
        self.reopen: Optional[str] = None  # set by for_run: start_run continues this run
        self.logged: dict[str, int] = {}  # a reopened run: the last step stored per metric (not logged again)
        self.outage_limit = DEFAULT_OUTAGE_LIMIT
        self.outage = Outage(self.tracking_uri) if is_server(self.tracking_uri) else None
        if self.outage is not None:
            short_http_retries()
        self.spool: Optional[Spool] = None
        self.artifact_uri: Optional[str] = None

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
    def from_config(
        cls, cfg: Config, tags: Optional[dict[str, str]] = None, experiment_description: str = ""
    ) -> MlflowLogger:
        """A logger for ``cfg.mlflow`` (tracking_uri, experiment_name, artifact_location, run_name)."""
        m = cfg.mlflow
        return cls(
            m.tracking_uri,
            m.experiment_name,
            m.artifact_location,
            m.run_name,
            tags=tags,
            experiment_description=experiment_description,
        )

    # ---- run lifecycle ----------------------------------------------------------------------------------
    def start_run(self, cfg: Config) -> str:
        """Create the run (or reopen it, see :meth:`for_run`), after checking that the experiment's artifact
        folder is writable: a store that cannot take the run fails here, before any run exists.

        A new run carries a description (``mlflow.note.content``: what it is, what differs from the paper's
        protocol, the command) and the code version (``mlflow.source.*``), see
        :mod:`parametricSN.tracking.describe`; its experiment is of MLflow's model-training kind."""
        self.outage_limit = cfg.mlflow.outage_limit
        if self.reopen is not None:
            self.run_id = self.reopen
            self.spool = Spool(self.run_id)
            if self.spool:  # left by an earlier process of this run whose server went away: sent first, in order
                self.spool.deliver(self._send)
            retry_locked(self.client.update_run, self.reopen, status=RunStatus.to_string(RunStatus.RUNNING))
            reopened = retry_locked(self.client.get_run, self.run_id)
            if ERROR_TAG in reopened.data.tags:  # it describes a past stop, not this run any more
                retry_locked(self.client.delete_tag, self.run_id, ERROR_TAG)
            self.artifact_uri = reopened.info.artifact_uri
            self.logged = self._last_steps()
            return self.run_id
        try:
            about = (
                self.experiment_description
                or f"Runs trained by psn (parametric scattering networks) on {cfg.dataset.name}."
            )
            exp_id = retry_locked(
                get_or_create_experiment, self.client, self.experiment_name, self.artifact_location, about
            )
            check_artifacts_writable(self.client.get_experiment(exp_id).artifact_location)
        except MlflowException as exc:
            raise TrackingError(
                f"the tracking store {self.tracking_uri!r} cannot create experiment "
                f"{self.experiment_name!r}: {' '.join(exc.message.split())[:300]}"
            ) from None
        run_name = self.run_name or train_run_name(cfg.flat())
        tags = {
            **code_version_tags(),
            NOTE: run_description(cfg, what_run(self.tags, run_name)),
            "dataset": cfg.dataset.name,
            "model": cfg.model.name,
            "scattering": ("learnable" if cfg.scattering.learnable else "fixed")
            if cfg.scattering.architecture == "scattering"
            else "identity",
            **self.tags,
        }
        run = retry_locked(self.client.create_run, exp_id, run_name=run_name, tags=tags)
        self.run_id, self.artifact_uri = run.info.run_id, run.info.artifact_uri
        self.spool = Spool(self.run_id)
        return self.run_id

    def end_run(self) -> None:
        """Close the run FINISHED. While its server is away this waits for it (up to ``mlflow.outage_limit`` from
        the start of the outage) to deliver what the run spooled; past the limit it raises
        :class:`~parametricSN.tracking.faults.TrackingOutage` (the outputs stay spooled for ``--resume``)."""
        self._submit({"op": "end", "status": RunStatus.to_string(RunStatus.FINISHED)})
        while self.outage is not None and self.outage.active:
            if self.outage.seconds() > self.outage_limit:
                assert self.spool is not None
                raise TrackingOutage(
                    f"run {self.run_id} trained all its epochs, but the tracking server {self.tracking_uri} has not "
                    f"answered for {duration(self.outage.seconds())} (mlflow.outage_limit={self.outage_limit:g} s); "
                    f"its last metrics and outputs are kept on local disk in {self.spool.folder}; once the server "
                    f"is back, deliver them with: {resume_command(self._run(), self.tracking_uri)}"
                )
            time.sleep(0.2)
            self._deliver_if_back()
        self._close()

    def halt(self) -> Optional[TrackingOutage]:
        """What the training loop checks after each epoch: None to go on, or, once the tracking server has been
        away longer than ``mlflow.outage_limit``, the error to stop with (the loop checkpoints first, then calls
        this again: the error names that checkpoint, kept in the spool, and the command that resumes from it)."""
        if self.outage is None or not self.outage.active:
            return None
        self._deliver_if_back()
        if not self.outage.active or self.outage.seconds() <= self.outage_limit:
            return None
        assert self.spool is not None
        local = self.spool.newest_checkpoint()
        where = (
            f"its newest checkpoint is on local disk at {local}, with every metric not yet sent kept in "
            f"{self.spool.folder}; once the server is back, resume it from there with: "
            f"{resume_command(self._run(), self.tracking_uri, str(local))}"
            if local is not None
            else f"its metrics not yet sent are kept in {self.spool.folder}; once the server is back, resume it "
            f"with: {resume_command(self._run(), self.tracking_uri)}"
        )
        return TrackingOutage(
            f"run {self.run_id} stopped: the tracking server {self.tracking_uri} has not answered for "
            f"{duration(self.outage.seconds())} (mlflow.outage_limit={self.outage_limit:g} s); {where}"
        )

    def _close(self) -> None:
        if self.outage is not None:
            self.outage.close()
        self.run_id = None

    def set_failed(self, error: BaseException) -> None:
        """Tag the run with ``error`` and end it FAILED (KILLED for Ctrl-C). Never raises: the caller is
        already handling ``error``, which must not be masked by a second failure of the store."""
        if self.run_id is None:
            return
        if self.outage is not None and self.outage.active:  # the server is away: the run stays RUNNING there, and
            self._close()  # what it spooled stays for --resume, which delivers it and reopens the run
            return
        status = RunStatus.KILLED if isinstance(error, KeyboardInterrupt) else RunStatus.FAILED
        full = isinstance(error, DiskFull)
        if full:
            error.closed = True  # what its tag says if the store takes it
        message = f"{type(error).__name__}: {error}"[:MAX_TAG_LENGTH]
        try:
            retry_locked(self.client.set_tag, self.run_id, ERROR_TAG, message)
            retry_locked(self.client.set_terminated, self.run_id, RunStatus.to_string(status))
        except Exception as exc:  # noqa: BLE001 - reported, and the original error still propagates
            if full:  # its line says that the run is left RUNNING
                error.closed = False
            else:
                log.warning("could not mark MLflow run %s as failed: %s", self.run_id, exc)
        self._close()

    # ---- logging ----------------------------------------------------------------------------------------
    def log_params(self, params: dict[str, Any]) -> None:
        items = [[k, str(v)[:MAX_PARAM_LENGTH]] for k, v in params.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            self._submit({"op": "params", "items": items[i : i + MAX_PARAMS_PER_BATCH]})

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        points = [[k, float(v), now, int(step)] for k, v in metrics.items() if step > self.logged.get(k, -1)]
        if points:
            self._submit({"op": "metrics", "points": points})

    def _last_steps(self) -> dict[str, int]:
        """The highest step stored for each metric of the reopened run."""
        run = retry_locked(self.client.get_run, self._run())
        return {
            key: max((m.step for m in retry_locked(self.client.get_metric_history, self.run_id, key)), default=-1)
            for key in run.data.metrics
        }

    def log_text(self, text: str, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="psn-text-") as tmp:
            path = Path(tmp) / Path(name).name
            path.write_text(text, encoding="utf-8")
            self.log_file(path, str(Path(name).parent) if "/" in name else None)

    def log_figure(self, fig: Any, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="psn-figure-") as tmp:
            path = Path(tmp) / Path(name).name
            fig.savefig(path)
            self.log_file(path, str(Path(name).parent) if "/" in name else None)

    def log_file(self, path: os.PathLike[str] | str, artifact_dir: Optional[str] = None) -> None:
        self._submit({"op": "file", "dir": artifact_dir}, file=path)

    def log_model(self, model: nn.Module, cfg: Config) -> None:
        """Store the model as the run's MLflow logged model ``model`` (see :mod:`parametricSN.tracking.model_io`):
        ``mlflow.pytorch.load_model(f"runs:/{run_id}/model")`` loads it, and ``parametricSN.tracking.load_model``
        rebuilds it from the ``model.pt`` (weights + config) inside, as from older runs' ``model/model.pt``."""
        with tempfile.TemporaryDirectory(prefix="psn-model-") as tmp:
            folder = save_logged_model(Path(tmp) / ARTIFACT_DIR, model, cfg)
            self._submit({"op": "model", "name": ARTIFACT_DIR}, file=folder)

    def log_datasets(self, cfg: Config, loaders: Any) -> None:
        """Record the splits the run reads as MLflow dataset inputs (training subset, validation split, test
        subset: see :func:`parametricSN.tracking.describe.dataset_inputs`). A reopened run has them already."""
        if self.reopen is not None:
            return
        indices = {"train": loaders.train_indices, "val": loaders.val_indices, "test": loaders.test_indices}
        self._submit({"op": "inputs", "datasets": dataset_inputs(cfg, indices)})

    def set_tags(self, tags: dict[str, str]) -> None:
        """Tag the open run (e.g. ``pack_id`` / ``pack_index`` of a packed run)."""
        self._submit({"op": "tags", "tags": {k: str(v)[:MAX_TAG_LENGTH] for k, v in tags.items()}})

    # ---- sending, spooling ----------------------------------------------------------------------------------
    def _submit(self, op: dict[str, Any], file: Optional[os.PathLike[str] | str] = None) -> None:
        """Send ``op`` now; while the tracking server is away (or this call finds it away), spool it."""
        self._deliver_if_back()
        if self.outage is None or not self.outage.active:
            try:
                self._send(op, file)
                return
            except Away:
                assert self.spool is not None
                self.outage.begin(self._run(), str(self.spool.folder), self.outage_limit)  # type: ignore[union-attr]
        assert self.spool is not None
        try:
            self.spool.add(op, file)
        except OSError as exc:
            if disk_full(exc):
                resume = resume_command(self._run(), self.tracking_uri)
                raise DiskFull(self._run(), "spool", str(self.spool.folder), resume) from None
            raise

    def _deliver_if_back(self) -> None:
        """Once the server answers again, send the spool in order and end the outage (a failure: still away)."""
        if self.outage is None or not self.outage.active or not self.outage.answering():
            return
        assert self.spool is not None
        try:
            sent = self.spool.deliver(self._send)
        except Away:
            self.outage.still_away()
            return
        self.outage.end(self._run(), sent["points"], sent["files"])

    def _send(self, op: dict[str, Any], file: Optional[os.PathLike[str] | str] = None) -> None:
        """Carry out one operation on the store (:func:`parametricSN.tracking.operations.send`)."""
        send(
            self.client,
            self._run(),
            op,
            file,
            tracking_uri=self.tracking_uri,
            artifact_uri=self.artifact_uri,
            server=self.outage is not None,
        )

    def _run(self) -> str:
        if self.run_id is None:
            raise RuntimeError("MlflowLogger: no open run; call start_run first")
        return self.run_id
