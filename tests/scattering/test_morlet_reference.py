"""The ``morlet`` family computes what the Morlet layer computed before families existed.

``data/morlet_reference.pt`` was recorded by ``data/make_morlet_reference.py`` before the change (every
parameterization, both initialisations, the packed layer; outputs, filters, parameters and the gradients of a fixed
linear loss in every parameter and the input; float64). Stored numbers differ in their last bits across CPUs, so
they are compared with a tolerance: 1e-9 of the largest magnitude of each tensor.
"""

from pathlib import Path

import pytest
import torch

from tests.scattering.data.make_morlet_reference import CASES, inputs, layer, record_one

REFERENCE = Path(__file__).with_name("data") / "morlet_reference.pt"
TOL = 1e-9


@pytest.fixture(scope="module")
def reference() -> dict:
    return torch.load(REFERENCE, weights_only=True)


def close(ours: torch.Tensor, ref: torch.Tensor) -> bool:
    return ours.shape == ref.shape and float((ours - ref).abs().max()) <= TOL * max(float(ref.abs().max()), 1e-300)


def _compare(ours: dict, ref: dict) -> None:
    assert set(ours) == set(ref)
    for name, value in ref.items():
        assert close(ours[name], value), name


@pytest.mark.parametrize("parameterization,init", CASES)
def test_morlet_equals_recorded(reference, parameterization, init):
    torch.set_default_dtype(torch.float64)
    try:
        x, w = inputs()
        S = layer(parameterization, init)
        assert S.family.name == "morlet"
        _compare({**record_one(S, x, w), "filters": S.filters()}, reference[f"{parameterization}/{init}"])
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("parameterization", ["canonical", "equivariant", "pixelwise"])
def test_packed_morlet_equals_recorded(reference, parameterization):
    from parametricSN.scattering.packed import PackedScattering2D

    torch.set_default_dtype(torch.float64)
    try:
        x, w = inputs()
        P = PackedScattering2D([layer(parameterization, "tight-frame"), layer(parameterization, "random", 5)])
        _compare(
            record_one(P, torch.stack([x, x.flip(-1)]), torch.stack([w, w])), reference[f"packed/{parameterization}"]
        )
    finally:
        torch.set_default_dtype(torch.float32)
