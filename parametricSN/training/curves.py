"""Learning curves of a run's history as matplotlib figures (each on its own Agg canvas, never pyplot)."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from parametricSN.viz.render import new_figure

# artifact name -> (title, y label, metric prefixes or names plotted on it)
CURVES = {
    "figures/loss.png": ("Loss", "loss", ("train_loss", "test_loss")),
    "figures/accuracy.png": ("Accuracy", "accuracy (%)", ("train_acc", "test_acc")),
    "figures/lr.png": ("Learning rate (at epoch start)", "lr", ("lr_",)),
    "figures/filter_motion.png": ("Filter-parameter motion", "mean |p - p0|", ("motion_",)),
}


def _series(history: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, tuple[list, list]]:
    names = sorted(
        {k for h in history for k in h if any(k == p or (p.endswith("_") and k.startswith(p)) for p in keys)}
    )
    return {n: ([h["epoch"] for h in history if n in h], [h[n] for h in history if n in h]) for n in names}


def curve_figures(history: list[dict[str, Any]]) -> dict[str, Figure]:
    """``{artifact name: figure}`` for loss, accuracy, learning rates and (when measured) filter motion.

    Curves with no data in ``history`` are left out.
    """
    figures = {}
    for name, (title, ylabel, keys) in CURVES.items():
        series = _series(history, keys)
        if not series:
            continue
        fig = new_figure(6, 4)
        ax = fig.add_subplot()
        for label, (x, y) in series.items():
            ax.plot(x, y, marker="o" if len(x) < 30 else None, markersize=3, label=label)
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        figures[name] = fig
    return figures
