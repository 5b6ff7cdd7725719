"""The filter report's frame bounds and Littlewood–Paley figures (parametricSN/training/filter_report.py)."""

import torch
from torch import nn

from parametricSN.models.factory import HybridModel
from parametricSN.scattering import ParametricScattering2D
from parametricSN.scattering.frames import bank_littlewood_paley, frame_bounds
from parametricSN.training.filter_report import FilterReport
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger


def _model(learnable: bool = True) -> HybridModel:
    scattering = ParametricScattering2D(1, shape=(8, 8), L=4, learnable=learnable)
    return HybridModel(scattering, nn.Sequential(nn.Flatten(), nn.Linear(5 * 4 * 4, 10)), (1, 8, 8), (5, 4, 4))


def test_frame_bounds_follow_the_bank_and_figures_are_logged(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, "viz.figures=true", root=fmnist_root)
    model = _model()
    report = FilterReport(model, cfg)
    A0, B0 = frame_bounds(bank_littlewood_paley(model.scattering).detach())
    first = report.on_epoch_end(1)
    assert first["frame_A"] == float(A0) and first["frame_B"] == float(B0)
    with torch.no_grad():
        model.scattering.sigma.mul_(1.5)  # wider envelopes: narrower bands, a different frame
    moved = report.on_epoch_end(2)
    A1, B1 = frame_bounds(bank_littlewood_paley(model.scattering).detach())
    assert (moved["frame_A"], moved["frame_B"]) == (float(A1), float(B1)) and moved["frame_A"] != first["frame_A"]
    logger = RecordingLogger()
    report.log(logger)
    assert {"filters/littlewood_paley_before.png", "filters/littlewood_paley_after.png"} <= set(logger.artifacts)


def test_fixed_filters_report_no_frame_bounds(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    assert FilterReport(_model(learnable=False), cfg).on_epoch_end(1) == {}
