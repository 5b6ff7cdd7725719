r"""Deformations of image batches: exact affine warps, the original project's smooth diffeo, and the
maximum-entropy random diffeomorphisms of Petrini et al. (NeurIPS 2021).

Every deformation is a resampling :math:`\tilde x(u) = x(\varphi(u))` of a batch ``x`` of shape (B, C, H, W) by
``torch.nn.functional.grid_sample`` (bilinear, ``align_corners=True``: the normalised coordinates −1 and +1 are the
centres of the first and last pixels, so the identity grid lands exactly on pixel centres). Points that fall
outside the image take the value of the ``padding`` mode: ``reflection`` (default, mirror about the border pixel
centres: natural images continue plausibly) or ``zeros`` (on normalised images, zero is the dataset mean).
Strength 0 returns an exact copy of ``x`` for every kind (no resampling at all).

Kinds and their strength axis (the value written to the CSV):

- ``rotation``: degrees, about the image centre, clockwise as displayed (rows grow downwards);
  ``shear``: degrees, horizontal shear :math:`x' = x + \tan\phi\,y`;
  ``scaling``: :math:`s`, magnification by :math:`1 + s` about the centre; ``translation``: :math:`t` pixels right
  and :math:`t` pixels down (whole-pixel :math:`t` is an exact integer shift away from the border). Affine maps act
  in pixel units about the centre, so they stay geometric on non-square images.
- ``diffeo``: :math:`\tilde x(u) = x(u - \tau(u))` with :math:`\tau(u) = v\,(0.5u_1 + 0.3u_2^2,\ 0.3u_2)` on the
  normalised coordinates :math:`u \in [-1, 1]^2` (:math:`u_1` horizontal, :math:`u_2` vertical). Its strength is
  :math:`\sup_u\|\nabla\tau(u)\|` (spectral norm), computed in closed form by :func:`diffeo_sup_gradient`;
  ``deform`` turns a strength back into :math:`v`.
- ``random-diffeo``: :math:`\tilde x(u) = x(u - \tau(u))` with, per axis, the pixel displacement
  :math:`\tau(x, y) = \sqrt{T}\sum_{i,j\ge1,\ i^2+j^2\le(c+1/2)^2} C_{ij}\sin(i\pi x)\sin(j\pi y)`,
  :math:`C_{ij}\sim\mathcal N(0, 1/(i^2+j^2))`, :math:`(x, y) \in [0, 1]^2` (pixel centres); strength :math:`T`.
  Typical displacement :math:`\sqrt{T}(0.28\ln c + 0.7)` pixels; natural range :func:`temperature_range`.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from parametricSN.deformation.options import DEFAULT_CUTOFF, KINDS, PADDINGS

UNITS = {
    "rotation": "angle (degrees)",
    "translation": "shift (pixels, both axes)",
    "scaling": "magnification − 1",
    "shear": "shear angle (degrees)",
    "diffeo": "sup‖∇τ‖",
    "random-diffeo": "temperature T",
}
MAX_ROTATION = 10.0  # degrees, the original project's range
MAX_SHEAR = 10.0  # degrees, the original project's range
MAX_TRANSLATION_FRACTION = 0.1  # of the image side, the original project's range
MAX_SCALING = 0.2
MAX_DIFFEO_V = 1.0  # the original project's largest v
# tau(u) = v * (A1 * u1 + B * u2**2, D * u2)
_A1, _B, _D = 0.5, 0.3, 0.3


# ---- the smooth diffeo ----------------------------------------------------------------------------------------
def diffeo_tau(u1: Tensor, u2: Tensor, v: float) -> tuple[Tensor, Tensor]:
    r""":math:`\tau(u) = v\,(0.5u_1 + 0.3u_2^2,\ 0.3u_2)`, componentwise."""
    return v * (_A1 * u1 + _B * u2**2), v * _D * u2


def diffeo_sup_gradient(v: float) -> float:
    r""":math:`\sup_{u\in[-1,1]^2}\|\nabla\tau(u)\|_2` for :func:`diffeo_tau`, exactly.

    :math:`\nabla\tau = v\begin{pmatrix}a & 2bu_2\\ 0 & d\end{pmatrix}` has largest singular value
    :math:`|v|\sqrt{(F^2 + \sqrt{F^4 - 4a^2d^2})/2}` with :math:`F^2 = a^2 + 4b^2u_2^2 + d^2`; it increases with
    :math:`F`, hence with :math:`|u_2|`, so the supremum is at :math:`|u_2| = 1`.
    """
    f2 = _A1**2 + 4 * _B**2 + _D**2
    return abs(v) * math.sqrt((f2 + math.sqrt(f2**2 - 4 * (_A1 * _D) ** 2)) / 2)


# ---- random diffeomorphisms -----------------------------------------------------------------------------------
def _log_cutoff(cutoff: int) -> float:
    if cutoff < 1:
        raise ValueError(f"the random-diffeo cut-off must be an integer >= 1, got {cutoff}")
    return math.log(cutoff)


def temperature_range(n: int, cutoff: int = DEFAULT_CUTOFF) -> tuple[float, float]:
    r"""(:math:`T_{min}`, :math:`T_{max}`) of natural random diffeos of an image of side ``n``:
    :math:`T_{min} = (0.5/(0.28\ln c + 0.7))^2` (typical displacement half a pixel),
    :math:`T_{max} = (0.4n/c^{1.1})^2` (beyond it the warp folds or tears the image)."""
    return (0.5 / (0.28 * _log_cutoff(cutoff) + 0.7)) ** 2, (0.4 * n / cutoff**1.1) ** 2


def typical_displacement(T: float, cutoff: int = DEFAULT_CUTOFF) -> float:
    r"""Typical length of the displacement at the image centre, in pixels: :math:`\sqrt{T}(0.28\ln c + 0.7)`."""
    return math.sqrt(T) * (0.28 * _log_cutoff(cutoff) + 0.7)


def _mode_weights(cutoff: int) -> Tensor:
    """(c, c) standard deviations 1/sqrt(i² + j²) of C_ij, zero outside the disc i² + j² <= (c + 1/2)²."""
    k = torch.arange(1, cutoff + 1, dtype=torch.float64)
    r2 = k[:, None] ** 2 + k[None, :] ** 2
    return torch.where(r2 <= (cutoff + 0.5) ** 2, r2.rsqrt(), torch.zeros_like(r2))


def random_coefficients(
    batch: int, cutoff: int = DEFAULT_CUTOFF, generator: Optional[torch.Generator] = None
) -> Tensor:
    """(batch, 2, c, c) float64 coefficients C_ij at T = 1 (axis 0: horizontal, 1: vertical), on the CPU."""
    z = torch.randn(batch, 2, cutoff, cutoff, generator=generator, dtype=torch.float64)
    return z * _mode_weights(cutoff)


def sine_field(coefficients: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r""":math:`\sum_{ij} C_{ij}\sin(i\pi x)\sin(j\pi y)` for coefficients (..., c, c) at points ``x`` (W,) and
    ``y`` (H,) in [0, 1]; returns (..., H, W)."""
    k = torch.arange(1, coefficients.shape[-1] + 1, dtype=coefficients.dtype, device=coefficients.device)
    sx = torch.sin(math.pi * x.to(coefficients)[:, None] * k)  # (W, c): sin(i pi x)
    sy = torch.sin(math.pi * y.to(coefficients)[:, None] * k)  # (H, c): sin(j pi y)
    return torch.einsum("...ij,wi,hj->...hw", coefficients, sx, sy)


def random_displacement(coefficients: Tensor, T: float, shape: tuple[int, int]) -> Tensor:
    """(B, 2, H, W) pixel displacement (horizontal, vertical) of ``coefficients`` at temperature ``T``."""
    H, W = shape
    return math.sqrt(T) * sine_field(
        coefficients, torch.linspace(0, 1, W, dtype=torch.float64), torch.linspace(0, 1, H, dtype=torch.float64)
    )


# ---- grids and the warp ---------------------------------------------------------------------------------------
def identity_grid(
    shape: tuple[int, int], dtype: torch.dtype = torch.float64, device: Optional[torch.device] = None
) -> tuple[Tensor, Tensor]:
    """Normalised pixel-centre coordinates (gx, gy), each (H, W), −1..1 with ``align_corners=True``."""
    H, W = shape
    gy, gx = torch.meshgrid(
        torch.linspace(-1, 1, H, dtype=dtype, device=device),
        torch.linspace(-1, 1, W, dtype=dtype, device=device),
        indexing="ij",
    )
    return gx, gy


def _affine_source(kind: str, strength: float, gx: Tensor, gy: Tensor, shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Where output pixel (gx, gy) samples the input, for the affine kinds (computed in centred pixel units)."""
    H, W = shape
    hx, hy = (W - 1) / 2, (H - 1) / 2
    px, py = gx * hx, gy * hy
    if kind == "rotation":  # content moved by R(angle) (clockwise on screen): sample at R(-angle) p
        a = math.radians(strength)
        qx, qy = math.cos(a) * px + math.sin(a) * py, -math.sin(a) * px + math.cos(a) * py
    elif kind == "translation":
        qx, qy = px - strength, py - strength
    elif kind == "scaling":
        qx, qy = px / (1 + strength), py / (1 + strength)
    else:  # shear: x' = x + tan(phi) y
        qx, qy = px - math.tan(math.radians(strength)) * py, py
    return qx / hx, qy / hy


