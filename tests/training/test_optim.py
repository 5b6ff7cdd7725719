"""Optimizer groups and learning-rate schedules (``parametricSN/training/optim.py``)."""

import math
import warnings

import pytest
import torch
from torch import nn

from parametricSN.config import ConfigError, load_config
from parametricSN.config.no_effect import NoEffectWarning
from parametricSN.models import build_model
from parametricSN.training.optim import (
    build_optimizer,
    build_schedule,
    group_lrs,
    group_momenta,
    optimizer_steps_per_epoch,
    param_groups,
)

BASE = [
    "dataset.name=fashion_mnist",
    "dataset.height=8",
    "dataset.width=8",
    "dataset.train_sample_num=20",
    "scattering.J=1",
    "scattering.L=4",
    "optim.lr=0.05",
    "optim.max_lr=0.2",
    "optim.weight_decay=0.01",
    "scattering.lr_orientation=0.3",
    "scattering.lr_scattering=0.4",
    "train.epochs=4",
]


def setup(*overrides):
    with warnings.catch_warnings():  # BASE pins the rates of every group, whichever the case then uses
        warnings.simplefilter("ignore", NoEffectWarning)
        cfg = load_config(None, overrides=BASE + list(overrides))
    torch.manual_seed(0)
    model = build_model(cfg)
    return cfg, model


def ids(params):
    return {id(p) for p in params}


def test_sgd_has_head_orientation_and_scattering_groups_without_decay_on_the_filters():
    cfg, model = setup("optim.nesterov=true")
    opt = build_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.SGD)
    groups = {g["name"]: g for g in opt.param_groups}
    assert list(groups) == ["head", "orientation", "scattering"]
    assert ids(groups["head"]["params"]) == ids(model.head.parameters())
    assert ids(groups["orientation"]["params"]) == {id(model.scattering.theta)}
    assert ids(groups["scattering"]["params"]) == ids(
        [model.scattering.xi, model.scattering.sigma, model.scattering.slant]
    )
    assert (groups["head"]["lr"], groups["head"]["weight_decay"]) == (0.05, 0.01)
    assert (groups["orientation"]["lr"], groups["orientation"]["weight_decay"]) == (0.3, 0.0)
    assert (groups["scattering"]["lr"], groups["scattering"]["weight_decay"]) == (0.4, 0.0)
    assert all(g["momentum"] == 0.9 and g["nesterov"] for g in opt.param_groups)


@pytest.mark.parametrize("overrides", [["scattering.learnable=false"], ["scattering.architecture=identity"]])
def test_fixed_or_absent_scattering_gives_the_head_group_only(overrides):
    cfg, model = setup(*overrides)
    opt = build_optimizer(model, cfg)
    assert [g["name"] for g in opt.param_groups] == ["head"]
    assert ids(opt.param_groups[0]["params"]) == ids(p for p in model.parameters() if p.requires_grad)


def test_adam_uses_the_same_groups():
    cfg, model = setup("optim.name=adam")
    opt = build_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.Adam)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in opt.param_groups] == [
        ("head", 0.05, 0.01),
        ("orientation", 0.3, 0.0),
        ("scattering", 0.4, 0.0),
    ]


def test_nesterov_without_momentum_is_a_config_error():
    cfg, model = setup("optim.nesterov=true", "optim.momentum=0")
    with pytest.raises(ConfigError, match="optim.nesterov"):
        build_optimizer(model, cfg)


def test_a_model_without_trainable_parameters_is_a_config_error():
    cfg, _ = setup()
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        param_groups(frozen, cfg)


@pytest.mark.parametrize("batches, accum, steps", [(7, 1, 7), (7, 2, 4), (7, 3, 3), (6, 3, 2), (1, 4, 1)])
def test_optimizer_steps_per_epoch_counts_the_partial_group(batches, accum, steps):
    assert optimizer_steps_per_epoch(batches, accum) == steps


def run_schedule(cfg, model, batches_per_epoch):
    """Step the schedule as the loop does; return lr per group at every optimizer step."""
    opt = build_optimizer(model, cfg)
    sched = build_schedule(opt, cfg, batches_per_epoch)
    seen = []
    for _ in range(cfg.train.epochs):
        for _ in range(optimizer_steps_per_epoch(batches_per_epoch, cfg.train.accum_steps)):
            seen.append(group_lrs(opt))
            opt.step()
            sched.after_optimizer_step()
        sched.after_epoch()
    return sched, seen


def test_onecycle_peaks_each_group_at_its_own_rate_and_spans_all_optimizer_steps():
    cfg, model = setup(
        "optim.scheduler=onecycle", "train.accum_steps=2", "optim.div_factor=10", "optim.final_div_factor=100"
    )
    sched, seen = run_schedule(cfg, model, batches_per_epoch=9)  # 5 optimizer steps per epoch, 20 in all
    assert sched.per_step and sched.scheduler.total_steps == 20 == len(seen)
    # every group starts and ends at the head's numbers (max_lr / div, max_lr / (div * final_div)), as in the paper
    assert seen[0] == pytest.approx({"lr_head": 0.02, "lr_orientation": 0.02, "lr_scattering": 0.02})
    for name, peak in (("lr_head", 0.2), ("lr_orientation", 0.3), ("lr_scattering", 0.4)):
        assert max(s[name] for s in seen) == pytest.approx(peak)  # reached at step 0.3 * 20 - 1 = 5
        assert seen[5][name] == pytest.approx(peak)
        assert seen[-1][name] == pytest.approx(0.2 / 1000)
    # stepping once more than planned would raise: the count is exact
    with pytest.raises(ValueError):
        sched.scheduler.step()


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def paper_onecycle(
    step: int, total: int, start: float, peak: float, end: float, m_hi: float, m_lo: float, pct_start: float = 0.3
) -> tuple:
    """(lr, momentum) of the paper's two-phase one-cycle at ``step``, written out from its definition."""
    up = pct_start * total - 1
    if step <= up:
        pct = step / up
        return _cos(start, peak, pct), _cos(m_hi, m_lo, pct)
    pct = (step - up) / (total - 1 - up)
    return _cos(peak, end, pct), _cos(m_lo, m_hi, pct)


