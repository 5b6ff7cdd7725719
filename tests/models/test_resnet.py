"""The ``resnet50`` head: stem adaptation and local weights (never downloaded)."""

import pytest
import torch
from torch import nn

from parametricSN.config import ConfigError, ModelConfig
from parametricSN.models import build_head, build_model
from tests.configs import make_cfg, paper


def test_small_inputs_get_the_cifar_stem_and_large_ones_the_imagenet_stem():
    small = build_head("resnet50", (243, 8, 8), 10, ModelConfig())
    assert (small.conv1.in_channels, small.conv1.kernel_size, small.conv1.stride) == (243, (3, 3), (1, 1))
    assert isinstance(small.maxpool, nn.Identity)
    gray = build_head("resnet50", (1, 224, 224), 3, ModelConfig())
    assert (gray.conv1.in_channels, gray.conv1.kernel_size, gray.conv1.stride) == (1, (7, 7), (2, 2))
    assert isinstance(gray.maxpool, nn.MaxPool2d)
    assert gray.fc.out_features == 3


def test_weights_round_trip_through_a_local_file(tmp_path):
    cfg = make_cfg("cifar", *paper("cifar"), "scattering.architecture=identity", "model.name=resnet50")
    saved = build_model(cfg)
    path = tmp_path / "resnet50.pt"
    torch.save(saved.head.state_dict(), path)

    torch.manual_seed(1)  # a different random init, which the file must overwrite
    cfg.model.weights = str(path)
    loaded = build_model(cfg)
    for key, value in saved.head.state_dict().items():
        assert torch.equal(loaded.head.state_dict()[key], value), key


def test_random_init_when_no_weights_are_given():
    torch.manual_seed(1)
    a = build_head("resnet50", (3, 32, 32), 10, ModelConfig())
    torch.manual_seed(2)
    b = build_head("resnet50", (3, 32, 32), 10, ModelConfig())
    assert not torch.equal(a.conv1.weight, b.conv1.weight)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(ConfigError, match="model.weights: no file at") as err:
        build_head("resnet50", (3, 32, 32), 10, ModelConfig(weights=str(missing)))
    assert str(missing) in str(err.value) and "never downloaded" in str(err.value)


def test_weights_for_another_shape_or_class_count_are_a_clear_error(tmp_path):
    path = tmp_path / "ten_classes.pt"
    torch.save(build_head("resnet50", (3, 32, 32), 10, ModelConfig()).state_dict(), path)
    with pytest.raises(ConfigError, match="does not match") as err:
        build_head("resnet50", (1, 28, 28), 3, ModelConfig(weights=str(path)))
    msg = str(err.value)
    assert "conv1.weight" in msg and "fc.weight (file (10, 2048), model (3, 2048))" in msg


def test_a_file_that_is_not_a_state_dict_is_a_clear_error(tmp_path, monkeypatch):
    def never_built(*args):
        raise AssertionError("the network was built before its weights file was read")

    monkeypatch.setattr("parametricSN.models.resnet.resnet50_for", never_built)  # a bad file fails at once
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="cannot read"):
        build_head("resnet50", (3, 32, 32), 10, ModelConfig(weights=str(garbage)))
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ConfigError, match="does not hold a state_dict"):
        build_head("resnet50", (3, 32, 32), 10, ModelConfig(weights=str(tensor)))
