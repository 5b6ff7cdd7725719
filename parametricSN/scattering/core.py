r"""The 2-D scattering transform as a pure function of tensors (the ``fast`` backend).

.. math::
    S_0 x = x \star \phi_J, \quad
    S_1 x(\lambda_1) = |x \star \psi_{\lambda_1}| \star \phi_J, \quad
    S_2 x(\lambda_1, \lambda_2) = ||x \star \psi_{\lambda_1}| \star \psi_{\lambda_2}| \star \phi_J
    \ (j_2 > j_1),

all subsampled by :math:`2^J`. Convolutions are products in the Fourier domain; subsampling by :math:`k` in
space is the mean of the :math:`k\times k` aliases in Fourier. This computes exactly what kymatio 0.3's
``scattering2d`` core computes, in kymatio's coefficient order, with less work: native complex tensors, real
FFTs for real signals, the aliases of a filtered spectrum summed without forming the full-resolution product, all
second-order filters of one scale applied at once to a first-order path, and the low-pass stage (filter,
subsample, crop) as two small matrix products instead of FFTs, since kymatio's low-pass is separable
(:func:`separable_lowpass`; the FFT stage :func:`lowpass` remains for a filter bank without those matrices).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor


class FilterBank(NamedTuple):
    """Fourier-domain filters at the resolutions the transform needs (all real).

    ``phi[res]``: the low-pass at resolution ``res``, ``(M/2^res, N/2^res)``, ``res = 0..J-1``;
    ``psi``: all ``J*L`` wavelets at full resolution, ``(J*L, M, N)``, filter ``n = j*L + l``;
    ``psi_coarse[j1]``: the wavelets of scales ``j > j1`` at resolution ``j1``, ``((J-1-j1)*L, M/2^j1, N/2^j1)``,
    ``j1 = 0..J-2`` (the second-order filters applied after a first-order path of scale ``j1``);
    ``phi_ops[res]`` (optional): the low-pass stage at resolution ``res`` as two matrices, from
    :func:`separable_lowpass` (``None``, or ``None`` at a resolution: that stage goes through FFTs).
    """

    phi: list[Tensor]
    psi: Tensor
    psi_coarse: list[Tensor]
    phi_ops: Optional[list[Optional[tuple[Tensor, Tensor]]]] = None


def compute_padding(M: int, N: int, J: int) -> tuple[int, int]:
    """Kymatio's padded size: the next multiple of ``2^J`` that leaves a margin of at least ``2^J``."""
    return ((M + 2**J) // 2**J + 1) * 2**J, ((N + 2**J) // 2**J + 1) * 2**J


def pad_sizes(shape: tuple[int, int], J: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) reflect-padding amounts, kymatio's split (the odd pixel goes last)."""
    M, N = shape
    Mp, Np = compute_padding(M, N, J)
    return (Mp - M) // 2, (Mp - M + 1) // 2, (Np - N) // 2, (Np - N + 1) // 2


def reflect_pad(x: Tensor, pads: tuple[int, int, int, int]) -> Tensor:
    """Reflect-pad the last two dims of ``x`` (..., M, N).

    Reflection cannot pad by the full length of a side; as kymatio does, such a side is padded by one less and
    the missing row (column) is repeated from the second one in.
    """
    top, bottom, left, right = pads
    M, N = x.shape[-2:]
    full_m, full_n = top == M, left == N
    lead = x.shape[:-2]
    y = x.reshape(-1, 1, M, N)
    y = F.pad(y, [left - full_n, right - full_n, top - full_m, bottom - full_m], mode="reflect")
    if full_m:
        y = torch.cat([y[:, :, 1:2], y, y[:, :, -2:-1]], dim=2)
    if full_n:
        y = torch.cat([y[:, :, :, 1:2], y, y[:, :, :, -2:-1]], dim=3)
    return y.reshape(*lead, *y.shape[-2:])


def subsample_fourier(x: Tensor, k: int) -> Tensor:
    """Mean of the ``k x k`` aliases of a spectrum (..., M, N) -> (..., M/k, N/k): subsampling by k in space."""
    if k == 1:
        return x
    M, N = x.shape[-2:]
    m, n = M // k, N // k
    # sums of contiguous slabs: much faster on CPU than a mean over strided dims of a reshaped tensor
    rows = sum(x[..., a * m : (a + 1) * m, :] for a in range(k))
    return sum(rows[..., c * n : (c + 1) * n] for c in range(k)) / (k * k)


def filter_subsample(U_hat: Tensor, psi: Tensor, k: int) -> Tensor:
    """``subsample_fourier(U_hat * psi, k)`` without forming the full-resolution product.

    ``U_hat`` (..., M, N) complex and ``psi`` (..., M, N) real broadcast against each other. Each of the
    ``k x k`` alias blocks is multiplied and accumulated in place, which halves the memory traffic of
    multiplying first and summing the aliases after.
    """
    if k == 1:
        return U_hat * psi
    M, N = U_hat.shape[-2:]
    m, n = M // k, N // k
    psi = psi / (k * k)
    # blocks through unbind rather than slicing: the backward of a slice zero-fills a full-size gradient
    # for every block, the backward of unbind stacks them once
    U_blocks = [row.unbind(-2) for row in U_hat.reshape(*U_hat.shape[:-2], k, m, k, n).unbind(-4)]
    psi_blocks = [row.unbind(-2) for row in psi.reshape(*psi.shape[:-2], k, m, k, n).unbind(-4)]
    out = U_blocks[0][0] * psi_blocks[0][0]
    for a in range(k):
        for c in range(k):
            if a or c:
                out.addcmul_(U_blocks[a][c], psi_blocks[a][c])
    return out


class _Modulus(torch.autograd.Function):
    """``|z|`` of a complex tensor as ``sqrt(re^2 + im^2)`` (kymatio's modulus), 2-3x faster than ``Tensor.abs``
    on CPU; the gradient is ``grad * z / |z|``, 0 where ``z = 0`` (as ``abs``'s)."""

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        parts = torch.view_as_real(z)
        r = (parts[..., 0] * parts[..., 0]).addcmul_(parts[..., 1], parts[..., 1]).sqrt_()
        ctx.save_for_backward(z, r)
        return r

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        z, r = ctx.saved_tensors
        # where r = 0 the quotient is inf or nan and z is 0: the gradient there is 0
        return z * (grad / r).nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)


