"""The command lines psn prints for the user to run, built in one place so that each carries what it needs.

A printed command must work when pasted into another shell in another folder: it names the tracking store as an
absolute URI (a relative ``sqlite:///mlruns/store.db`` becomes ``sqlite:////home/me/mlruns/store.db``) and every
argument is shell-quoted. The tests run each of them (tests/test_commands.py).

This module imports nothing heavy (no MLflow, no torch): the training loop's progress lines use it too.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from parametricSN.config import DEFAULT_TRACKING_URI

SQLITE = "sqlite:///"


def resolve_tracking_uri(uri: Optional[str] = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlruns/store.db``."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Optional[Path]:
    """The database file of a ``sqlite:///path`` URI (relative to the working directory unless the path
    starts with ``/``), or None for other stores."""
    if not uri.startswith(SQLITE):
        return None
    return Path(uri[len(SQLITE) :].split("?", 1)[0])


def absolute_uri(uri: Optional[str]) -> str:
    """The resolved tracking URI, a relative SQLite path made absolute (the same store from any folder)."""
    uri = resolve_tracking_uri(uri)
    path = sqlite_path(uri)
    if path is not None and not path.expanduser().is_absolute():
        return f"{SQLITE}{path.expanduser().resolve()}"
    return uri


def _line(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def mlflow_ui_command(uri: Optional[str]) -> Optional[str]:
    """``mlflow ui --backend-store-uri sqlite:////abs/store.db`` for a local SQLite store; None for a server
    (its address is the UI)."""
    uri = absolute_uri(uri)
    return _line(["mlflow", "ui", "--backend-store-uri", uri]) if sqlite_path(uri) is not None else None


def resume_command(run_id: str, uri: Optional[str], checkpoint: Optional[str] = None) -> str:
    """``psn train --resume RUN_ID [--checkpoint PATH] mlflow.tracking_uri=URI``: continues ``run_id`` from its last
    checkpoint in the store, or from the local checkpoint file ``checkpoint``."""
    local = ["--checkpoint", str(Path(checkpoint).expanduser().resolve())] if checkpoint else []
    return _line(["psn", "train", "--resume", run_id, *local, f"mlflow.tracking_uri={absolute_uri(uri)}"])


def report_command(experiment: str, uri: Optional[str], spec: Optional[str] = None) -> str:
    """``psn report --experiment NAME --tracking-uri URI [--spec PATH]``."""
    words = ["psn", "report", "--experiment", experiment, "--tracking-uri", absolute_uri(uri)]
    if spec:
        words += ["--spec", str(Path(spec).expanduser().resolve())]
    return _line(words)


def sweep_command(spec: str, uri: Optional[str], overrides: Sequence[str] = (), options: Sequence[str] = ()) -> str:
    """``psn sweep SPEC [key=value ...] [options] --tracking-uri URI``: runs (or continues) a sweep."""
    return _line(
        [
            "psn",
            "sweep",
            str(Path(spec).expanduser().resolve()),
            *overrides,
            *options,
            "--tracking-uri",
            absolute_uri(uri),
        ]
    )
