import os
from pathlib import Path

import numpy as np
import pytest

from parametricSN.config import ConfigError, load_config
from parametricSN.data import DatasetError, build_loaders, dataset_spec, fashion_mnist, read_splits
from parametricSN.data.fashion_mnist import SYSTEM_DIR, read_fashion_mnist, read_idx
from tests.data.fakes import write_fashion_mnist, write_idx

CONF = Path(__file__).resolve().parents[2] / "conf" / "fashion_mnist.yaml"


@pytest.mark.parametrize("gz", [True, False])
def test_reads_idx_files(tmp_path, gz):
    written = write_fashion_mnist(tmp_path, gz=gz, train_per_class=3, test_per_class=2)
    train, test = read_fashion_mnist(tmp_path, default_root=False)
    for split, (x, y) in ((train, written["train"]), (test, written["test"])):
        np.testing.assert_array_equal(split.images, x)
        np.testing.assert_array_equal(split.labels, y)
        assert split.labels.dtype == np.int64 and split.mode == "L"
    assert len(train) == 30 and len(test) == 20 and train.classes[0] == "T-shirt/top"
    assert train.image(0).mode == "L" and train.image(0).size == (28, 28)


def test_torchvision_raw_layout_is_found(tmp_path):
    write_fashion_mnist(tmp_path / "FashionMNIST" / "raw", gz=False)
    train, _ = read_fashion_mnist(tmp_path, default_root=False)
    assert len(train) == 30


def test_default_root_falls_back_to_system_folder(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    written = write_fashion_mnist(system, seed=3)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", system)
    (tmp_path / "data").mkdir()  # an empty default root
    train, _ = read_fashion_mnist(tmp_path / "data", default_root=True)
    np.testing.assert_array_equal(train.images, written["train"][0])
    # files in data/fashion-mnist win over the system folder
    local = write_fashion_mnist(tmp_path / "data" / "fashion-mnist", seed=4)
    train, _ = read_fashion_mnist(tmp_path / "data", default_root=True)
    np.testing.assert_array_equal(train.images, local["train"][0])


def test_explicit_root_without_files_is_an_error_naming_it(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    write_fashion_mnist(system)  # a system copy exists, but an explicit root must not be replaced by it
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", system)
    root = tmp_path / "mine"
    root.mkdir()
    with pytest.raises(DatasetError) as info:
        read_fashion_mnist(root, default_root=False)
    msg = str(info.value)
    assert repr(str(root)) in msg and "train-images-idx3-ubyte" in msg and "dataset-fashion-mnist" in msg
    assert str(system) not in msg
    with pytest.raises(ConfigError, match="dataset.root.*does not exist"):
        load_config(
            None,
            [
                "dataset.name=fashion_mnist",
                f"dataset.root={tmp_path / 'missing'}",
                "dataset.height=28",
                "dataset.width=28",
            ],
        )


def test_incomplete_folder_names_missing_files(tmp_path):
    write_fashion_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="incomplete.*t10k-labels-idx1-ubyte"):
        read_fashion_mnist(tmp_path, default_root=False)


def test_malformed_idx_files(tmp_path):
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 12)  # 0x0d = float, not unsigned byte
    with pytest.raises(DatasetError, match="bad magic"):
        read_idx(bad)
    write_idx(bad, np.zeros((4, 28, 28), np.uint8))
    bad.write_bytes(bad.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"declares shape \(4, 28, 28\).*truncated"):
        read_idx(bad)
    gz = tmp_path / "y-idx1-ubyte.gz"
    gz.write_bytes(b"definitely not gzip")
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(gz)
    write_fashion_mnist(tmp_path / "f")
    write_idx(tmp_path / "f" / "t10k-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))  # 20 images, 7 labels
    with pytest.raises(DatasetError, match="do not match"):
        read_fashion_mnist(tmp_path / "f", default_root=False)


def test_real_fashion_mnist(tmp_path, monkeypatch):
    """conf/fashion_mnist.yaml finds the installed Debian copy through the default root, and it reads as the
    published 60000/10000 balanced splits."""
    if (
        not (SYSTEM_DIR / "train-images-idx3-ubyte.gz").exists()
        and not (SYSTEM_DIR / "train-images-idx3-ubyte").exists()
    ):
        if os.environ.get("PSN_REQUIRE_FASHION_MNIST") == "1":
            pytest.fail(
                f"PSN_REQUIRE_FASHION_MNIST=1 but {SYSTEM_DIR} holds no Fashion-MNIST "
                f"(apt-get install dataset-fashion-mnist)"
            )
        pytest.skip(f"{SYSTEM_DIR} not installed")
    monkeypatch.chdir(tmp_path)  # no data/ folder here: the default root must fall back to the system copy
    cfg = load_config(CONF, ["dataset.test_sample_num=100"])
    loaders = build_loaders(cfg)
    x, y = next(iter(loaders.test))
    assert x.shape == (100, 1, 28, 28) and np.array_equal(np.bincount(y.numpy()), [10] * 10)
    assert len(loaders.train.dataset) == 1000 and abs(float(x.mean())) < 0.3  # normalised real images
    train, test = read_splits(cfg)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert np.array_equal(np.bincount(train.labels), [6000] * 10)
    assert np.array_equal(np.bincount(test.labels), [1000] * 10)
    # the published statistics that the fashion_mnist spec uses
    counts = np.bincount(train.images.ravel(), minlength=256)  # pixel histogram: cheap exact moments
    v = np.arange(256) / 255
    mean = (counts * v).sum() / counts.sum()
    std = np.sqrt((counts * (v - mean) ** 2).sum() / counts.sum())
    assert abs(mean - dataset_spec("fashion_mnist").normalization[0][0]) < 1e-3
    assert abs(std - dataset_spec("fashion_mnist").normalization[1][0]) < 1e-3
