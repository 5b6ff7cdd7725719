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

Write-ahead logging keeps recent commits in ``<store>.db-wal`` until a checkpoint copies them into the database
file, which SQLite does when the last connection closes. psn processes end without closing MLflow's pooled
connections (:func:`parametricSN.allocator.fast_exit`), so every process that opened a SQLite store checkpoints it
at exit (:func:`checkpoint_wal`): the ``.db`` file alone then holds every run, as people copy it to share results.
"""

from __future__ import annotations

import atexit
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


def get_or_create_experiment(
    client: MlflowClient,
    name: str,
    artifact_location: Optional[str],
    description: str = "",
    replace_description: bool = False,
) -> str:
    """The id of experiment ``name``; created with ``artifact_location`` if missing, restored if deleted.

    The experiment is of MLflow's model-training kind (tag ``mlflow.experimentKind``; also given to one created
    without it, never changed once set: a user may have chosen another in the UI) and carries ``description`` (``mlflow.note.content``): given to a new experiment or one
    without a description, and with ``replace_description`` (a sweep's spec is its experiment's source) written
    over a different one."""
    from parametricSN.tracking.describe import EXPERIMENT_KIND, MODEL_TRAINING, NOTE

    tags = {EXPERIMENT_KIND: MODEL_TRAINING, **({NOTE: description} if description else {})}
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location, tags=tags)
        except MlflowException:
            # another run (a parallel sweep) created it between the lookup and the creation
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == LifecycleStage.DELETED:
        client.restore_experiment(exp.experiment_id)
    for key, value in tags.items():
        if key not in exp.tags or (key == NOTE and replace_description and exp.tags[key] != value):
            client.set_experiment_tag(exp.experiment_id, key, value)
    return exp.experiment_id


T = TypeVar("T")
LOCKED = "database is locked"
RETRY_SECONDS = 60.0


class _DropLockedTracebacks(logging.Filter):
    """MLflow logs a full traceback for every SQLite error ("database is locked", "attempt to write a readonly
    database", "database or disk is full") before raising it as an ``MlflowException``: psn retries the first and
    reports the others in one line where it handles the exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("SQLAlchemy database error")


logging.getLogger("mlflow.store.db.utils").addFilter(_DropLockedTracebacks())
# "Creating initial MLflow database tables..." on every new store: noise on a one-line-per-event stderr
logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def sql_error(exc: BaseException) -> str:
    """The line of a store error that names it (``attempt to write a readonly database``), without SQLAlchemy's
    statement, parameters and advice."""
    text = str(exc)
    found = re.search(r"\((?:\w+\.)*\w+Error\) ([^\n\[]+)", text)
    return (found.group(1) if found else text.splitlines()[0] if text else type(exc).__name__).strip()


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


_checkpointed: set[Path] = set()


def checkpoint_wal(db: Path, timeout: float = 30.0) -> bool:
    """Copy every commit in ``db``'s write-ahead log into ``db`` itself and empty the log (SQLite's
    ``wal_checkpoint(TRUNCATE)``, waiting up to ``timeout`` seconds for readers of other processes); False when it
    could not complete (a reader held on, the file is gone or read-only). Idle pooled connections do not block it."""
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=timeout)) as con:
            busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return busy == 0
    except sqlite3.Error:
        return False


def _checkpoint_at_exit(db: Path) -> None:
    """Register :func:`checkpoint_wal` of ``db`` for the end of this process (once per store)."""
    db = db.resolve()
    if db not in _checkpointed:
        _checkpointed.add(db)
        atexit.register(checkpoint_wal, db)


def _open_sqlite(uri: str, db: Path) -> MlflowClient:
    """A client on ``uri``, whose construction creates / migrates the store, under the lock; then write-ahead
    logging is turned on (a setting kept in the file)."""
    with store_lock(db):
        client = retry_locked(MlflowClient, tracking_uri=uri)  # MLflow creates and migrates the tables here
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as con:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
    _checkpoint_at_exit(db)
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
    if not create:  # a reader may still write (psn report --log): its commits too are in the file at exit
        _checkpoint_at_exit(db)
        return MlflowClient(tracking_uri=resolved)
    check_store_writable(resolved, db)
    try:
        return _open_sqlite(resolved, db)
    except (OSError, sqlite3.Error, MlflowException) as exc:
        raise TrackingError(
            f"cannot open the tracking store {resolved!r}: {' '.join(str(exc).split())[:300]}"
        ) from None
