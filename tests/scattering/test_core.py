"""The pure functions of the fast core against their definitions."""
import pytest
import torch

from parametricSN.scattering.core import (compute_padding, filter_subsample, lowpass, pad_sizes, reflect_pad,
                                          subsample_fourier)


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
    assert torch.equal(y[0, top:top + shape[0], left:left + shape[1]], x[0])
