r"""The Littlewood–Paley sum of a filter bank as an image, with its frame bounds A and B.

``lp`` is :func:`parametricSN.scattering.frames.littlewood_paley` of a bank, ``(M, N)``, zero frequency at index
``[0, 0]``; the figure shows it fftshift-ed, like the ``"fourier"`` panels of :func:`parametricSN.viz.filter_figure`
(zero frequency at pixel ``(M//2, N//2)``, axis 0 down), with a colour bar and A = min, B = max in the title.
"""

from __future__ import annotations

from typing import Optional

import torch
from matplotlib.figure import Figure
from torch import Tensor

from parametricSN.viz.render import new_figure


def littlewood_paley_figure(lp: Tensor, title: Optional[str] = None, vmax: Optional[float] = None) -> Figure:
    """One panel: ``fftshift(lp)`` (viridis from 0 to ``vmax``, default the sum's maximum) with a colour bar;
    the title ends with the frame bounds ``A = min lp``, ``B = max lp``. The figure size is fixed, so figures of
    two banks (before / after training) render to images of the same size; pass the same ``vmax`` to compare
    their colours too."""
    lp = torch.as_tensor(lp).detach().cpu().to(torch.float64)
    if lp.ndim != 2:
        raise ValueError(f"lp must be one Littlewood–Paley sum of shape (M, N), got {tuple(lp.shape)}")
    A, B = float(lp.min()), float(lp.max())
    fig = new_figure(4.4, 4.0)
    ax = fig.add_axes((0.08, 0.06, 0.72, 0.78))
    image = ax.imshow(
        torch.fft.fftshift(lp).numpy(),
        cmap="viridis",
        vmin=0.0,
        vmax=B if vmax is None else vmax,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(image, cax=fig.add_axes((0.83, 0.06, 0.04, 0.78)))
    head = title if title is not None else "Littlewood–Paley sum (zero frequency centred)"
    ratio = f", B/A = {B / A:.3g}" if A > 0 else ""
    fig.suptitle(f"{head}\nA = {A:.4g}, B = {B:.4g}{ratio}", fontsize=9)
    return fig
