"""parametricSN/viz/frames.py: the Littlewood–Paley sum as an image."""

import numpy as np
import pytest
import torch

from parametricSN.scattering.frames import bank_littlewood_paley
from parametricSN.viz import figure_to_image, littlewood_paley_figure
from tests.viz.conftest import make_layer


def test_image_is_the_centred_sum_and_the_title_gives_the_bounds(layer):
    lp = bank_littlewood_paley(layer).detach()
    fig = littlewood_paley_figure(lp, vmax=2.0)
    (image,) = fig.axes[0].get_images()
    np.testing.assert_array_equal(image.get_array(), torch.fft.fftshift(lp).numpy())
    assert image.get_clim() == (0.0, 2.0)
    title = fig._suptitle.get_text()
    assert f"A = {float(lp.min()):.4g}" in title and f"B = {float(lp.max()):.4g}" in title
    other = littlewood_paley_figure(bank_littlewood_paley(make_layer(init="random")).detach())
    assert figure_to_image(fig).size == figure_to_image(other).size


def test_rejects_a_stack_of_sums(layer):
    with pytest.raises(ValueError, match=r"shape \(M, N\)"):
        littlewood_paley_figure(torch.zeros(2, 4, 4))
