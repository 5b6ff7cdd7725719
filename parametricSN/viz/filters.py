r"""Figures of a Morlet filter bank: one panel per wavelet, rows = scales ``j``, columns = orientations ``l``.

Filters come as :meth:`ParametricScattering2D.filters` gives them: ``(J*L, M, N)`` real Fourier-domain wavelets
:math:`\hat\psi_n`, filter ``n = j*L + l``, zero frequency at index ``[0, 0]`` (unshifted FFT layout).

Panels use image (matrix) layout, as ``imshow`` shows an image: array axis 0 runs down, axis 1 runs right.

* ``"fourier"``: :math:`\hat\psi_n` fftshift-ed, so zero frequency sits at pixel ``(M//2, N//2)`` and the
  Morlet's frequency centre :math:`\xi(\cos\theta, \sin\theta)` appears at
  ``(M//2 + ξ cos θ · M/2π, N//2 + ξ sin θ · N/2π)``, i.e. θ = 0 points down and θ = π/2 points right;
* ``"real"`` / ``"imag"``: the spatial wavelet :math:`\psi_n = \mathrm{IFFT}(\hat\psi_n)`, fftshift-ed so that
  its centre (the origin) sits at pixel ``(M//2, N//2)``; ``crop`` keeps a central window.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from parametricSN.viz.render import new_figure

KINDS = ("fourier", "real", "imag")

PANEL_IN = 1.0  # panel side, inches
_GAP_IN, _LEFT_IN, _RIGHT_IN, _TOP_IN, _BOTTOM_IN = 0.06, 0.45, 0.1, 0.6, 0.1
_DESCRIPTION = {
    "fourier": "Fourier-domain wavelets (zero frequency centred)",
    "real": "spatial wavelets, real part",
    "imag": "spatial wavelets, imaginary part",
}


def _check_filters(filters: Tensor, L: int) -> Tensor:
    """``filters`` as a detached float64 CPU tensor, with a clear error for the wrong shape."""
    filters = torch.as_tensor(filters).detach().cpu()
    if filters.ndim != 3:
        raise ValueError(f"filters must have shape (J*L, M, N), got {tuple(filters.shape)}")
    if not (isinstance(L, int) and L >= 1) or filters.shape[0] % L != 0 or filters.shape[0] == 0:
        raise ValueError(
            f"{filters.shape[0]} filters cannot be split into rows of L={L!r} orientations; "
            "pass the L of the scattering layer that made them"
        )
    if filters.is_complex():
        raise ValueError(
            "filters must be the real Fourier-domain wavelets that ParametricScattering2D.filters() "
            "returns, got a complex tensor"
        )
    return filters.to(torch.float64)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def panel_images(filters: Tensor, kind: str, crop: Optional[int] = None) -> np.ndarray:
    r"""The images the panels show, ``(n, M, N)`` (``(n, crop, crop)`` when cropped), in image layout.

    ``"fourier"``: ``fftshift(ψ̂)``; ``"real"`` / ``"imag"``: ``fftshift(IFFT(ψ̂))``'s real / imaginary part,
    optionally cut to the central ``crop × crop`` window (spatial kinds only; the Fourier plane is always shown
    whole, it is the full band ``[-π, π)²``).
    """
    _check_kind(kind)
    filters = torch.as_tensor(filters).detach().cpu().to(torch.float64)
    dims = (-2, -1)
    if kind == "fourier":
        if crop is not None:
            raise ValueError(
                "crop applies to the spatial kinds ('real', 'imag') only; the Fourier panel shows "
                "the whole frequency plane"
            )
        return torch.fft.fftshift(filters, dim=dims).numpy()
    psi = torch.fft.fftshift(torch.fft.ifft2(filters), dim=dims)
    images = (psi.real if kind == "real" else psi.imag).numpy()
    if crop is None:
        return images
    M, N = images.shape[-2:]
    if not (isinstance(crop, int) and 1 <= crop <= min(M, N)):
        raise ValueError(f"crop must be an integer in [1, {min(M, N)}] (the filters are {M}×{N}), got {crop!r}")
    # keep the centre pixel (M//2, N//2) at index crop//2 of the window, as fftshift does for the full image
    top, left = M // 2 - crop // 2, N // 2 - crop // 2
    return images[..., top : top + crop, left : left + crop]


def filter_figure(
    filters: Tensor, L: int, kind: str = "fourier", title: Optional[str] = None, crop: Optional[int] = None
) -> Figure:
    """A ``J × L`` grid of the wavelets (row ``j``, column ``l`` shows filter ``n = j*L + l``).

    ``kind`` is ``"fourier"``, ``"real"`` or ``"imag"`` (see the module docstring for the layout); ``crop``
    shows only the central ``crop × crop`` pixels of the spatial kinds. Each row shares one colour scale:
    viridis over the row's range for ``"fourier"``, a symmetric diverging map for the spatial kinds. The figure
    size depends on ``J`` and ``L`` only, so figures of the same bank render to images of the same size.
    Panels are ``fig.axes[n]`` in filter order, each holding one image.
    """
    _check_kind(kind)
    filters = _check_filters(filters, L)
    J = filters.shape[0] // L
    images = panel_images(filters, kind, crop)

    width = _LEFT_IN + L * PANEL_IN + (L - 1) * _GAP_IN + _RIGHT_IN
    height = _TOP_IN + J * PANEL_IN + (J - 1) * _GAP_IN + _BOTTOM_IN
    fig = new_figure(width, height)
    # fixed margins (no constrained/tight layout): every frame of an animation keeps its panels in place
    fig.subplots_adjust(
        left=_LEFT_IN / width,
        right=1 - _RIGHT_IN / width,
        bottom=_BOTTOM_IN / height,
        top=1 - _TOP_IN / height,
        wspace=_GAP_IN / PANEL_IN,
        hspace=_GAP_IN / PANEL_IN,
    )
    axes = fig.subplots(J, L, squeeze=False)
    for j in range(J):
        row = images[j * L : (j + 1) * L]
        if kind == "fourier":
            cmap, vmin, vmax = "viridis", float(row.min()), float(row.max())
        else:
            bound = float(np.abs(row).max()) or 1.0
            cmap, vmin, vmax = "RdBu_r", -bound, bound
        for l in range(L):
            ax = axes[j, l]
            ax.imshow(row[l], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_title(f"l = {l}", fontsize=8)
            if l == 0:
                ax.set_ylabel(f"j = {j}", fontsize=8)
    fig.suptitle(title if title is not None else _DESCRIPTION[kind], fontsize=10)
    return fig
