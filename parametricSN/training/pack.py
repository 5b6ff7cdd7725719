"""``train_pack(cfgs)``: N runs that differ only in their seed (and init / learnable) trained as one packed model.

    from parametricSN.training.pack import train_pack
    cfgs = [load_config("conf/cifar.yaml", [f"general.seed={s}"]) for s in range(10)]
    results = train_pack(cfgs)          # one RunResult per member, in order

Each member is built exactly as :func:`parametricSN.training.train` builds its run (both go through
:func:`parametricSN.training.run.train_runs`): its own loaders (its seed chooses its subsets and its augmentation
stream, a function of (seed, epoch, item)), ``seed_everything(seed)`` right before ``build_model`` (its
initialisation). The members are then packed (:func:`parametricSN.models.packed.pack_models`) and trained by the
same epoch loop as a single run (:func:`parametricSN.training.loop.fit`, ``stacked``): every batch is the members'
own batches stacked, the loss is the **sum** of the members' mean losses (so member p's gradient is the gradient of
its own loss), and one optimizer from ``build_optimizer`` / ``build_schedule`` steps all of them (SGD and Adam act
per element and the members share the schedule, so each member gets its own run's update).

Each member is logged as its own run, exactly as a single run (params, ``config.yaml``, the per-epoch metrics,
figures, the unpacked model that ``load_model`` reloads), plus the tags ``pack_id`` / ``pack_index`` /
``pack_size`` when the logger has ``set_tags`` (MLflow's does). Tags rather than params, so that reports grouping
runs by their params see a packed run as the single run it stands for. A pack has what a single run has:
checkpoints (one per pack, in its first member's run, holding every member), SIGINT / SIGTERM (every member
closed KILLED after a checkpoint), ``--resume`` with any member's run id (:mod:`parametricSN.tracking.resume`).

Keys that may differ inside a pack: :data:`MAY_DIFFER`. Anything else must be equal (it fixes shapes or the
schedule). Packed members match single runs up to float summation order (see tests/training/test_pack.py).
Not supported in a pack: dropout, heads that do not declare that they pack (each a one-line error).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import nn

from parametricSN.config import Config, ConfigError, keys_where, validate
from parametricSN.models import learnable_scattering
from parametricSN.models.packed import check_packable, pack_models
from parametricSN.tags import TAG_PACK_ID, TAG_PACK_INDEX, TAG_PACK_SIZE
from parametricSN.training.logger import Logger
from parametricSN.training.loop import Trainee
from parametricSN.training.optim import build_optimizer, build_schedule
from parametricSN.training.run import RunResult, train_runs

MAY_DIFFER = keys_where("pack")  # the schema says which: config.schema.key(pack=True)


def check_pack(cfgs: Sequence[Config]) -> None:
    """Raise :class:`ConfigError` unless ``cfgs`` differ only in :data:`MAY_DIFFER` and can be packed."""
    if not cfgs:
        raise ConfigError("pack: no configs to train")
    first = cfgs[0].flat()
    differ = sorted({k for c in cfgs[1:] for k, v in c.flat().items() if v != first[k] and k not in MAY_DIFFER})
    if differ:
        raise ConfigError(
            f"pack: the configs differ in {', '.join(differ)}; inside a pack only "
            f"{', '.join(MAY_DIFFER)} may differ (train the others as separate packs)"
        )
    head = cfgs[0].model.name
    check_packable(head)
    if head == "mlp" and cfgs[0].model.dropout > 0:
        raise ConfigError(
            "model.dropout: a pack cannot reproduce each member's dropout masks; set model.dropout=0 "
            "or train the seeds one by one with train()"
        )


def train_pack(
    cfgs: Sequence[Config], loggers: Optional[Sequence[Logger]] = None, resume: Optional[dict[str, Any]] = None
) -> list[RunResult]:
    """Train ``cfgs`` as one pack (see the module docstring); one :class:`RunResult` per config, in order.

    ``loggers``: one per config (default: the installed default logger, MLflow once ``parametricSN.tracking``
    is imported, for each). ``resume``: the pack's checkpoint, with loggers that reopen its members' runs (in the
    checkpoint's ``members`` order). The caller's global random generators are restored afterwards, as
    :func:`parametricSN.training.train` does. If training fails, every member's run is marked failed and the
    exception propagates; a failure to store a member's figures or model is a warning.
    """
    for cfg in cfgs:
        validate(cfg)  # before check_pack: a bad name is reported as such
    check_pack(cfgs)
    if loggers is not None and len(loggers) != len(cfgs):
        raise ValueError(f"train_pack: {len(cfgs)} configs but {len(loggers)} loggers")
    if resume is not None and len(resume.get("members", ())) != len(cfgs):
        raise ValueError(
            f"train_pack: resuming a checkpoint of {len(resume.get('members', ()))} members with {len(cfgs)} configs"
        )
    pack_id = uuid.uuid4().hex
    tags = [{TAG_PACK_ID: pack_id, TAG_PACK_INDEX: str(p), TAG_PACK_SIZE: str(len(cfgs))} for p in range(len(cfgs))]
    return train_runs(
        list(cfgs),
        list(loggers) if loggers is not None else [None] * len(cfgs),
        _packed,
        resume=resume,
        tags=None if resume is not None else tags,
    )


def _packed(models: list[nn.Module], cfgs: list[Config], device: torch.device, batches_per_epoch: int) -> Trainee:
    packed = pack_models(models, cfgs[0].model.name).to(device)
    optimizer = build_optimizer(packed, cfgs[0])
    schedule = build_schedule(optimizer, cfgs[0], batches_per_epoch=batches_per_epoch)

    def sync(p: int) -> None:  # member p's filters, for its filter report (motion, animation frames)
        if learnable_scattering(models[p]) is not None:
            packed.unpack_into(p, models[p], prefix="scattering.")

    return Trainee(packed, optimizer, schedule, stacked=True, sync=sync)
