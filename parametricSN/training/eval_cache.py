"""Evaluation from cached scattering coefficients, for runs whose filters do not learn.

With fixed filters (``scattering.learnable: false``, or a model whose scattering has no trainable parameter) the
scattering coefficients of the test (and validation) images are the same at every evaluation: only the head
changes. :class:`EvalCache` computes them once per run, on the first evaluation of each loader, and later
evaluations run the head alone on them; the metrics equal the uncached evaluation exactly (the same batches
through the same head).

    cache = EvalCache(model)
    module, batches = cache.inputs(loaders.test)      # (model.head, cached coefficients) or (model, the loader)
    evaluate(module, batches, loss_fn, device)

Only for :class:`~parametricSN.models.factory.HybridModel` (``head(scattering(x))``): any other model is evaluated
as it is. The cache holds the coefficients where they were computed (the run's device): for CIFAR-10 (J=2, L=8,
3 colour channels) 62 KB per image, 0.6 GB for the whole test set. A loader whose coefficients exceed
``max_bytes`` (default 4 GiB) is not cached. The loader must yield the same images at every pass (a test loader
does: no random augmentation).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from parametricSN.models.factory import HybridModel

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
MAX_BYTES = 4 * 2**30


class EvalCache:
    """What to evaluate for each loader: the model on the images, or its head on cached coefficients."""

    def __init__(self, model: nn.Module, max_bytes: int = MAX_BYTES) -> None:
        self.model, self.max_bytes = model, max_bytes
        scattering = getattr(model, "scattering", None)
        self.enabled = (
            isinstance(model, HybridModel)
            and scattering is not None
            and not any(p.requires_grad for p in scattering.parameters())
        )
        self._cached: dict[int, Any] = {}  # id(loader) -> (loader, batches) or (loader, None): not cacheable

    def inputs(self, loader: Batches) -> tuple[nn.Module, Batches]:
        """``(module, batches)`` to pass to :func:`~parametricSN.training.loop.evaluate` for ``loader``."""
        if not self.enabled:
            return self.model, loader
        entry = self._cached.get(id(loader))
        if entry is None or entry[0] is not loader:  # (a new loader may reuse a freed one's id)
            entry = self._cached[id(loader)] = (loader, self._scatter(loader))
        return (self.model, loader) if entry[1] is None else (self.model.head, entry[1])

    @torch.no_grad()
    def _scatter(self, loader: Batches) -> Any:
        """The loader's batches as ``(coefficients, labels)`` pairs on the scattering's device, or None when they
        would take more than ``max_bytes``."""
        scattering = self.model.scattering
        scattering.eval()
        device = next(iter(scattering.buffers())).device
        batches, size = [], 0
        for x, y in loader:
            S = scattering(x.to(device, non_blocking=True))
            size += S.element_size() * S.nelement()
            if size > self.max_bytes:
                return None
            batches.append((S, y))
        return batches
