import shutil

import numpy as np
import pytest

from parametricSN.data import DatasetError
from parametricSN.data.kth import read_kth
from tests.data.fakes import KTH_MATERIALS, write_kth


@pytest.mark.parametrize("sample", ["a", "c"])
def test_trains_on_one_physical_sample_tests_on_the_other_three(tmp_path, sample):
    write_kth(tmp_path, per_sample=2)
    train, test = read_kth(tmp_path, sample)
    assert train.classes == tuple(KTH_MATERIALS) and len(train.classes) == 11
    assert len(train) == 11 * 2 and len(test) == 11 * 2 * 3
    assert np.array_equal(np.bincount(train.labels), [2] * 11)
    assert np.array_equal(np.bincount(test.labels), [6] * 11)
    assert all(p.parent.name == f"sample_{sample}" for p in train.images)
    assert {p.parent.name for p in test.images} == {f"sample_{s}" for s in "abcd" if s != sample}
    assert all(p.parent.parent.name == train.classes[y] for p, y in zip(train.images, train.labels))
    assert not set(train.images) & set(test.images)
    img = train.image(0)
    assert img.mode == "RGB" and img.size == (40, 40)


def test_root_may_be_the_kth_folder_itself(tmp_path):
    base = write_kth(tmp_path, per_sample=1)
    train, _ = read_kth(base, "b")
    assert len(train) == 11


def test_missing_and_incomplete_dataset(tmp_path):
    with pytest.raises(DatasetError, match="KTH-TIPS2-b.*does not exist.*kth-tips2-b_col_200x200.tar"):
        read_kth(tmp_path, "a")
    base = write_kth(tmp_path, per_sample=1)
    shutil.rmtree(base / "cork" / "sample_d")
    with pytest.raises(DatasetError, match="cork/sample_d.*missing"):
        read_kth(tmp_path, "a")
    (base / "cork" / "sample_d").mkdir()
    with pytest.raises(DatasetError, match="cork/sample_d.*holds no images"):
        read_kth(tmp_path, "a")
    shutil.rmtree(base / "cork")
    with pytest.raises(DatasetError, match="holds 10 material folders.*expected 11"):
        read_kth(tmp_path, "a")


def test_corrupt_image_is_reported_when_read(tmp_path):
    write_kth(tmp_path, per_sample=1)
    train, _ = read_kth(tmp_path, "a")
    train.images[0].write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match="cannot decode image .*missing or corrupt"):
        train.image(0)
