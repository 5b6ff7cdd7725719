r"""``ParametricScattering2D``: a scattering layer whose wavelets are built from learnable parameters.

The wavelets come from a registered family (``family="morlet"`` by default, :mod:`parametricSN.scattering.families`),
which names the parameters, builds the Fourier-domain filters and gives the initialisations. Parameterizations of
the ``J*L`` wavelets (filter ``n = j*L + l``), for Morlet's :math:`(\theta, \xi, \sigma, \gamma)`:

* ``canonical``: every parameter per filter, e.g. :math:`(\theta_n, \xi_n, \sigma_n, \gamma_n)`, ``4*J*L`` scalars;
* ``equivariant`` (families with an orientation): every parameter per scale, the orientations of scale ``j``
  being :math:`\theta_j - l\pi/L` (so the tight-frame init equals the canonical one), ``4*J`` scalars;
* ``pixelwise``: the ``J*L`` full-resolution Fourier filters themselves, initialised from the family's chosen init
  (family-free once built).

With ``learnable=False`` the same values are buffers. The filters are derived from the parameters: rebuilt on
every forward that may need gradients, and cached otherwise (eval / no-grad) until a parameter changes (an
optimizer step, ``load_state_dict``, ``.to()``). The state_dict holds parameters only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

import torch
from torch import Tensor, nn

from parametricSN.scattering.core import FilterBank, compute_padding, pad_sizes, scattering2d, separable_lowpass
from parametricSN.scattering.families import DEFAULT_FAMILY, WaveletFamily, get_family
from parametricSN.scattering.filters import lowpass_filter, periodize
from parametricSN.scattering.filters import periodize as coarser  # the constructor's `periodize` is a flag

INITS = ("tight-frame", "random")
PARAMETERIZATIONS = ("canonical", "equivariant", "pixelwise")
BACKENDS = ("fast", "kymatio")


def n_coefficients(J: int, L: int, max_order: int = 2, second_order_only: bool = False) -> int:
    """Coefficients per input channel: ``1 + L*J + L*L*J*(J-1)/2`` for ``max_order=2``."""
    order2 = L * L * J * (J - 1) // 2 if max_order == 2 else 0
    return order2 if second_order_only else 1 + L * J + order2


class ParametricScattering2D(nn.Module):
    """Learnable 2-D scattering transform, ``(B, C, H, W) -> (B, C*K, H // 2**J, W // 2**J)``.

    Any leading batch shape works: ``(..., C, H, W) -> (..., C*K, h, w)``; a 2-D input ``(H, W)`` gives
    ``(K, h, w)``. Coefficients follow kymatio's order with the colour channel outermost.
    """

    def __init__(
        self,
        J: int,
        shape: tuple[int, int],
        L: int = 8,
        max_order: int = 2,
        init: str = "tight-frame",
        learnable: bool = True,
        parameterization: str = "canonical",
        seed: int = 0,
        backend: str = "fast",
        second_order_only: bool = False,
        family: str = DEFAULT_FAMILY,
        periodize: bool = True,
    ):
        super().__init__()
        M, N = (int(s) for s in shape)
        _require(isinstance(J, int) and J >= 1, f"J must be an integer >= 1, got {J!r}")
        _require(isinstance(L, int) and L >= 1, f"L must be an integer >= 1, got {L!r}")
        _require(max_order in (1, 2), f"max_order must be 1 or 2, got {max_order!r}")
        _require(min(M, N) >= 2**J, f"shape {shape} is smaller than 2**J = {2**J}; lower J")
        _require(init in INITS, f"init must be one of {INITS}, got {init!r}")
        _require(
            parameterization in PARAMETERIZATIONS,
            f"parameterization must be one of {PARAMETERIZATIONS}, got {parameterization!r}",
        )
        _require(backend in BACKENDS, f"backend must be one of {BACKENDS}, got {backend!r}")
        _require(
            not second_order_only or (max_order == 2 and J >= 2),
            "second_order_only needs max_order=2 and J >= 2 (no order-2 paths otherwise)",
        )
        self.J, self.L, self.max_order, self.shape = J, L, max_order, (M, N)
        self.init, self.learnable, self.parameterization = init, learnable, parameterization
        self.seed, self.backend, self.second_order_only = seed, backend, second_order_only
        self.family_name, self.periodize = get_family(family).name, bool(periodize)  # get_family: unknown is an error
        _require(
            parameterization != "equivariant" or self.family.orientation is not None,
            f"the {family} family has no orientation parameter: use the canonical or pixelwise parameterization",
        )
        self.padded_shape = compute_padding(M, N, J)
        self.pads = pad_sizes((M, N), J)
        self.n_coefficients = n_coefficients(J, L, max_order, second_order_only)

        phi = lowpass_filter(self.padded_shape, J)
        register_lowpass(self, [coarser(phi, res) for res in range(J)])

        n_init = J if parameterization == "equivariant" else J * L
        family = self.family
        if init == "tight-frame":
            values = family.tight_frame(J, L)
            if parameterization == "equivariant":  # one value per scale: orientation l = 0
                values = {k: v[::L].clone() for k, v in values.items()}
        else:
            values = family.random(J, L, torch.Generator().manual_seed(seed), n_init)
        if parameterization == "pixelwise":
            self._add("psi_hat", family.build(self.padded_shape, values, self.periodize))
        else:
            for name in family.names:
                self._add(name, values[name])
        self._cache: Optional[tuple[tuple, FilterBank]] = None

    # ---- parameters ---------------------------------------------------------------------------------------
    @property
    def family(self) -> WaveletFamily:
        """The wavelet family (looked up by name, so a layer pickles without its family's class)."""
        return get_family(self.family_name)

    def _add(self, name: str, value: Tensor) -> None:
        value = value.to(torch.get_default_dtype())
        if self.learnable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def _raw(self) -> list[Tensor]:
        names = ("psi_hat",) if self.parameterization == "pixelwise" else self.family.names
        return [getattr(self, n) for n in names]

    def filter_params(self) -> dict[str, Tensor]:
        """The family's parameters per filter (Morlet: theta, xi, sigma, slant; length ``J*L``, filter
        ``n = j*L + l``), differentiable, as stored (the generator clamps them into the family's bounds).

        Empty for ``pixelwise``, whose filters are free Fourier coefficients rather than family parameters.
        """
        if self.parameterization == "pixelwise":
            return {}
        raw = {n: getattr(self, n) for n in self.family.names}
        return raw if self.parameterization == "canonical" else self.family.expand_equivariant(raw, self.L)

    def param_groups(
        self, lr_orientation: float = 0.1, lr_scattering: float = 0.1, lr: Optional[Mapping[str, float]] = None
    ) -> list[dict]:
        """Optimizer groups, one per learning-rate group of the family (Morlet: θ alone as ``orientation``,
        {ξ, σ, slant} together as ``scattering``), each named after its group. A group's rate is ``lr[name]``
        when given, else ``lr_orientation`` for a group called ``orientation`` and ``lr_scattering`` for any
        other. Pixelwise: one group of filters, ``scattering``. None when the filters are fixed."""
        if not self.learnable:
            return []
        lr = dict(lr or {})

        def rate(group: str) -> float:
            return lr.get(group, lr_orientation if group == "orientation" else lr_scattering)

        if self.parameterization == "pixelwise":
            return [{"params": [self.psi_hat], "lr": rate("scattering"), "name": "scattering"}]
        return [
            {"params": [getattr(self, n) for n in names], "lr": rate(group), "name": group}
            for group, names in self.family.groups.items()
        ]

    def meta(self, channels: int = 1) -> list[dict]:
        """The path of every output channel for ``channels`` input channels: see :func:`path_meta`."""
        return path_meta(
            self.J,
            self.L,
            self.max_order,
            self.second_order_only,
            channels,
            self.filter_params(),
            self.family.names,
        )

    # ---- filters ------------------------------------------------------------------------------------------
    def _wavelets(self) -> Tensor:
        """The ``J*L`` full-resolution Fourier wavelets, built in float64 from the parameters."""
        if self.parameterization == "pixelwise":
            return self.psi_hat
        p = self.filter_params()
        return self.family.build(self.padded_shape, {n: t.double() for n, t in p.items()}, self.periodize)

    def filters(self) -> Tensor:
        """``(J*L, M_pad, N_pad)`` real Fourier-domain wavelets at full resolution (detached, for figures)."""
        with torch.no_grad():
            return self._wavelets().detach().clone()

    def _filter_bank(self, dtype: torch.dtype) -> FilterBank:
        J, L = self.J, self.L
        psi = self._wavelets()
        coarse = [psi[(j1 + 1) * L :] if j1 == 0 else periodize(psi[(j1 + 1) * L :], j1) for j1 in range(J - 1)]
        return lowpass_bank(self, J, psi, coarse, dtype)

    def _cache_key(self, dtype: torch.dtype) -> tuple:
        # _version counts in-place writes (optimizer steps, load_state_dict's copy_); data_ptr changes on .to()
        return (dtype,) + tuple((t.data_ptr(), t._version, t.device) for t in self._raw())

    def filter_bank(self, dtype: torch.dtype = torch.float32) -> FilterBank:
        """The filters at every resolution the transform needs.

        Rebuilt from the parameters whenever a gradient can flow to them (training); otherwise (eval under
        ``torch.no_grad()``, or fixed filters) cached until a parameter changes. Caching whenever the module is in
        eval mode would silently cut the gradient to the filters of a model fine-tuned in eval mode.
        """
        needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in self._raw())
        if needs_grad:
            self._cache = None
            return self._filter_bank(dtype)
        key = self._cache_key(dtype)
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self._filter_bank(dtype))
        return self._cache[1]

    # ---- forward ------------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"expected input of shape (..., {self.shape[0]}, {self.shape[1]}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point input, got {x.dtype}")
        lead = x.shape[:-3] if x.dim() >= 3 else ()
        channels = x.shape[-3] if x.dim() >= 3 else 1
        filters = self.filter_bank(x.dtype)
        if self.backend == "fast":
            run = scattering2d
        else:
            from parametricSN.scattering.kymatio_backend import scattering2d_kymatio as run
        S = run(x.reshape(-1, *self.shape), filters, self.J, self.L, self.max_order, self.pads, self.second_order_only)
        out_shape = S.shape[-2:]
        if x.dim() == 2:
            return S.reshape(self.n_coefficients, *out_shape)
        return S.reshape(*lead, channels * self.n_coefficients, *out_shape)

    # ---- copies -------------------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # derived; rebuilt on demand
        return state

    def extra_repr(self) -> str:
        return (
            f"family={self.family_name!r}, J={self.J}, shape={self.shape}, L={self.L}, max_order={self.max_order}, "
            f"init={self.init!r}, periodize={self.periodize}, "
            f"learnable={self.learnable}, parameterization={self.parameterization!r}, "
            f"backend={self.backend!r}, second_order_only={self.second_order_only}, K={self.n_coefficients}"
        )


