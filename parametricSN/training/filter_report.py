"""What a run shows of its learnable filters: how far they moved, before/after figures and the training animation.

- every epoch: ``motion_<name> = mean |p - p_initial|`` for each parameter of the wavelet family (Morlet: θ, ξ, σ,
  slant, as ``motion_theta`` ...; for the
  pixelwise parameterization, which has none, the Fourier filters themselves as ``motion_filters``), and the
  frame bounds ``frame_A`` / ``frame_B`` of the current bank (min and max of its Littlewood–Paley sum, see
  :mod:`parametricSN.scattering.frames`) and ``frame_distance``, the mean squared distance of that sum from the
  initial one (what ``scattering.tightness`` penalises);

- ``viz.figures``: ``filters/fourier_before.png``, ``filters/fourier_after.png`` (the ``J × L`` wavelet grids) and
  ``filters/params.png`` (how the family's parameters moved), ``filters/littlewood_paley_before.png`` and
  ``filters/littlewood_paley_after.png`` (the Littlewood–Paley sum with A and B, on one colour scale);
- ``viz.animation_every = N > 0``: ``filters/animation.gif``, one frame at the start and every ``N`` epochs
  (and after the last epoch).

Only for a learnable scattering layer: fixed filters do not move and there is nothing to follow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import torch
from torch import nn

from parametricSN.config import Config
from parametricSN.models import learnable_scattering
from parametricSN.scattering.frames import bank_littlewood_paley, frame_bounds, lp_distance
from parametricSN.training.logger import Logger

if TYPE_CHECKING:
    from parametricSN.viz import FilterAnimation

KIND = "fourier"
LP_KEY = "littlewood_paley"  # the initial Littlewood–Paley sum, kept in ``initial`` beside the filter parameters


def filter_snapshot(scattering: nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU copies of the filter parameters of ``scattering`` (or of its Fourier filters, ``filters``,
    when it has no parameters: the pixelwise parameterization)."""
    params = scattering.filter_params() or {"filters": scattering.filters()}
    return {k: v.detach().to("cpu", copy=True) for k, v in params.items()}


def littlewood_paley_sum(scattering: nn.Module) -> torch.Tensor:
    """The detached CPU Littlewood–Paley sum of ``scattering``'s current bank (float64)."""
    with torch.no_grad():
        return bank_littlewood_paley(scattering).cpu()


def frame_metrics(lp: torch.Tensor) -> dict[str, float]:
    """``frame_A`` / ``frame_B``: the frame bounds of the Littlewood–Paley sum ``lp``."""
    A, B = frame_bounds(lp)
    return {"frame_A": float(A), "frame_B": float(B)}


def filter_motion(initial: dict[str, torch.Tensor], current: dict[str, torch.Tensor]) -> dict[str, float]:
    """``motion_<name> = mean |p - p_initial|`` for each filter parameter present in both."""
    return {
        f"motion_{k}": float((current[k].double() - v.double()).abs().mean())
        for k, v in initial.items()
        if k in current and current[k].shape == v.shape
    }


class FilterReport:
    """The epoch hook of :func:`parametricSN.training.loop.fit` that follows the filters of ``model.scattering``:
    :meth:`on_epoch_end` returns their motion since the start (``initial``: a resumed run's, from its checkpoint)
    and records animation frames; :meth:`log` stores the figures once training is over. Without a learnable
    scattering layer it measures and logs nothing."""

    def __init__(self, model: nn.Module, cfg: Config, initial: Optional[dict[str, torch.Tensor]] = None) -> None:
        self.scattering = learnable_scattering(model)
        self.figures = cfg.viz.figures
        self.every = cfg.viz.animation_every
        self.epochs = cfg.train.epochs
        self.animation: Optional[FilterAnimation] = None
        self.initial: dict[str, torch.Tensor] = {}
        if self.scattering is None:
            return
        self.initial = dict(initial) if initial else filter_snapshot(self.scattering)
        self.filters_before = self.scattering.filters()
        self.params_before = {k: v.detach().cpu().clone() for k, v in self.scattering.filter_params().items()}
        # the initial frame travels with the initial filters (checkpoints); filter_motion skips it (no current twin)
        self.lp_before = self.initial.get(LP_KEY)
        if self.lp_before is None:
            self.lp_before = self.initial[LP_KEY] = littlewood_paley_sum(self.scattering)
        if self.every > 0:
            from parametricSN.viz import FilterAnimation  # matplotlib: imported only by runs that draw

            self.animation = FilterAnimation(kind=KIND, L=self.scattering.L)
            self.animation.add_frame(self.filters_before.cpu(), "epoch 0")

    def on_epoch_end(self, epoch: int) -> dict[str, float]:
        """The filters' motion and frame bounds after training epoch ``epoch`` (and an animation frame when one is
        due)."""
        if self.scattering is None:
            return {}
        if self.animation is not None and (epoch % self.every == 0 or epoch == self.epochs):
            self.animation.add_frame(self.scattering.filters().cpu(), f"epoch {epoch}")
        metrics = filter_motion(self.initial, filter_snapshot(self.scattering))
        lp = littlewood_paley_sum(self.scattering)
        metrics.update(frame_metrics(lp))
        metrics["frame_distance"] = float(lp_distance(lp, self.lp_before))
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """``{"initial_filters": ...}``: what a resumed run passes back as ``initial``."""
        return {"initial_filters": self.initial}

    def log(self, logger: Logger) -> None:
        if self.scattering is None:
            return
        S = self.scattering
        if self.figures:
            from parametricSN.viz import filter_figure, filter_params_figure, littlewood_paley_figure

            after = {k: v.detach().cpu() for k, v in S.filter_params().items()}
            logger.log_figure(
                filter_figure(self.filters_before.cpu(), S.L, KIND, title="filters before training"),
                f"filters/{KIND}_before.png",
            )
            logger.log_figure(
                filter_figure(S.filters().cpu(), S.L, KIND, title="filters after training"), f"filters/{KIND}_after.png"
            )
            logger.log_figure(
                filter_params_figure(self.params_before, after, S.L, family=S.family), "filters/params.png"
            )
            lp_after = littlewood_paley_sum(S)
            vmax = float(max(self.lp_before.max(), lp_after.max()))
            for when, lp in (("before", self.lp_before), ("after", lp_after)):
                logger.log_figure(
                    littlewood_paley_figure(lp, title=f"Littlewood–Paley sum {when} training", vmax=vmax),
                    f"filters/littlewood_paley_{when}.png",
                )
        if self.animation is not None:
            with tempfile.TemporaryDirectory(prefix="psn-gif-") as tmp:
                logger.log_file(self.animation.save_gif(Path(tmp) / "animation.gif"), "filters")
