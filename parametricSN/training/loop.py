"""The epoch loop: one training pass, one evaluation pass, and :func:`fit` running epochs with logging.

Accuracies are percentages (0-100, as the paper reports them); losses are per-sample means over the epoch.

Gradient accumulation with ``k = train.accum_steps``: the batches of an epoch are taken in consecutive groups
of ``k``; each batch's mean loss is multiplied by ``1/m`` where ``m`` is the number of batches in its group
(``k``, or fewer for the last group of the epoch), the gradients of the group add up, and then the optimizer
steps once (and a per-step schedule with it). With equal batch sizes the step's gradient is therefore exactly
the gradient of the mean loss over the whole group — the same as one batch ``m`` times larger, for models
without batch statistics.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional, Protocol, Sequence

import torch
from torch import nn
from torch.optim import Optimizer
from tqdm.auto import tqdm

from parametricSN.config import Config
from parametricSN.training import interrupt
from parametricSN.training.checkpoint import save_checkpoint
from parametricSN.training.divergence import check_finite
from parametricSN.training.logger import Logger
from parametricSN.training.losses import LossFn
from parametricSN.training.optim import Schedule, group_lrs
from parametricSN.training.validation import evaluate_splits

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class EpochHook(Protocol):
    """Something :func:`fit` calls after every training epoch (e.g. the filter report, which measures how far
    the filters moved): it returns metrics to log with the epoch, and its state for checkpoints."""

    def on_epoch_end(self, epoch: int) -> dict[str, float]:
        """Metrics of the model after training epoch ``epoch`` (logged with the epoch's others)."""

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue (stored in the checkpoint's ``extra``)."""


def train_epoch(model: nn.Module, batches: Batches, optimizer: Optimizer, schedule: Schedule, loss_fn: LossFn,
                device: torch.device, accum_steps: int = 1, desc: str = "train") -> dict[str, float]:
    """One pass over ``batches`` in train mode; returns ``train_loss`` and ``train_acc`` (%).

    ``batches`` must have a length (a DataLoader does) so that the last accumulation group is known.
    """
    model.train()
    n_batches = len(batches)  # type: ignore[arg-type]
    # Sums stay on the device and are read once at the end: a per-batch .item() would wait for the GPU on
    # every batch. A non-finite loss makes the sum non-finite, which the caller checks (divergence).
    loss_sum, correct, seen = _zero(device, torch.float64), _zero(device, torch.int64), 0
    for i, (x, y) in enumerate(tqdm(batches, desc=desc, leave=False, disable=None)):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        group_start = i - i % accum_steps
        group_size = min(accum_steps, n_batches - group_start)
        if i == group_start:
            optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = loss_fn(logits, y)
        (loss / group_size).backward()
        if i == group_start + group_size - 1:
            optimizer.step()
            schedule.after_optimizer_step()
        loss_sum += loss.detach().double() * len(y)
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += len(y)
    if seen == 0:
        raise ValueError("the training loader yielded no batches: check dataset.train_sample_num and "
                         "dataset.train_batch_size")
    return {"train_loss": float(loss_sum) / seen, "train_acc": 100.0 * int(correct) / seen}


def _zero(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros((), dtype=dtype, device=device)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, loss_fn: LossFn, device: torch.device,
             desc: str = "test") -> dict[str, float]:
    """One pass over ``batches`` in eval mode; returns ``test_loss`` and ``test_acc`` (%)."""
    model.eval()
    loss_sum, correct, seen = _zero(device, torch.float64), _zero(device, torch.int64), 0
    for x, y in tqdm(batches, desc=desc, leave=False, disable=None):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        loss_sum += loss_fn(logits, y).double() * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(y)
    if seen == 0:
        raise ValueError("the test loader yielded no batches: check dataset.test_sample_num")
    return {"test_loss": float(loss_sum) / seen, "test_acc": 100.0 * int(correct) / seen}


def is_test_epoch(epoch: int, cfg: Config) -> bool:
    """Test every ``train.test_every`` epochs and always after the last one."""
    return epoch % cfg.train.test_every == 0 or epoch == cfg.train.epochs


def fit(cfg: Config, model: nn.Module, loaders: Any, optimizer: Optimizer, schedule: Schedule, loss_fn: LossFn,
        device: torch.device, logger: Logger, start_epoch: int = 1,
        history: Optional[list[dict[str, float]]] = None, hooks: Sequence[EpochHook] = ()
        ) -> list[dict[str, float]]:
    """Train epochs ``start_epoch .. train.epochs`` and return the per-epoch history.

    Each epoch: ``loaders.set_epoch(epoch)`` (pins shuffle and augmentation), record the group learning
    rates in effect at its start (``lr_<group>``), train, add the metrics of each of ``hooks`` (filter motion),
    test when :func:`is_test_epoch`, log the metrics at ``step=epoch``, and save a checkpoint artifact every
    ``train.checkpoint_every`` epochs and after the last one, when it is > 0 (the hooks' state in its ``extra``).
    ``history`` carries a resumed run's past.

    A non-finite loss or parameter raises :class:`~parametricSN.training.divergence.DivergenceError` before
    the epoch is logged. A stop requested by a signal (:mod:`parametricSN.training.interrupt`) ends the loop
    after the epoch in progress, with a checkpoint, by raising ``RunInterrupted``.
    """
    history = list(history or [])
    epochs = cfg.train.epochs
    last_saved = start_epoch - 1 if start_epoch > 1 else None  # a resumed run starts from a checkpoint

    def save(epoch: int) -> None:
        nonlocal last_saved
        with interrupt.critical():  # a second signal must not leave a half-written checkpoint
            path = save_checkpoint(Path(tmp) / f"epoch_{epoch:04d}.pt", model=model, optimizer=optimizer,
                                   schedule=schedule, epoch=epoch, history=history, cfg=cfg,
                                   extra={k: v for hook in hooks for k, v in hook.state_dict().items()})
            logger.log_file(path, "checkpoints")
            path.unlink()
        last_saved = epoch

    with tempfile.TemporaryDirectory(prefix="psn-ckpt-") as tmp:
        bar = tqdm(range(start_epoch, epochs + 1), desc="epochs", disable=None)
        for epoch in bar:
            signum = interrupt.stop_requested()
            if signum is not None:  # asked to stop before the first epoch (while the data loaded)
                if last_saved != epoch - 1:
                    save(epoch - 1)
                raise interrupt.RunInterrupted(signum, epoch - 1)
            loaders.set_epoch(epoch)
            metrics: dict[str, float] = group_lrs(optimizer)
            metrics.update(train_epoch(model, loaders.train, optimizer, schedule, loss_fn, device,
                                       cfg.train.accum_steps, desc=f"epoch {epoch}/{epochs}"))
            schedule.after_epoch()
            check_finite(epoch, metrics, model, last_saved)
            for hook in hooks:
                metrics.update(hook.on_epoch_end(epoch))
            if is_test_epoch(epoch, cfg):  # test and validation sets (issue 18: training/validation.py)
                metrics.update(evaluate_splits(evaluate, model, loaders, loss_fn, device))
                check_finite(epoch, metrics, model, last_saved)
            logger.log_metrics(metrics, step=epoch)
            history.append({"epoch": epoch, **metrics})
            bar.set_postfix({k: round(metrics[k], 4) for k in ("train_loss", "test_acc") if k in metrics})
            every = cfg.train.checkpoint_every
            signum = interrupt.stop_requested() if epoch < epochs else None  # after the last epoch: just finish
            # the last epoch too, so that a finished run can be extended (--resume RUN train.epochs=...)
            if (every > 0 and (epoch % every == 0 or epoch == epochs)) or signum is not None:
                save(epoch)
            if signum is not None:
                raise interrupt.RunInterrupted(signum, epoch)
    return history
