"""parametricSN/viz/params.py: before → after figure of θ, ξ, σ, slant for every parameterization."""

import math

import numpy as np
import pytest
import torch

from parametricSN.viz import figure_to_png, filter_params_figure
from tests.viz.conftest import J, L, make_layer


def _snapshot(layer):
    return {k: v.detach().clone() for k, v in layer.filter_params().items()}


def _moved(params, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: v + 0.2 * torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in params.items()}


def _offsets(collection):
    return np.asarray(collection.get_offsets(), dtype=float)


@pytest.mark.parametrize("parameterization", ["canonical", "equivariant"])
def test_figure_plots_every_filter_before_and_after(parameterization):
    before = _snapshot(make_layer(parameterization))
    after = _moved(before)
    after["xi"][0] = -after["xi"][0]  # a negative ξ is the frequency centre on the opposite side
    fig = filter_params_figure(before, after, L)
    polar, env = fig.axes
    assert polar.name == "polar"
    assert [len(_offsets(c)) for c in polar.collections] == [J * L, J * L]
    for collection, p in zip(polar.collections, (before, after)):
        angle, radius = _offsets(collection).T
        w1, w2 = (p["xi"] * torch.cos(p["theta"])).numpy(), (p["xi"] * torch.sin(p["theta"])).numpy()
        np.testing.assert_allclose(radius * np.cos(angle), w1, atol=1e-9)
        np.testing.assert_allclose(radius * np.sin(angle), w2, atol=1e-9)
        assert np.all(radius >= 0)
    for collection, p in zip(env.collections, (before, after)):
        np.testing.assert_allclose(_offsets(collection), np.stack([p["sigma"], p["slant"]], axis=1), atol=1e-9)
    # one arrow per filter that moved (all of them here), in each panel
    assert len(polar.texts) == J * L and len(env.texts) == J * L
    assert figure_to_png(fig).startswith(b"\x89PNG")


def test_polar_axes_match_the_fourier_panel_layout():
    """θ = 0 points down (axis 0 of the image), θ = π/2 points right (axis 1)."""
    before = _snapshot(make_layer())
    polar = filter_params_figure(before, before, L).axes[0]
    down = polar.transData.transform((0.0, 1.0)) - polar.transData.transform((0.0, 0.0))
    right = polar.transData.transform((math.pi / 2, 1.0)) - polar.transData.transform((0.0, 0.0))
    # display coordinates: y grows upwards
    assert down[1] < 0 and abs(down[0]) < 1e-6 * abs(down[1])
    assert right[0] > 0 and abs(right[1]) < 1e-6 * abs(right[0])


def test_unmoved_filters_get_no_arrow():
    before = _snapshot(make_layer())
    after = {k: v.clone() for k, v in before.items()}
    after["theta"][3] += 0.3
    fig = filter_params_figure(before, after, L)
    assert len(fig.axes[0].texts) == 1 and len(fig.axes[1].texts) == 0


def test_pixelwise_gives_a_no_parameters_figure():
    layer = make_layer("pixelwise")
    assert layer.filter_params() == {}
    fig = filter_params_figure(layer.filter_params(), layer.filter_params(), L)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("pixelwise" in t for t in texts)
    assert figure_to_png(fig).startswith(b"\x89PNG")


def test_inconsistent_inputs_are_clear_errors():
    before = _snapshot(make_layer())
    with pytest.raises(ValueError, match="both be empty"):
        filter_params_figure(before, {}, L)
    with pytest.raises(ValueError, match="lack \\['slant'\\]"):
        filter_params_figure(before, {k: v for k, v in before.items() if k != "slant"}, L)
    with pytest.raises(ValueError, match="one entry per filter"):
        filter_params_figure(before, {k: v[:-1] for k, v in before.items()}, L)
    with pytest.raises(ValueError, match="L=3"):
        filter_params_figure(before, before, 3)
