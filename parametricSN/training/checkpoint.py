"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a plain dict in :mod:`parametricSN.fileformat`'s versioned format (written atomically, read back
with ``weights_only=True``: tensors, numbers, strings, lists, tuples and dicts only — no pickled classes)::

    {"format": "parametricSN-checkpoint", "version": 1,
     "epoch": last completed epoch (1-based),
     "model": state_dict, "optimizer": state_dict, "scheduler": state_dict ({} without a scheduler),
     "rng": determinism.rng_state(), "history": [per-epoch metric dicts],
     "config": cfg.to_dict(), "extra": {...},
     "members": [{"run_id", "config", "history", "extra"}, ...]}   (a pack's only: one entry per member)

A pack keeps one checkpoint, in its first member's run: ``model`` / ``optimizer`` are the packed model's,
``config`` / ``history`` / ``extra`` its first member's, and ``members`` every member's.

Data randomness needs no state: it is a function of (seed, epoch, index), so resuming at ``epoch + 1`` with
the restored generators replays the same run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn
from torch.optim import Optimizer

from parametricSN.config import Config
from parametricSN.fileformat import read_versioned, write_versioned
from parametricSN.training.determinism import rng_state, set_rng_state
from parametricSN.training.optim import Schedule

FORMAT = "parametricSN-checkpoint"
VERSION = 1
REQUIRED = ("epoch", "model", "optimizer", "scheduler", "rng", "history", "config")

PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or not a parametricSN checkpoint."""


def save_checkpoint(
    path: PathLike,
    *,
    model: nn.Module,
    optimizer: Optimizer,
    schedule: Schedule,
    epoch: int,
    history: list[dict[str, float]],
    cfg: Config,
    extra: Optional[dict[str, Any]] = None,
    members: Optional[list[dict[str, Any]]] = None,
) -> Path:
    """Write the checkpoint of the state after ``epoch`` to ``path`` (atomically: a crash mid-write leaves
    no half-written file under the final name). Returns the path."""
    state = {
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": schedule.state_dict(),
        "rng": rng_state(),
        "history": [dict(h) for h in history],
        "config": cfg.to_dict(),
        "extra": dict(extra or {}),
    }
    if members is not None:
        state["members"] = members
    return write_versioned(path, FORMAT, VERSION, state)


def load_checkpoint(
    path: PathLike,
    map_location: Union[str, torch.device] = "cpu",
    *,
    shown: Optional[str] = None,
    fix: str = "; delete it and resume from an earlier checkpoint",
) -> dict[str, Any]:
    """Read and check a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`CheckpointError` naming the file (as ``shown`` when given: where a downloaded copy came from)
    when it does not exist, cannot be read (truncated or corrupt), or is not a parametricSN checkpoint of a known
    version; ``fix`` ends the message.
    """
    path = Path(path)
    name = shown or repr(str(path))
    if not path.is_file():
        raise CheckpointError(f"checkpoint {name} not found")
    state = read_versioned(path, FORMAT, VERSION, CheckpointError, "checkpoint", map_location, fix=fix, shown=shown)
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint {name} lacks {', '.join(missing)}")
    return state


def restore_checkpoint(state: dict[str, Any], *, model: nn.Module, optimizer: Optimizer, schedule: Schedule) -> int:
    """Load a checkpoint's model, optimizer, scheduler and generator states in place; return its epoch
    (training continues at ``epoch + 1``)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return int(state["epoch"])
