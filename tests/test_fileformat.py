"""The versioned file format: atomic writes, and reads that name what is wrong."""

import pytest
import torch

from parametricSN import fileformat
from parametricSN.fileformat import read_versioned, write_versioned


class Unreadable(ValueError):
    pass


def test_round_trip_and_checks(tmp_path):
    path = write_versioned(tmp_path / "sub" / "f.pt", "psn-test", 2, {"x": torch.arange(3)})
    data = read_versioned(path, "psn-test", 2, Unreadable, "test file")
    assert data["format"] == "psn-test" and data["version"] == 2 and torch.equal(data["x"], torch.arange(3))
    with pytest.raises(Unreadable, match="has version 2; this parametricSN reads version 3"):
        read_versioned(path, "psn-test", 3, Unreadable, "test file")
    with pytest.raises(Unreadable, match="is not a parametricSN other"):
        read_versioned(path, "psn-other", 2, Unreadable, "other")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = write_versioned(tmp_path / "f.pt", "psn-test", 1, {"x": 1})

    def crash(obj, f):
        open(f, "wb").write(b"half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(fileformat.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        write_versioned(path, "psn-test", 1, {"x": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["f.pt"]
    assert read_versioned(path, "psn-test", 1, Unreadable, "test file")["x"] == 1
