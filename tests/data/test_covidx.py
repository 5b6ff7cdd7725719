import numpy as np
import pytest

from parametricSN.data import DatasetError, dataset_spec
from parametricSN.data.covidx import CLASSES, parse_list, read_covidx
from tests.data.fakes import write_covidx, write_png


def test_reads_lists_and_images(tmp_path):
    write_covidx(tmp_path, train_per_class=4, test_per_class=2)
    train, test = read_covidx(tmp_path, default_root=False)
    assert train.classes == test.classes == ("negative", "positive")
    assert len(CLASSES) == dataset_spec("covidx").num_classes and dataset_spec("covidx").channels == 1
    assert len(train) == 8 and len(test) == 4
    assert np.array_equal(np.bincount(train.labels), [4, 4])
    lines = (tmp_path / "train.txt").read_text().split("\n")
    for path, label, line in zip(train.images, train.labels, lines):
        _, name, text, _ = line.split()
        assert path == tmp_path / "train" / name and CLASSES[label] == text
    img = test.image(1)
    assert img.mode == "L" and img.size == (48, 48)


def test_default_root_prefers_covidx_subfolder(tmp_path):
    write_covidx(tmp_path / "covidx-cxr2")
    train, _ = read_covidx(tmp_path, default_root=True)
    assert all("covidx-cxr2/train" in str(p) for p in train.images)
    with pytest.raises(DatasetError, match="no folder with train/, test/, train.txt and test.txt"):
        read_covidx(tmp_path, default_root=False)  # an explicit root is used as given


def test_file_names_with_spaces_and_header_row(tmp_path):
    lst = tmp_path / "train.txt"
    lst.write_text(
        "patient_id filename class data_source\n12 COVID-19 (1).png positive cohen\n\n13 a.jpeg NEGATIVE rsna\n"
    )
    names, labels = parse_list(lst)
    assert names == ["COVID-19 (1).png", "a.jpeg"] and labels == [1, 0]


def test_malformed_lists(tmp_path):
    lst = tmp_path / "train.txt"
    lst.write_text("1 a.png positive src\n2 b.png pneumonia src\n")
    with pytest.raises(DatasetError, match=r"train.txt:2 has label 'pneumonia'.*negative, positive"):
        parse_list(lst)
    lst.write_text("1 a.png positive src\n2 b.png\n")
    with pytest.raises(DatasetError, match="train.txt:2 has 2 fields"):
        parse_list(lst)
    lst.write_text("\n")
    with pytest.raises(DatasetError, match="lists no images"):
        parse_list(lst)


def test_listed_file_missing_is_reported_for_the_chosen_items(tmp_path):
    write_covidx(tmp_path)
    train, _ = read_covidx(tmp_path, default_root=False)
    train.images[2].unlink()
    assert len(train.take([0, 1])) == 2  # other items are still usable
    with pytest.raises(DatasetError, match=r"1 listed image file\(s\) do not exist: .*train_002.png"):
        train.take([1, 2])
    write_png(train.images[2], (48, 48), np.random.default_rng(0))
    assert len(train.take([1, 2])) == 2
