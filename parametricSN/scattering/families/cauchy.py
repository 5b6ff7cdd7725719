r"""The Cauchy family: directional wavelets supported in a cone of the frequency plane.

Antoine, Murenzi and Vandergheynst, *Directional wavelets revisited: Cauchy wavelets and symmetry detection in
patterns*, Applied and Computational Harmonic Analysis 6 (1999) 314–345 (also Antoine, Murenzi, Vandergheynst
and Ali, *Two-Dimensional Wavelets and their Relatives*, Cambridge 2004, §3.3). For the cone of half-aperture
:math:`a < \pi/2` around the direction :math:`\theta`, with :math:`\tilde e_\pm` the unit normals of its two
edges pointing inwards (:math:`\omega\cdot\tilde e_\pm = |\omega|\sin(a \pm (\varphi - \theta))`) and the
order :math:`m` (the paper's :math:`l = m`),

.. math::
    \hat\psi(\omega) = \Big(\frac{(\omega\cdot\tilde e_+)(\omega\cdot\tilde e_-)}{\xi^2\sin^2 a}\Big)^{m}
        \exp\!\Big(2m\big(1 - \frac{\omega\cdot e_\theta}{\xi}\big)\Big)
    \quad\text{inside the cone, 0 outside,}

i.e. the paper's :math:`(\omega\cdot\tilde e_+)^m(\omega\cdot\tilde e_-)^m e^{-\eta\cdot\omega}` with
:math:`\eta = (2m/\xi)\,e_\theta`, scaled so that its peak, at :math:`\omega = \xi e_\theta`, is 1. Along its axis
the profile is :math:`r^{2m}e^{-2mr/\xi}`; across it, :math:`(1 - \sin^2\delta/\sin^2 a)^m`.

Why this family: its shape parameters are not Morlet's. The **aperture** :math:`a` is an angular width that does
not change the radial band, and the **order** :math:`m` sets the radial bandwidth and how fast the wavelet
vanishes at zero frequency; Morlet couples both through :math:`\sigma` and the slant. It is admissible by
construction (:math:`\hat\psi(0) = 0` with no correction term) and strictly directional (no energy outside the
cone, in particular none in the opposite half-plane), and it is defined in the Fourier domain, so the generator
is a closed form on the grid. kymatio's users asked for it (kymatio issue #321).

On the discrete grid the wavelet is sampled in space, so its spectrum is periodised: ``periodize=True`` (default)
sums the copies shifted by :math:`2\pi` along each axis (one each way), which keeps the filter continuous across
the Nyquist frequency; the copies' tails reach zero frequency (up to 6 % of the peak at the finest scale), so the
sum's zero-frequency sample is then set to 0: the sampled wavelet minus its spatial mean, zero-mean as the
continuous one (Morlet's :math:`\beta` term does the same for its envelope). ``periodize=False`` keeps the one copy
on :math:`[-\pi, \pi)^2`, which vanishes at zero frequency by itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from parametricSN.scattering.families import WaveletFamily, register_family
from parametricSN.scattering.filters import tight_frame_params


@register_family(
    "cauchy",
    params={
        "theta": {"meaning": "orientation", "unit": "rad", "group": "orientation"},
        "xi": {"meaning": "peak frequency", "unit": "rad/pixel", "group": "scattering", "bounds": (0.01, None)},
        "aperture": {"meaning": "cone half-angle", "unit": "rad", "group": "shape", "bounds": (0.05, 1.5)},
        "order": {"meaning": "order", "unit": "", "group": "shape", "bounds": (1.0, None)},
    },
    orientation="theta",
    frequency="xi",
    admissible=True,
)
class Cauchy(WaveletFamily):
    r"""Cauchy wavelets (module docstring). Tight frame: Morlet's orientations and octave frequencies
    :math:`\xi_j = 3\pi/(4\cdot 2^j)`, aperture :math:`\min(3\pi/(2L), 1.2)`, order 2 (at J=2, L=8 on 32×32: A = 0.41, B = 1.02)."""

    def filters(self, shape: tuple[int, int], params: Mapping[str, Tensor], periodize: bool = True) -> Tensor:
        theta, xi, aperture, order = (params[n].reshape(-1, 1, 1) for n in self.names)
        M, N = shape
        w1 = (torch.fft.fftfreq(M, dtype=theta.dtype, device=theta.device) * 2 * math.pi).view(1, -1, 1)
        w2 = (torch.fft.fftfreq(N, dtype=theta.dtype, device=theta.device) * 2 * math.pi).view(1, 1, -1)
        shifts = (-1, 0, 1) if periodize else (0,)
        cos, sin = torch.cos(theta), torch.sin(theta)
        # the edge normals: omega . e_+ = -w1 sin(theta - a) + w2 cos(theta - a), omega . e_- = w1 sin(theta + a) - ...
        sin_m, cos_m = torch.sin(theta - aperture), torch.cos(theta - aperture)
        sin_p, cos_p = torch.sin(theta + aperture), torch.cos(theta + aperture)
        log_peak = 2 * torch.log(xi * torch.sin(aperture))
        total = 0
        for s1 in shifts:
            for s2 in shifts:
                u1, u2 = w1 + 2 * math.pi * s1, w2 + 2 * math.pi * s2
                edge_plus = -u1 * sin_m + u2 * cos_m
                edge_minus = u1 * sin_p - u2 * cos_p
                inside = (edge_plus > 0) & (edge_minus > 0)
                # log of the inside values only: where() with safe arguments keeps the gradient finite outside
                safe_plus = torch.where(inside, edge_plus, torch.ones_like(edge_plus))
                safe_minus = torch.where(inside, edge_minus, torch.ones_like(edge_minus))
                along = u1 * cos + u2 * sin
                log_psi = order * (torch.log(safe_plus) + torch.log(safe_minus) - log_peak) + 2 * order * (
                    1 - along / xi
                )
                total = total + torch.where(inside, torch.exp(log_psi), torch.zeros_like(log_psi))
        if periodize:  # the copies' tails at zero frequency: remove the spatial mean
            dc = torch.ones_like(total)
            dc[..., 0, 0] = 0
            total = total * dc
        return total

    def tight_frame(self, J: int, L: int) -> dict[str, Tensor]:
        morlet = tight_frame_params(J, L)  # kymatio's orientations and octave frequencies
        return {
            "theta": morlet["theta"],
            "xi": morlet["xi"],
            "aperture": torch.full((J * L,), min(1.5 * math.pi / L, 1.2), dtype=torch.float64),
            "order": torch.full((J * L,), 2.0, dtype=torch.float64),
        }

    def random(self, J: int, L: int, generator: torch.Generator, n: int) -> dict[str, Tensor]:
        def uniform(lo: float, hi: float) -> Tensor:
            return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)

        return {
            "theta": uniform(0.0, 2 * math.pi),
            "xi": uniform(0.5, 1.0),
            "aperture": uniform(math.pi / 8, 3 * math.pi / 8),
            "order": uniform(1.0, 4.0),
        }
