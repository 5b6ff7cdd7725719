"""Carrying out one logging operation on the tracking store: what :class:`parametricSN.tracking.MlflowLogger`
sends at once, or keeps in a run's spool (:mod:`parametricSN.tracking.spool`, which lists the operations) while
its tracking server is away, and delivers later. :func:`send` raises :class:`Away` when an operation failed because
the server does not answer, :class:`~parametricSN.tracking.faults.DiskFull` when it met a full disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote

from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from parametricSN.commands import resume_command, sqlite_path
from parametricSN.tracking.describe import code_version_tags
from parametricSN.tracking.faults import DiskFull, disk_full
from parametricSN.tracking.outage import answers
from parametricSN.tracking.preflight import local_artifact_folder
from parametricSN.tracking.store import retry_locked


class Away(Exception):
    """An operation failed because the tracking server does not answer (the operation is spooled)."""


def send(
    client: Any,
    run: str,
    op: dict[str, Any],
    file: Optional[os.PathLike[str] | str] = None,
    *,
    tracking_uri: str,
    artifact_uri: Optional[str],
    server: bool,
) -> None:
    """Carry out ``op`` for run ``run`` (``file``: the local file or folder of a ``file`` or ``model`` operation,
    else its ``op["path"]``). ``server``: the store is a tracking server, so a failure while it does not answer is
    :class:`Away`."""
    kind = op["op"]
    try:
        if kind == "metrics":
            metrics = [Metric(k, v, ts, step) for k, v, ts, step in op["points"]]
            retry_locked(client.log_batch, run, metrics=metrics)
        elif kind == "params":
            retry_locked(client.log_batch, run, params=[Param(k, v) for k, v in op["items"]])
        elif kind == "tags":
            for key, value in op["tags"].items():
                retry_locked(client.set_tag, run, key, value)
        elif kind == "inputs":
            send_inputs(client, run, op["datasets"])
        elif kind == "model":
            send_model(client, run, str(file if file is not None else op["path"]), op["name"])
        elif kind == "file":
            upload(client, run, str(file if file is not None else op["path"]), op.get("dir"), artifact_uri)
        elif kind == "end":
            retry_locked(client.set_terminated, run, op["status"])
        else:  # pragma: no cover - a spool written by a newer version
            raise ValueError(f"unknown spooled operation {kind!r}")
    except Exception as exc:
        if disk_full(exc):
            raise full_disk(run, kind, tracking_uri, artifact_uri) from None
        if server and not answers(tracking_uri):
            raise Away() from exc
        raise


def dataset_input(entry: dict[str, str]) -> Any:
    """An MLflow ``DatasetInput`` from a :func:`~parametricSN.tracking.describe.dataset_inputs` entry."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(entry["name"], entry["digest"], entry["source_type"], entry["source"], profile=entry["profile"])
    return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", entry["context"])])


def send_inputs(client: Any, run: str, datasets: list[dict[str, str]]) -> None:
    """Link the run to its datasets. MLflow creates an experiment's dataset (name, digest) on its first use; runs
    that start together (a sweep's, a search's) may both try: the loser's retry finds it and links it."""
    for attempt in range(5):
        try:
            retry_locked(client.log_inputs, run, datasets=[dataset_input(d) for d in datasets])
            return
        except MlflowException as exc:
            text = str(exc).lower()  # SQLite's and PostgreSQL's "unique", MySQL's "duplicate"
            if not ("unique" in text or "duplicate" in text) or attempt == 4:
                raise
        time.sleep(0.05 * (attempt + 1))


def send_model(client: Any, run: str, folder: str, name: str) -> None:
    """Create the logged model ``name`` of the run, upload ``folder`` (an MLflow model) as its artifacts, with its
    ``MLmodel`` naming the new model, link it to the run as an output and mark it READY."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    exp_id = retry_locked(client.get_run, run).info.experiment_id
    logged = retry_locked(client.create_logged_model, exp_id, name=name, source_run_id=run, tags=code_version_tags())
    with tempfile.TemporaryDirectory(prefix="psn-model-") as tmp:
        local = Path(tmp) / name
        shutil.copytree(folder, local)
        meta = Model.load(str(local / "MLmodel"))
        meta.model_id = meta.model_uuid = logged.model_id
        meta.run_id, meta.artifact_path = run, logged.artifact_location
        meta.save(str(local / "MLmodel"))
        client.log_model_artifacts(logged.model_id, str(local))
    retry_locked(client.log_outputs, run, [LoggedModelOutput(logged.model_id, step=0)])
    retry_locked(client.finalize_logged_model, logged.model_id, LoggedModelStatus.READY)


def upload(client: Any, run: str, path: str, artifact_dir: Optional[str], artifact_uri: Optional[str]) -> None:
    """Log the file ``path`` as an artifact of the run; a full disk leaves no half-written file under its name."""
    try:
        client.log_artifact(run, path, artifact_dir)
    except Exception as exc:
        folder = artifact_folder(artifact_uri)
        if disk_full(exc) and folder is not None:
            (folder / (artifact_dir or "") / Path(path).name).unlink(missing_ok=True)
        raise


def artifact_folder(artifact_uri: Optional[str]) -> Optional[Path]:
    """The run's local artifact folder (None when its artifacts live elsewhere: a server, a bucket)."""
    folder = local_artifact_folder(artifact_uri) if artifact_uri else None
    return Path(unquote(str(folder))) if folder is not None else None


def full_disk(run: str, kind: str, tracking_uri: str, artifact_uri: Optional[str]) -> DiskFull:
    """The :class:`~parametricSN.tracking.faults.DiskFull` of an operation ``kind`` that met a full disk: the
    artifact folder for a file, else the store."""
    if kind == "file":
        folder = artifact_folder(artifact_uri)
        what, where = "artifacts", str(folder) if folder is not None else str(artifact_uri)
    else:
        db = sqlite_path(tracking_uri)
        what, where = "store", str(db.expanduser().resolve()) if db is not None else tracking_uri
    return DiskFull(run, what, where, resume_command(run, tracking_uri))
