"""Divergence: a non-finite loss or parameter ends the run as a failure instead of training on NaNs.

:func:`check_finite` runs once per epoch, after the training pass (and after the test pass on test epochs).
The training loop keeps its loss sum on the device, so a NaN or ±inf loss in any batch makes the epoch's
``train_loss`` non-finite; the parameters and floating-point buffers (batch-norm statistics) are checked with
one device-side reduction and one read. Nothing is logged or checkpointed for the diverged epoch, so the
checkpoints already stored are the last good ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

LOSSES = {"train_loss": "training loss", "test_loss": "test loss"}


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss or parameter. ``run_id`` is filled in by ``train``."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch, self.run_id = epoch, ""


def _non_finite_tensors(model: nn.Module) -> list[str]:
    named = [(n, t) for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_floating_point()]
    if not named:
        return []
    finite = torch.stack([torch.isfinite(t.detach()).all() for _, t in named])
    if bool(finite.all()):  # the one host read of the check
        return []
    return [n for (n, _), ok in zip(named, finite.tolist()) if not ok]


def check_finite(
    epoch: int,
    metrics: Sequence[dict[str, float]],
    model: nn.Module,
    last_checkpoint: Optional[int],
    names: Sequence[str] = ("",),
    run_ids: Sequence[str] = ("",),
) -> None:
    """Raise :class:`DivergenceError` naming ``epoch`` and the first non-finite quantities: a loss in a member's
    ``metrics`` (one dict per member; a pack names member p by ``names[p]`` and gives the error its ``run_ids[p]``)
    or a parameter / buffer of ``model``."""
    bad, first = [], None
    for p, member in enumerate(metrics):
        of = f" of pack member {names[p]}" if names[p] else ""
        for key, what in LOSSES.items():
            if key in member and not math.isfinite(member[key]):
                bad.append(f"the {what}{of} is {member[key]}")
                first = p if first is None else first
    names_ = _non_finite_tensors(model)
    if names_:
        more = f" (+{len(names_) - 3} more)" if len(names_) > 3 else ""
        bad.append(f"non-finite parameter(s) {', '.join(names_[:3])}{more}")
    if not bad:
        return
    kept = (
        f"the last good checkpoint is epoch {last_checkpoint}"
        if last_checkpoint
        else "no checkpoint precedes it (train.checkpoint_every)"
    )
    error = DivergenceError(
        f"diverged in epoch {epoch}: {'; '.join(bad)}; {kept}; lower the learning rates "
        "(optim.max_lr / optim.lr, scattering.lr_*)",
        epoch,
    )
    if first is not None and len(run_ids) > first:
        error.run_id = run_ids[first]
    raise error
