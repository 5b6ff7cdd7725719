"""One figure per deformation: the paper's curves and an example image before and after.

Left: relative distance ‖Φ(x̃) − Φ(x)‖ / ‖Φ(x)‖ against strength, one solid curve per model with its random-pair
baseline dashed in the same colour (for ``random-diffeo`` a second panel shows R = D / G, with R = 1 dotted).
Right: the first test image and its deformation at the largest strength, in pixel range. Built on a plain
Agg ``Figure`` (``parametricSN.viz.render``), never pyplot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from parametricSN.deformation.evaluation import Example, Row
from parametricSN.deformation.warps import UNITS
from parametricSN.viz.render import new_figure


def _curves(rows: Sequence[Row]) -> dict[str, list[Row]]:
    by_model: dict[str, list[Row]] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    return by_model


def _show(ax, img: np.ndarray, title: str) -> None:
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def deformation_figure(
    kind: str, rows: Sequence[Row], example: Example, before: np.ndarray, after: np.ndarray
) -> Figure:
    """The figure of deformation ``kind`` from its ``rows`` (all models) and the example images ``before`` /
    ``after`` (already in pixel range, (H, W) or (H, W, 3))."""
    stability = kind == "random-diffeo"
    ncols = 4 if stability else 3
    fig = new_figure(4.2 * (ncols - 1) + 2.4, 4.2)
    grid = fig.add_gridspec(2, ncols, width_ratios=[3] * (ncols - 2) + [1, 1] if stability else [3, 1, 1])
    ax = fig.add_subplot(grid[:, 0])
    ax_r = fig.add_subplot(grid[:, 1]) if stability else None
    colors = [f"C{i % 10}" for i in range(len(_curves(rows)))]
    for color, (model, curve) in zip(colors, _curves(rows).items()):
        x = [r.strength for r in curve]
        ax.plot(x, [r.distance for r in curve], "o-", color=color, label=model, markersize=3)
        ax.axhline(curve[0].baseline, color=color, linestyle="--", linewidth=1)
        if ax_r is not None:
            ax_r.plot(x[1:], [r.R for r in curve[1:]], "o-", color=color, markersize=3)
    ax.set_xlabel(UNITS[kind])
    ax.set_ylabel("‖Φ(x̃) − Φ(x)‖ / ‖Φ(x)‖  (dashed: different images)")
    ax.set_title(kind)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="lower right")  # below the baselines, under the rising curves
    if ax_r is not None:
        ax_r.axhline(1.0, color="black", linestyle=":", linewidth=1)
        ax_r.set_xscale("log")
        ax_r.set_xlabel(UNITS[kind])
        ax_r.set_ylabel("R = D / G  (< 1: more stable to diffeos than to noise)")
        ax_r.set_title("relative stability")
    _show(fig.add_subplot(grid[:, -2]), before, "original")
    _show(fig.add_subplot(grid[:, -1]), after, f"{kind} {example.strength:.3g}")
    fig.tight_layout()
    return fig
