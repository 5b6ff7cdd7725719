"""The tightness penalty (parametricSN/training/tightness.py) and its place in the training loss."""

import pytest
import torch

from parametricSN.config import ConfigError
from parametricSN.scattering import ParametricScattering2D, lowpass_filter, morlet_filters, tight_frame_params
from parametricSN.scattering.frames import littlewood_paley, lp_distance
from parametricSN.training import NullLogger, train
from parametricSN.training.pack import train_pack
from parametricSN.training.tightness import TightnessPenalty
from tests.configs import TINY, make_cfg


def test_penalty_gradient_in_float64():
    shape, J, L = (8, 8), 1, 2
    phi = lowpass_filter(shape, J)
    p0 = tight_frame_params(J, L)
    target = littlewood_paley(morlet_filters(shape, *(p0[k] for k in ("theta", "xi", "sigma", "slant"))), phi)
    g = torch.Generator().manual_seed(0)
    params = [
        (p0[k] + 0.1 * torch.randn(J * L, dtype=torch.float64, generator=g)).requires_grad_()
        for k in ("theta", "xi", "sigma", "slant")
    ]

    def penalty(*p):
        return lp_distance(littlewood_paley(morlet_filters(shape, *p), phi), target)

    assert torch.autograd.gradcheck(penalty, params)


def test_penalty_is_zero_at_the_start_and_a_step_on_it_pulls_the_frame_back():
    S = ParametricScattering2D(2, (16, 16), L=4)
    penalty = TightnessPenalty(S, weight=10.0)
    assert penalty().item() == 0.0
    with torch.no_grad():
        S.sigma.mul_(1.3)
    before = penalty()
    before.backward()
    assert before.item() > 0 and S.sigma.grad.abs().sum() > 0
    with torch.no_grad():
        S.sigma.sub_(1e-2 * S.sigma.grad / S.sigma.grad.norm())
    assert penalty().item() < before.item()


def test_tightness_changes_training_but_not_the_reported_loss_definition(fmnist_root):
    common = (*TINY, "train.epochs=2", "dataset.augment=noaugment")
    plain = train(make_cfg("fashion_mnist", *common, root=fmnist_root), NullLogger())
    tight = train(make_cfg("fashion_mnist", *common, "scattering.tightness=100", root=fmnist_root), NullLogger())
    assert plain.history[0]["frame_distance"] > 0
    assert tight.history[-1]["frame_distance"] < plain.history[-1]["frame_distance"]
    fixed = train(
        make_cfg("fashion_mnist", *common, "scattering.learnable=false", "scattering.tightness=1", root=fmnist_root),
        NullLogger(),
    )
    assert "frame_distance" not in fixed.history[-1]
    with pytest.raises(ConfigError, match="scattering.tightness"):
        make_cfg("fashion_mnist", *common, "scattering.tightness=-1", root=fmnist_root)


def test_a_pack_member_gets_its_own_runs_penalty(fmnist_root):
    common = (*TINY, "train.epochs=2", "scattering.tightness=100")
    cfgs = [make_cfg("fashion_mnist", *common, f"general.seed={s}", root=fmnist_root) for s in (0, 1)]
    packed = train_pack(cfgs, [NullLogger(), NullLogger()])
    for cfg, member in zip(cfgs, packed):
        single = train(cfg, NullLogger())
        assert member.history[-1]["frame_distance"] == pytest.approx(
            single.history[-1]["frame_distance"], rel=1e-4, abs=1e-9
        )
