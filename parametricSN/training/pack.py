"""``train_pack(cfgs)``: N runs that differ only in their seed (and init / learnable) trained as one packed model.

    from parametricSN.training.pack import train_pack
    cfgs = [load_config("conf/cifar.yaml", [f"general.seed={s}"]) for s in range(10)]
    results = train_pack(cfgs)          # one RunResult per member, in order

Each member is built exactly as :func:`parametricSN.training.train` builds its run: its own loaders (its seed
chooses its subsets and its augmentation stream, a function of (seed, epoch, item)), ``seed_everything(seed)``
right before ``build_model`` (its initialisation). The members are then packed
(:func:`parametricSN.models.packed.pack_models`) and trained together: every batch is the members' own batches
stacked, the loss is the **sum** of the members' mean losses (so member p's gradient is the gradient of its own
loss), and one optimizer from ``build_optimizer`` / ``build_schedule`` steps all of them (SGD and Adam act per
element and the members share the schedule, so each member gets its own run's update).

Each member is logged as its own run, exactly as a single run (params, ``config.yaml``, the per-epoch metrics of
:func:`parametricSN.training.loop.fit`, figures, the unpacked model that ``load_model`` reloads), plus the tags
``pack_id`` / ``pack_index`` / ``pack_size`` when the logger has ``set_tags`` (MLflow's does). Tags rather than
params, so that reports grouping runs by their params see a packed run as the single run it stands for.

Keys that may differ inside a pack: :data:`MAY_DIFFER`. Anything else must be equal (it fixes shapes or the
schedule). Packed members match single runs up to float summation order (see tests/training/test_pack.py).
Not supported in a pack: intermediate checkpoints (``train.checkpoint_every``), dropout, heads other than
``cnn``/``linear``/``mlp`` (each a one-line error).
"""
from __future__ import annotations

import math
import uuid
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from parametricSN.allocator import retain_freed_memory
from parametricSN.config import Config, ConfigError, validate
from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.models.packed import PACKABLE_HEADS, PackedHybridModel, pack_models
from parametricSN.training.determinism import (deterministic_mode, resolve_device, rng_state, seed_everything,
                                               set_rng_state)
from parametricSN.training.divergence import DivergenceError, check_finite
from parametricSN.training.filter_report import FilterReport
from parametricSN.training.logger import Logger, default_logger
from parametricSN.training.loop import is_test_epoch
from parametricSN.training.losses import LossFn, build_loss
from parametricSN.training.optim import Schedule, build_optimizer, build_schedule, group_lrs, param_groups
from parametricSN.training.run import RunResult, finish_run

MAY_DIFFER = ("general.seed", "scattering.init", "scattering.learnable", "mlflow.run_name")


def check_pack(cfgs: Sequence[Config]) -> None:
    """Raise :class:`ConfigError` unless ``cfgs`` differ only in :data:`MAY_DIFFER` and can be packed."""
    if not cfgs:
        raise ConfigError("pack: no configs to train")
    first = cfgs[0].flat()
    differ = sorted({k for c in cfgs[1:] for k, v in c.flat().items() if v != first[k] and k not in MAY_DIFFER})
    if differ:
        raise ConfigError(f"pack: the configs differ in {', '.join(differ)}; inside a pack only "
                          f"{', '.join(MAY_DIFFER)} may differ (train the others as separate packs)")
    head = cfgs[0].model.name
    if head not in PACKABLE_HEADS:
        raise ConfigError(f"model.name: head {head!r} cannot be packed (packable heads: {', '.join(PACKABLE_HEADS)}); "
                          "train its seeds one by one with train()")
    if head == "mlp" and cfgs[0].model.dropout > 0:
        raise ConfigError("model.dropout: a pack cannot reproduce each member's dropout masks; set model.dropout=0 "
                          "or train the seeds one by one with train()")
    if cfgs[0].train.checkpoint_every > 0:
        raise ConfigError("train.checkpoint_every: packed runs write no intermediate checkpoints; "
                          "set train.checkpoint_every=0 or train the seeds one by one")
    if cfgs[0].dataset.val_sample_num > 0:  # issue 18: the pack's loop evaluates the test split only (for now)
        raise ConfigError("dataset.val_sample_num: packed runs do not evaluate a validation split yet; set "
                          "dataset.val_sample_num=0 or train the seeds one by one")


