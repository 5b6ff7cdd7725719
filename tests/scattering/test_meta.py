"""The path map ``meta()``: every output channel comes from the filters and the colour channel it names."""

import pytest
import torch

from parametricSN.scattering import ParametricScattering2D
from parametricSN.scattering.packed import PackedScattering2D

SHAPE, L, C = (8, 12), 3, 2  # non-square: a swapped axis would fail


def _changed(y0: torch.Tensor, y: torch.Tensor) -> set[int]:
    """Output channels (dim -3) whose coefficients moved beyond round-off."""
    diff = (y - y0).abs().amax(dim=(0, -2, -1))
    return set(torch.nonzero(diff > 1e-9 * y0.abs().max()).flatten().tolist())


def _perturb(S: ParametricScattering2D, unit: int) -> None:
    """Change the filters of one unit: filter ``unit`` (canonical, pixelwise) or scale ``unit`` (equivariant)."""
    with torch.no_grad():
        if S.parameterization == "pixelwise":
            S.psi_hat[unit] *= 0.5
        else:
            S.theta[unit] += 0.4


@pytest.mark.parametrize("parameterization", ["canonical", "equivariant", "pixelwise"])
@pytest.mark.parametrize("J", [1, 2, 3])
@pytest.mark.parametrize("max_order", [1, 2])
def test_each_channel_comes_from_the_filters_it_names(parameterization, J, max_order):
    S = ParametricScattering2D(
        J, SHAPE, L=L, max_order=max_order, learnable=False, init="random", seed=3, parameterization=parameterization
    )
    x = torch.randn(2, C, *SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    meta = S.meta(C)
    y0 = S(x)
    assert len(meta) == y0.shape[-3] == C * S.n_coefficients
    assert [m["channel"] for m in meta] == list(range(len(meta)))
    for m in meta:  # keys absent below the order are None, present ones are consistent
        assert m["order"] == sum(m[f"n{i}"] is not None for i in "12")
        for i in "12":
            if m[f"n{i}"] is not None:
                assert m[f"n{i}"] == m[f"j{i}"] * L + m[f"l{i}"]
        if m["order"] == 2:
            assert m["j2"] > m["j1"]
    # the colour channel: perturbing input channel c moves exactly the channels that name it
    for c in range(C):
        x2 = x.clone()
        x2[:, c] += torch.randn(x2[:, c].shape, dtype=x.dtype)
        assert _changed(y0, S(x2)) == {m["channel"] for m in meta if m["input_channel"] == c}
    # the filters: perturbing one filter (one scale, equivariant) moves exactly the channels on its paths
    units = J if parameterization == "equivariant" else J * L
    for unit in range(units):
        S2 = ParametricScattering2D(
            J,
            SHAPE,
            L=L,
            max_order=max_order,
            learnable=False,
            init="random",
            seed=3,
            parameterization=parameterization,
        )
        _perturb(S2, unit)

        def on_path(n):
            return n is not None and (n // L == unit if parameterization == "equivariant" else n == unit)

        expected = {m["channel"] for m in meta if on_path(m["n1"]) or on_path(m["n2"])}
        assert expected and _changed(y0, S2(x)) == expected
        # and the map reports the perturbed filter's current values
        if parameterization != "pixelwise":
            theta = S2.filter_params()["theta"]
            for m in S2.meta(C):
                for i in "12":
                    n = m[f"n{i}"]
                    assert m[f"theta{i}"] == (None if n is None else float(theta[n]))
        else:
            assert all(m["theta1"] is None and m["xi2"] is None for m in S2.meta(C))


def test_second_order_only_and_packed_maps():
    S = ParametricScattering2D(2, SHAPE, L=L, second_order_only=True, learnable=False)
    meta = S.meta(1)
    assert len(meta) == S.n_coefficients and {m["order"] for m in meta} == {2}
    params = S.filter_params()
    assert meta[0]["xi1"] == float(params["xi"][0]) and meta[0]["sigma2"] == float(params["sigma"][L])
    members = [
        ParametricScattering2D(2, SHAPE, L=L, init=init, seed=s) for s, init in ((0, "tight-frame"), (1, "random"))
    ]
    packed = PackedScattering2D(members)
    assert packed.meta(3) == [m.meta(3) for m in members]
    # selecting the second-order paths of one scale, as the user guide shows
    second = [m["channel"] for m in S.meta(1) if m["order"] == 2 and m["j1"] == 0]
    assert len(second) == L * L
