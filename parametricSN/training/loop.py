"""The one epoch loop: :func:`fit` trains a list of members — a single run is a list of one, a pack
(:mod:`parametricSN.training.pack`) a list of N sharing one packed model — and logs, tests, checkpoints and stops
each member exactly alike.

Accuracies are percentages (0-100, as the paper reports them); losses are per-sample means over the epoch.

Gradient accumulation with ``k = train.accum_steps``: the batches of an epoch are taken in consecutive groups
of ``k``; each batch's mean loss is multiplied by ``1/m`` where ``m`` is the number of batches in its group
(``k``, or fewer for the last group of the epoch), the gradients of the group add up, and then the optimizer
steps once (and a per-step schedule with it). With equal batch sizes the step's gradient is therefore exactly
the gradient of the mean loss over the whole group — the same as one batch ``m`` times larger, for models
without batch statistics.

A pack's batch i is its members' batches i stacked, ``(P, B, ...)``, and its loss is the **sum** of the members'
mean losses, so member p's gradient is the gradient of its own loss (:class:`Trainee` ``stacked``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from parametricSN.config import Config
from parametricSN.training import interrupt
from parametricSN.training.checkpoint import save_checkpoint
from parametricSN.training.divergence import check_finite
from parametricSN.training.eval_cache import EvalCache
from parametricSN.training.logger import Logger
from parametricSN.training.losses import LossFn
from parametricSN.training.optim import Schedule, group_lrs

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class EpochHook(Protocol):
    """Something :func:`fit` calls for a member after every training epoch (e.g. the filter report, which
    measures how far the filters moved): it returns metrics to log with the epoch, and its state for checkpoints."""

    def on_epoch_end(self, epoch: int) -> dict[str, float]:
        """Metrics of the model after training epoch ``epoch`` (logged with the epoch's others)."""

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue (stored in the checkpoint's ``extra``)."""


@dataclass
class Member:
    """One run the loop trains: its config, loaders (``train``, ``test``, ``set_epoch``), logger and run id,
    epoch hooks, the learning-rate metrics it logs (``lr_keys``; None: every optimizer group), and its history
    (a resumed run's past on entry, every epoch's metrics on return). ``penalty``: a term added to the member's
    training objective on every batch (not to its logged ``train_loss``)."""

    cfg: Config
    loaders: Any
    logger: Logger
    run_id: str = ""
    hooks: Sequence[EpochHook] = ()
    history: list[dict[str, float]] = field(default_factory=list)
    lr_keys: Optional[Sequence[str]] = None
    penalty: Optional[Callable[[], Tensor]] = None

    def extra(self) -> dict[str, Any]:
        """The hooks' states, for a checkpoint's ``extra``."""
        return {k: v for hook in self.hooks for k, v in hook.state_dict().items()}


@dataclass
class Trainee:
    """What the optimizer steps: ``model`` (``stacked``: it takes the members' batches stacked, ``(P, B, ...)``
    -> ``(P, B, classes)``; otherwise one member's ``(B, ...)`` -> ``(B, classes)``), and ``sync(p)``, called
    before member p's epoch hooks (a pack copies member p's filters into its own model there)."""

    model: nn.Module
    optimizer: Optimizer
    schedule: Schedule
    stacked: bool = False
    sync: Optional[Callable[[int], None]] = None


def _zero(device: torch.device, dtype: torch.dtype, members: int) -> torch.Tensor:
    return torch.zeros((members,), dtype=dtype, device=device)


def _inputs(pairs: Sequence, stacked: bool, device: torch.device) -> tuple[Tensor, Tensor]:
    if stacked:
        x, y = torch.stack([b[0] for b in pairs]), torch.stack([b[1] for b in pairs])
    else:
        x, y = pairs[0]
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _member_sums(logits: Tensor, y: Tensor, loss_fn: LossFn) -> tuple[Tensor, Tensor, Tensor]:
    """Per-member mean losses ``(P,)`` (with graph), and detached loss sums and correct counts ``(P,)``;
    ``logits`` ``(P, B, classes)``, ``y`` ``(P, B)``."""
    losses = torch.stack([loss_fn(logits[p], y[p]) for p in range(logits.shape[0])])
    correct = (logits.detach().argmax(dim=-1) == y).sum(dim=1)
    return losses, losses.detach().double() * y.shape[1], correct


def _forward(model: nn.Module, x: Tensor, y: Tensor, stacked: bool) -> tuple[Tensor, Tensor]:
    logits = model(x)
    return (logits, y) if stacked else (logits[None], y[None])


def _per_member(name: str, loss_sum: Tensor, correct: Tensor, seen: int) -> dict[str, list[float]]:
    return {
        f"{name}_loss": [float(s) / seen for s in loss_sum.tolist()],
        f"{name}_acc": [100.0 * int(c) / seen for c in correct.tolist()],
    }


def train_members(
    model: nn.Module,
    batches: Sequence[Batches],
    optimizer: Optimizer,
    schedule: Schedule,
    loss_fn: LossFn,
    device: torch.device,
    accum_steps: int = 1,
    stacked: bool = False,
    penalties: Sequence[Optional[Callable[[], Tensor]]] = (),
) -> dict[str, list[float]]:
    """One pass over the members' train loaders in lockstep in train mode; ``train_loss`` and ``train_acc``
    (%) per member. ``batches`` must have lengths (a DataLoader has) so that the last accumulation group is known.
    """
    model.train()
    n_batches = len(batches[0])  # type: ignore[arg-type]
    # Sums stay on the device and are read once at the end: a per-batch .item() would wait for the GPU on
    # every batch. A non-finite loss makes the sum non-finite, which the caller checks (divergence).
    loss_sum, correct, seen = _zero(device, torch.float64, len(batches)), _zero(device, torch.int64, len(batches)), 0
    extra = [p for p in penalties if p is not None]
    for i, pairs in enumerate(zip(*batches)):
        x, y = _inputs(pairs, stacked, device)
        group_start = i - i % accum_steps
        group_size = min(accum_steps, n_batches - group_start)
        if i == group_start:
            optimizer.zero_grad(set_to_none=True)
        logits, y = _forward(model, x, y, stacked)
        losses, batch_loss, batch_correct = _member_sums(logits, y, loss_fn)
        objective = losses.sum()
        for penalty in extra:
            objective = objective + penalty().to(objective.dtype)
        (objective / group_size).backward()
        if i == group_start + group_size - 1:
            optimizer.step()
            schedule.after_optimizer_step()
        loss_sum += batch_loss
        correct += batch_correct
        seen += y.shape[1]
    if seen == 0:
        raise ValueError(
            "the training loader yielded no batches: check dataset.train_sample_num and dataset.train_batch_size"
        )
    return _per_member("train", loss_sum, correct, seen)


@torch.no_grad()
def evaluate_members(
    model: nn.Module,
    batches: Sequence[Batches],
    loss_fn: LossFn,
    device: torch.device,
    stacked: bool = False,
    shared: bool = False,
    name: str = "test",
) -> dict[str, list[float]]:
    """Every member on its own loader of the eval set ``name`` in eval mode; ``<name>_loss`` / ``<name>_acc``
    (%) per member. ``shared``: the members' sets are the same items, read once from ``batches[0]``."""
    model.eval()
    P, shared = len(batches), shared and stacked
    loss_sum, correct, seen = _zero(device, torch.float64, P), _zero(device, torch.int64, P), 0
    for pairs in ((b,) for b in batches[0]) if shared else zip(*batches):
        x, y = _inputs(pairs, stacked and not shared, device)
        if shared:
            x, y = x.expand(P, *x.shape), y.expand(P, -1)
        logits, y = _forward(model, x, y, stacked)
        _, batch_loss, batch_correct = _member_sums(logits, y, loss_fn)
        loss_sum += batch_loss
        correct += batch_correct
        seen += y.shape[1]
    if seen == 0:
        raise ValueError(f"the {name} loader yielded no batches: check dataset.{name}_sample_num")
    return _per_member(name, loss_sum, correct, seen)


def train_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: Optimizer,
    schedule: Schedule,
    loss_fn: LossFn,
    device: torch.device,
    accum_steps: int = 1,
) -> dict[str, float]:
    """One training pass of a single model; ``train_loss`` and ``train_acc`` (%)."""
    metrics = train_members(model, [batches], optimizer, schedule, loss_fn, device, accum_steps)
    return {k: v[0] for k, v in metrics.items()}


def evaluate(
    model: nn.Module, batches: Batches, loss_fn: LossFn, device: torch.device, name: str = "test"
) -> dict[str, float]:
    """One evaluation pass of a single model; ``<name>_loss`` and ``<name>_acc`` (%)."""
    return {k: v[0] for k, v in evaluate_members(model, [batches], loss_fn, device, name=name).items()}


def eval_sets(loaders: Any) -> list[str]:
    """The evaluation sets ``loaders`` carries, in logging order: ``test`` (None when ``train.evaluate_test`` is
    false) and ``val`` (``dataset.val_sample_num`` > 0); their metrics are ``test_*`` and ``val_*``."""
    return [name for name in ("test", "val") if getattr(loaders, name, None) is not None]


def is_test_epoch(epoch: int, cfg: Config) -> bool:
    """Test every ``train.test_every`` epochs and always after the last one."""
    return epoch % cfg.train.test_every == 0 or epoch == cfg.train.epochs


def _same_items(members: Sequence[Member], name: str) -> bool:
    indices = [getattr(m.loaders, f"{name}_indices", None) for m in members]
    return all(i is not None and len(i) == len(indices[0]) and bool((i == indices[0]).all()) for i in indices)


def halt(members: Sequence[Member]) -> Optional[BaseException]:
    """The first error a member's logger asks the run to stop with (its optional ``halt()``, see
    :class:`~parametricSN.training.logger.Logger`), or None."""
    for m in members:
        ask = getattr(m.logger, "halt", None)
        error = ask() if ask is not None else None
        if error is not None:
            return error
    return None


def fit(
    trainee: Trainee,
    members: Sequence[Member],
    loss_fn: LossFn,
    device: torch.device,
    start_epoch: int = 1,
    sets: Optional[Sequence[str]] = None,
) -> None:
    """Train epochs ``start_epoch .. train.epochs`` of ``members`` (their configs agree on everything the loop
    reads); each member's ``history`` grows by one metric dict per epoch.

    Each epoch: ``loaders.set_epoch(epoch)`` (pins shuffle and augmentation), record the group learning
    rates in effect at its start (``lr_<group>``), train, add the metrics of each member's hooks (filter motion),
    evaluate each of ``sets`` (loader attributes; default :func:`eval_sets`) when :func:`is_test_epoch`, log each member's
    metrics at ``step=epoch``, and save a checkpoint artifact every ``train.checkpoint_every`` epochs and after the
    last one, when it is > 0 (the hooks' state in its ``extra``; a pack's one checkpoint goes to its first member's
    run and holds every member's run id, config, history and extra).

    A non-finite loss or parameter raises :class:`~parametricSN.training.divergence.DivergenceError` naming the
    member, before the epoch is logged. A stop requested by a signal (:mod:`parametricSN.training.interrupt`) ends
    the loop after the epoch in progress, with a checkpoint, by raising ``RunInterrupted``; so does a logger whose
    ``halt()`` returns an error (a tracking server away past ``mlflow.outage_limit``), which is then raised.
    """
    cfg, model, optimizer, schedule = members[0].cfg, trainee.model, trainee.optimizer, trainee.schedule
    epochs = cfg.train.epochs
    last_saved = start_epoch - 1 if start_epoch > 1 else None  # a resumed run starts from a checkpoint
    names = (
        [f"{p} (seed {m.cfg.general.seed}{', run ' + m.run_id if m.run_id else ''})" for p, m in enumerate(members)]
        if trainee.stacked
        else [""]
    )

    def save(epoch: int) -> None:
        nonlocal last_saved
        with interrupt.critical():  # a second signal must not leave a half-written checkpoint
            pack = (
                None
                if not trainee.stacked
                else [
                    {
                        "run_id": m.run_id,
                        "config": m.cfg.to_dict(),
                        "history": [dict(h) for h in m.history],
                        "extra": m.extra(),
                    }
                    for m in members
                ]
            )
            path = save_checkpoint(
                Path(tmp) / f"epoch_{epoch:04d}.pt",
                model=model,
                optimizer=optimizer,
                schedule=schedule,
                epoch=epoch,
                history=members[0].history,
                cfg=cfg,
                extra=members[0].extra(),
                members=pack,
            )
            members[0].logger.log_file(path, "checkpoints")
            path.unlink()
        last_saved = epoch

    def check(epoch: int, metrics: list[dict[str, float]]) -> None:
        check_finite(epoch, metrics, model, last_saved, names, [m.run_id for m in members])

    # fixed filters: a single run's evaluation images are scattered once per run (a pack evaluates as it is)
    cache = None if trainee.stacked else EvalCache(model)
    with tempfile.TemporaryDirectory(prefix="psn-ckpt-") as tmp:
        for epoch in range(start_epoch, epochs + 1):
            signum = interrupt.stop_requested()
            if signum is not None:  # asked to stop before the first epoch (while the data loaded)
                if last_saved != epoch - 1:
                    save(epoch - 1)
                raise interrupt.RunInterrupted(signum, epoch - 1)
            for m in members:
                m.loaders.set_epoch(epoch)
            lrs = group_lrs(optimizer)
            metrics: list[dict[str, float]] = [{k: lrs[k] for k in (m.lr_keys or lrs)} for m in members]
            train = train_members(
                model,
                [m.loaders.train for m in members],
                optimizer,
                schedule,
                loss_fn,
                device,
                cfg.train.accum_steps,
                trainee.stacked,
                [m.penalty for m in members],
            )
            schedule.after_epoch()
            for p, m in enumerate(metrics):
                m.update({k: v[p] for k, v in train.items()})
            check(epoch, metrics)
            for p, m in enumerate(members):
                if m.hooks and trainee.sync is not None:
                    trainee.sync(p)
                for hook in m.hooks:
                    metrics[p].update(hook.on_epoch_end(epoch))
            if is_test_epoch(epoch, cfg):
                for name in sets if sets is not None else eval_sets(members[0].loaders):
                    if cache is not None:
                        module, batches = cache.inputs(getattr(members[0].loaders, name))
                        scores = evaluate_members(module, [batches], loss_fn, device, name=name)
                    else:
                        scores = evaluate_members(
                            model,
                            [getattr(m.loaders, name) for m in members],
                            loss_fn,
                            device,
                            True,
                            _same_items(members, name),
                            name,
                        )
                    for p, m in enumerate(metrics):
                        m.update({k: v[p] for k, v in scores.items()})
                check(epoch, metrics)
            for m, values in zip(members, metrics):
                m.logger.log_metrics(values, step=epoch)
                m.history.append({"epoch": epoch, **values})
            every = cfg.train.checkpoint_every
            signum = interrupt.stop_requested() if epoch < epochs else None  # after the last epoch: just finish
            stop = halt(members) if epoch < epochs else None  # e.g. the tracking server away for too long
            # the last epoch too, so that a finished run can be extended (--resume RUN train.epochs=...)
            if (every > 0 and (epoch % every == 0 or epoch == epochs)) or signum is not None or stop is not None:
                save(epoch)
            if signum is not None:
                raise interrupt.RunInterrupted(signum, epoch)
            if stop is not None:
                raise halt(members) or stop  # asked again: the error may name the checkpoint just saved
