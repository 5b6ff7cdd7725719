"""Where runs are stored: tracking URI and artifact location resolution, experiment lookup/creation.

Defaults (both relative to the working directory): the SQLite store ``sqlite:///mlruns/store.db`` and
artifacts under ``mlruns/artifacts/<experiment>``; ``mlflow ui --backend-store-uri sqlite:///mlruns/store.db``
then shows everything. Precedence for the store: ``mlflow.tracking_uri`` > ``$MLFLOW_TRACKING_URI`` > default.
For any SQLite store the default artifact folder is ``<folder of the .db file>/artifacts/<experiment>``;
``mlflow.artifact_location`` replaces it (used only when the experiment is created).

Concurrency: MLflow creates a new SQLite store's tables (alembic migrations) on first use, and several
processes doing so at once corrupt it. :func:`client_for` therefore holds an exclusive ``fcntl`` lock on
``<store>.db.lock`` while it creates or migrates the store, switches it to write-ahead logging (readers do not
block the writer), and :func:`retry_locked` retries writes that still meet "database is locked".
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional, TypeVar
from urllib.parse import urlparse

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no inter-process lock, creation is then not guarded
    fcntl = None  # type: ignore[assignment]

from mlflow.entities import LifecycleStage
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from parametricSN.commands import resolve_tracking_uri, sqlite_path
from parametricSN.tracking.preflight import TrackingError, check_store_writable, probe_http

# database stores (SQLAlchemy dialects, optionally with a driver: postgresql+psycopg2) and tracking servers
_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def check_tracking_uri(uri: str) -> None:
    """Raise :class:`~parametricSN.tracking.preflight.TrackingError` for a store psn cannot use: MLflow's file
    store (``file://...`` or a plain folder path), an in-memory SQLite database, an unknown scheme."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0].lower()
    if scheme in ("", "file") or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        folder = parsed.path if scheme == "file" else uri
        folder = folder.rstrip("/") or "mlruns"
        why = (
            "is MLflow's file store, which psn does not support (sweeps and reports query runs by tag and "
            "status, which needs a database)"
        )
        fix = f"sqlite:///{folder}/store.db"
    elif scheme == "sqlite" and sqlite_path(uri) is None:
        why, fix = "is an in-memory database: the run would be lost when the process ends", "sqlite:///mlruns/store.db"
    elif scheme not in _SCHEMES:
        why = f"has an unknown scheme {parsed.scheme!r} (expected sqlite:///, http(s)://, postgresql://, ...)"
        fix = "sqlite:///mlruns/store.db"
    else:
        return
    raise TrackingError(
        f"tracking URI {uri!r} {why}; use a SQLite store instead, e.g. "
        f"mlflow.tracking_uri={fix} (or --tracking-uri / $MLFLOW_TRACKING_URI)"
    )


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


T = TypeVar("T")
LOCKED = "database is locked"
RETRY_SECONDS = 60.0


FULL = "database or disk is full"


class _DropLockedTracebacks(logging.Filter):
    """MLflow logs a full traceback for every "database is locked" before raising it; we retry those. And for a
    full disk, which the run reports as one line (:class:`~parametricSN.tracking.faults.DiskFull`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return LOCKED not in message and FULL not in message


logging.getLogger("mlflow.store.db.utils").addFilter(_DropLockedTracebacks())
# "Creating initial MLflow database tables..." on every new store: noise on a one-line-per-event stderr
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def retry_locked(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """``fn(*args, **kwargs)``, retried with growing pauses (up to :data:`RETRY_SECONDS` in all) while it fails
    with SQLite's "database is locked" (another process holds the write lock). A failed write was rolled back,
    so retrying it cannot record anything twice."""
    deadline, pause = time.monotonic() + RETRY_SECONDS, 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # MlflowException or sqlalchemy's OperationalError, depending on the call
            if LOCKED not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


@contextlib.contextmanager
def store_lock(db: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``<db>.lock`` (blocks until it is free)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_sqlite(uri: str, db: Path) -> MlflowClient:
    """A client on ``uri``, whose construction creates / migrates the store, under the lock; then write-ahead
    logging is turned on (a setting kept in the file)."""
    with store_lock(db):
        client = retry_locked(MlflowClient, tracking_uri=uri)  # MLflow creates and migrates the tables here
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as con:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
    return client


def client_for(uri: Optional[str] = None, create: bool = True) -> MlflowClient:
    """An ``MlflowClient`` on the resolved store.

    For SQLite, ``create=True`` (training) creates the folder and the store, safely against other processes
    doing the same; ``create=False`` (reading: ``load_model``, resume) raises
    :class:`~parametricSN.tracking.preflight.TrackingError` when the file does not exist instead of creating
    an empty store at a mistyped path. An HTTP store is probed first (a short request, no retries).
    """
    resolved = resolve_tracking_uri(uri)
    check_tracking_uri(resolved)
    probe_http(resolved)
    db = sqlite_path(resolved)
    if db is None:
        return MlflowClient(tracking_uri=resolved)
    db = db.expanduser()
    if not create and not db.is_file():
        raise TrackingError(
            f"no tracking store at {resolved!r}: the file {str(db.resolve())!r} does not exist "
            "(reading creates no store); check --tracking-uri, mlflow.tracking_uri or "
            "$MLFLOW_TRACKING_URI"
        )
    if not create:
        return MlflowClient(tracking_uri=resolved)
    check_store_writable(resolved, db)
    try:
        return _open_sqlite(resolved, db)
    except (OSError, sqlite3.Error, MlflowException) as exc:
        raise TrackingError(
            f"cannot open the tracking store {resolved!r}: {' '.join(str(exc).split())[:300]}"
        ) from None
