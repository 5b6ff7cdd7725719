"""``FilterAnimation``: record the filter bank every few epochs, write an animated GIF of how it moved.

    rec = FilterAnimation(kind="fourier", L=S.L)
    rec.add_frame(S.filters(), "epoch 0")        # rendered to an image at once; the tensor is not kept
    ...
    rec.save_gif("filters_fourier.gif", duration_ms=200)

Each frame is :func:`parametricSN.viz.filter_figure` of that moment's filters, titled with the frame's label,
rendered straight to a 256-colour ``PIL.Image`` (the GIF's own format, one palette for all frames), so memory grows by one small image
per frame and never holds tensors. All frames have the same pixel size (the figure size depends on J and L
only; the first frame fixes the filter shape and later frames must match it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PIL import Image
from torch import Tensor

from parametricSN.viz.filters import _check_filters, _check_kind, filter_figure
from parametricSN.viz.render import figure_to_image


class FilterAnimation:
    """Frames of a filter bank during training; ``len(rec)`` frames so far, ``rec.labels`` their labels.

    ``kind`` and ``crop`` are as in :func:`parametricSN.viz.filter_figure`; ``L`` is the number of orientations.
    """

    def __init__(self, kind: str = "fourier", L: int = 8, crop: Optional[int] = None):
        _check_kind(kind)
        if not (isinstance(L, int) and L >= 1):
            raise ValueError(f"L must be an integer >= 1, got {L!r}")
        self.kind, self.L, self.crop = kind, L, crop
        self.labels: list[str] = []
        self._frames: list[Image.Image] = []
        self._shape: Optional[tuple[int, ...]] = None
        self._palette: Optional[Image.Image] = None  # the first frame's colours, used by every frame

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def frames(self) -> tuple[Image.Image, ...]:
        """The rendered frames (palette images), in order."""
        return tuple(self._frames)

    def add_frame(self, filters: Tensor, label: str) -> None:
        """Render ``filters`` (``(J*L, M, N)`` Fourier wavelets, as ``S.filters()`` gives) as the next frame."""
        filters = _check_filters(filters, self.L)
        shape = tuple(filters.shape)
        if self._shape is not None and shape != self._shape:
            raise ValueError(
                f"frame {len(self)} has filters of shape {shape}, but the animation's first frame "
                f"had {self._shape}; every frame must show the same filter bank"
            )
        image = figure_to_image(filter_figure(filters, self.L, self.kind, title=label, crop=self.crop))
        # GIF frames are palette images; quantising now keeps one byte per pixel in memory instead of three.
        # Every frame uses the first frame's palette (the same colour maps and text throughout), so colours do
        # not flicker between frames and identical panels stay identical.
        if self._palette is None:
            self._palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        self._frames.append(image.quantize(palette=self._palette, dither=Image.Dither.NONE))
        self.labels.append(label)
        self._shape = shape

    def save_gif(self, path: os.PathLike[str] | str, duration_ms: int = 200) -> Path:
        """Write the frames as a GIF that loops forever, ``duration_ms`` per frame; returns the path.

        Consecutive frames that are pixel-identical (same filters *and* same label) are merged by Pillow into
        one frame shown for the summed duration; distinct labels (e.g. the epoch) keep every frame.
        """
        if not self._frames:
            raise ValueError("the animation has no frames; call add_frame(filters, label) before save_gif")
        if not (isinstance(duration_ms, int) and duration_ms >= 1):
            raise ValueError(f"duration_ms must be an integer >= 1, got {duration_ms!r}")
        path = Path(path)
        first, *rest = self._frames
        first.save(path, format="GIF", save_all=True, append_images=rest, duration=duration_ms, loop=0)
        return path