def path_meta(
    J: int,
    L: int,
    max_order: int,
    second_order_only: bool,
    channels: int,
    params: dict[str, Tensor],
    names: Optional[tuple[str, ...]] = None,
) -> list[dict]:
    """One dict per output channel ``k`` of a scattering layer, in output order (``meta[k]`` describes
    ``S(x)[..., k, :, :]``), with the keys

    - ``channel`` (= k), ``input_channel`` (the colour channel c; k = c*K + path), ``order`` (0, 1 or 2);
    - ``j1, l1, n1`` (scale, orientation and filter index ``n1 = j1*L + l1`` of the first wavelet) and
      ``j2, l2, n2`` (the second), None below the path's order;
    - ``<name>1`` and ``<name>2`` for each parameter ``name`` of the family (``names``, default the keys of
      ``params``; Morlet: ``theta1, xi1, sigma1, slant1``, ``theta2, ...``): the current values (floats) of the
      wavelets on the path, from ``params`` (:meth:`ParametricScattering2D.filter_params`); None below the
      order, and None for the pixelwise parameterization, whose filters are free Fourier coefficients with no
      family parameters (``S.filters()[n1]`` is its first wavelet).

    Every dict has every key, so ``pandas.DataFrame(S.meta(3))`` is a table of the paths.
    """
    values = {name: t.detach().reshape(-1).tolist() for name, t in params.items()}
    names = tuple(params) if names is None else tuple(names)
    paths: list[tuple] = [] if second_order_only else [(None, None)] + [(n1, None) for n1 in range(J * L)]
    if max_order == 2:
        paths += [(n1, n2) for n1 in range(J * L) for n2 in range((n1 // L + 1) * L, J * L)]
    out = []
    for c in range(channels):
        for n1, n2 in paths:
            row = {"channel": len(out), "input_channel": c, "order": sum(n is not None for n in (n1, n2))}
            for i, n in (("1", n1), ("2", n2)):
                row.update({f"j{i}": None if n is None else n // L, f"l{i}": None if n is None else n % L, f"n{i}": n})
                row.update(
                    {f"{name}{i}": None if n is None or name not in values else values[name][n] for name in names}
                )
            out.append(row)
    return out


def register_lowpass(module: nn.Module, levels: list[Tensor]) -> None:
    """Register the fixed low-pass of each resolution on ``module``: ``phi_{res}`` and, where it is separable, its
    matrices ``lowpass_rows_{res}`` / ``lowpass_cols_{res}`` (derived buffers: they move with ``.to()`` but stay out
    of the state_dict)."""
    J = len(levels)
    for res, level in enumerate(levels):
        module.register_buffer(f"phi_{res}", level, persistent=False)
        ops = separable_lowpass(level, 2 ** (J - res))
        for side, matrix in zip(("rows", "cols"), ops or ()):
            module.register_buffer(f"lowpass_{side}_{res}", matrix, persistent=False)


def lowpass_bank(module: nn.Module, J: int, psi: Tensor, coarse: list[Tensor], dtype: torch.dtype) -> FilterBank:
    """The :class:`FilterBank` of ``psi``/``coarse`` and the low-pass registered on ``module``, in ``dtype``."""
    phi = [getattr(module, f"phi_{res}").to(dtype) for res in range(J)]
    ops = [
        (getattr(module, f"lowpass_rows_{res}").to(dtype), getattr(module, f"lowpass_cols_{res}").to(dtype))
        if hasattr(module, f"lowpass_rows_{res}")
        else None
        for res in range(J)
    ]
    return FilterBank(phi, psi.to(dtype), [c.to(dtype) for c in coarse], ops)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
