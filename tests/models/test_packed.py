"""pack_models: P hybrid models as one (grouped convolutions, per-member BatchNorm, batched linear layers)."""

import pytest
import torch
from torch import nn

from parametricSN.config import ConfigError, load_config
from parametricSN.models import build_model
from parametricSN.models.packed import PackedConv2d, pack_models
from parametricSN.training import seed_everything

BASE = ["dataset.name=fashion_mnist", "dataset.height=12", "dataset.width=12", "scattering.J=2", "scattering.L=4"]
HEADS = {"linear": [], "hybrid-wrn": ["model.width=1", "model.depth=2"], "mlp": ["model.depth=1", "model.hidden=8"]}


def build_members(head, *extra):
    models = []
    for seed in (1, 2, 3):
        seed_everything(seed)
        models.append(
            build_model(
                load_config(None, [*BASE, f"model.name={head}", f"general.seed={seed}", *HEADS.get(head, []), *extra])
            )
        )
    return models


@pytest.mark.parametrize("head", sorted(HEADS))
def test_packed_model_computes_each_member(head):
    models = build_members(head)
    packed = pack_models(models, head)
    x = torch.randn(3, 4, 1, 12, 12)
    out = packed(x)  # train mode: BatchNorm uses and updates each member's own batch statistics
    ref = torch.stack([m(x[p]) for p, m in enumerate(models)])
    assert out.shape == (3, 4, 10)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    # per-member BN statistics: the packed running stats are the members' own after the same batch
    state = packed.state_dict()
    for p, m in enumerate(models):
        for name, value in m.state_dict().items():
            if "running_" in name:
                torch.testing.assert_close(state[name].reshape(3, *value.shape)[p], value, rtol=1e-5, atol=1e-6)
    packed.eval()
    for m in models:
        m.eval()
    torch.testing.assert_close(packed(x), torch.stack([m(x[p]) for p, m in enumerate(models)]), rtol=1e-5, atol=1e-5)


def test_unpack_into_restores_each_member_exactly():
    models = build_members("hybrid-wrn")
    packed = pack_models(models, "hybrid-wrn")
    with torch.no_grad():
        for t in packed.parameters():
            t.add_(1.0)
    fresh = build_members("hybrid-wrn")
    packed.unpack_into(2, fresh[2])
    trained = dict(fresh[2].named_parameters())
    for name, value in fresh[2].state_dict().items():  # parameters moved by +1, buffers as they were
        expected = models[2].state_dict()[name]
        assert torch.equal(value, expected + 1.0 if name in trained else expected), name


def test_heads_that_cannot_be_packed_are_named():
    with pytest.raises(ConfigError, match="'resnet50' cannot be packed"):
        pack_models(build_members("resnet50"), "resnet50")
    with pytest.raises(ConfigError, match="model.dropout"):
        pack_models(build_members("mlp", "model.dropout=0.5"), "mlp")


@pytest.mark.parametrize("bias,groups", [(True, 1), (False, 2)])
def test_packed_conv_member_by_member_equals_one_grouped_conv(bias, groups):
    """The CPU path (a convolution per member) computes what the grouped convolution does, gradients included."""
    torch.manual_seed(0)
    P, C, C_out = 3, 4, 6
    conv = PackedConv2d(P, P * C, P * C_out, 3, padding=1, groups=P * groups, bias=bias).double()
    x = torch.randn(2, P * C, 5, 7, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    grads = torch.autograd.grad(y.square().sum(), [x, *conv.parameters()])
    y_ref = nn.Conv2d.forward(conv, x)
    grads_ref = torch.autograd.grad(y_ref.square().sum(), [x, *conv.parameters()])
    assert torch.allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    for g, g_ref in zip(grads, grads_ref):
        assert torch.allclose(g, g_ref, rtol=1e-12, atol=1e-12)
