"""The epoch loop (``parametricSN/training/loop.py``) through ``train(cfg)`` with the real data layer and models."""

import pytest
import torch
from torch import nn

from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.models.factory import HybridModel
from parametricSN.scattering import ParametricScattering2D
from parametricSN.training import NullLogger, build_loss, build_schedule, train, train_epoch
from parametricSN.training.loop import evaluate
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger


def bn_free_model(seed: int = 0) -> HybridModel:
    """Learnable scattering + a plain linear layer: no batch statistics, so a batch's gradient is the mean of
    its samples' gradients and gradient accumulation can be compared exactly with a larger batch."""
    torch.manual_seed(seed)
    scattering = ParametricScattering2D(1, shape=(8, 8), L=4)
    head = nn.Sequential(nn.Flatten(), nn.Linear(5 * 4 * 4, 10))
    return HybridModel(scattering, head, (1, 8, 8), (5, 4, 4))


@pytest.mark.parametrize("big, small, accum", [(8, 4, 2), (12, 4, 3)])
def test_gradient_accumulation_equals_the_larger_batch(fmnist_root, big, small, accum):
    # 20 samples: batches of 8 -> 8,8,4 vs 4x5 in groups of 2; batches of 12 -> 12,8 vs 4x5 in groups of 3,2.
    common = ("optim.momentum=0.9", "optim.weight_decay=0.01", "dataset.augment=resize-crop", "train.epochs=2")
    results = []
    for batch, steps in ((big, 1), (small, accum)):
        cfg = make_cfg(
            "fashion_mnist",
            *TINY,
            *common,
            f"dataset.train_batch_size={batch}",
            f"train.accum_steps={steps}",
            root=fmnist_root,
        )
        model = bn_free_model()
        result = train(cfg, NullLogger(), model=model)
        results.append((result, model.state_dict()))
    (full, full_state), (acc, acc_state) = results
    for name in full_state:
        torch.testing.assert_close(acc_state[name], full_state[name], rtol=1e-5, atol=1e-6)
    for h_full, h_acc in zip(full.history, acc.history):
        assert h_acc["train_loss"] == pytest.approx(h_full["train_loss"], rel=1e-5)
        assert h_acc["lr_head"] == pytest.approx(h_full["lr_head"])
    assert full.history[-1]["motion_theta"] > 0  # the filters did move


class CountingSGD(torch.optim.SGD):
    steps = 0

    def step(self, closure=None):
        CountingSGD.steps += 1
        return super().step(closure)


def test_train_epoch_steps_once_per_accumulation_group_and_at_the_epoch_end(fmnist_root):
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        "dataset.train_batch_size=4",
        "train.accum_steps=3",
        "optim.scheduler=onecycle",
        "train.epochs=2",
        root=fmnist_root,
    )
    loaders = build_loaders(cfg)
    assert len(loaders.train) == 5  # -> groups of 3 and 2 batches: 2 optimizer steps per epoch
    model = bn_free_model()
    opt = CountingSGD(model.parameters(), lr=0.01)
    for g in opt.param_groups:
        g["name"] = "head"
    sched = build_schedule(opt, cfg, len(loaders.train))
    assert sched.scheduler.total_steps == 4
    CountingSGD.steps = 0
    for epoch in (1, 2):
        loaders.set_epoch(epoch)
        stats = train_epoch(
            model, loaders.train, opt, sched, build_loss("cross-entropy"), torch.device("cpu"), accum_steps=3
        )
    assert CountingSGD.steps == 4 and sched.scheduler.last_epoch == 4
    assert 0 <= stats["train_acc"] <= 100 and stats["train_loss"] > 0


