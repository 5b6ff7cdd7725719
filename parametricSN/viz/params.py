r"""How the Morlet parameters moved: frequency centres and envelope shapes, before → after, per filter.

Left: the frequency centre :math:`\omega_n = \xi_n(\cos\theta_n, \sin\theta_n)` of every filter on a polar
plot (angle :math:`\arg\omega_n`, radius :math:`|\xi_n|`), oriented like the ``"fourier"`` panels of
:func:`parametricSN.viz.filter_figure`: θ = 0 points down, θ = π/2 points right, so each point sits where
that filter's blob is. The dashed circle is the Nyquist frequency π. Right: the envelope, width σ (log scale)
against slant γ. Hollow markers are *before*, filled ones *after*, an arrow joins them; colour = scale ``j``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter
from torch import Tensor

from parametricSN.scattering.filters import PARAM_NAMES
from parametricSN.viz.render import new_figure


def _as_arrays(params: Mapping[str, Tensor], which: str) -> dict[str, np.ndarray]:
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(
            f"{which} parameters lack {missing}; pass ParametricScattering2D.filter_params() (keys {PARAM_NAMES})"
        )
    return {k: torch.as_tensor(params[k]).detach().cpu().to(torch.float64).reshape(-1).numpy() for k in PARAM_NAMES}


def _check(before: Mapping[str, Tensor], after: Mapping[str, Tensor], L: int) -> tuple[dict, dict]:
    b, a = _as_arrays(before, "before"), _as_arrays(after, "after")
    n = len(b["theta"])
    sizes = {f"{w}.{k}": len(v) for w, d in (("before", b), ("after", a)) for k, v in d.items()}
    if set(sizes.values()) != {n}:
        raise ValueError(f"every parameter vector must have one entry per filter, got lengths {sizes}")
    if not (isinstance(L, int) and L >= 1) or n == 0 or n % L != 0:
        raise ValueError(
            f"{n} filters cannot be split into scales of L={L!r} orientations; pass the L of the "
            "scattering layer that made them"
        )
    return b, a


def _no_parameters_figure() -> Figure:
    fig = new_figure(6.0, 2.0)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        "No Morlet parameters to plot: the pixelwise parameterization learns the Fourier\n"
        "coefficients of each filter directly. See the filter figures instead.",
        ha="center",
        va="center",
        fontsize=10,
        transform=ax.transAxes,
    )
    return fig


def _arrows(ax, start: tuple[np.ndarray, np.ndarray], end: tuple[np.ndarray, np.ndarray], colors) -> None:
    """One arrow per filter from ``start`` to ``end`` (data coordinates of ``ax``); none where nothing moved."""
    for x0, y0, x1, y1, c in zip(*start, *end, colors):
        if math.isclose(x0, x1, abs_tol=1e-12) and math.isclose(y0, y1, abs_tol=1e-12):
            continue
        ax.annotate(
            "", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color=c, lw=0.8, shrinkA=2, shrinkB=2)
        )


def filter_params_figure(
    before: Mapping[str, Tensor], after: Mapping[str, Tensor], L: int, title: str = "filter parameters: before → after"
) -> Figure:
    """Two panels (``fig.axes[0]`` polar frequency centres, ``fig.axes[1]`` σ vs slant), see the module doc.

    ``before`` / ``after`` are :meth:`ParametricScattering2D.filter_params` dicts (``theta, xi, sigma, slant``,
    one entry per filter ``n = j*L + l``); take ``before`` as a detached copy before training — for the
    canonical parameterization the dict holds the live parameters, which the optimizer updates in place.
    Both empty (the pixelwise parameterization) gives a one-panel figure saying there is nothing to plot;
    one empty and not the other, missing keys or mismatched lengths raise ``ValueError``.
    """
    if not before and not after:
        return _no_parameters_figure()
    if not before or not after:
        raise ValueError("before and after must both hold the filter parameters, or both be empty (pixelwise)")
    b, a = _check(before, after, L)
    J = len(b["theta"]) // L
    palette = [f"C{j % 10}" for j in range(J)]
    colors = [palette[n // L] for n in range(J * L)]

    fig = new_figure(10.0, 4.8)
    fig.subplots_adjust(left=0.04, right=0.88, bottom=0.12, top=0.82, wspace=0.3)
    polar = fig.add_subplot(1, 2, 1, projection="polar")
    polar.set_theta_zero_location("S")  # θ = 0 points down, like axis 0 of the fftshift-ed Fourier panels
    polar.set_theta_direction(1)  # counter-clockwise: θ = π/2 points right, like axis 1
    env = fig.add_subplot(1, 2, 2)

    def centre(d: dict) -> tuple[np.ndarray, np.ndarray]:
        # ξ may turn negative while training; ξ(cos θ, sin θ) is then the point at θ + π, radius |ξ|
        w1, w2 = d["xi"] * np.cos(d["theta"]), d["xi"] * np.sin(d["theta"])
        return np.arctan2(w2, w1), np.hypot(w1, w2)

    for d, face in ((b, "none"), (a, colors)):
        angle, radius = centre(d)
        polar.scatter(angle, radius, s=28, facecolors=face, edgecolors=colors, linewidths=1.0, zorder=3)
        env.scatter(d["sigma"], d["slant"], s=28, facecolors=face, edgecolors=colors, linewidths=1.0, zorder=3)
    _arrows(polar, centre(b), centre(a), colors)
    _arrows(env, (b["sigma"], b["slant"]), (a["sigma"], a["slant"]), colors)

    circle = np.linspace(0, 2 * np.pi, 181)
    polar.plot(circle, np.full_like(circle, np.pi), ls="--", lw=0.8, color="0.5")
    rmax = max(np.pi, float(np.abs(b["xi"]).max()), float(np.abs(a["xi"]).max()))
    polar.set_rmax(1.08 * rmax)
    polar.set_rlabel_position(100)
    polar.tick_params(labelsize=7)
    polar.set_title("frequency centres ξ(cos θ, sin θ)\n(dashed: Nyquist π)", fontsize=9, pad=14)

    sigmas = np.concatenate([b["sigma"], a["sigma"]])
    if np.all(sigmas > 0):  # σ = 0.8·2^j at init: a base-2 log axis puts one scale per tick
        env.set_xscale("log", base=2)
        env.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        env.xaxis.set_minor_formatter(NullFormatter())
    env.set_xlabel("width σ (pixels)")
    env.set_ylabel("slant γ")
    env.grid(True, lw=0.4, alpha=0.5)
    env.set_title("Gaussian envelope", fontsize=9)

    handles = [Line2D([], [], marker="o", ls="", color=palette[j], label=f"j = {j}") for j in range(J)]
    handles += [
        Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="k", label="before"),
        Line2D([], [], marker="o", ls="", color="k", label="after"),
    ]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    return fig
