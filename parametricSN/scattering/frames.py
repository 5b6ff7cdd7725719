r"""Frame bounds of a filter bank: the Littlewood–Paley sum and its extremes.

For the wavelets :math:`\hat\psi_\lambda` (every scale and angle) and the low-pass :math:`\hat\phi_J`, all
Fourier-domain on the same ``M × N`` grid (zero frequency at index ``[0, 0]``), the Littlewood–Paley sum is

.. math::
    A(\omega) = |\hat\phi_J(\omega)|^2
        + \tfrac12 \sum_\lambda \big(|\hat\psi_\lambda(\omega)|^2 + |\hat\psi_\lambda(-\omega)|^2\big).

The symmetrised half-sum is the exact energy bound of one scattering layer for real images (whose spectrum
satisfies :math:`|\hat x(\omega)| = |\hat x(-\omega)|`, so only the average of :math:`|\hat\psi_\lambda|^2` at
:math:`\pm\omega` matters): with :math:`A = \min_\omega A(\omega)` and :math:`B = \max_\omega A(\omega)`,

.. math::
    A\,\|x\|^2 \le \|x \star \phi_J\|^2 + \sum_\lambda \|x \star \psi_\lambda\|^2 \le B\,\|x\|^2 .

kymatio's Morlet wavelets cover one half-plane of orientations (θ in [0, π)), so without the :math:`-\omega` term
the sum nearly vanishes on the other half (its ratio B/A is over 2000 for J=2, L=8 on a 32×32 image); with it the
tight-frame bank is nearly flat: B = 1.00 (at zero frequency, where :math:`\hat\phi_J(0) = 1`) and A = 0.12 (at
the highest frequencies, which the coarsest Morlet band ξ = 3π/4 reaches only partly). With the sum over both
terms but no ½ the numbers double away from zero frequency; we keep the ½, which makes the low-pass and the
wavelets count on the same footing.

Pure functions of tensors: differentiable, any device and dtype, any leading batch (e.g. a pack's members).
"""

from __future__ import annotations

import torch
from torch import Tensor


def reflect_frequencies(filters: Tensor) -> Tensor:
    r""":math:`\hat f(-\omega)` of Fourier-domain filters ``(..., M, N)``: index ``k`` goes to ``-k mod M``."""
    return torch.roll(torch.flip(filters, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))


def littlewood_paley(psi_hat: Tensor, phi_hat: Tensor) -> Tensor:
    r"""The Littlewood–Paley sum :math:`A(\omega)` (module docstring) of the wavelets ``psi_hat``
    ``(..., n, M, N)`` and the low-pass ``phi_hat`` ``(M, N)``: ``(..., M, N)``, zero frequency at ``[0, 0]``."""
    if psi_hat.shape[-2:] != phi_hat.shape[-2:]:
        raise ValueError(
            f"wavelets {tuple(psi_hat.shape)} and low-pass {tuple(phi_hat.shape)} are not on the same frequency grid"
        )
    energy = psi_hat.abs() ** 2
    return phi_hat.abs() ** 2 + 0.5 * (energy + reflect_frequencies(energy)).sum(dim=-3)


def frame_bounds(lp: Tensor) -> tuple[Tensor, Tensor]:
    """``(A, B)``: the minimum and maximum of the Littlewood–Paley sum ``lp`` ``(..., M, N)`` over the grid."""
    flat = lp.flatten(start_dim=-2)
    return flat.min(dim=-1).values, flat.max(dim=-1).values


def lp_distance(lp: Tensor, target: Tensor) -> Tensor:
    r"""Mean squared distance of the Littlewood–Paley sum from a target profile over the grid,
    :math:`\frac{1}{MN}\sum_\omega (A(\omega) - A_0(\omega))^2`; ``(...)`` for ``lp`` ``(..., M, N)``."""
    return ((lp - target) ** 2).mean(dim=(-2, -1))


def bank_littlewood_paley(layer: torch.nn.Module) -> Tensor:
    """The Littlewood–Paley sum of a scattering layer's current bank at full (padded) resolution: ``(M, N)`` for
    a :class:`~parametricSN.scattering.ParametricScattering2D`, ``(P, M, N)`` for a packed layer. Differentiable
    in the layer's parameters; float64 (the precision the Morlet wavelets are built in)."""
    psi = layer._wavelets().to(torch.float64)
    return littlewood_paley(psi, layer.phi_0.to(torch.float64))
