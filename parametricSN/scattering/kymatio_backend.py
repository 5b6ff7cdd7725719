"""The ``kymatio`` backend: kymatio 0.3's own scattering core, fed with our (possibly learnable) filters.

This is the reference the ``fast`` backend is checked against, and the way the original research code ran.
Kymatio's torch backend keeps complex numbers as a trailing dimension of 2 and filters as ``(M, N, 1)``.
"""

from __future__ import annotations

# Import the 2-D modules directly: `import kymatio.torch` also imports the 3-D frontend, which fails with
# SciPy >= 1.17.
from kymatio.scattering2d.backend.torch_backend import backend as _backend
from kymatio.scattering2d.core.scattering2d import scattering2d as _kymatio_scattering2d
from torch import Tensor

from parametricSN.scattering.core import FilterBank


def _kymatio_filters(filters: FilterBank, J: int, L: int) -> tuple[dict, list[dict]]:
    """Our filter bank in kymatio's layout: per-wavelet lists of resolutions, as ``filter_bank`` returns."""
    phi = {"levels": [p.unsqueeze(-1).contiguous() for p in filters.phi], "j": J}
    psi = []
    for n in range(J * L):
        j, l = divmod(n, L)
        levels = [filters.psi[n]]
        for res in range(1, min(j + 1, max(J - 1, 1))):
            levels.append(filters.psi_coarse[res][n - (res + 1) * L])
        psi.append({"levels": [v.unsqueeze(-1).contiguous() for v in levels], "j": j, "theta": l})
    return phi, psi


def scattering2d_kymatio(
    x: Tensor,
    filters: FilterBank,
    J: int,
    L: int,
    max_order: int,
    pads: tuple[int, int, int, int],
    second_order_only: bool = False,
) -> Tensor:
    """Same contract as :func:`parametricSN.scattering.core.scattering2d`, computed by kymatio's core."""
    phi, psi = _kymatio_filters(filters, J, L)
    pad = _backend.Pad(list(pads), list(x.shape[-2:]))
    S = _kymatio_scattering2d(x.contiguous(), pad, _backend.unpad, _backend, J, L, phi, psi, max_order)
    if second_order_only:
        S = S[:, 1 + J * L :]
    return S
