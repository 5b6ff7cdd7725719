"""parametricSN/viz/render.py: figures to PNG bytes and PIL images."""

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from parametricSN.viz import figure_to_image, figure_to_png, new_figure


def _drawn(fig):
    ax = fig.add_subplot()
    ax.imshow(np.arange(64.0).reshape(8, 8))
    return fig


def test_png_and_image_have_the_figure_size():
    fig = _drawn(new_figure(3.0, 2.0, dpi=50))
    png = figure_to_png(fig)
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.format == "PNG" and decoded.size == (150, 100)
        decoded = np.asarray(decoded.convert("RGB"))
    image = figure_to_image(fig)
    assert image.mode == "RGB" and image.size == (150, 100)
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 10  # something was drawn
    np.testing.assert_array_equal(np.asarray(image), decoded)


def test_plain_figure_without_a_canvas_of_ours():
    image = figure_to_image(_drawn(Figure(figsize=(2, 2), dpi=40)))
    assert image.size == (80, 80)
