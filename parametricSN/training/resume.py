"""Resuming a run from its checkpoint: which config keys may change, and where training picks up.

A resumed run must be the run it continues — bit-identical on CPU to never having stopped — so a resume may
change only keys that cannot change the numbers it produces (:data:`RESUMABLE`):

- ``train.epochs``, to train longer (or stop earlier), when the learning-rate schedule does not depend on it
  (not onecycle, not cosine with ``optim.T_max: null``: both fit their curve to the number of epochs), and
  never to or below the epoch already done;
- when to test, checkpoint and draw (``train.test_every``, ``train.checkpoint_every``, ``train.save_model``,
  ``viz.*``): testing reads the model in eval mode and draws no random numbers (the loaders own their
  generators);
- ``general.num_workers`` (data randomness is a function of seed, epoch and index, not of the worker);
- ``mlflow.tracking_uri`` (where the run is found).

Anything else is a :class:`~parametricSN.config.ConfigError` naming the key.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.optim import Optimizer

from parametricSN.config import Config, ConfigError, keys_where
from parametricSN.training.checkpoint import restore_checkpoint
from parametricSN.training.optim import Schedule

RESUMABLE = keys_where("resume")  # the schema says which: config.schema.key(resume=True)


def check_resume_config(saved: Config, new: Config, done: int) -> None:
    """Raise ConfigError unless ``new`` differs from the run's ``saved`` config only in :data:`RESUMABLE`
    keys, and ``train.epochs`` leaves something to train after epoch ``done``."""
    old, cur = saved.flat(), new.flat()
    for key in cur:
        if cur[key] != old.get(key) and key not in RESUMABLE:
            raise ConfigError(
                f"{key}: cannot change when resuming (it would change the results of the run); "
                f"only {', '.join(RESUMABLE)} can; start a new run instead"
            )
    if new.train.epochs != saved.train.epochs:
        o = new.optim
        if o.scheduler == "onecycle" or (o.scheduler == "cosine" and o.T_max is None):
            raise ConfigError(
                f"train.epochs: cannot change when resuming under optim.scheduler={o.scheduler}"
                f"{' with optim.T_max=null' if o.scheduler == 'cosine' else ''} (the schedule is "
                "fitted to the number of epochs); start a new run instead"
            )
    if new.train.epochs <= done:
        raise ConfigError(
            f"train.epochs: the run has already trained {done} epoch(s) of {new.train.epochs}; "
            f"nothing to resume (give train.epochs > {done} to train longer)"
        )


def resume_point(state: dict[str, Any], model: nn.Module, optimizer: Optimizer, schedule: Schedule) -> int:
    """Restore ``state`` (a checkpoint) into the freshly built ``model`` / ``optimizer`` / ``schedule`` (a pack's:
    the packed model's) and the global generators; return the epoch ``fit`` continues at. The members' histories
    and the filter reports' initial filters come from the checkpoint (``history`` / ``extra``, a pack's
    ``members``)."""
    return restore_checkpoint(state, model=model, optimizer=optimizer, schedule=schedule) + 1
