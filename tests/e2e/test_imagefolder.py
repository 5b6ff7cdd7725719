"""``dataset.name: imagefolder`` end to end: a generated tree of non-square grey PNGs (one RGB JPEG among them),
classes and channels read from the tree, statistics computed once and cached, trained and logged to MLflow."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from parametricSN import train
from parametricSN.config import ConfigError
from parametricSN.data import build_loaders, stats
from parametricSN.data.splits import DatasetError
from parametricSN.tracking import load_model
from tests.configs import TINY, make_cfg

CLASSES = ("circle", "square", "stripes")


def write_tree(root, per_class=(4, 2), seed=0):
    """``root/{train,test}/<class>/*.png``: grey images of varying, non-square sizes; the last training image of
    the first class is an RGB JPEG (read as grey, since the first image of every class is grey)."""
    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "test"), per_class):
        for c, cls in enumerate(CLASSES):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                h, w = int(rng.integers(12, 20)), int(rng.integers(22, 34))
                pixels = np.clip(rng.normal(60 + 60 * c, 25, (h, w)), 0, 255).astype(np.uint8)
                if split == "train" and c == 0 and i == n - 1:
                    Image.fromarray(np.stack([pixels] * 3, -1)).save(folder / f"{i:02d}.jpg")
                else:
                    Image.fromarray(pixels).save(folder / f"{i:02d}.png")


def imagefolder_cfg(root, *overrides):
    return make_cfg(
        "imagefolder",
        *TINY,
        "dataset.height=8",
        "dataset.width=16",
        "dataset.train_sample_num=12",
        "dataset.test_sample_num=null",
        *overrides,
        root=root,
    )


def test_train_on_an_image_folder_tree(tmp_path, mlflow_uri, monkeypatch):
    root = tmp_path / "tree"
    write_tree(root)
    monkeypatch.chdir(tmp_path)
    cfg = imagefolder_cfg(
        root, f"mlflow.tracking_uri={mlflow_uri}", "dataset.augment=resize-crop", "train.save_model=true"
    )
    assert (cfg.num_classes, cfg.in_channels) == (3, 1)

    result = train(cfg)
    run = MlflowClient(mlflow_uri).get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["test_acc"] == result.test_acc

    cache = json.loads((root / stats.CACHE_FILE).read_text())
    (entry,) = cache.values()
    assert entry["images"] == 12 and len(entry["mean"]) == len(entry["std"]) == 1
    assert 0 < entry["mean"][0] < 1 and entry["std"][0] > 0
    # the second time the statistics are read from the cache, not computed
    monkeypatch.setattr(stats, "compute_statistics", lambda *a: pytest.fail("statistics computed again"))
    x, y = next(iter(build_loaders(cfg).test))
    assert x.shape == (6, 1, 8, 16) and sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]
    # the saved model knows its classes and channels: it is rebuilt after the tree is gone
    shutil.rmtree(root)
    model = load_model(result.run_id, tracking_uri=mlflow_uri)
    assert model(x).shape == (6, 3)


def test_given_statistics_and_rgb_trees(tmp_path):
    root = tmp_path / "tree"
    write_tree(root)
    Image.new("RGB", (30, 14), (200, 10, 10)).save(root / "train" / "circle" / "00.png")  # a class starts in RGB
    cfg = imagefolder_cfg(root, "dataset.mean=[0.5, 0.5, 0.5]", "dataset.std=[0.25, 0.25, 0.25]")
    assert cfg.in_channels == 3
    x, _ = next(iter(build_loaders(cfg).train))
    assert x.shape[1:] == (3, 8, 16) and not (root / stats.CACHE_FILE).exists()  # nothing computed
    with pytest.raises(ConfigError, match="dataset.mean: expected 3 number"):
        imagefolder_cfg(root, "dataset.mean=[0.5]", "dataset.std=[0.25]")


def test_a_bad_root_is_a_clear_error_when_the_config_is_loaded(tmp_path):
    with pytest.raises(DatasetError, match="has no train/ or test/ folder"):
        imagefolder_cfg(tmp_path)
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    with pytest.raises(DatasetError, match="no class sub-folders"):
        imagefolder_cfg(tmp_path)
