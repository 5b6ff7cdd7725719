import pickle
import urllib.error

import numpy as np
import pytest

from parametricSN.data import DatasetError, cifar
from parametricSN.data.cifar import read_cifar, read_cifar_folder
from tests.data.fakes import CIFAR_NAMES, write_cifar, write_cifar_folder


def test_reads_pickled_batches_pixel_exact(tmp_path):
    written = write_cifar(tmp_path, train_per_class=4, test_per_class=2)
    train, test = read_cifar(tmp_path, download=False)
    for split, (x, y) in ((train, written["train"]), (test, written["test"])):
        assert split.images.shape == x.shape and split.images.dtype == np.uint8
        np.testing.assert_array_equal(split.images, x)  # channel-planar rows decoded back to HWC
        np.testing.assert_array_equal(split.labels, y)
    assert len(train) == 40 and len(test) == 20
    assert train.classes == tuple(CIFAR_NAMES)
    img = train.image(3)
    assert img.mode == "RGB" and img.size == (32, 32)
    assert np.array_equal(np.asarray(img), written["train"][0][3])


def test_str_keyed_pickles_like_python2_are_read(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    entry = pickle.loads(path.read_bytes())
    with open(path, "wb") as f:  # Python-2 pickles load with str keys under encoding="latin1"
        pickle.dump({k.decode(): v for k, v in entry.items()}, f, protocol=2)
    _, test = read_cifar(tmp_path, download=False)
    assert np.array_equal(test.labels, entry[b"labels"])


def test_missing_folder_without_download_names_folder_and_source(tmp_path):
    with pytest.raises(DatasetError, match=r"cifar-10-batches-py.*download.*false.*cifar-10-python\.tar\.gz"):
        read_cifar(tmp_path, download=False)


def test_failed_download_becomes_clear_error(tmp_path, monkeypatch):
    calls = []

    def offline(root):
        calls.append(root)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(cifar, "download_cifar", offline)
    with pytest.raises(DatasetError) as info:
        read_cifar(tmp_path, download=True)
    msg = str(info.value)
    assert calls == [tmp_path]
    assert str(tmp_path / "cifar-10-batches-py") in msg and "downloading it failed" in msg
    assert "Name or service not known" in msg and "cifar-10-python.tar.gz" in msg


def test_incomplete_and_malformed_batches(tmp_path):
    write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    (folder / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="data_batch_3.*missing"):
        read_cifar(tmp_path, download=False)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="data_batch_3.*not a readable CIFAR-10 pickle"):
        read_cifar(tmp_path, download=False)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(DatasetError, match=r"data_batch_3.*\(2, 100\).*expected uint8 \(n, 3072\)"):
        read_cifar(tmp_path, download=False)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, f, protocol=2)
    with pytest.raises(DatasetError, match="labels outside 0..9"):
        read_cifar(tmp_path, download=False)


def test_image_folder_export(tmp_path):
    write_cifar_folder(tmp_path, train_per_class=3, test_per_class=2)
    train, test = read_cifar_folder(tmp_path, default_root=False)
    assert train.lazy and len(train) == 30 and len(test) == 20
    assert train.classes == tuple(CIFAR_NAMES)
    assert np.array_equal(np.bincount(train.labels), [3] * 10)
    assert all(f"/train/{train.classes[y]}/" in str(p) for p, y in zip(train.images, train.labels))
    assert train.image(0).size == (32, 32) and train.image(0).mode == "RGB"


def test_image_folder_default_root_prefers_cifar10_subfolder(tmp_path):
    write_cifar_folder(tmp_path / "cifar10", train_per_class=1, test_per_class=1)
    train, _ = read_cifar_folder(tmp_path, default_root=True)
    assert all("cifar10/train" in str(p) for p in train.images)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no train/ and test/ folders"):
        read_cifar_folder(tmp_path, default_root=False)
    write_cifar_folder(tmp_path, train_per_class=1, test_per_class=1)
    (tmp_path / "test" / "truck" / "truck_0.png").unlink()
    with pytest.raises(DatasetError, match="truck.*holds no images"):
        read_cifar_folder(tmp_path, default_root=False)
    (tmp_path / "test" / "truck").rmdir()
    with pytest.raises(DatasetError, match="train classes .* differ from test classes"):
        read_cifar_folder(tmp_path, default_root=False)
