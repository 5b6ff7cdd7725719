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
    cfg = make_cfg("cifar", *paper("cifar", small=False), "model.name=hybrid-wrn", "model.width=8", "model.depth=4")
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
    expected = torch.stack(
        [
            torch.stack([x[..., :4, :4].mean((-2, -1)), x[..., :4, 4:].mean((-2, -1))], -1),
            torch.stack([x[..., 4:, :4].mean((-2, -1)), x[..., 4:, 4:].mean((-2, -1))], -1),
        ],
        -2,
    )
    torch.testing.assert_close(pooled, expected)
    assert head.fc.in_features == 64 * 4


def test_fc_is_sized_from_the_pooled_grid_of_a_one_pixel_input():
    head = build_head("hybrid-wrn", (5, 1, 1), 3, ModelConfig(width=1, depth=1))
    assert head.fc.in_features == 64
    head.eval()  # a 1×1 grid with batch 2 is too few values for BatchNorm's training statistics
    assert head(torch.randn(2, 5, 1, 1)).shape == (2, 3)


@pytest.mark.parametrize("name", ["hybrid-wrn", "wrn"])
def test_model_init_default_keeps_pytorch_init_and_kaiming_is_he_normal_fan_out(name):
    """The paper's heads kept PyTorch's conv init, std 1/sqrt(3 fan_in); He-normal (fan_out) is sqrt(6) x larger."""

    def conv_std(init):
        torch.manual_seed(0)
        head = build_head(name, (3, 8, 8), 10, ModelConfig(width=4, depth=1, init=init))
        # a 3x3 conv from 128 to 128 channels: the first conv of stage 2 (cnn) / of stage 1's 2nd block (wrn)
        convs = [m for m in head.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape == (128, 128, 3, 3)]
        return convs[0].weight.std().item(), head

    fan = 128 * 9
    std, head = conv_std("default")
    assert std == pytest.approx(1 / (3 * fan) ** 0.5, rel=0.02)
    assert all(
        torch.equal(m.weight, torch.ones_like(m.weight))
        for m in head.modules()
        if isinstance(m, torch.nn.BatchNorm2d) and m.affine
    )
    std, _ = conv_std("kaiming")
    assert std == pytest.approx((2 / fan) ** 0.5, rel=0.02)


def test_model_init_is_a_choice():
    with pytest.raises(Exception, match="model.init"):
        make_cfg("cifar", "model.name=hybrid-wrn", "model.init=xavier")
