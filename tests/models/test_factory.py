"""``build_model`` and ``HybridModel``: scattering + head bookkeeping, seeding, gradients into the filters."""

import copy

import pytest
import torch
import torch.nn.functional as F

from parametricSN.models import HybridModel, build_model
from parametricSN.scattering import ParametricScattering2D, n_coefficients
from tests.configs import PAPER_SHAPES, make_cfg, paper
from tests.models.helpers import HEADS, images


@pytest.mark.parametrize("dataset", list(PAPER_SHAPES))
def test_identity_feeds_the_raw_image_to_the_head(dataset):
    cfg = make_cfg(dataset, *paper(dataset), "scattering.architecture=identity", "model.name=linear")
    model = build_model(cfg)
    side, _ = PAPER_SHAPES[dataset]
    assert isinstance(model, HybridModel) and model.scattering is None
    assert model.input_shape == model.head_input_shape == (cfg.in_channels, side, side)
    assert model.head[-1].in_features == cfg.in_channels * side * side


@pytest.mark.parametrize("dataset", list(PAPER_SHAPES))
def test_scattering_head_sees_channels_times_coefficients_at_one_over_2_to_the_J(dataset):
    cfg = make_cfg(dataset, *paper(dataset), "model.name=linear")
    model = build_model(cfg)
    side, J = PAPER_SHAPES[dataset]
    S = model.scattering
    assert isinstance(S, ParametricScattering2D)
    assert S.n_coefficients == n_coefficients(J, cfg.scattering.L)
    expected = (cfg.in_channels * S.n_coefficients, side // 2**J, side // 2**J)
    assert model.input_shape == (cfg.in_channels, side, side)
    assert model.head_input_shape == expected
    assert model.head[-1].in_features == expected[0] * expected[1] * expected[2]


@pytest.mark.parametrize(
    "overrides, K",
    [(["scattering.max_order=1"], 1 + 4 * 2), (["scattering.second_order_only=true"], 4 * 4 * 2 * 1 // 2)],
)
def test_head_width_follows_the_order_options(overrides, K):
    cfg = make_cfg("cifar", *paper("cifar"), "model.name=linear", *overrides)
    model = build_model(cfg)
    x = images(cfg)
    assert model.head_input_shape == (3 * K, 8, 8)
    assert model.scattering(x).shape[1:] == model.head_input_shape
    assert model(x).shape == (2, 10)


def test_every_scattering_key_reaches_the_layer():
    cfg = make_cfg(
        "fashion_mnist",
        *paper("fashion_mnist"),
        "scattering.J=1",
        "scattering.L=3",
        "scattering.max_order=1",
        "scattering.init=random",
        "scattering.learnable=false",
        "scattering.parameterization=equivariant",
        "scattering.backend=kymatio",
        "general.seed=7",
        "dataset.height=20",
        "dataset.width=24",
    )
    S = build_model(cfg).scattering
    assert (S.J, S.L, S.max_order, S.shape) == (1, 3, 1, (20, 24))
    assert (S.init, S.learnable, S.parameterization, S.backend, S.seed) == (
        "random",
        False,
        "equivariant",
        "kymatio",
        7,
    )
    assert not S.second_order_only and list(S.parameters()) == []
    assert build_model(
        make_cfg("cifar", *paper("cifar"), "scattering.second_order_only=true")
    ).scattering.second_order_only


def test_build_model_does_not_seed_the_global_rng():
    cfg = make_cfg("cifar", *paper("cifar"), "model.name=hybrid-wrn", "scattering.init=random")
    a, b = build_model(cfg), build_model(cfg)  # consecutive draws from one global stream
    assert not torch.equal(a.head.conv0.weight, b.head.conv0.weight)
    torch.manual_seed(0)
    c = build_model(cfg)
    for key, value in a.state_dict().items():  # same global seed, same config: the same initial model
        assert torch.equal(c.state_dict()[key], value), key


def test_random_scattering_init_is_seeded_by_general_seed_not_the_global_rng():
    def theta(seed, global_seed):
        torch.manual_seed(global_seed)
        model = build_model(make_cfg("cifar", *paper("cifar"), "scattering.init=random", f"general.seed={seed}"))
        return model.scattering.filter_params()["theta"]

    torch.testing.assert_close(theta(3, 0), theta(3, 1), rtol=0, atol=0)
    assert not torch.equal(theta(3, 0), theta(4, 0))


@pytest.mark.parametrize("head", HEADS)
def test_gradients_reach_the_scattering_parameters_through_every_head(head):
    cfg = make_cfg("cifar", *paper("cifar"), f"model.name={head}", "scattering.init=random")
    model = build_model(cfg)
    params = dict(model.scattering.named_parameters())
    assert params  # learnable canonical: theta, xi, sigma, slant
    loss = F.cross_entropy(model(images(cfg)), torch.tensor([1, 7]))
    loss.backward()
    for name, p in params.items():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("parameterization", ["equivariant", "pixelwise"])
def test_gradients_reach_every_parameterization(parameterization):
    cfg = make_cfg(
        "fashion_mnist", *paper("fashion_mnist"), "model.name=linear", f"scattering.parameterization={parameterization}"
    )
    model = build_model(cfg)
    F.cross_entropy(model(images(cfg)), torch.tensor([0, 3])).backward()
    grads = [p.grad for p in model.scattering.parameters()]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_wrong_image_shape_is_a_clear_error():
    cfg = make_cfg("cifar", *paper("cifar"), "model.name=linear")
    model = build_model(cfg)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 3, 32, 32\), got \(2, 1, 28, 28\)"):
        model(torch.zeros(2, 1, 28, 28))


def test_model_deep_copies_with_identical_outputs():
    cfg = make_cfg("cifar", *paper("cifar"), "model.name=hybrid-wrn")
    model = build_model(cfg).eval()
    clone = copy.deepcopy(model)
    x = images(cfg)
    torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)
