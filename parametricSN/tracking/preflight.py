"""Checks made before a run is created, so that a tracking problem is one line within seconds — not minutes of
MLflow's HTTP retries followed by a traceback, and not a run left RUNNING in a store that cannot take it.

- an ``http(s)://`` store must answer a short request (:data:`TIMEOUT` seconds, no retries);
- a SQLite store's folder must be creatable and writable (SQLite writes its journal next to the file), and the
  file itself writable when it exists;
- the experiment's local artifact folder must be creatable and writable.

Every failure is a :class:`TrackingError` naming the URI or path and what to do (``psn`` exits with status 1).
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

TIMEOUT = 3.0  # seconds for the HTTP probe: a live server answers in milliseconds
PROBE = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"


class TrackingError(RuntimeError):
    """The tracking store or artifact location cannot be used (unreachable, missing, read-only)."""


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return " ".join(str(reason).split())[:200] or type(exc).__name__


def probe_http(uri: str, timeout: float = TIMEOUT) -> None:
    """Raise :class:`TrackingError` unless the ``http(s)`` tracking server ``uri`` answers within ``timeout``
    seconds (any HTTP answer below 500 counts: authentication and missing experiments are MLflow's to
    report). Other URIs are left alone."""
    if urlparse(uri).scheme not in ("http", "https"):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + PROBE, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        if exc.code < 500:
            return
        problem = f"answers HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # URLError, refused connection, timeout, malformed URL
        problem = f"does not answer ({_one_line(exc)})"
    raise TrackingError(
        f"the tracking server {uri!r} {problem}; start it (mlflow server ...) or point "
        "mlflow.tracking_uri / $MLFLOW_TRACKING_URI at a reachable store"
    )


def _check_writable_folder(folder: Path, what: str, key: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".psn-write-test-"):
            pass
    except OSError as exc:
        raise TrackingError(
            f"{what} {str(folder)!r} is not writable ({exc.strerror or _one_line(exc)}); "
            f"fix its permissions or choose another {key}"
        ) from None


def check_store_writable(uri: str, db: Path) -> None:
    """The SQLite store ``db`` of ``uri`` can be created / written."""
    _check_writable_folder(db.parent, f"the folder of the tracking store {uri!r},", "mlflow.tracking_uri")
    if db.exists() and not os.access(db, os.W_OK):
        raise TrackingError(
            f"the tracking store {str(db)!r} is read-only; fix its permissions or choose another mlflow.tracking_uri"
        )


def local_artifact_folder(location: Optional[str]) -> Optional[Path]:
    """The local folder of an artifact location (a plain path or ``file:`` URI), or None for remote ones."""
    if not location:
        return None
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a plain path (or a Windows drive letter)
        return Path(location).expanduser()
    return None


def check_artifacts_writable(location: Optional[str]) -> None:
    """The experiment's local artifact folder ``location`` can be created and written."""
    folder = local_artifact_folder(location)
    if folder is not None:
        _check_writable_folder(folder, "the artifact location", "mlflow.artifact_location (for a new experiment)")
