"""The pure functions of the fast core against their definitions."""

import pytest
import torch

from parametricSN.scattering.core import (
    compute_padding,
    filter_subsample,
    lowpass,
    lowpass_matrices,
    modulus,
    pad_sizes,
    reflect_pad,
    separable_lowpass,
    subsample_fourier,
)
from parametricSN.scattering.filters import lowpass_filter, periodize


@pytest.mark.parametrize("k", [1, 2, 4])
def test_subsampling_in_fourier_is_subsampling_in_space(k):
    x = torch.randn(3, 16, 24, dtype=torch.float64)
    y = torch.fft.ifft2(subsample_fourier(torch.fft.fft2(x), k))
    assert torch.allclose(y.real, x[:, ::k, ::k], atol=1e-12)
    assert y.imag.abs().max() < 1e-12


@pytest.mark.parametrize("k", [1, 2, 4])
def test_filter_subsample_equals_product_then_subsample(k):
    U_hat = torch.randn(2, 1, 16, 24, dtype=torch.complex128)
    psi = torch.randn(5, 16, 24, dtype=torch.float64)
    assert torch.allclose(filter_subsample(U_hat, psi, k), subsample_fourier(U_hat * psi, k), atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_lowpass_equals_full_inverse_fft(k):
    """The half-spectrum low-pass equals Re ifft2 of the subsampled product, cropped by one pixel."""
    M, N = 16, 24
    U = torch.randn(2, 3, M, N, dtype=torch.float64)
    u = torch.fft.fftfreq(M, dtype=torch.float64)[:, None] ** 2 + torch.fft.fftfreq(N, dtype=torch.float64) ** 2
    phi = torch.exp(-20 * u)  # real and even, like the Gaussian low-pass
    ref = torch.fft.ifft2(subsample_fourier(torch.fft.fft2(U) * phi, k)).real[..., 1:-1, 1:-1]
    assert torch.allclose(lowpass(U, phi, k), ref, atol=1e-12)


@pytest.mark.parametrize("shape,J", [((32, 32), 2), ((8, 8), 3), ((30, 17), 2)])
def test_reflect_pad_sizes(shape, J):
    x = torch.arange(float(shape[0] * shape[1])).reshape(1, *shape)
    y = reflect_pad(x, pad_sizes(shape, J))
    assert tuple(y.shape[-2:]) == compute_padding(*shape, J)
    top, _, left, _ = pad_sizes(shape, J)
    assert torch.equal(y[0, top : top + shape[0], left : left + shape[1]], x[0])


@pytest.mark.parametrize("shape,J", [((40, 40), 2), ((48, 40), 3), ((24, 56), 1), ((64, 64), 4)])
def test_the_low_pass_as_two_matrices_equals_the_fft_low_pass(shape, J):
    """Kymatio's low-pass is separable at every resolution, and A @ U @ B.T is the FFT stage to float64 rounding."""
    phi = lowpass_filter(shape, J)
    for res in range(J):
        level, k = periodize(phi, res), 2 ** (J - res)
        A, B = separable_lowpass(level, k)
        M, N = level.shape
        assert A.shape == (M // k - 2, M) and B.shape == (N // k - 2, N)
        U = torch.randn(2, 3, M, N, dtype=torch.float64)
        expected = lowpass(U, level, k)
        assert torch.allclose(lowpass_matrices(U, A, B), expected, rtol=0, atol=1e-13 * expected.abs().max()), res


def test_a_low_pass_that_is_not_separable_or_not_even_keeps_the_fft_stage():
    M, N = 16, 24
    u = torch.fft.fftfreq(M, dtype=torch.float64)[:, None]
    v = torch.fft.fftfreq(N, dtype=torch.float64)
    assert separable_lowpass(torch.exp(-20 * (u**2 + v**2)), 2) is not None  # Gaussian: separable
    assert separable_lowpass(torch.exp(-20 * (u**2 + v**2 + u * v)), 2) is None  # tilted: not separable
    assert separable_lowpass(torch.exp(-20 * (u**2 + v**2) + 3 * u), 2) is None  # not even: complex output
    assert separable_lowpass(torch.exp(-20 * (u**2 + v**2)), 8) is None  # nothing left after the crop


def test_modulus_equals_abs_and_its_gradient_passes_gradcheck():
    z = torch.randn(3, 5, 6, dtype=torch.complex128)
    assert torch.allclose(modulus(z), z.abs(), rtol=1e-15, atol=0)
    assert torch.autograd.gradcheck(modulus, (z.requires_grad_(),))


def test_modulus_gradient_at_zero_is_zero_as_abs():
    z = torch.tensor([0j, 3 + 4j, 0j], dtype=torch.complex128, requires_grad=True)
    modulus(z).sum().backward()
    assert torch.allclose(z.grad, torch.tensor([0j, 0.6 + 0.8j, 0j], dtype=torch.complex128), rtol=1e-15, atol=0)
    assert z.grad[0] == 0 and z.grad[2] == 0