def modulus(z: Tensor) -> Tensor:
    """The modulus of complex ``z`` (real, same shape), differentiable."""
    return _Modulus.apply(z)


def lowpass(U: Tensor, phi: Tensor, k: int) -> Tensor:
    r"""``(U \star \phi)`` subsampled by ``k`` and cropped by one pixel on each side (kymatio's unpad), for real
    ``U`` (..., M, N) and the real, even low-pass ``phi`` (M, N) in Fourier.

    Works on the half spectrum of ``U``: the aliases along rows are summed in Fourier (subsampling the rows),
    the rows are inverse-transformed, and the columns are inverse real-transformed at full length and then
    subsampled in space, which equals summing their aliases in Fourier.
    """
    M, N = U.shape[-2:]
    half = torch.fft.rfft2(U) * phi[:, : N // 2 + 1]
    half = half.reshape(*half.shape[:-2], k, M // k, half.shape[-1]).mean(dim=-3)
    S = torch.fft.irfft(torch.fft.ifft(half, dim=-2), n=N, dim=-1)[..., ::k]
    return S[..., 1:-1, 1:-1]


def separable_lowpass(phi: Tensor, k: int) -> Optional[tuple[Tensor, Tensor]]:
    r"""The low-pass stage as matrices: ``(A, B)`` such that ``lowpass(U, phi, k) == A @ U @ B.T`` for every real
    ``U`` (M, N), or ``None`` when ``phi`` (M, N) is not separable.

    Kymatio's :math:`\hat\phi` is the spectrum of a round Gaussian periodised over a rectangle of periods, a product
    of a function of the row and one of the column, and so is its periodised version at every resolution: then
    filtering, subsampling by ``k`` and cropping act on rows and columns separately, and each is one small real
    matrix, ``(M/k - 2, M)`` and ``(N/k - 2, N)``. Two matrix products cost less than the forward and inverse FFTs
    of :func:`lowpass` and their backward is two matrix products too. Built in float64 (once per layer).
    """
    M, N = phi.shape
    if M % k or N % k or M // k < 3 or N // k < 3:
        return None
    phi = phi.detach().to(torch.float64)
    dc = phi[0, 0]
    rows, cols = phi[:, 0] / dc, phi[0, :]
    if not dc > 0 or (torch.outer(rows, cols) - phi).abs().max() > 1e-12 * phi.abs().max():
        return None

    def axis(spectrum: Tensor, n: int) -> Optional[Tensor]:
        eye = torch.eye(n, dtype=torch.float64, device=phi.device)
        filtered = torch.fft.ifft(torch.fft.fft(eye, dim=0) * spectrum[:, None], dim=0)  # column j: e_j filtered
        if filtered.imag.abs().max() > 1e-12 * filtered.real.abs().max():
            return None  # not an even filter: the stage does not map real images to real images
        return filtered.real[::k][1:-1].contiguous()

    A, B = axis(rows, M), axis(cols, N)
    return None if A is None or B is None else (A, B)


def lowpass_matrices(U: Tensor, A: Tensor, B: Tensor) -> Tensor:
    """:func:`lowpass` through the matrices of :func:`separable_lowpass`: ``A @ U @ B.T`` over the last two dims."""
    return torch.matmul(A, torch.matmul(U, B.t()))


def scattering2d(
    x: Tensor,
    filters: FilterBank,
    J: int,
    L: int,
    max_order: int = 2,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    second_order_only: bool = False,
) -> Tensor:
    r"""Scattering coefficients of real images ``x`` (B, M0, N0) -> (B, K, M0/2^J, N0/2^J).

    ``filters`` are sized for the padded input; ``pads`` as from :func:`pad_sizes`. K counts order 0, the
    ``J*L`` order-1 paths (``n1 = j1*L + l1``) and the order-2 paths (``n1`` outer, ``n2`` inner, ``j2 > j1``),
    kymatio's order; with ``second_order_only`` only the order-2 block.

    Packed (several filter banks in one pass): when ``filters.psi`` has a leading member dimension P,
    ``(P, J*L, M, N)`` (and ``psi_coarse[j1]`` likewise ``(P, ..., M/2^j1, N/2^j1)``; ``phi`` is shared),
    ``x`` is ``(P, B, M0, N0)`` and member p's images are scattered with member p's wavelets:
    ``(P, B, K, M0/2^J, N0/2^J)``. Every operation is the unpacked one, broadcast over P.
    """
    packed = filters.psi.dim() == 4
    ops = filters.phi_ops or [None] * J

    def smooth(U: Tensor, res: int) -> Tensor:  # the low-pass stage of a modulus at resolution res
        return lowpass(U, filters.phi[res], 2 ** (J - res)) if ops[res] is None else lowpass_matrices(U, *ops[res])

    U_0 = reflect_pad(x, pads)
    U_0_hat = torch.fft.fft2(U_0)
    out_S_0, out_S_1, out_S_2 = [], [], []
    if not second_order_only:
        out_S_0.append(smooth(U_0, 0).unsqueeze(-3))

    # One first-order path at a time: a path's tensors are a few MB and stay in cache, where batching all
    # orientations makes tens-of-MB temporaries that cost more to allocate and stream than they save.
    psi_1 = filters.psi.unbind(-3)  # unbind, not slicing: slices backpropagate through zero-filled copies
    if packed:  # (P, M, N) -> (P, 1, M, N): one filter per member, broadcast over that member's batch
        psi_1 = [psi.unsqueeze(-3) for psi in psi_1]
    for n1 in range(J * L):
        j1 = n1 // L
        U_1 = modulus(torch.fft.ifft2(filter_subsample(U_0_hat, psi_1[n1], 2**j1)))
        if not second_order_only:
            out_S_1.append(smooth(U_1, j1).unsqueeze(-3))
        if max_order < 2 or j1 == J - 1:
            continue
        U_1_hat = torch.fft.fft2(U_1).unsqueeze(-3)
        # all second-order filters of one scale j2 > j1 at once: (B, L, M/2^j2, N/2^j2)
        for j2, psi_2 in enumerate(filters.psi_coarse[j1].split(L, dim=-3), start=j1 + 1):
            if packed:  # (P, L, m, n) -> (P, 1, L, m, n)
                psi_2 = psi_2.unsqueeze(-4)
            U_2 = modulus(torch.fft.ifft2(filter_subsample(U_1_hat, psi_2, 2 ** (j2 - j1))))
            out_S_2.append(smooth(U_2, j2))

    return torch.cat(out_S_0 + out_S_1 + out_S_2, dim=-3)
