"""What people do to share results: copy ``store.db`` alone, without its ``-wal`` file. After each psn command
that wrote to a SQLite store, the copy holds every run the command wrote (real processes: ``psn train``,
``psn sweep`` and its workers, ``psn report --log``)."""

import shutil
import sqlite3
import subprocess
from contextlib import closing

import pytest

from tests.sweeps.test_run import tiny_base
from tests.warm import PYTHON

pytestmark = pytest.mark.process

SPEC = """
name: shared
base: {base}
grid:
  general.seed: [1, 2]
"""


def psn(folder, *args: str) -> None:
    done = subprocess.run([PYTHON, "-m", "parametricSN", *args], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def copied_runs(store, folder) -> list[tuple[str, str]]:
    """``(run name, status)`` of every run in a copy of ``store`` made without its ``-wal`` and ``-shm`` files."""
    copy = folder / f"copy-{len(list(folder.glob('copy-*')))}.db"
    shutil.copyfile(store, copy)
    with closing(sqlite3.connect(copy)) as con:
        return sorted(con.execute("SELECT name, status FROM runs").fetchall())


def test_store_db_alone_holds_every_run_after_train_sweep_and_report(tmp_path, fmnist_root):
    store = tmp_path / "mlruns" / "store.db"
    uri = f"sqlite:///{store}"
    base = tiny_base(tmp_path, fmnist_root)
    psn(tmp_path, "train", "-c", str(base), f"mlflow.tracking_uri={uri}", "mlflow.run_name=alone")
    assert copied_runs(store, tmp_path) == [("alone", "FINISHED")]

    (tmp_path / "spec.yaml").write_text(SPEC.format(base=base))
    psn(tmp_path, "sweep", str(tmp_path / "spec.yaml"), "--tracking-uri", uri, "--workers", "2")
    runs = copied_runs(store, tmp_path)
    assert [status for name, status in runs if name != "alone"] == ["FINISHED", "FINISHED"], runs

    psn(tmp_path, "report", "--experiment", "shared", "--tracking-uri", uri, "--log")
    assert len(copied_runs(store, tmp_path)) == 4  # the report's summary run too
