r"""Morlet filter bank built in torch from learnable parameters.

A 2-D Gabor function with orientation :math:`\theta`, frequency :math:`\xi`, width :math:`\sigma` and slant
:math:`\gamma` is

.. math::
    g(u) = \frac{\gamma}{2\pi\sigma^2} \exp\!\big(-u^\top R_\theta D_\gamma R_\theta^{-1} u / (2\sigma^2)\big)\,
           e^{i\xi (u_1\cos\theta + u_2\sin\theta)}, \qquad D_\gamma = \mathrm{diag}(1, \gamma^2),

periodised on the :math:`M\times N` grid (summed over shifts by multiples of :math:`(M, N)`, at most two periods
each way, as kymatio does; ``periodize=False`` evaluates it on one period centred on the origin,
:math:`u \in [-\lfloor M/2\rfloor, M - \lfloor M/2\rfloor)` and likewise along N, without the sum, as the paper's
original code built its learned Morlets). The Morlet wavelet subtracts the envelope times :math:`\beta` so that it has zero
mean, :math:`\psi = g_\xi - \beta g_0` with :math:`\beta = \sum g_\xi / \sum g_0`, and is kept in the Fourier
domain, where it is real. Lower resolutions come from kymatio's periodisation of the Fourier filter
(:func:`periodize`). The constants (``2 * 3.1415``, the low-pass width ``0.8 * 2**(J-1)``) follow kymatio 0.3's
``filter_bank`` so that the tight-frame values reproduce it.

Everything here is a pure function of tensors: differentiable in all four parameters, on any device and dtype.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

# A periodic copy of the Gaussian envelope whose largest value is below exp(-_NEGLIGIBLE) (about 2e-22 of the
# peak) changes no float64 digit of the filter; such copies are skipped instead of summed.
_NEGLIGIBLE = 50.0
_MAX_PERIODS = 2  # kymatio sums the copies shifted by -2..2 periods along each axis


def tight_frame_params(J: int, L: int, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    r"""Kymatio's filter-bank values, filter ``n = j*L + l``.

    :math:`\sigma = 0.8\cdot 2^j`, :math:`\xi = 3\pi/(4\cdot 2^j)`, :math:`\gamma = 4/L`,
    :math:`\theta = (\lfloor L - L/2 - 1\rfloor - l)\,\pi/L`.
    """
    j = torch.arange(J, dtype=dtype).repeat_interleave(L)
    l = torch.arange(L, dtype=dtype).repeat(J)
    return {
        "theta": (int(L - L / 2 - 1) - l) * math.pi / L,
        "xi": 3.0 / 4.0 * math.pi / 2.0**j,
        "sigma": 0.8 * 2.0**j,
        "slant": torch.full((J * L,), 4.0 / L, dtype=dtype),
    }


def random_params(
    J: int, L: int, generator: torch.Generator, dtype: torch.dtype = torch.float64, n: Optional[int] = None
) -> dict[str, Tensor]:
    r"""Random filter parameters drawn from ``generator`` only (``n`` filters, default ``J*L``).

    :math:`\theta \sim U(0, 2\pi)`, :math:`\xi \sim U(0.5, 1)`, :math:`\sigma = \log U(e, e^5)`,
    :math:`\gamma \sim U(0.5, 1.5)`.
    """
    n = J * L if n is None else n

    def uniform(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=dtype)

    return {
        "theta": uniform(0.0, 2 * math.pi),
        "xi": uniform(0.5, 1.0),
        "sigma": torch.log(uniform(math.e, math.e**5)),
        "slant": uniform(0.5, 1.5),
    }


def _window(size: int, spread: float) -> tuple[int, int]:
    """The stretch of the periodisation sum worth computing along one axis, as ``(start, periods)``.

    Kymatio sums the copies of the Gaussian shifted by -2..2 periods, i.e. evaluates it on
    ``[-2*size, 3*size)`` and folds. ``spread`` is the smallest curvature of the Gaussian's quadratic form, so
    values beyond radius ``r = sqrt(_NEGLIGIBLE / spread)`` are negligible: a window of whole periods centred on
    0 that covers ``[-r, r]`` gives the same sum.
    """
    radius = math.sqrt(_NEGLIGIBLE / spread) if spread > 0 else math.inf
    full = 2 * _MAX_PERIODS + 1
    if not radius < full * size:
        return -_MAX_PERIODS * size, full
    periods = min(full, math.ceil((2 * radius + 1) / size))
    return -((periods * size) // 2), periods


def gabor_2d(
    shape: tuple[int, int],
    theta: Tensor,
    xi: Tensor,
    sigma: Tensor,
    slant: Tensor,
    with_envelope: bool = False,
    periodize: bool = True,
):
    r"""Periodised Gabor functions in space, ``(n, M, N)`` complex, one per parameter entry.

    With ``with_envelope`` also returns the periodised envelope alone (the Gabor function at :math:`\xi = 0`),
    ``(n, M, N)`` real, which shares all the work. Filters are computed in groups that need the same window of
    the periodisation sum (narrow filters need less), then put back in order. ``periodize=False``: one period
    centred on the origin, no sum (the paper-era construction, module docstring).
    """
    M, N = shape
    if not periodize:
        return _gabor_group(shape, (-(M // 2), 1), (-(N // 2), 1), theta, xi, sigma, slant, with_envelope)
    with torch.no_grad():  # the window is a discrete choice, not a differentiable one
        spread = (torch.clamp(slant.detach() ** 2, max=1.0) / (2 * sigma.detach() ** 2)).reshape(-1).tolist()
    groups: dict[tuple, list[int]] = {}
    for n, s in enumerate(spread):
        groups.setdefault((_window(M, s), _window(N, s)), []).append(n)
    if len(groups) == 1:
        ((wx, wy),) = groups
        return _gabor_group(shape, wx, wy, theta, xi, sigma, slant, with_envelope)
    # sort the filters by group, compute each group on its window, put them back in order
    order = torch.tensor([n for idx in groups.values() for n in idx], device=theta.device)
    inverse = torch.argsort(order)
    sizes = [len(idx) for idx in groups.values()]
    params = [_PermuteRows.apply(t.reshape(-1), order, inverse).split(sizes) for t in (theta, xi, sigma, slant)]
    parts = [
        _gabor_group(shape, wx, wy, *(p[i] for p in params), with_envelope=True) for i, (wx, wy) in enumerate(groups)
    ]
    gabor = _PermuteRows.apply(torch.cat([g for g, _ in parts]), inverse, order)
    envelope = _PermuteRows.apply(torch.cat([e for _, e in parts]), inverse, order)
    return (gabor, envelope) if with_envelope else gabor


class _PermuteRows(torch.autograd.Function):
    """``x[perm]`` for a permutation ``perm`` whose inverse is ``inverse``; the gradient is ``grad[inverse]``.

    Plain indexing backpropagates through an accumulating scatter, which is not deterministic on CUDA; a
    permutation needs none.
    """

    @staticmethod
    def forward(ctx, x: Tensor, perm: Tensor, inverse: Tensor) -> Tensor:
        ctx.save_for_backward(inverse)
        return x.index_select(0, perm)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (inverse,) = ctx.saved_tensors
        return grad.index_select(0, inverse), None, None


def polar(magnitude: Tensor, angle: Tensor) -> Tensor:
    """``magnitude * exp(i angle)``, as :func:`torch.polar` computes it, with a gradient that stays finite where
    ``magnitude`` is subnormal: ``torch.polar``'s backward divides by ``|z|``, which is 0 (so the gradient NaN) for
    a subnormal ``z``. A Gaussian envelope far from its centre underflows into subnormals on CPUs whose ``exp`` is
    exact there (torch's scalar kernels; its AVX2/AVX-512 kernels flush to 0), so a learnable filter bank would
    diverge on some machines only."""
    return torch.complex(magnitude * torch.cos(angle), magnitude * torch.sin(angle))


def _gabor_group(
    shape: tuple[int, int],
    wx: tuple[int, int],
    wy: tuple[int, int],
    theta: Tensor,
    xi: Tensor,
    sigma: Tensor,
    slant: Tensor,
    with_envelope: bool,
):
    """:func:`gabor_2d` for filters that share the windows ``wx``, ``wy`` (see :func:`_window`)."""
    M, N = shape
    (x0, px), (y0, py) = wx, wy
    theta, xi, sigma, slant = (t.reshape(-1, 1, 1) for t in (theta, xi, sigma, slant))
    u1 = torch.arange(x0, x0 + px * M, dtype=theta.dtype, device=theta.device).view(1, -1, 1)
    u2 = torch.arange(y0, y0 + py * N, dtype=theta.dtype, device=theta.device).view(1, 1, -1)

    cos, sin = torch.cos(theta), torch.sin(theta)
    # R diag(1, slant^2) R^-1 / (2 sigma^2), written out
    c11 = (cos**2 + sin**2 * slant**2) / (2 * sigma**2)
    c12 = cos * sin * (1 - slant**2) / (2 * sigma**2)
    c22 = (sin**2 + cos**2 * slant**2) / (2 * sigma**2)
    envelope = torch.exp(-(c11 * u1 * u1 + 2 * c12 * u1 * u2 + c22 * u2 * u2))
    phase = xi * (u1 * cos + u2 * sin)
    norm = 2 * 3.1415 * sigma**2 / slant

    def fold(t: Tensor) -> Tensor:
        """Sum the periods of the window, then move grid point u to index u mod M (resp. N)."""
        t = t.reshape(t.shape[0], px, M, py, N).sum(dim=(1, 3))
        return torch.roll(t, shifts=(x0 % M, y0 % N), dims=(-2, -1)) / norm

    gabor = fold(polar(envelope, phase))
    return (gabor, fold(envelope)) if with_envelope else gabor


def morlet_filters(
    shape: tuple[int, int], theta: Tensor, xi: Tensor, sigma: Tensor, slant: Tensor, periodize: bool = True
) -> Tensor:
    r"""Morlet wavelets in the Fourier domain, ``(n, M, N)`` real (the imaginary part vanishes).

    :math:`\hat\psi = \mathrm{Re}\,\mathrm{FFT}(g_\xi - \beta g_0)`, :math:`\beta = \sum g_\xi / \sum g_0`.
    Differentiable with respect to all four parameter vectors (each of length ``n``).
    """
    gabor, envelope = gabor_2d(shape, theta, xi, sigma, slant, with_envelope=True, periodize=periodize)
    beta = gabor.sum(dim=(-2, -1), keepdim=True) / envelope.sum(dim=(-2, -1), keepdim=True)
    return torch.fft.fft2(gabor - beta * envelope).real


def gabor_filters(
    shape: tuple[int, int], theta: Tensor, xi: Tensor, sigma: Tensor, slant: Tensor, periodize: bool = True
) -> Tensor:
    r"""Gabor filters in the Fourier domain, ``(n, M, N)`` real: :math:`\hat g = \mathrm{Re}\,\mathrm{FFT}(g_\xi)`,
    the Morlet wavelet without its zero-mean correction (so :math:`\hat g(0) \ne 0`: not admissible)."""
    return torch.fft.fft2(gabor_2d(shape, theta, xi, sigma, slant, periodize=periodize)).real


def lowpass_filter(
    shape: tuple[int, int], J: int, dtype: torch.dtype = torch.float64, device: Optional[torch.device] = None
) -> Tensor:
    r"""Kymatio's low-pass :math:`\hat\phi_J`: the Fourier transform of a round Gaussian of width
    :math:`0.8\cdot 2^{J-1}`, ``(M, N)`` real."""

    def const(v: float) -> Tensor:
        return torch.tensor([v], dtype=dtype, device=device)

    phi = gabor_2d(shape, const(0.0), const(0.0), const(0.8 * 2 ** (J - 1)), const(1.0))
    return torch.fft.fft2(phi[0]).real


def periodize(filters: Tensor, res: int) -> Tensor:
    r"""Kymatio's lower-resolution filter: ``(..., M, N) -> (..., M/2^res, N/2^res)``.

    The band of frequencies ``[M/2^{res+1}, M/2^{res+1} + M(1 - 2^{-res}))`` (and likewise along N) is set to
    zero, then the :math:`2^{res}\times 2^{res}` aliases are summed, as ``kymatio.scattering2d.filter_bank``
    does.
    """
    if res == 0:
        return filters
    M, N = filters.shape[-2:]
    k = 2**res
    mask_m = torch.ones(M, dtype=filters.dtype, device=filters.device)
    mask_n = torch.ones(N, dtype=filters.dtype, device=filters.device)
    start_m, len_m = int(M * 2 ** (-res - 1)), int(M * (1 - 2 ** (-res)))
    start_n, len_n = int(N * 2 ** (-res - 1)), int(N * (1 - 2 ** (-res)))
    mask_m[start_m : start_m + len_m] = 0
    mask_n[start_n : start_n + len_n] = 0
    masked = filters * mask_m[:, None] * mask_n[None, :]
    return masked.reshape(*filters.shape[:-2], k, M // k, k, N // k).sum(dim=(-4, -2))
