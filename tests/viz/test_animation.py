"""parametricSN/viz/animation.py: frames recorded as images, written as a looping GIF."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from parametricSN.viz import FilterAnimation
from tests.viz.conftest import L, make_layer


def _gif_frames(path):
    with Image.open(path) as gif:
        info = dict(gif.info)
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    return frames, info


@pytest.fixture(scope="module")
def moving_filters():
    """Three snapshots of a layer whose orientations turn between frames."""
    layer = make_layer()
    snapshots = []
    for _ in range(3):
        snapshots.append(layer.filters())
        with torch.no_grad():
            layer.theta.add_(0.4)
    return snapshots


def test_gif_has_every_frame_and_frames_differ(tmp_path, moving_filters):
    rec = FilterAnimation(kind="fourier", L=L)
    for epoch, filters in enumerate(moving_filters):
        rec.add_frame(filters, f"epoch {epoch}")
    assert len(rec) == 3 and rec.labels == ["epoch 0", "epoch 1", "epoch 2"]
    assert len({im.size for im in rec.frames}) == 1
    path = rec.save_gif(tmp_path / "filters.gif", duration_ms=150)
    frames, info = _gif_frames(path)
    assert len(frames) == 3
    assert info["loop"] == 0 and info["duration"] == 150
    assert frames[0].shape == frames[1].shape == (rec.frames[0].height, rec.frames[0].width, 3)
    # the panels changed, not only the title: compare below the title band
    body = slice(frames[0].shape[0] // 4, None)
    assert np.abs(frames[0][body].astype(int) - frames[1][body].astype(int)).sum() > 0
    assert np.abs(frames[1][body].astype(int) - frames[2][body].astype(int)).sum() > 0


def test_same_filters_same_panels(tmp_path, moving_filters):
    rec = FilterAnimation(kind="real", L=L, crop=9)
    rec.add_frame(moving_filters[0], "a")
    rec.add_frame(moving_filters[0].clone(), "b")
    frames, _ = _gif_frames(rec.save_gif(tmp_path / "same.gif"))
    assert len(frames) == 2
    body = slice(frames[0].shape[0] // 4, None)
    np.testing.assert_array_equal(frames[0][body], frames[1][body])
    assert not np.array_equal(frames[0], frames[1])  # the label differs


def test_recorder_errors_are_clear(tmp_path, moving_filters):
    rec = FilterAnimation(kind="imag", L=L)
    with pytest.raises(ValueError, match="no frames"):
        rec.save_gif(tmp_path / "empty.gif")
    rec.add_frame(moving_filters[0], "epoch 0")
    with pytest.raises(ValueError, match="same filter bank"):
        rec.add_frame(moving_filters[0][:, :8, :8], "epoch 1")
    with pytest.raises(ValueError, match="duration_ms"):
        rec.save_gif(tmp_path / "x.gif", duration_ms=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        FilterAnimation(kind="modulus", L=L)
