r"""The Morlet family: kymatio's (and the paper's) wavelets, four learnable numbers per filter.

:math:`\hat\psi = \mathrm{Re}\,\mathrm{FFT}(g_\xi - \beta g_0)`: a Gabor function of orientation :math:`\theta`,
frequency :math:`\xi`, width :math:`\sigma` and slant :math:`\gamma` minus its envelope times
:math:`\beta = \sum g_\xi / \sum g_0`, so that it has zero mean (:mod:`parametricSN.scattering.filters`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from parametricSN.scattering.families import WaveletFamily, register_family
from parametricSN.scattering.filters import morlet_filters, random_params, tight_frame_params


@register_family(
    "morlet",
    params={
        "theta": {"meaning": "orientation", "unit": "rad", "group": "orientation"},
        "xi": {"meaning": "frequency", "unit": "rad/pixel", "group": "scattering"},
        "sigma": {"meaning": "width", "unit": "pixels", "group": "scattering"},
        "slant": {"meaning": "slant", "unit": "", "group": "scattering"},
    },
    orientation="theta",
    frequency="xi",
    admissible=True,
)
class Morlet(WaveletFamily):
    """Kymatio's Morlet wavelets; tight frame = kymatio's filter bank (:func:`tight_frame_params`)."""

    def filters(self, shape: tuple[int, int], params: Mapping[str, Tensor], periodize: bool = True) -> Tensor:
        return morlet_filters(shape, *(params[n] for n in self.names), periodize=periodize)

    def tight_frame(self, J: int, L: int) -> dict[str, Tensor]:
        return tight_frame_params(J, L)

    def random(self, J: int, L: int, generator: torch.Generator, n: int) -> dict[str, Tensor]:
        return random_params(J, L, generator, n=n)
