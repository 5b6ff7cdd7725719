r"""How a wavelet family's parameters moved, before → after, per filter; the panels come from the family.

First, for a family with an orientation and a frequency parameter (Morlet: θ, ξ): the frequency centre
:math:`\omega_n = \xi_n(\cos\theta_n, \sin\theta_n)` of every filter on a polar plot (angle :math:`\arg\omega_n`,
radius :math:`|\xi_n|`), oriented like the ``"fourier"`` panels of :func:`parametricSN.viz.filter_figure`: θ = 0
points down, θ = π/2 points right, so each point sits where that filter's blob is. The dashed circle is the Nyquist
frequency π. Then the family's other parameters two at a time, one against the other (Morlet: width σ, log scale,
against slant γ; Cauchy: aperture against order), and a last odd one against the filter index; axes are labelled
with each parameter's meaning and unit as the family declares them. Hollow markers are *before*, filled ones
*after*, an arrow joins them; colour = scale ``j``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Optional

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter
from torch import Tensor

from parametricSN.scattering.families import DEFAULT_FAMILY, WaveletFamily, get_family
from parametricSN.viz.render import new_figure


def _as_arrays(params: Mapping[str, Tensor], which: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(
            f"{which} parameters lack {missing}; pass ParametricScattering2D.filter_params() (keys {names})"
        )
    return {k: torch.as_tensor(params[k]).detach().cpu().to(torch.float64).reshape(-1).numpy() for k in names}


def _check(
    before: Mapping[str, Tensor], after: Mapping[str, Tensor], L: int, names: tuple[str, ...]
) -> tuple[dict, dict]:
    b, a = _as_arrays(before, "before", names), _as_arrays(after, "after", names)
    n = len(b[names[0]])
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
        "No family parameters to plot: the pixelwise parameterization learns the Fourier\n"
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
    before: Mapping[str, Tensor],
    after: Mapping[str, Tensor],
    L: int,
    title: str = "filter parameters: before → after",
    family: Optional[WaveletFamily] = None,
) -> Figure:
    """The panels of the module docstring for ``family`` (default: Morlet), in ``fig.axes`` order.

    ``before`` / ``after`` are :meth:`ParametricScattering2D.filter_params` dicts (the family's parameters, one
    entry per filter ``n = j*L + l``); take ``before`` as a detached copy before training — for the canonical
    parameterization the dict holds the live parameters, which the optimizer updates in place.
    Both empty (the pixelwise parameterization) gives a one-panel figure saying there is nothing to plot;
    one empty and not the other, missing keys or mismatched lengths raise ``ValueError``.
    """
    if not before and not after:
        return _no_parameters_figure()
    if not before or not after:
        raise ValueError("before and after must both hold the filter parameters, or both be empty (pixelwise)")
    family = get_family(DEFAULT_FAMILY) if family is None else family
    b, a = _check(before, after, L, family.names)
    n_filters = len(b[family.names[0]])
    J = n_filters // L
    palette = [f"C{j % 10}" for j in range(J)]
    colors = [palette[n // L] for n in range(J * L)]

    polar_pair = (family.orientation, family.frequency)
    has_polar = None not in polar_pair
    rest = [n for n in family.names if not has_polar or n not in polar_pair]
    pairs = [tuple(rest[i : i + 2]) for i in range(0, len(rest), 2)]
    n_panels = int(has_polar) + len(pairs)

    fig = new_figure(5.0 * n_panels, 4.8)
    fig.subplots_adjust(left=0.04 + 0.04 / n_panels, right=1 - 0.24 / n_panels, bottom=0.12, top=0.82, wspace=0.3)
    if has_polar:
        theta, xi = polar_pair
        polar = fig.add_subplot(1, n_panels, 1, projection="polar")
        polar.set_theta_zero_location("S")  # θ = 0 points down, like axis 0 of the fftshift-ed Fourier panels
        polar.set_theta_direction(1)  # counter-clockwise: θ = π/2 points right, like axis 1

        def centre(d: dict) -> tuple[np.ndarray, np.ndarray]:
            # ξ may turn negative while training; ξ(cos θ, sin θ) is then the point at θ + π, radius |ξ|
            w1, w2 = d[xi] * np.cos(d[theta]), d[xi] * np.sin(d[theta])
            return np.arctan2(w2, w1), np.hypot(w1, w2)

        for d, face in ((b, "none"), (a, colors)):
            angle, radius = centre(d)
            polar.scatter(angle, radius, s=28, facecolors=face, edgecolors=colors, linewidths=1.0, zorder=3)
        _arrows(polar, centre(b), centre(a), colors)
        circle = np.linspace(0, 2 * np.pi, 181)
        polar.plot(circle, np.full_like(circle, np.pi), ls="--", lw=0.8, color="0.5")
        rmax = max(np.pi, float(np.abs(b[xi]).max()), float(np.abs(a[xi]).max()))
        polar.set_rmax(1.08 * rmax)
        polar.set_rlabel_position(100)
        polar.tick_params(labelsize=7)
        polar.set_title(f"frequency centres {xi}(cos {theta}, sin {theta})\n(dashed: Nyquist π)", fontsize=9, pad=14)

    index = np.arange(n_filters, dtype=float)
    for i, pair in enumerate(pairs):
        ax = fig.add_subplot(1, n_panels, int(has_polar) + i + 1)
        if len(pair) == 2:
            xs, ys = pair
            bx, by, ax_, ay = b[xs], b[ys], a[xs], a[ys]
            ax.set_xlabel(family.label(xs))
            ax.set_ylabel(family.label(ys))
            sigmas = np.concatenate([bx, ax_])
            if family.params[xs].get("unit") == "pixels" and np.all(sigmas > 0):
                # a width doubles per scale at init: a base-2 log axis puts one scale per tick
                ax.set_xscale("log", base=2)
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            (ys,) = pair
            bx, by, ax_, ay = index, b[ys], index, a[ys]
            ax.set_xlabel("filter n = j·L + l")
            ax.set_ylabel(family.label(ys))
        for x, y, face in ((bx, by, "none"), (ax_, ay, colors)):
            ax.scatter(x, y, s=28, facecolors=face, edgecolors=colors, linewidths=1.0, zorder=3)
        _arrows(ax, (bx, by), (ax_, ay), colors)
        ax.grid(True, lw=0.4, alpha=0.5)
        ax.set_title(" and ".join(family.params[p].get("meaning", p) for p in pair), fontsize=9)

    handles = [Line2D([], [], marker="o", ls="", color=palette[j], label=f"j = {j}") for j in range(J)]
    handles += [
        Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="k", label="before"),
        Line2D([], [], marker="o", ls="", color="k", label="after"),
    ]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"{family.name} {title}", fontsize=11)
    return fig
