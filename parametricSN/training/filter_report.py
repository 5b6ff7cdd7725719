"""What a run shows of its learnable filters: before/after figures and the training animation.

- ``viz.figures``: ``filters/fourier_before.png``, ``filters/fourier_after.png`` (the ``J × L`` wavelet grids) and
  ``filters/params.png`` (how θ, ξ, σ, slant moved);
- ``viz.animation_every = N > 0``: ``filters/animation.gif``, one frame at the start and every ``N`` epochs
  (and after the last epoch).

Only for a learnable scattering layer: fixed filters do not move and there is nothing to follow.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

from torch import nn

from parametricSN.config import Config
from parametricSN.models import learnable_scattering
from parametricSN.training.logger import Logger
from parametricSN.viz import FilterAnimation, filter_figure, filter_params_figure

KIND = "fourier"


class FilterReport:
    """Record the filters of ``model.scattering`` during :func:`parametricSN.training.loop.fit` and log the
    figures afterwards. Call :meth:`on_epoch_end` after each epoch and :meth:`log` once at the end."""

    def __init__(self, model: nn.Module, cfg: Config) -> None:
        self.scattering = learnable_scattering(model)
        self.figures = cfg.viz.figures
        self.every = cfg.viz.animation_every
        self.epochs = cfg.train.epochs
        self.animation: Optional[FilterAnimation] = None
        if self.scattering is None:
            return
        self.filters_before = self.scattering.filters()
        self.params_before = {k: v.detach().cpu().clone() for k, v in self.scattering.filter_params().items()}
        if self.every > 0:
            self.animation = FilterAnimation(kind=KIND, L=self.scattering.L)
            self.animation.add_frame(self.filters_before.cpu(), "epoch 0")

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.animation is not None and (epoch % self.every == 0 or epoch == self.epochs):
            self.animation.add_frame(self.scattering.filters().cpu(), f"epoch {epoch}")

    def log(self, logger: Logger) -> None:
        if self.scattering is None:
            return
        S = self.scattering
        if self.figures:
            after = {k: v.detach().cpu() for k, v in S.filter_params().items()}
            logger.log_figure(filter_figure(self.filters_before.cpu(), S.L, KIND, title="filters before training"),
                              f"filters/{KIND}_before.png")
            logger.log_figure(filter_figure(S.filters().cpu(), S.L, KIND, title="filters after training"),
                              f"filters/{KIND}_after.png")
            logger.log_figure(filter_params_figure(self.params_before, after, S.L), "filters/params.png")
        if self.animation is not None:
            with tempfile.TemporaryDirectory(prefix="psn-gif-") as tmp:
                logger.log_file(self.animation.save_gif(Path(tmp) / "animation.gif"), "filters")
