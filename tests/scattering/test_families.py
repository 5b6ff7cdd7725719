"""Wavelet families (parametricSN/scattering/families): every built-in is differentiable in every parameter (float64
gradcheck), a frame with A > 0 at its tight initialisation where it is admissible, and buildable as a layer in every
parameterization it supports; the registry, the constraints and the envelope's periodisation option."""

import math

import pytest
import torch

from parametricSN.config.names import family_facts
from parametricSN.scattering import ParametricScattering2D, available_families, get_family, register_family
from parametricSN.scattering.core import compute_padding
from parametricSN.scattering.families import WaveletFamily
from parametricSN.scattering.filters import lowpass_filter
from parametricSN.scattering.frames import frame_bounds, littlewood_paley

BUILTINS = ("cauchy", "gabor", "morlet")


def test_the_builtins_are_registered_and_the_config_reads_them_without_importing():
    assert set(BUILTINS) <= set(available_families())
    declared = family_facts()
    for name in BUILTINS:
        family = get_family(name)
        assert declared[name]["params"] == family.params  # the decorator's literals, read from the source
        assert all(isinstance(f["group"], str) for f in family.params.values())
    assert get_family("morlet").names == ("theta", "xi", "sigma", "slant")
    assert get_family("cauchy").groups == {
        "orientation": ("theta",),
        "scattering": ("xi",),
        "shape": ("aperture", "order"),
    }
    assert not get_family("gabor").admissible and get_family("cauchy").admissible
    with pytest.raises(ValueError, match="unknown wavelet family 'nope'; the families are .*morlet"):
        get_family("nope")


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("periodize", [True, False])
def test_gradcheck_in_every_parameter(name, periodize):
    family = get_family(name)
    # a few filters of both inits, perturbed off the symmetric values so no derivative vanishes by symmetry
    values = {k: v[[0, 3, 5]] for k, v in family.tight_frame(2, 4).items()}
    random = family.random(2, 4, torch.Generator().manual_seed(1), 3)
    params = {k: torch.cat([values[k], random[k]]).clone().requires_grad_(True) for k in family.names}

    def build(*tensors):
        return family.build((10, 12), dict(zip(family.names, tensors)), periodize)

    assert torch.autograd.gradcheck(build, tuple(params.values()), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("J,L", [(2, 8), (3, 6), (2, 4)])
def test_tight_frame_bounds_are_finite_and_admissible_families_have_A_positive(name, J, L):
    family = get_family(name)
    shape = compute_padding(32, 32, J)
    psi = family.build(shape, family.tight_frame(J, L))
    assert psi.shape == (J * L, *shape) and psi.dtype == torch.float64 and not psi.is_complex()
    A, B = frame_bounds(littlewood_paley(psi, lowpass_filter(shape, J)))
    assert torch.isfinite(A) and torch.isfinite(B) and B < 10
    if family.admissible:
        assert A > 1e-2
        assert psi[:, 0, 0].abs().max() < 1e-6  # zero mean
    else:
        assert psi[:, 0, 0].abs().max() > 1e-3  # gabor keeps its mean


def test_cauchy_is_supported_in_its_cone():
    family = get_family("cauchy")
    params = {k: v[:1] for k, v in family.tight_frame(1, 8).items()}
    params["theta"] = torch.zeros(1, dtype=torch.float64)
    psi = family.build((32, 32), params, periodize=False)[0]
    w = torch.fft.fftfreq(32) * 2 * math.pi
    angle = torch.atan2(w[None, :].expand(32, 32), w[:, None].expand(32, 32))
    outside = angle.abs() > params["aperture"] + 1e-9
    assert psi[outside].abs().max() == 0 and psi.max() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("parameterization", ["canonical", "equivariant", "pixelwise"])
@pytest.mark.parametrize("init", ["tight-frame", "random"])
def test_every_family_builds_a_layer_that_learns(name, parameterization, init):
    S = ParametricScattering2D(2, (16, 16), L=4, init=init, parameterization=parameterization, family=name, seed=2)
    x = torch.rand(2, 1, 16, 16)
    y = S(x)
    assert y.shape == (2, S.n_coefficients, 4, 4) and torch.isfinite(y).all()
    y.square().sum().backward()
    grads = [p.grad for p in S.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    if parameterization != "pixelwise":
        assert set(S.filter_params()) == set(S.family.names)
        assert {"theta1", "xi1"} | {f"{n}2" for n in S.family.names} <= set(S.meta()[-1])
        groups = S.param_groups(0.1, 0.2, {"scattering": 0.3})
        assert [g["name"] for g in groups] == list(S.family.groups)
        assert {g["name"]: g["lr"] for g in groups}["orientation"] == 0.1
        assert {g["name"]: g["lr"] for g in groups}["scattering"] == 0.3


def test_group_rates_default_to_lr_scattering_and_can_be_named():
    S = ParametricScattering2D(1, (8, 8), L=4, family="cauchy")
    rates = {g["name"]: g["lr"] for g in S.param_groups(0.1, 0.2, {"shape": 0.05})}
    assert rates == {"orientation": 0.1, "scattering": 0.2, "shape": 0.05}


def test_parameters_out_of_bounds_are_clamped_in_the_generator():
    family = get_family("cauchy")
    params = {k: v[:1].clone() for k, v in family.tight_frame(1, 4).items()}
    params["aperture"] = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    psi = family.build((8, 8), params)
    assert torch.isfinite(psi).all()
    psi.sum().backward()
    assert params["aperture"].grad == 0  # outside its bounds: held at the bound, no gradient


def test_periodize_false_is_the_paper_era_construction():
    """One period of the envelope, no sum: equal at J=2 initialisation to ~1e-6, apart once sigma grows."""
    family = get_family("morlet")
    shape = compute_padding(32, 32, 2)
    values = family.tight_frame(2, 8)
    on, off = family.build(shape, values, True), family.build(shape, values, False)
    assert (on - off).abs().max() / on.abs().max() < 1e-5
    wide = {**values, "sigma": values["sigma"] * 4}
    on, off = family.build(shape, wide, True), family.build(shape, wide, False)
    assert (on - off).abs().max() / on.abs().max() > 1e-3
    S = ParametricScattering2D(2, (32, 32), L=8, periodize=False)
    assert torch.allclose(S.filters().double(), family.build(shape, values, False), atol=1e-6)


def test_equivariant_needs_an_orientation():
    @register_family("test-radial", params={"xi": {"group": "scattering"}}, admissible=False)
    class Radial(WaveletFamily):
        def filters(self, shape, params, periodize=True):
            w = torch.fft.fftfreq(shape[0], dtype=params["xi"].dtype)
            return torch.exp(-((w[None, :, None] - params["xi"][:, None, None]) ** 2)).expand(-1, *shape)

        def tight_frame(self, J, L):
            return {"xi": torch.full((J * L,), 0.25, dtype=torch.float64)}

        def random(self, J, L, generator, n):
            return {"xi": torch.rand(n, generator=generator, dtype=torch.float64)}

    assert "test-radial" in family_facts()  # registered families join what the config checks
    ParametricScattering2D(1, (8, 8), L=2, family="test-radial")
    with pytest.raises(ValueError, match="no orientation"):
        ParametricScattering2D(1, (8, 8), L=2, family="test-radial", parameterization="equivariant")
