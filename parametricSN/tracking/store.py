"""Where runs are stored: tracking URI and artifact location resolution, experiment lookup/creation.

Defaults (both relative to the working directory): the SQLite store ``sqlite:///mlruns/store.db`` and
artifacts under ``mlruns/artifacts/<experiment>``; ``mlflow ui --backend-store-uri sqlite:///mlruns/store.db``
then shows everything. Precedence for the store: ``mlflow.tracking_uri`` > ``$MLFLOW_TRACKING_URI`` > default.
For any SQLite store the default artifact folder is ``<folder of the .db file>/artifacts/<experiment>``;
``mlflow.artifact_location`` replaces it (used only when the experiment is created).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from mlflow.entities import LifecycleStage
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from parametricSN.config import DEFAULT_TRACKING_URI

_SQLITE = "sqlite:///"


def resolve_tracking_uri(uri: Optional[str] = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlruns/store.db``."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Optional[Path]:
    """The database file of a ``sqlite:///path`` URI (relative to the working directory unless the path
    starts with ``/``), or None for other stores."""
    if not uri.startswith(_SQLITE):
        return None
    return Path(uri[len(_SQLITE):].split("?", 1)[0])


def prepare_store(uri: str) -> None:
    """Create the folder of a SQLite database (SQLite creates the file, not its folder)."""
    path = sqlite_path(uri)
    if path is not None:
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)


def default_artifact_location(uri: str, experiment_name: str) -> Optional[str]:
    """``<db folder>/artifacts/<experiment>`` (absolute) for a SQLite store; None (the server's choice)
    otherwise."""
    path = sqlite_path(uri)
    if path is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment_name) or "default"
    return str((path.expanduser().parent / "artifacts" / safe).resolve())


def get_or_create_experiment(client: MlflowClient, name: str, artifact_location: Optional[str]) -> str:
    """The id of experiment ``name``; created with ``artifact_location`` if missing, restored if deleted."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:
            # another run (a parallel sweep) created it between the lookup and the creation
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == LifecycleStage.DELETED:
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def client_for(uri: Optional[str] = None) -> MlflowClient:
    """An ``MlflowClient`` on the resolved store, its folder created when it is SQLite."""
    resolved = resolve_tracking_uri(uri)
    prepare_store(resolved)
    return MlflowClient(tracking_uri=resolved)
