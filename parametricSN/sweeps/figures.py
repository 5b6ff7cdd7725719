"""The figures of ``psn report`` (matplotlib, PNG): how the cells compare and how they learned.

- :func:`accuracy_vs_size`: the final test accuracy against the training-set size, mean ± std over seeds per cell,
  with the published mean ± std beside it where the spec has one (``--plot FILE.png``, and
  ``accuracy_vs_size.png`` of ``--figures DIR``);
- :func:`accuracy_curves`: the test accuracy over epochs, the mean over a cell's seeds with their spread (± std)
  shaded; cells that differ only in ``scattering.learnable`` share a panel, so learnable and fixed filters are
  compared at every epoch (``test_acc_curves.png`` of ``--figures DIR``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# a report's cells (parametricSN.sweeps.tables.Group: params, mean, std, n, published, run_ids) and how a row of
# the report is labelled (tables.row_label: params, keys -> "TF LS+LL"); passed in, so that tables imports this
Group = Any
Label = Callable[[dict[str, str], list[str]], str]

SIZE_KEY = "dataset.train_sample_num"
LEARNABLE_KEY = "scattering.learnable"
SIZE_FIGURE, CURVES_FIGURE = "accuracy_vs_size.png", "test_acc_curves.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_vs_size(groups: Sequence[Group], by: list[str], path: Path, title: str, row_label: Label) -> Path:
    """Accuracy vs training-set size with ±std error bars, one line per combination of the other keys (labelled by
    ``row_label``); the published mean ± std of a cell, where known, as an open marker of the same colour beside
    it."""
    plt = _pyplot()
    rest = [k for k in by if k != SIZE_KEY]
    lines: dict[str, list[Group]] = {}
    for g in groups:
        lines.setdefault(row_label(g.params, rest), []).append(g)
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, gs in lines.items():
        gs = sorted(gs, key=lambda g: float(g.params.get(SIZE_KEY, "0")))
        x = [float(g.params.get(SIZE_KEY, "nan")) for g in gs]
        drawn = ax.errorbar(
            x,
            [g.mean for g in gs],
            yerr=[0.0 if math.isnan(g.std) else g.std for g in gs],
            marker="o",
            capsize=3,
            label=label,
        )
        known = [(xi, g.published) for xi, g in zip(x, gs) if g.published is not None]
        if known:
            ax.errorbar(
                [xi * 1.04 for xi, _ in known],  # beside ours, not on top of it
                [p.mean for _, p in known],
                yerr=[p.std for _, p in known],
                marker="o",
                mfc="white",
                linestyle="none",
                capsize=3,
                color=drawn.lines[0].get_color(),
                label=f"{label} (published)",
            )
    if len({g.params.get(SIZE_KEY) for g in groups}) > 1:
        ax.set_xscale("log")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def mean_curve(histories: Sequence[dict[int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, mean, std) over the seeds' ``{epoch: value}`` histories, at the epochs every seed has (std 0 for
    a single seed)."""
    common = sorted(set.intersection(*(set(h) for h in histories))) if histories else []
    values = np.array([[h[e] for e in common] for h in histories], dtype=float).reshape(len(histories), len(common))
    std = values.std(axis=0, ddof=1) if len(histories) > 1 else np.zeros(len(common))
    return np.array(common), values.mean(axis=0), std


def accuracy_curves(
    groups: Sequence[Group], by: list[str], histories: dict[str, dict[int, float]], path: Path, title: str
) -> Path:
    """Mean test accuracy over epochs per cell with the seeds' ± std shaded; ``histories``: run id -> its
    ``{epoch: test_acc}``. One panel per cell, learnable and fixed cells of otherwise equal params together."""
    from parametricSN.naming import short_value

    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    rest = [k for k in by if k != LEARNABLE_KEY]
    panels: dict[str, list[Group]] = {}
    for g in groups:
        panels.setdefault(" ".join(short_value(k, g.params.get(k, ""), k.rsplit(".", 1)[-1]) for k in rest), []).append(
            g
        )
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False, sharey=True)
    for ax, (name, gs) in zip(axes.flat, panels.items()):
        for g in sorted(gs, key=lambda g: g.params.get(LEARNABLE_KEY) != "True"):
            epochs, mean, std = mean_curve([histories[r] for r in g.run_ids if histories.get(r)])
            if not len(epochs):
                continue
            kind = {"True": "learnable", "False": "fixed"}.get(g.params.get(LEARNABLE_KEY, ""), "")
            label = f"{kind + ' ' if LEARNABLE_KEY in by else ''}(n={g.n})"
            (line,) = ax.plot(epochs, mean, marker="." if len(epochs) < 30 else None, label=label)
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs
        ax.set_title(name or "all runs", fontsize="medium")
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"{title}: test accuracy, mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def accuracy_histories(client: Any, run_ids: Sequence[str]) -> dict[str, dict[int, float]]:
    """run id -> ``{epoch: test_acc}`` (MLflow's metric history of each run)."""
    from parametricSN.tracking.store import retry_locked

    return {r: {m.step: m.value for m in retry_locked(client.get_metric_history, r, "test_acc")} for r in run_ids}


def write_figures(
    client: Any, groups: Sequence[Group], by: list[str], folder: Path, title: str, row_label: Label
) -> list[Path]:
    """Every figure of the report into ``folder`` (created): :data:`SIZE_FIGURE` and :data:`CURVES_FIGURE`."""
    folder.mkdir(parents=True, exist_ok=True)
    histories = accuracy_histories(client, [r for g in groups for r in g.run_ids])
    return [
        accuracy_vs_size(groups, by, folder / SIZE_FIGURE, title, row_label),
        accuracy_curves(groups, by, histories, folder / CURVES_FIGURE, title),
    ]
