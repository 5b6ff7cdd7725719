"""PackedScattering2D: member p's images scattered with member p's filters (in one pass of the core, or member by
member), equal to each layer alone."""

import pytest
import torch

from parametricSN.scattering import ParametricScattering2D
from parametricSN.scattering.packed import PackedScattering2D

SHAPE = (12, 12)


def members(parameterization="canonical", backend="fast"):
    # (init, learnable, seed): both inits, one fixed member in the middle
    return [
        ParametricScattering2D(
            2, SHAPE, L=4, init=init, learnable=learnable, seed=seed, parameterization=parameterization, backend=backend
        )
        for init, learnable, seed in [("tight-frame", True, 0), ("random", False, 1), ("random", True, 2)]
    ]


@pytest.mark.parametrize("one_pass", [True, False])  # the CUDA default (one pass of the core) and the CPU one
@pytest.mark.parametrize(
    "parameterization,backend",
    [("canonical", "fast"), ("equivariant", "fast"), ("pixelwise", "fast"), ("canonical", "kymatio")],
)
def test_packed_equals_each_member_output_and_gradients(parameterization, backend, one_pass):
    layers = members(parameterization, backend)
    packed = PackedScattering2D(layers)
    packed.one_pass = one_pass
    x = torch.randn(3, 2, 3, *SHAPE)  # (P, B, C, H, W)
    out = packed(x)
    ref = torch.stack([S(x[p]) for p, S in enumerate(layers)])
    assert out.shape == ref.shape == (3, 2, 3 * layers[0].n_coefficients, 3, 3)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)

    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    for p, S in enumerate(layers):
        if S.learnable:
            (S(x[p]) * weights[p]).sum().backward()
    for name, stacked in packed.named_parameters():
        for p, S in enumerate(layers):
            if S.learnable:
                torch.testing.assert_close(stacked.grad[p], getattr(S, name).grad, rtol=1e-4, atol=1e-6)
            else:  # a fixed member's rows get exactly no gradient
                assert torch.count_nonzero(stacked.grad[p]) == 0


def test_packed_state_is_the_members_stacked_and_groups_mirror_a_single_layer():
    layers = members()
    packed = PackedScattering2D(layers)
    for name, value in layers[1].state_dict().items():
        assert torch.equal(packed.state_dict()[name][1], value)
    assert [g["name"] for g in packed.param_groups(0.1, 0.2)] == ["orientation", "scattering"]
    fixed = PackedScattering2D([ParametricScattering2D(1, SHAPE, L=4, learnable=False)] * 2)
    assert fixed.param_groups(0.1, 0.2) == [] and not list(fixed.parameters())


def test_members_must_share_shapes():
    with pytest.raises(ValueError, match="must share J"):
        PackedScattering2D([ParametricScattering2D(1, SHAPE, L=4), ParametricScattering2D(2, SHAPE, L=4)])
