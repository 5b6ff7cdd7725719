"""Littlewood–Paley sums and frame bounds (parametricSN/scattering/frames.py)."""

import pytest
import torch
from kymatio.scattering2d.filter_bank import filter_bank

from parametricSN.scattering import ParametricScattering2D, compute_padding
from parametricSN.scattering.frames import (
    bank_littlewood_paley,
    frame_bounds,
    littlewood_paley,
    lp_distance,
    reflect_frequencies,
)
from parametricSN.scattering.packed import PackedScattering2D


@pytest.mark.parametrize("J,L,shape", [(1, 8, (32, 32)), (2, 8, (32, 32)), (3, 6, (28, 36)), (2, 4, (28, 28))])
def test_tight_frame_bounds_equal_kymatio_bank(J, L, shape):
    """Every parameterization's tight-frame bank, against one kymatio bank (building it is the slow part)."""
    M, N = compute_padding(*shape, J)
    fb = filter_bank(M, N, J, L)
    psi = torch.stack([torch.as_tensor(p["levels"][0]) for p in fb["psi"]]).double()
    phi = torch.as_tensor(fb["phi"]["levels"][0]).double()
    A_ky, B_ky = frame_bounds(littlewood_paley(psi, phi))
    for parameterization in ("canonical", "equivariant", "pixelwise"):
        S = ParametricScattering2D(J, shape, L=L, parameterization=parameterization)
        lp = bank_littlewood_paley(S).detach()
        A, B = frame_bounds(lp)
        torch.testing.assert_close(lp, littlewood_paley(psi, phi), rtol=1e-6, atol=1e-7)
        assert abs(float(A) - float(A_ky)) < 1e-6 and abs(float(B) - float(B_ky)) < 1e-6, parameterization
        assert 0.01 < float(A) < float(B) < 1.05  # the convention that keeps kymatio's bank nearly flat


def test_frame_bounds_bound_the_energy_of_real_images():
    """A ||x||² <= ||x * phi||² + sum ||x * psi||² <= B ||x||² for real x, also for a random bank."""
    S = ParametricScattering2D(2, (16, 16), L=4, init="random", seed=5)
    psi, phi = S.filters(), S.phi_0.double()
    A, B = frame_bounds(bank_littlewood_paley(S).detach())
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        x = torch.randn(*phi.shape, dtype=torch.float64, generator=g)
        x_hat = torch.fft.fft2(x)
        energy = (x_hat.abs() ** 2 * (phi**2 + (psi**2).sum(0))).sum()
        norm = (x_hat.abs() ** 2).sum()
        assert float(A) * norm <= energy * (1 + 1e-12) and energy <= float(B) * norm * (1 + 1e-12)
    # and the bounds are attained: a pure frequency at the minimum of the sum gets exactly A
    lp = bank_littlewood_paley(S).detach()
    k = int(lp.argmin())
    assert torch.isclose(lp.flatten()[k], A)


def test_reflection_and_packed_sum():
    x = torch.randn(6, 10, dtype=torch.float64)
    x_hat = torch.fft.fft2(x)
    torch.testing.assert_close(reflect_frequencies(x_hat), x_hat.conj())
    members = [ParametricScattering2D(2, (16, 16), L=4, init=i, seed=s) for s, i in ((0, "tight-frame"), (1, "random"))]
    lp = bank_littlewood_paley(PackedScattering2D(members))
    torch.testing.assert_close(lp, torch.stack([bank_littlewood_paley(m) for m in members]))
    assert lp_distance(lp, lp).abs().max() == 0 and lp_distance(lp, lp + 0.5).shape == (2,)
