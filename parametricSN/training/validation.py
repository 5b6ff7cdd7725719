"""The evaluation passes of a test epoch beside the training pass: the test split (unless ``train.evaluate_test``
is false) and the validation split (``dataset.val_sample_num``), whose metrics are prefixed ``val_``.

The epoch loop calls :func:`evaluate_splits` once per test epoch; a split is any loader the run's ``loaders``
carry as ``test`` / ``val`` (None: not evaluated).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from parametricSN.training.losses import LossFn


def eval_sets(loaders: Any) -> list[tuple[str, Any]]:
    """``[(prefix, loader), ...]`` of the named evaluation sets ``loaders`` has: ``test`` then ``val``."""
    return [(name, loader) for name in ("test", "val") if (loader := getattr(loaders, name, None)) is not None]


def evaluate_splits(evaluate: Callable[..., dict[str, float]], model: nn.Module, loaders: Any, loss_fn: LossFn,
                    device: torch.device) -> dict[str, float]:
    """``test_loss``/``test_acc`` and ``val_loss``/``val_acc`` (%) of ``model`` on the sets of :func:`eval_sets`,
    each from one ``evaluate(model, loader, loss_fn, device, desc=name)`` pass (which returns ``test_*`` keys)."""
    metrics: dict[str, float] = {}
    for name, loader in eval_sets(loaders):
        result = evaluate(model, loader, loss_fn, device, desc=name)
        metrics.update({f"{name}_{key.split('_', 1)[1]}": value for key, value in result.items()})
    return metrics
