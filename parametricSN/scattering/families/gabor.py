r"""The Gabor family: the Morlet envelope and carrier without the zero-mean correction.

:math:`\hat g = \mathrm{Re}\,\mathrm{FFT}(g_\xi)` with the same four parameters and initialisations as Morlet. Not
admissible: :math:`\hat g(0) = e^{-\sigma^2\xi^2/2}\ne 0`, small for the fine scales and large for the coarse
ones, so the bank passes some of the image's mean into every first-order path. It is here as the control that
answers "does the zero-mean correction matter once the filters learn?".
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from parametricSN.scattering.families import register_family
from parametricSN.scattering.families.morlet import Morlet
from parametricSN.scattering.filters import gabor_filters


@register_family("gabor", like="morlet", admissible=False)
class Gabor(Morlet):
    """Gabor filters with Morlet's parameters and initialisations."""

    def filters(self, shape: tuple[int, int], params: Mapping[str, Tensor], periodize: bool = True) -> Tensor:
        return gabor_filters(shape, *(params[n] for n in self.names), periodize=periodize)
