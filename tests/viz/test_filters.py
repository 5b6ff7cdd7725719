"""parametricSN/viz/filters.py: panel grid, and the layout of the Fourier and spatial panels."""

import math

import numpy as np
import pytest
import torch

from parametricSN.scattering import morlet_filters
from parametricSN.viz import figure_to_png, filter_figure, panel_images
from tests.viz.conftest import J, L


def _morlet(shape, theta, xi=1.2, sigma=3.0, slant=0.7):
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return morlet_filters(shape, t(theta), t(xi), t(sigma), t(slant))


def _expected_peak(shape, theta, xi):
    """Pixel of the frequency ξ(cos θ, sin θ) in the fftshift-ed M×N Fourier plane (zero at (M//2, N//2))."""
    M, N = shape
    return M // 2 + xi * math.cos(theta) * M / (2 * math.pi), N // 2 + xi * math.sin(theta) * N / (2 * math.pi)


@pytest.mark.parametrize("kind", ["fourier", "real", "imag"])
def test_grid_has_one_panel_per_filter_and_renders(layer, kind):
    filters = layer.filters()
    fig = filter_figure(filters, L, kind, title="my title")
    assert len(fig.axes) == J * L
    assert all(len(ax.get_images()) == 1 for ax in fig.axes)
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in fig.axes)
    assert fig._suptitle.get_text() == "my title"
    # panel n shows filter n = j*L + l
    expected = panel_images(filters, kind)
    for n, ax in enumerate(fig.axes):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), expected[n])
    # one colour scale per row
    for j in range(J):
        clims = {ax.get_images()[0].get_clim() for ax in fig.axes[j * L : (j + 1) * L]}
        assert len(clims) == 1
    png = figure_to_png(fig)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


@pytest.mark.parametrize("theta", [0.5, 2.5, -1.1])
@pytest.mark.parametrize("shape", [(40, 64), (41, 63)])  # odd sizes: fftshift, not ifftshift
def test_fourier_panel_peaks_at_the_frequency_centre(theta, shape):
    xi = 1.2
    fig = filter_figure(_morlet(shape, theta, xi), L=1, kind="fourier")
    image = np.asarray(fig.axes[0].get_images()[0].get_array())
    assert image.shape == shape
    peak = np.unravel_index(np.argmax(image), image.shape)
    row, col = _expected_peak(shape, theta, xi)
    assert abs(peak[0] - row) <= 1 and abs(peak[1] - col) <= 1, (peak, (row, col))


def test_tight_frame_fourier_panels_peak_where_the_parameters_say(layer):
    """Every filter of scale j=1 of the layer: the panel's maximum is at ξ(cos θ, sin θ)."""
    params = {k: v.detach() for k, v in layer.filter_params().items()}
    fig = filter_figure(layer.filters(), L, "fourier")
    for n in range(L, 2 * L):
        image = np.asarray(fig.axes[n].get_images()[0].get_array())
        row, col = _expected_peak(image.shape, float(params["theta"][n]), float(params["xi"][n]))
        assert math.hypot(row - image.shape[0] // 2, col - image.shape[1] // 2) > 3  # far from zero frequency
        peak = np.unravel_index(np.argmax(image), image.shape)
        assert abs(peak[0] - row) <= 1 and abs(peak[1] - col) <= 1, (n, peak, (row, col))


@pytest.mark.parametrize("crop", [None, 11])
def test_spatial_panels_are_centred(layer, crop):
    filters = layer.filters()
    re = [np.asarray(ax.get_images()[0].get_array()) for ax in filter_figure(filters, L, "real", crop=crop).axes]
    im = [np.asarray(ax.get_images()[0].get_array()) for ax in filter_figure(filters, L, "imag", crop=crop).axes]
    for n in range(J * L):
        envelope = np.hypot(re[n], im[n])
        M, N = envelope.shape
        if crop is not None:
            assert (M, N) == (crop, crop)
        peak = np.unravel_index(np.argmax(envelope), envelope.shape)
        assert abs(peak[0] - M // 2) <= 1 and abs(peak[1] - N // 2) <= 1, (n, peak, (M // 2, N // 2))


@pytest.mark.parametrize("theta", [0.5, 2.5])
def test_spatial_panel_oscillates_along_theta(theta):
    """ψ(u) ≈ envelope · exp(iξ(u1 cos θ + u2 sin θ)) with u1 down the rows and u2 along the columns."""
    shape, xi = (40, 64), 1.2
    filters = _morlet(shape, theta, xi)
    psi = panel_images(filters, "real")[0] + 1j * panel_images(filters, "imag")[0]
    c1, c2 = shape[0] // 2, shape[1] // 2
    step_down = np.angle(psi[c1 + 1, c2] / psi[c1, c2])
    step_right = np.angle(psi[c1, c2 + 1] / psi[c1, c2])
    assert step_down == pytest.approx(xi * math.cos(theta), abs=0.02)
    assert step_right == pytest.approx(xi * math.sin(theta), abs=0.02)


def test_figure_size_depends_on_the_grid_only(layer):
    a = filter_figure(layer.filters(), L, "fourier", title="short")
    b = filter_figure(layer.filters() * 2, L, "real", title="a much longer title than the other one")
    assert tuple(a.get_size_inches()) == tuple(b.get_size_inches())


def test_no_pyplot_figures_are_created(layer):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    filter_figure(layer.filters(), L, "imag")
    assert plt.get_fignums() == before


def test_bad_inputs_are_clear_errors(layer):
    filters = layer.filters()
    with pytest.raises(ValueError, match="kind must be one of"):
        filter_figure(filters, L, "phase")
    with pytest.raises(ValueError, match="L=3"):
        filter_figure(filters, 3, "fourier")
    with pytest.raises(ValueError, match=r"\(J\*L, M, N\)"):
        filter_figure(filters[0], L, "fourier")
    with pytest.raises(ValueError, match="complex"):
        filter_figure(filters.to(torch.complex128), L, "fourier")
    with pytest.raises(ValueError, match="spatial kinds"):
        filter_figure(filters, L, "fourier", crop=8)
    with pytest.raises(ValueError, match="crop must be"):
        filter_figure(filters, L, "real", crop=1000)
