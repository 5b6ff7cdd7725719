"""Small scattering layers shared by the viz tests (J=2, L=4, a non-square shape to catch swapped axes)."""

import pytest

from parametricSN.scattering import ParametricScattering2D

J, L, SHAPE = 2, 4, (16, 24)


def make_layer(parameterization: str = "canonical", init: str = "tight-frame") -> ParametricScattering2D:
    return ParametricScattering2D(J, SHAPE, L=L, init=init, parameterization=parameterization, seed=0)


@pytest.fixture(scope="package")
def layer() -> ParametricScattering2D:
    return make_layer()