def test_evaluate_reports_mean_loss_and_percent_accuracy(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    loaders = build_loaders(cfg)
    torch.manual_seed(0)
    model = build_model(cfg)
    stats = evaluate(model, loaders.test, build_loss("cross-entropy"), torch.device("cpu"))
    all_x = torch.cat([b[0] for b in loaders.test])
    all_y = torch.cat([b[1] for b in loaders.test])
    with torch.no_grad():
        logits = model.eval()(all_x)
    assert stats["test_loss"] == pytest.approx(nn.functional.cross_entropy(logits, all_y).item(), rel=1e-5)
    assert stats["test_acc"] == pytest.approx(100 * (logits.argmax(1) == all_y).float().mean().item())


def test_fit_tests_every_n_epochs_and_at_the_last_and_logs_per_epoch(fmnist_root):
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        "train.epochs=5",
        "train.test_every=2",
        "optim.scheduler=step",
        "optim.step_size=1",
        "optim.gamma=0.5",
        "viz.figures=true",
        "train.save_model=true",
        root=fmnist_root,
    )
    logger = RecordingLogger()
    result = train(cfg, logger)
    assert logger.ended == "FINISHED" and result.run_id == "recorded"
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    assert [("test_acc" in h) for h in result.history] == [False, True, False, True, True]
    assert result.test_acc == result.history[-1]["test_acc"]
    assert sorted(logger.metrics) == [1, 2, 3, 4, 5]
    assert logger.metrics[3] == {k: v for k, v in result.history[2].items() if k != "epoch"}
    # lr recorded at each epoch's start, per group, following the step schedule
    assert [h["lr_head"] for h in result.history] == pytest.approx([0.1 * 0.5**e for e in range(5)])
    assert {
        "lr_orientation",
        "lr_scattering",
        "motion_theta",
        "motion_xi",
        "motion_sigma",
        "motion_slant",
        "frame_A",
        "frame_B",
        "frame_distance",
    } <= set(result.history[0])
    assert {
        "config.yaml",
        "figures/loss.png",
        "figures/accuracy.png",
        "figures/lr.png",
        "figures/filter_motion.png",
        "filters/fourier_before.png",
        "filters/fourier_after.png",
        "filters/params.png",
        "filters/littlewood_paley_before.png",
        "filters/littlewood_paley_after.png",
        "model",
    } <= set(logger.artifacts)
    assert "filters/animation.gif" not in logger.artifacts  # viz.animation_every = 0


def test_fixed_scattering_logs_no_motion_no_scattering_rates_and_no_filter_figures(fmnist_root):
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        "scattering.learnable=false",
        "train.epochs=1",
        "train.loss=cosine",
        "viz.figures=true",
        "viz.animation_every=1",
        root=fmnist_root,
    )
    logger = RecordingLogger()
    result = train(cfg, logger)
    assert set(result.history[0]) == {"epoch", "lr_head", "train_loss", "train_acc", "test_loss", "test_acc"}
    assert not [a for a in logger.artifacts if a.startswith("filters/")]
    assert "figures/loss.png" in logger.artifacts
    assert 0 <= result.history[0]["train_loss"] <= 2  # cosine loss range


def test_a_failing_run_is_marked_failed_and_the_error_propagates(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)

    class Boom(nn.Module):
        scattering = None

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            raise RuntimeError("boom in forward")

    logger = RecordingLogger()
    with pytest.raises(RuntimeError, match="boom in forward"):
        train(cfg, logger, model=Boom())
    assert logger.ended == "FAILED" and "boom" in str(logger.error)


def test_failing_to_store_outputs_after_training_keeps_the_finished_run(fmnist_root):
    """A store error while saving the model or a figure (disk full, server hiccup) comes after the metrics are
    logged: the run must end normally, the result be returned, and the failure be reported."""
    cfg = make_cfg("fashion_mnist", *TINY, "train.save_model=true", "viz.figures=true", root=fmnist_root)

    class FlakyStore(RecordingLogger):
        def log_model(self, model, cfg):
            raise OSError("No space left on device")

        def log_figure(self, fig, name):
            raise OSError("store unreachable")

    logger = FlakyStore()
    with pytest.warns(UserWarning) as caught:
        result = train(cfg, logger)
    messages = " ".join(str(w.message) for w in caught)
    assert "the model" in messages and "No space left" in messages and "learning curves" in messages
    assert logger.ended == "FINISHED" and logger.error is None
    assert result.test_acc == logger.metrics[cfg.train.epochs]["test_acc"]


def test_pixelwise_filters_log_their_motion(fmnist_root):
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        "scattering.parameterization=pixelwise",
        "train.epochs=2",
        "viz.figures=true",
        "viz.animation_every=1",
        root=fmnist_root,
    )
    result = train(cfg, RecordingLogger())
    assert result.history[-1]["motion_filters"] > 0
    assert not any(k.startswith("motion_") and k != "motion_filters" for k in result.history[-1])