@pytest.mark.parametrize("step", [0, 2, 5, 9, 14, 19])
def test_onecycle_lr_and_momentum_of_every_group_follow_the_paper_schedule(step):
    cfg, model = setup("optim.scheduler=onecycle", "train.epochs=20")
    opt = build_optimizer(model, cfg)
    sched = build_schedule(opt, cfg, batches_per_epoch=1)
    for _ in range(step):
        opt.step()
        sched.after_optimizer_step()
    start, end = 0.2 / 25, 0.2 / 25 / 1e4
    for group, peak in zip(opt.param_groups, (0.2, 0.3, 0.4)):
        lr, momentum = paper_onecycle(step, 20, start, peak, end, 0.95, 0.85)
        assert group["lr"] == pytest.approx(lr, rel=1e-9), group["name"]
        assert group["momentum"] == pytest.approx(momentum, rel=1e-9), group["name"]
    assert group_momenta(opt) == pytest.approx({g["name"]: g["momentum"] for g in opt.param_groups})


def test_momentum_is_held_without_cycling_and_cycles_beta1_for_adam():
    cfg, model = setup("optim.scheduler=onecycle", "optim.cycle_momentum=false", "optim.momentum=0.7")
    _, seen = run_schedule(cfg, model, batches_per_epoch=2)
    assert seen[0]["lr_head"] < seen[3]["lr_head"]  # the lr still cycles
    opt = build_optimizer(model, cfg)
    sched = build_schedule(opt, cfg, 2)
    for _ in range(3):
        opt.step()
        sched.after_optimizer_step()
    assert set(group_momenta(opt).values()) == {0.7}

    cfg, model = setup(
        "optim.scheduler=onecycle", "optim.name=adam", "optim.base_momentum=0.8", "optim.max_momentum=0.9"
    )
    opt = build_optimizer(model, cfg)
    build_schedule(opt, cfg, 1)
    assert set(group_momenta(opt).values()) == {0.9}  # starts at max_momentum
    assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_momentum_bounds_are_validated():
    with pytest.raises(ConfigError, match="optim.base_momentum"):
        load_config(None, ["optim.base_momentum=0.96"])
    with pytest.raises(ConfigError, match="optim.base_momentum"):
        load_config(None, ["optim.max_momentum=1.0"])


def test_onecycle_three_phase_returns_to_the_start_before_annealing():
    cfg, model = setup("optim.scheduler=onecycle", "optim.three_phase=true", "train.epochs=10")
    _, seen = run_schedule(cfg, model, batches_per_epoch=1)
    heads = [s["lr_head"] for s in seen]
    assert heads[0] == pytest.approx(0.2 / 25)
    assert max(heads) == pytest.approx(0.2, rel=1e-3)
    assert heads.index(max(heads)) == 2  # pct_start 0.3 of 10 steps


def test_epoch_schedules_step_once_per_epoch():
    cfg, model = setup("optim.scheduler=step", "optim.step_size=2", "optim.gamma=0.5")
    sched, seen = run_schedule(cfg, model, batches_per_epoch=3)
    per_epoch = [seen[i]["lr_head"] for i in range(0, 12, 3)]
    assert per_epoch == pytest.approx([0.05, 0.05, 0.025, 0.025])
    assert not sched.per_step and sched.scheduler.last_epoch == 4

    cfg, model = setup("optim.scheduler=multistep", "optim.milestones=[1, 3]", "optim.gamma=0.1")
    _, seen = run_schedule(cfg, model, batches_per_epoch=1)
    assert [s["lr_orientation"] for s in seen] == pytest.approx([0.3, 0.03, 0.03, 0.003])

    cfg, model = setup("optim.scheduler=cosine")  # T_max defaults to train.epochs = 4
    _, seen = run_schedule(cfg, model, batches_per_epoch=1)
    assert [s["lr_head"] for s in seen] == pytest.approx(
        [0.05, 0.05 * (1 + 2**-0.5) / 2, 0.025, 0.05 * (1 - 2**-0.5) / 2]
    )
    cfg, model = setup("optim.scheduler=cosine", "optim.T_max=2")
    _, seen = run_schedule(cfg, model, batches_per_epoch=1)
    assert seen[2]["lr_head"] == pytest.approx(0.0, abs=1e-12)


def test_no_schedule_keeps_rates_constant():
    cfg, model = setup("optim.scheduler=none")
    sched, seen = run_schedule(cfg, model, batches_per_epoch=2)
    assert sched.scheduler is None and sched.state_dict() == {}
    assert all(s == seen[0] for s in seen)
