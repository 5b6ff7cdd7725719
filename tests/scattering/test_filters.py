"""Morlet filters against kymatio 0.3's filter_bank, parameter inits, and gradients."""

import math

import numpy as np
import pytest
import torch
from kymatio.scattering2d.filter_bank import filter_bank, periodize_filter_fft

from parametricSN.scattering import (
    compute_padding,
    lowpass_filter,
    morlet_filters,
    periodize,
    random_params,
    tight_frame_params,
)
from parametricSN.scattering.filters import polar


def rel_err(ours, ref) -> float:
    ref = np.asarray(ref)
    return float(np.abs(np.asarray(ours) - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize(
    "shape,J,L",
    [((32, 32), 1, 8), ((32, 32), 2, 8), ((28, 36), 3, 6), ((32, 32), 4, 8), ((16, 24), 2, 4), ((40, 40), 5, 4)],
)
def test_filter_bank_matches_kymatio(shape, J, L):
    """Every wavelet at every resolution kymatio builds, and the low-pass, to 1e-6 relative."""
    M, N = compute_padding(*shape, J)
    ref = filter_bank(M, N, J, L)
    psi = morlet_filters((M, N), **tight_frame_params(J, L))
    assert psi.shape == (J * L, M, N) and psi.dtype == torch.float64
    for n, f in enumerate(ref["psi"]):
        assert (f["j"], f["theta"]) == divmod(n, L)
        for res, level in enumerate(f["levels"]):
            assert rel_err(periodize(psi[n], res), level) < 1e-6, (n, res)
    phi = lowpass_filter((M, N), J)
    for res, level in enumerate(ref["phi"]["levels"]):
        assert rel_err(periodize(phi, res), level) < 1e-6, res


def test_lower_resolutions_are_sums_not_means():
    """At J >= 3 the coarse filters keep kymatio's scale (the original code averaged: 4**res too small)."""
    M, N = compute_padding(32, 32, 4)
    psi = morlet_filters((M, N), **tight_frame_params(4, 8))
    for res in (1, 2, 3):
        coarse = periodize(psi[3 * 8], res)
        assert coarse.abs().max() == pytest.approx(psi[3 * 8].abs().max().item(), rel=0.05)


@pytest.mark.parametrize("res", [0, 1, 2, 3])
def test_periodize_matches_kymatio_on_random_input(res):
    x = np.random.default_rng(res).standard_normal((48, 40))
    assert rel_err(periodize(torch.from_numpy(x), res), periodize_filter_fft(x, res)) < 1e-12


def test_tight_frame_values():
    p = tight_frame_params(2, 8)
    assert p["sigma"].tolist() == [0.8] * 8 + [1.6] * 8
    assert p["xi"][0].item() == pytest.approx(3 * math.pi / 4)
    assert p["xi"][8].item() == pytest.approx(3 * math.pi / 8)
    assert p["slant"].tolist() == [0.5] * 16
    assert p["theta"][:8].tolist() == pytest.approx([(3 - l) * math.pi / 8 for l in range(8)])


def test_random_params_are_seeded_and_in_range():
    a = random_params(3, 8, torch.Generator().manual_seed(1))
    b = random_params(3, 8, torch.Generator().manual_seed(1))
    c = random_params(3, 8, torch.Generator().manual_seed(2))
    for k in a:
        assert a[k].shape == (24,)
        assert torch.equal(a[k], b[k])
        assert not torch.equal(a[k], c[k])
    assert ((0 <= a["theta"]) & (a["theta"] <= 2 * math.pi)).all()
    assert ((0.5 <= a["xi"]) & (a["xi"] <= 1)).all()
    assert ((1 <= a["sigma"]) & (a["sigma"] <= 5)).all()
    assert ((0.5 <= a["slant"]) & (a["slant"] <= 1.5)).all()


def test_random_params_leave_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    random_params(2, 4, torch.Generator().manual_seed(5))
    assert torch.equal(torch.rand(3), expected)


def test_wide_filters_use_all_periodic_copies():
    """A filter wider than the grid sums kymatio's 5 x 5 copies; the window logic must not drop any."""
    from kymatio.scattering2d.filter_bank import morlet_2d

    ref = np.real(np.fft.fft2(morlet_2d(16, 16, 9.0, 0.3, 0.8, 0.7)))
    ours = morlet_filters((16, 16), *(torch.tensor([v], dtype=torch.float64) for v in (0.3, 0.8, 9.0, 0.7)))
    assert rel_err(ours[0], ref) < 1e-6


def test_morlet_filters_gradcheck():
    """Analytic gradients wrt theta, xi, sigma and slant match finite differences (float64)."""
    params = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for v in ([0.3, 1.9], [0.9, 2.0], [1.1, 0.8], [0.6, 1.2])
    ]
    assert torch.autograd.gradcheck(lambda *p: morlet_filters((8, 10), *p), params, eps=1e-6, atol=1e-6)


def test_polar_gradient_is_finite_at_subnormal_magnitudes():
    # torch.polar's backward divides by |z|: 0 for a subnormal z, so its gradient is NaN there (on every CPU)
    magnitude = torch.tensor([0.0, 1e-310, 1e-300, 0.5], dtype=torch.float64, requires_grad=True)
    angle = torch.tensor([0.3, 0.3, 2.0, -1.0], dtype=torch.float64, requires_grad=True)
    z = polar(magnitude, angle)
    assert torch.allclose(z, torch.polar(magnitude, angle), rtol=1e-15, atol=0)
    (z.real + 2 * z.imag).sum().backward()
    assert torch.isfinite(magnitude.grad).all() and torch.isfinite(angle.grad).all()
    assert torch.allclose(magnitude.grad, torch.cos(angle) + 2 * torch.sin(angle))


def test_narrow_filters_have_finite_gradients():
    # sigma = 0.3: the envelope's tail reaches exp's subnormal range (-745 < -q < -708), which torch's scalar exp
    # (ATEN_CPU_CAPABILITY=default) returns as subnormals; before polar() this gradient was NaN on such CPUs
    p = {k: v.double() for k, v in tight_frame_params(2, 4).items()}
    sigma = torch.full_like(p.pop("sigma"), 0.3).requires_grad_()
    morlet_filters((16, 16), p["theta"], p["xi"], sigma, p["slant"]).sum().backward()
    assert torch.isfinite(sigma.grad).all()


def test_morlet_filters_follow_dtype():
    p = {k: v.float() for k, v in tight_frame_params(1, 4).items()}
    assert morlet_filters((16, 16), **p).dtype == torch.float32


def test_mixed_widths_are_grouped_and_put_back_in_order():
    """Filters of very different widths are computed on different windows; the batch must equal the filters
    computed one by one, and gradients must flow back to the right entries."""
    values = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for v in ([0.1, 2.0, 1.0, 0.5], [2.0, 0.5, 1.5, 1.0], [6.0, 0.8, 3.0, 0.9], [1.0, 0.7, 0.5, 1.3])
    ]
    batch = morlet_filters((24, 24), *values)
    singles = torch.cat([morlet_filters((24, 24), *(v[i : i + 1] for v in values)) for i in range(4)])
    assert torch.allclose(batch, singles, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda *p: morlet_filters((24, 24), *p), values, eps=1e-6, atol=1e-6, fast_mode=True
    )
