"""What stops a run from the tracking side, each reported by ``psn`` as one line (a :class:`TrackingError`, status 1):

- :class:`TrackingOutage`: the tracking server has not answered for longer than ``mlflow.outage_limit``; the line
  says where the run's newest checkpoint is on local disk and the command that resumes it from there;
- :class:`DiskFull`: a write to the SQLite store, to the artifact folder or to the run's local spool (what waits for
  a tracking server that is away) met ENOSPC; the line names which one and its path, whether the run could still be
  closed FAILED, and the command that resumes it once space is freed.

:func:`disk_full` recognises ENOSPC however the storage layer wrapped it (an ``OSError`` in the exception chain,
SQLite's "database or disk is full" inside SQLAlchemy's and MLflow's exceptions).
"""

from __future__ import annotations

import errno
from typing import Optional

from parametricSN.tracking.preflight import TrackingError

_FULL = ("database or disk is full", "no space left on device")


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a full disk."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        if any(text in str(current).lower() for text in _FULL):
            return True
        current = current.__cause__ or current.__context__
    return False


class TrackingOutage(TrackingError):
    """The tracking server stayed away longer than ``mlflow.outage_limit``; the message is the whole line."""


class DiskFull(TrackingError):
    """A write to the tracking store (``what="store"``), the artifact folder (``"artifacts"``) or the run's local
    spool (``"spool"``) at ``path`` met a full disk. ``closed``: whether the run could then be closed FAILED (set by
    the logger's ``set_failed``)."""

    def __init__(self, run_id: str, what: str, path: str, resume: str) -> None:
        super().__init__(f"{what} full at {path}")
        self.run_id, self.what, self.path, self.resume = run_id, what, path, resume
        self.closed = False

    def __str__(self) -> str:
        if self.what == "spool":
            return (
                f"run {self.run_id} stopped: its local spool {self.path} (what waits for the tracking server, which "
                f"is away) is full (No space left on device); the run is left RUNNING on the server, and what it "
                f"spooled so far is intact; free space, then, once the server answers, resume it with: {self.resume}"
            )
        where = "the tracking store" if self.what == "store" else "the artifact folder"
        state = (
            "the run is marked FAILED"
            if self.closed
            else "the run is left RUNNING (the store cannot take its end; the next psn command that resumes it, or "
            "a sweep, closes it)"
        )
        return (
            f"run {self.run_id} stopped: {where} {self.path} is full (No space left on device); {state}; "
            f"its checkpoints and metrics so far are intact; free space, then resume it with: {self.resume}"
        )
