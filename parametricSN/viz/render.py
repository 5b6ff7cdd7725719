"""Turning matplotlib figures into pixels: PNG bytes and PIL images, through the Agg canvas only.

Library code never touches pyplot's global figure manager: figures are built with :func:`new_figure` (a plain
``matplotlib.figure.Figure`` on its own Agg canvas), so nothing has to be closed and nothing leaks between
calls or threads.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

DPI = 100


def new_figure(width_in: float, height_in: float, dpi: int = DPI) -> Figure:
    """A ``Figure`` of ``width_in × height_in`` inches attached to its own Agg canvas (no pyplot)."""
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _agg_canvas(fig: Figure) -> FigureCanvasAgg:
    # A figure made elsewhere (e.g. by pyplot) may sit on another backend's canvas; Agg is what we can read.
    canvas = fig.canvas
    return canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)


def figure_to_image(fig: Figure) -> Image.Image:
    """Render ``fig`` to an RGB ``PIL.Image`` of exactly ``figsize * dpi`` pixels (no tight cropping, so
    figures of the same size always give images of the same size)."""
    canvas = _agg_canvas(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]))


def figure_to_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes at the figure's own dpi."""
    buffer = io.BytesIO()
    _agg_canvas(fig).print_png(buffer)
    return buffer.getvalue()