def sampling_grid(
    kind: str,
    strength: float,
    shape: tuple[int, int],
    batch: int = 1,
    generator: Optional[torch.Generator] = None,
    cutoff: int = DEFAULT_CUTOFF,
) -> Tensor:
    """The (B, H, W, 2) float64 ``grid_sample`` grid of ``kind`` at ``strength`` (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown deformation {kind!r}; expected one of {', '.join(KINDS)}")
    H, W = shape
    if min(H, W) < 2:
        raise ValueError(f"images must be at least 2x2 pixels to be deformed, got {H}x{W}")
    gx, gy = identity_grid(shape)
    if kind == "diffeo":
        tx, ty = diffeo_tau(gx, gy, strength / diffeo_sup_gradient(1.0))
        sx, sy = gx - tx, gy - ty
    elif kind == "random-diffeo":
        d = random_displacement(random_coefficients(batch, cutoff, generator), strength, shape)
        sx, sy = gx - d[:, 0] * (2 / (W - 1)), gy - d[:, 1] * (2 / (H - 1))
    else:
        sx, sy = _affine_source(kind, strength, gx, gy, shape)
    grid = torch.stack(torch.broadcast_tensors(sx, sy), dim=-1)
    return grid.expand(batch, H, W, 2) if grid.dim() == 3 else grid


def deform(
    x: Tensor,
    kind: str,
    strength: float,
    generator: Optional[torch.Generator] = None,
    padding: str = "reflection",
    cutoff: int = DEFAULT_CUTOFF,
) -> Tensor:
    """``x`` (B, C, H, W) deformed by ``kind`` at ``strength``; an exact copy at strength 0.

    ``generator`` (CPU) draws the random-diffeo fields, one per image; the other kinds are deterministic.
    Resampling is bilinear with ``align_corners=True`` and ``padding`` (reflection | zeros | border).
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    if x.dim() != 4:
        raise ValueError(f"expected a batch (B, C, H, W), got shape {tuple(x.shape)}")
    if strength == 0:
        return x.clone()
    grid = sampling_grid(kind, strength, tuple(x.shape[-2:]), x.shape[0], generator, cutoff)
    return F.grid_sample(
        x, grid.to(device=x.device, dtype=x.dtype), mode="bilinear", padding_mode=padding, align_corners=True
    )