def train_pack(cfgs: Sequence[Config], loggers: Optional[Sequence[Logger]] = None) -> list[RunResult]:
    """Train ``cfgs`` as one pack (see the module docstring); one :class:`RunResult` per config, in order.

    ``loggers``: one per config (default: the installed default logger, MLflow once ``parametricSN.tracking``
    is imported, for each). The caller's global random generators are restored
    afterwards, as :func:`parametricSN.training.train` does. If training fails, every member's run is marked
    failed and the exception propagates; a failure to store a member's figures or model is a warning.
    """
    for cfg in cfgs:
        validate(cfg)  # as train() does, now that every registry is imported: a bad name never opens a run
    check_pack(cfgs)
    if loggers is not None and len(loggers) != len(cfgs):
        raise ValueError(f"train_pack: {len(cfgs)} configs but {len(loggers)} loggers")
    retain_freed_memory()
    saved = rng_state()
    try:
        return _train_pack(list(cfgs), list(loggers) if loggers is not None else [default_logger(c) for c in cfgs])
    finally:
        set_rng_state(saved)


def _train_pack(cfgs: list[Config], loggers: list[Logger]) -> list[RunResult]:
    cfg = cfgs[0]
    device = resolve_device(cfg.general.device)
    pack_id, started, run_ids = uuid.uuid4().hex, [], []
    loaders = [build_loaders(c) for c in cfgs]  # before any run exists: missing data leaves no run behind
    try:
        for index, (c, logger) in enumerate(zip(cfgs, loggers)):
            run_ids.append(logger.start_run(c))
            started.append(logger)
            logger.log_params(c.flat())
            logger.log_text(c.to_yaml(), "config.yaml")
            set_tags = getattr(logger, "set_tags", None)
            if set_tags is not None:
                set_tags({"pack_id": pack_id, "pack_index": str(index), "pack_size": str(len(cfgs))})
        with deterministic_mode(cfg.general.deterministic):
            members = []
            for c in cfgs:  # as train() does: the seed right before the model, nothing drawn in between
                seed_everything(c.general.seed)
                members.append(build_model(c))
            reports = [FilterReport(m, c) for m, c in zip(members, cfgs)]
            packed = pack_models(members, cfg.model.name).to(device)
            optimizer = build_optimizer(packed, cfg)
            schedule = build_schedule(optimizer, cfg, batches_per_epoch=len(loaders[0].train))
            groups = [[f"lr_{g['name']}" for g in param_groups(m, c)] for m, c in zip(members, cfgs)]
            loss_fn = build_loss(cfg.train.loss)
            histories: list[list[dict[str, float]]] = [[] for _ in cfgs]
            for epoch in range(1, cfg.train.epochs + 1):
                for lo in loaders:
                    lo.set_epoch(epoch)
                lrs = group_lrs(optimizer)
                train = train_pack_epoch(packed, [lo.train for lo in loaders], optimizer, schedule, loss_fn,
                                         device, cfg.train.accum_steps)
                schedule.after_epoch()
                _check_members(epoch, train, packed)
                test = (evaluate_pack(packed, [lo.test for lo in loaders], loss_fn, device,
                                      _same_items([lo.test_indices for lo in loaders]))
                        if is_test_epoch(epoch, cfg) else {})
                for p, (member, logger, report) in enumerate(zip(members, loggers, reports)):
                    metrics = {k: lrs[k] for k in groups[p]}
                    metrics.update({k: v[p] for k, v in train.items()})
                    if report.scattering is not None:  # its filters, for their motion and animation frames
                        packed.unpack_into(p, member, prefix="scattering.")
                    metrics.update(report.on_epoch_end(epoch))
                    metrics.update({k: v[p] for k, v in test.items()})
                    logger.log_metrics(metrics, step=epoch)
                    histories[p].append({"epoch": epoch, **metrics})
        for p, member in enumerate(members):
            packed.unpack_into(p, member)
        results = [RunResult(run_id=run_id, test_acc=float(history[-1]["test_acc"]), history=history)
                   for run_id, history in zip(run_ids, histories)]
    except BaseException as exc:
        for logger in started:
            logger.set_failed(exc)
        raise
    return [finish_run(c, logger, result, member, report)
            for c, logger, result, member, report in zip(cfgs, loggers, results, members, reports)]


