"""A run's local spool: what could not reach the tracking server yet, kept on local disk in order, sent when it
answers again (see :class:`parametricSN.tracking.mlflow_logger.MlflowLogger`).

One folder per run, ``<cache>/runs/<run_id>/`` where ``<cache>`` is ``$PSN_CACHE_DIR``, else
``$XDG_CACHE_HOME/parametricSN``, else ``~/.cache/parametricSN``:

- ``ops.jsonl``: the pending operations, one JSON object a line, oldest first — ``{"op": "metrics", "points":
  [[key, value, timestamp_ms, step], ...]}``, ``{"op": "params", "items": [[key, value], ...]}``, ``{"op": "tags",
  "tags": {...}}``, ``{"op": "file", "path": local copy, "dir": artifact folder or null}``, ``{"op": "inputs",
  "datasets": [...]}``, ``{"op": "model", "name": "model", "path": local copy of the MLflow model folder}``,
  ``{"op": "end", "status": "FINISHED"}``;
- ``files/``: the local copies of the files and folders the ``file`` and ``model`` operations upload (checkpoints,
  figures, the model).

An operation is on disk (flushed) before the call that made it returns, so a process that dies keeps what it
spooled; ``psn train --resume RUN_ID`` delivers a run's spool before it reads the run's checkpoints. The folder is
removed once everything in it has been delivered.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

OPS = "ops.jsonl"
MAX_POINTS = 1000  # metric points per call when delivering (MLflow's log_batch limit)


def cache_root() -> Path:
    """``$PSN_CACHE_DIR``, else ``$XDG_CACHE_HOME/parametricSN``, else ``~/.cache/parametricSN``."""
    if os.environ.get("PSN_CACHE_DIR"):
        return Path(os.environ["PSN_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "parametricSN"


class Spool:
    """The pending operations of run ``run_id`` (loaded from its folder when one is left from an earlier process)."""

    def __init__(self, run_id: str) -> None:
        self.folder = cache_root() / "runs" / run_id
        self.ops: list[dict[str, Any]] = []
        path = self.folder / OPS
        if path.is_file():
            # a line cut by a crash mid-write is the last one, and its call never returned: dropped
            for line in path.read_text().splitlines():
                try:
                    self.ops.append(json.loads(line))
                except ValueError:
                    break
        self._seq = len(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def add(self, op: dict[str, Any], file: Optional[os.PathLike[str] | str] = None) -> Optional[Path]:
        """Append ``op`` (with a local copy of ``file``, a file or a folder, whose path it records as ``op["path"]``);
        returns the copy. A write that fails (a full disk: ``OSError``) leaves the spool as it was: no partial copy,
        no cut line that would hide the operations appended after it."""
        copy = None
        try:
            if file is not None:
                self._seq += 1
                copy = self.folder / "files" / f"{self._seq:06d}" / Path(file).name
                copy.parent.mkdir(parents=True, exist_ok=True)
                if Path(file).is_dir():  # a logged model's folder
                    shutil.copytree(file, copy)
                else:
                    shutil.copyfile(file, copy)
                op = {**op, "path": str(copy)}
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / OPS
            size = path.stat().st_size if path.exists() else 0
            try:
                with open(path, "a") as f:
                    f.write(json.dumps(op) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                os.truncate(path, size)  # needs no space
                raise
        except OSError:
            if copy is not None:
                shutil.rmtree(copy.parent, ignore_errors=True)
            raise
        self.ops.append(op)
        return copy

    def deliver(self, send: Callable[[dict[str, Any]], None]) -> dict[str, int]:
        """``send`` every pending operation in order; the folder is removed when all went. When ``send`` raises,
        the operations not sent yet stay spooled (on disk too) and the exception propagates. Returns how many
        metric points and files were sent (``{"points": n, "files": m}``)."""
        sent = {"points": 0, "files": 0}
        try:
            while self.ops:
                n = 1  # consecutive epochs' metrics go as one call (fewer round trips: training waits for them)
                while (
                    self.ops[0]["op"] == "metrics"
                    and n < len(self.ops)
                    and self.ops[n]["op"] == "metrics"
                    and sum(len(o["points"]) for o in self.ops[: n + 1]) <= MAX_POINTS
                ):
                    n += 1
                op = (
                    self.ops[0]
                    if n == 1
                    else {"op": "metrics", "points": [p for o in self.ops[:n] for p in o["points"]]}
                )
                send(op)
                del self.ops[:n]
                sent["points"] += len(op.get("points", ()))
                sent["files"] += op["op"] == "file"
        finally:
            if self.ops:
                self._rewrite()
            elif self.folder.exists():
                shutil.rmtree(self.folder, ignore_errors=True)
        return sent

    def newest_checkpoint(self) -> Optional[Path]:
        """The local copy of the newest spooled checkpoint (``checkpoints/`` upload), or None."""
        for op in reversed(self.ops):
            if op["op"] == "file" and op.get("dir") == "checkpoints":
                return Path(op["path"])
        return None

    def ended(self) -> bool:
        """Whether the run's end (FINISHED) is among the pending operations."""
        return any(op["op"] == "end" for op in self.ops)

    def _rewrite(self) -> None:
        tmp = self.folder / (OPS + ".tmp")
        tmp.write_text("".join(json.dumps(op) + "\n" for op in self.ops))
        os.replace(tmp, self.folder / OPS)
