"""Every head on every dataset's shapes, on scattering coefficients and on pixels; config keys reach the heads."""

import pytest
import torch
from torch import nn

from parametricSN.config import ModelConfig
from parametricSN.models import build_head, build_model
from tests.configs import PAPER_SHAPES, make_cfg, paper
from tests.models.helpers import HEADS, images


@pytest.fixture(scope="module")
def head_inputs():
    """(dataset, architecture) -> (config, what the head receives), computed once: the real scattering layer's
    output, or the images themselves."""
    cache = {}

    def get(dataset, architecture):
        if (dataset, architecture) not in cache:
            cfg = make_cfg(
                dataset, *paper(dataset), f"scattering.architecture={architecture}", "scattering.learnable=false"
            )
            model = build_model(cfg)
            x = images(cfg, batch=1)
            with torch.no_grad():
                features = x if model.scattering is None else model.scattering(x)
            assert features.shape[1:] == model.head_input_shape
            cache[dataset, architecture] = cfg, features
        return cache[dataset, architecture]

    return get


@pytest.mark.parametrize("architecture", ["scattering", "identity"])
@pytest.mark.parametrize("dataset", list(PAPER_SHAPES))
@pytest.mark.parametrize("head", HEADS)
def test_every_head_gives_logits_on_every_dataset_shape(head, dataset, architecture, head_inputs):
    cfg, features = head_inputs(dataset, architecture)
    module = build_head(head, tuple(features.shape[1:]), cfg.num_classes, cfg.model)
    module.eval()  # a batch of one: BatchNorm uses its running statistics (train mode is exercised in test_factory)
    with torch.no_grad():
        logits = module(features)
    assert logits.shape == (1, cfg.num_classes)
    assert torch.isfinite(logits).all()
    # Adaptive pooling has no deterministic CUDA backward; every head pools with fixed kernels or a plain mean.
    assert [m for m in module.modules() if type(m).__name__.startswith("Adaptive")] == []


def _count(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


def test_linear_head_is_batchnorm_then_one_linear_map():
    head = build_head("linear", (12, 5, 6), 7, ModelConfig())
    (bn,) = _count(head, nn.BatchNorm2d)
    (fc,) = _count(head, nn.Linear)
    assert bn.num_features == 12
    assert (fc.in_features, fc.out_features) == (12 * 5 * 6, 7)


def test_mlp_head_reads_depth_hidden_and_dropout():
    head = build_head("mlp", (4, 3, 3), 5, ModelConfig(depth=3, hidden=20, dropout=0.25))
    linears = _count(head, nn.Linear)
    assert [(m.in_features, m.out_features) for m in linears] == [(36, 20), (20, 20), (20, 20), (20, 5)]
    assert [m.p for m in _count(head, nn.Dropout)] == [0.25] * 3
    assert len(_count(head, nn.ReLU)) == 3


def test_cnn_head_reads_width_and_depth():
    head = build_head("hybrid-wrn", (10, 8, 8), 4, ModelConfig(width=2, depth=3))
    assert head.conv0.out_channels == 16 * 2
    assert len(head.stage1) == len(head.stage2) == 3
    assert head.stage1[0].conv1.out_channels == 32 * 2 and head.stage2[-1].conv2.out_channels == 64 * 2
    # no striding anywhere: the grid stays h×w until the final 2×2 pooling
    assert all(m.stride == (1, 1) for m in _count(head, nn.Conv2d))
    assert head.fc.in_features == 64 * 2 * 2 * 2


def test_wrn_reads_width_and_dropout():
    head = build_head("wrn", (3, 32, 32), 10, ModelConfig(width=2, dropout=0.3))
    assert [len(s) for s in (head.stage1, head.stage2, head.stage3)] == [2, 2, 2]  # depth 16 = 6·2 + 4
    assert [s[0].conv1.out_channels for s in (head.stage1, head.stage2, head.stage3)] == [32, 64, 128]
    assert [s[0].conv1.stride for s in (head.stage1, head.stage2, head.stage3)] == [(1, 1), (2, 2), (2, 2)]
    assert {m.p for m in _count(head, nn.Dropout)} == {0.3}


def test_wrn_at_width_8_is_the_standard_wrn_16_8():
    head = build_head("wrn", (3, 32, 32), 10, ModelConfig(width=8))
    assert [s[0].conv1.out_channels for s in (head.stage1, head.stage2, head.stage3)] == [128, 256, 512]
    # WRN-16-8 on CIFAR-10 has 11.0 M parameters (Zagoruyko & Komodakis, table 1)
    assert sum(p.numel() for p in head.parameters()) == pytest.approx(11.0e6, rel=0.01)