def _check_members(epoch: int, train: dict[str, list[float]], packed: nn.Module) -> None:
    """A non-finite training loss of any member, or a non-finite parameter of the pack, fails the whole pack
    (its members share one optimizer step), naming the epoch and the members, as a single run's check does."""
    bad = [p for p, loss in enumerate(train["train_loss"]) if not math.isfinite(loss)]
    if bad:
        raise DivergenceError(f"diverged in epoch {epoch}: the training loss of pack member(s) "
                              f"{', '.join(map(str, bad))} is non-finite; lower the learning rates "
                              "(optim.max_lr / optim.lr, scattering.lr_*)", epoch)
    check_finite(epoch, {}, packed, None)


def _same_items(indices: Sequence[np.ndarray]) -> bool:
    return all(np.array_equal(indices[0], i) for i in indices[1:])


def _member_sums(logits: Tensor, y: Tensor, loss_fn: LossFn) -> tuple[Tensor, Tensor, Tensor]:
    """Per-member mean losses ``(P,)`` (with graph), and detached loss sums and correct counts ``(P,)``."""
    losses = torch.stack([loss_fn(logits[p], y[p]) for p in range(logits.shape[0])])
    correct = (logits.detach().argmax(dim=-1) == y).sum(dim=1)
    return losses, losses.detach().double() * y.shape[1], correct


def train_pack_epoch(model: PackedHybridModel, batches: Sequence, optimizer: torch.optim.Optimizer, schedule: Schedule,
                     loss_fn: LossFn, device: torch.device, accum_steps: int = 1) -> dict[str, list[float]]:
    """One pass over the members' train loaders in lockstep; ``train_loss`` / ``train_acc`` (%) per member.

    Batch i of the pack is member p's batch i at ``[p]``; the loss is ``sum_p mean-loss_p``, divided by the
    accumulation group size as :func:`parametricSN.training.loop.train_epoch` does. Sums stay on the device and
    are read once at the end of the epoch.
    """
    model.train()
    n_batches = len(batches[0])
    loss_sum = correct = None
    seen = 0
    for i, pairs in enumerate(zip(*batches)):
        x = torch.stack([b[0] for b in pairs]).to(device, non_blocking=True)
        y = torch.stack([b[1] for b in pairs]).to(device, non_blocking=True)
        group_start = i - i % accum_steps
        group_size = min(accum_steps, n_batches - group_start)
        if i == group_start:
            optimizer.zero_grad(set_to_none=True)
        losses, batch_loss, batch_correct = _member_sums(model(x), y, loss_fn)
        (losses.sum() / group_size).backward()
        if i == group_start + group_size - 1:
            optimizer.step()
            schedule.after_optimizer_step()
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = batch_correct if correct is None else correct + batch_correct
        seen += y.shape[1]
    if seen == 0:
        raise ValueError("the training loader yielded no batches: check dataset.train_sample_num and "
                         "dataset.train_batch_size")
    return {"train_loss": (loss_sum / seen).tolist(), "train_acc": (100.0 * correct / seen).tolist()}


@torch.no_grad()
def evaluate_pack(model: PackedHybridModel, batches: Sequence, loss_fn: LossFn, device: torch.device,
                  shared: bool = False) -> dict[str, list[float]]:
    """Every member on its own test loader (``shared``: all members' test sets are the same items, read once
    from ``batches[0]``); ``test_loss`` / ``test_acc`` (%) per member."""
    model.eval()
    P = model.members
    loss_sum = correct = None
    seen = 0
    for pairs in (((b,) * P for b in batches[0]) if shared else zip(*batches)):
        if shared:
            x = pairs[0][0].to(device, non_blocking=True).expand(P, *pairs[0][0].shape)
            y = pairs[0][1].to(device, non_blocking=True).expand(P, -1)
        else:
            x = torch.stack([b[0] for b in pairs]).to(device, non_blocking=True)
            y = torch.stack([b[1] for b in pairs]).to(device, non_blocking=True)
        _, batch_loss, batch_correct = _member_sums(model(x), y, loss_fn)
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = batch_correct if correct is None else correct + batch_correct
        seen += y.shape[1]
    if seen == 0:
        raise ValueError("the test loader yielded no batches: check dataset.test_sample_num")
    return {"test_loss": (loss_sum / seen).tolist(), "test_acc": (100.0 * correct / seen).tolist()}
