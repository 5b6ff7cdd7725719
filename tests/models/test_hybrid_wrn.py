"""The paper's hybrid wide ResNet (``cnn`` head)."""
import pytest
import torch
import torch.nn.functional as F

from parametricSN.config import ModelConfig
from parametricSN.models import build_head, build_model
from parametricSN.models.hybrid_wrn import HybridWideResNet

from tests.configs import make_cfg, paper
from tests.models.helpers import n_params


def test_cnn_k8_on_cifar_scattering_has_the_papers_22_6_million_parameters():
    cfg = make_cfg("cifar", *paper("cifar", small=False), "model.name=cnn", "model.width=8", "model.depth=4")
    model = build_model(cfg)
    assert model.head_input_shape == (3 * 81, 8, 8)  # J = 2, L = 8: K = 1 + 16 + 64 = 81 per colour channel
    assert n_params(model.head) == pytest.approx(22.6e6, rel=0.03)


def test_pooling_onto_2x2_grid_matches_adaptive_pooling_on_even_sizes():
    head = HybridWideResNet((2, 8, 8), 10, k=1, n=1)
    x = torch.randn(3, 64, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(head.pool(x), F.adaptive_avg_pool2d(x, 2))
    head = HybridWideResNet((2, 14, 10), 10, k=1, n=1)
    x = torch.randn(3, 64, 14, 10, dtype=torch.float64)
    torch.testing.assert_close(head.pool(x), F.adaptive_avg_pool2d(x, 2))


def test_pooling_on_odd_sizes_averages_disjoint_windows_covering_everything():
    head = HybridWideResNet((2, 7, 7), 10, k=1, n=1)  # Fashion-MNIST, J = 2
    x = torch.randn(1, 64, 7, 7, dtype=torch.float64)
    pooled = head.pool(x)
    expected = torch.stack([torch.stack([x[..., :4, :4].mean((-2, -1)), x[..., :4, 4:].mean((-2, -1))], -1),
                            torch.stack([x[..., 4:, :4].mean((-2, -1)), x[..., 4:, 4:].mean((-2, -1))], -1)], -2)
    torch.testing.assert_close(pooled, expected)
    assert head.fc.in_features == 64 * 4


def test_fc_is_sized_from_the_pooled_grid_of_a_one_pixel_input():
    head = build_head("cnn", (5, 1, 1), 3, ModelConfig(width=1, depth=1))
    assert head.fc.in_features == 64
    head.eval()  # a 1×1 grid with batch 2 is too few values for BatchNorm's training statistics
    assert head(torch.randn(2, 5, 1, 1)).shape == (2, 3)
