r"""``PackedScattering2D``: the scattering layers of P runs as one layer, member p's images scattered with member
p's filters in one pass (see :func:`parametricSN.scattering.core.scattering2d`, packed form).

Every raw tensor of the members (their family's parameters, e.g. Morlet's ``theta, xi, sigma, slant``, or ``psi_hat``) is stacked along a new leading
member dimension under the member's own name, so ``state_dict()[name][p]`` is member p's ``state_dict()[name]``.
Members may differ in their values only: initialisation and ``learnable``. When some members are learnable, the
stacked tensors are parameters and the fixed members' rows are cut from the graph (``torch.where`` on a member
mask), so their gradient is exactly zero and an SGD/Adam step without weight decay leaves them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor, nn

from parametricSN.scattering.core import FilterBank, scattering2d
from parametricSN.scattering.families import WaveletFamily, get_family
from parametricSN.scattering.filters import periodize
from parametricSN.scattering.layer import ParametricScattering2D, lowpass_bank, path_meta, register_lowpass

# What every member of a pack must share: it fixes the shapes and the computation.
SHARED = (
    "J",
    "L",
    "max_order",
    "shape",
    "parameterization",
    "backend",
    "second_order_only",
    "family_name",
    "periodize",
)


class PackedScattering2D(nn.Module):
    """P scattering layers in one: ``(P, B, C, H, W) -> (P, B, C*K, H // 2**J, W // 2**J)``."""

    def __init__(self, members: Sequence[ParametricScattering2D]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a pack needs at least one scattering layer")
        first = members[0]
        for attr in SHARED:
            values = [getattr(m, attr) for m in members]
            if any(v != values[0] for v in values):
                raise ValueError(f"packed scattering layers must share {attr}, got {values}")
        for attr in SHARED + ("padded_shape", "pads", "n_coefficients"):
            setattr(self, attr, getattr(first, attr))
        self.n_members = len(members)
        # One pass of the core over all members (a leading member dimension) saves launches on a GPU; on a CPU
        # its P-times larger temporaries made a pack of 10 twice slower than scattering member by member
        # (benchmarks/pack.py), so None (the default) means: one pass on CUDA, member by member elsewhere.
        self.one_pass: Optional[bool] = None
        self.learnable = any(m.learnable for m in members)
        self._all_learnable = all(m.learnable for m in members)
        register_lowpass(self, [getattr(first, f"phi_{res}").clone() for res in range(self.J)])
        self.register_buffer("member_learnable", torch.tensor([m.learnable for m in members]), persistent=False)
        self.names = ("psi_hat",) if self.parameterization == "pixelwise" else self.family.names
        for name in self.names:
            stacked = torch.stack([getattr(m, name).detach() for m in members]).clone()
            if self.learnable:
                self.register_parameter(name, nn.Parameter(stacked))
            else:
                self.register_buffer(name, stacked)

    # ---- parameters ---------------------------------------------------------------------------------------
    @property
    def family(self) -> WaveletFamily:
        """The members' wavelet family."""
        return get_family(self.family_name)

    def _raw(self, name: str) -> Tensor:
        """The stacked tensor ``name``, with the rows of fixed members detached (zero gradient)."""
        t = getattr(self, name)
        if not t.requires_grad or self._all_learnable:
            return t
        mask = self.member_learnable.reshape(-1, *([1] * (t.dim() - 1)))
        return torch.where(mask, t, t.detach())

    # the family's learning-rate groups, or the pixelwise filters: the same groups as one layer, over the stacked
    # tensors (which carry the same names)
    param_groups = ParametricScattering2D.param_groups

    def filter_params(self) -> dict[str, Tensor]:
        """The family's parameters per member and filter, ``(P, J*L)``; empty for ``pixelwise``."""
        if self.parameterization == "pixelwise":
            return {}
        p = {n: self._raw(n) for n in self.family.names}
        return p if self.parameterization == "canonical" else self.family.expand_equivariant(p, self.L)

    def meta(self, channels: int = 1) -> list[list[dict]]:
        """Member p's path map, ``meta(channels)[p]``: what member p's own layer's ``meta(channels)`` gives (see
        :func:`~parametricSN.scattering.layer.path_meta`); the output channel ``k`` of member p is
        ``S(x)[p, :, k]``."""
        params = self.filter_params()
        return [
            path_meta(
                self.J,
                self.L,
                self.max_order,
                self.second_order_only,
                channels,
                {n: t[p] for n, t in params.items()},
                self.family.names,
            )
            for p in range(self.n_members)
        ]

    # ---- filters ------------------------------------------------------------------------------------------
    def _wavelets(self) -> Tensor:
        """``(P, J*L, M_pad, N_pad)`` Fourier wavelets, built in float64 as each member builds its own."""
        if self.parameterization == "pixelwise":
            return self._raw("psi_hat")
        p = self.filter_params()
        psi = self.family.build(self.padded_shape, {n: t.reshape(-1).double() for n, t in p.items()}, self.periodize)
        return psi.reshape(self.n_members, self.J * self.L, *self.padded_shape)

    def filter_bank(self, dtype: torch.dtype = torch.float32) -> FilterBank:
        """The packed filter bank: ``psi`` ``(P, J*L, M, N)``, ``psi_coarse[j1]`` ``(P, ..., M/2^j1, N/2^j1)``."""
        J, L = self.J, self.L
        psi = self._wavelets()
        coarse = [psi[:, (j1 + 1) * L :] if j1 == 0 else periodize(psi[:, (j1 + 1) * L :], j1) for j1 in range(J - 1)]
        return lowpass_bank(self, J, psi, coarse, dtype)

    # ---- forward ------------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        P = self.n_members
        if x.dim() != 5 or x.shape[0] != P or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"expected packed images of shape ({P}, B, C, {self.shape[0]}, {self.shape[1]}), got {tuple(x.shape)}"
            )
        B, C = x.shape[1:3]
        bank = self.filter_bank(x.dtype)
        flat = x.reshape(P, B * C, *self.shape)
        one_pass = x.is_cuda if self.one_pass is None else self.one_pass
        if self.backend == "fast" and one_pass:
            S = scattering2d(flat, bank, self.J, self.L, self.max_order, self.pads, self.second_order_only)
        else:  # one member at a time (kymatio's core takes one filter bank)
            if self.backend == "fast":
                core = scattering2d
            else:
                from parametricSN.scattering.kymatio_backend import scattering2d_kymatio as core
            S = torch.stack(
                [
                    core(
                        flat[p],
                        bank._replace(psi=bank.psi[p], psi_coarse=[c[p] for c in bank.psi_coarse]),
                        self.J,
                        self.L,
                        self.max_order,
                        self.pads,
                        self.second_order_only,
                    )
                    for p in range(P)
                ]
            )
        return S.reshape(P, B, C * self.n_coefficients, *S.shape[-2:])

    def extra_repr(self) -> str:
        return (
            f"members={self.n_members}, family={self.family_name!r}, J={self.J}, shape={self.shape}, L={self.L}, "
            f"parameterization={self.parameterization!r}, backend={self.backend!r}, K={self.n_coefficients}"
        )