def strengths(kind: str, levels: int, shape: tuple[int, int], cutoff: int = DEFAULT_CUTOFF) -> list[float]:
    """``[0, s_1, ..., s_levels]``: the identity, then ``levels`` strengths up to the kind's maximum.

    Linear from 0 to the maximum (rotation, shear 10°; translation 10 % of the shorter side, at least 1 px;
    scaling 0.2; diffeo sup‖∇τ‖ at v = 1), except ``random-diffeo``: geometric from T_min to T_max
    (:func:`temperature_range` with n the shorter side), since the natural range spans decades.
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    n = min(shape)
    if kind == "random-diffeo":
        t_min, t_max = temperature_range(n, cutoff)
        if t_max <= t_min:
            raise ValueError(
                f"random-diffeo: for {n}-pixel images the cut-off {cutoff} leaves no natural "
                f"temperatures (T_max {t_max:.3g} <= T_min {t_min:.3g}); lower the cut-off"
            )
        if levels == 1:
            return [0.0, t_max]
        return [0.0] + [t_min * (t_max / t_min) ** (k / (levels - 1)) for k in range(levels)]
    top = {
        "rotation": MAX_ROTATION,
        "shear": MAX_SHEAR,
        "scaling": MAX_SCALING,
        "translation": max(1.0, round(MAX_TRANSLATION_FRACTION * n)),
        "diffeo": diffeo_sup_gradient(MAX_DIFFEO_V),
    }.get(kind)
    if top is None:
        raise ValueError(f"unknown deformation {kind!r}; expected one of {', '.join(KINDS)}")
    return [top * k / levels for k in range(levels + 1)]
