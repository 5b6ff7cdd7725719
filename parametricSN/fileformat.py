"""The one on-disk format of parametricSN's own files (checkpoints, saved models): a versioned ``torch.save`` dict.

A file is ``{"format": <name>, "version": <int>, ...payload}``, written atomically (to a temporary file beside
the target, then ``os.replace``, so a crash mid-write never leaves a half-written file under the final name) and
read with ``weights_only=True`` (tensors, numbers, strings and containers only: no pickled classes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import torch

PathLike = Union[str, "os.PathLike[str]"]


def write_versioned(path: PathLike, fmt: str, version: int, payload: dict[str, Any]) -> Path:
    """Save ``{"format": fmt, "version": version, **payload}`` to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save({"format": fmt, "version": int(version), **payload}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left behind when saving failed
    return path


def read_versioned(
    path: PathLike,
    fmt: str,
    version: int,
    error: type[Exception],
    what: str,
    map_location: Union[str, torch.device] = "cpu",
    fix: str = "",
    shown: Optional[str] = None,
) -> dict[str, Any]:
    """Load a file written by :func:`write_versioned` with ``fmt`` and ``version``, raising ``error`` (a message
    naming the file — as ``shown`` when given, e.g. the artifact a temporary download came from — and what is wrong
    with it, then ``fix``) when it is unreadable, of another format, or of another version."""
    name = shown or repr(str(path))
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on a damaged file; all mean the same here
        reason = str(exc).splitlines()[0].split(". ")[0] if str(exc) else ""  # its first sentence names it
        raise error(
            f"{what} {name} is corrupt or truncated and cannot be read ({type(exc).__name__}: {reason}){fix}"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise error(f"{name} is not a parametricSN {what} (no 'format': {fmt!r} entry)")
    if data.get("version") != version:
        raise error(f"{what} {name} has version {data.get('version')!r}; this parametricSN reads version {version}")
    return data
