import pytest
from torch import nn

from parametricSN.config import ConfigError, ModelConfig
from parametricSN.config import names as config_names
from parametricSN.models import available_heads, build_head, build_model, register_head, registry
from tests.configs import make_cfg, paper
from tests.models.helpers import HEADS, images


def test_every_paper_head_is_registered():
    assert set(HEADS) <= set(available_heads())
    assert available_heads() == sorted(available_heads())


def test_unknown_head_is_a_config_error_listing_the_registered_names():
    with pytest.raises(ConfigError) as err:
        build_head("resnet51", (3, 32, 32), 10, ModelConfig())
    msg = str(err.value)
    assert "model.name" in msg and "'resnet51'" in msg
    for name in HEADS:
        assert name in msg


def test_build_model_reports_an_unknown_head_by_name():
    cfg = make_cfg("cifar", *paper("cifar"), "scattering.architecture=identity")
    cfg.model.name = "transformer"  # bypasses the schema's choices, as a newly added head name would
    with pytest.raises(ConfigError, match="unknown head 'transformer'"):
        build_model(cfg)


class _MeanHead(nn.Module):
    def __init__(self, in_shape, num_classes):
        super().__init__()
        self.in_shape = in_shape
        self.fc = nn.Linear(in_shape[0], num_classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(-2, -1)))


def test_a_new_head_is_one_decorated_builder(monkeypatch, request):
    # keep the global registries untouched: the builders, and the head facts register_head records
    monkeypatch.setattr(registry, "_HEADS", dict(registry._HEADS))
    request.addfinalizer(lambda: config_names.head_facts().pop("mean", None))

    @register_head("mean")
    def mean(in_shape, num_classes, cfg):
        return _MeanHead(in_shape, num_classes)

    assert "mean" in available_heads()
    cfg = make_cfg("covidx", *paper("covidx"), "scattering.architecture=identity")
    cfg.model.name = "mean"
    model = build_model(cfg)
    assert isinstance(model.head, _MeanHead) and model.head.in_shape == (1, 224, 224)
    assert model(images(cfg)).shape == (2, cfg.num_classes)


def test_registering_a_different_builder_under_a_taken_name_fails(monkeypatch):
    monkeypatch.setattr(registry, "_HEADS", dict(registry._HEADS))
    with pytest.raises(ValueError, match="'linear' is already registered"):

        @register_head("linear")
        def other_linear(in_shape, num_classes, cfg):
            return nn.Identity()
