"""A full disk under a running ``psn train`` (real processes, a small tmpfs): the SQLite store or the artifact folder
fills, the run stops with one line naming which and its path, and the printed resume command, run once space is
freed, finishes the run with the metrics of a run that never stopped."""

import os
import shlex
import shutil
import sqlite3
import subprocess

import pytest
from mlflow.tracking import MlflowClient

from tests.configs import TINY, make_cfg
from tests.test_reliability_processes import histories
from tests.warm import PYTHON

pytestmark = pytest.mark.process  # every test here starts real processes

PSN = [PYTHON, "-m", "parametricSN"]
EPOCHS = 40


def _config(folder, root, *overrides):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    # a checkpoint every epoch, and a step schedule (the usual resume setting)
    common = [f"train.epochs={EPOCHS}", "train.checkpoint_every=1", "optim.scheduler=step", "optim.step_size=5"]
    path.write_text(make_cfg("fashion_mnist", *TINY, *common, *overrides, root=root).to_yaml())
    return path


def _train(folder, *args):
    return subprocess.run([*PSN, "train", *args], cwd=folder, capture_output=True, text=True, timeout=600)


@pytest.fixture
def tmpfs(tmp_path):
    """An 8 MB tmpfs at ``tmp_path/full`` (unmounted afterwards), filled by the test (:func:`_leave_free`); skipped where
    mounting is not allowed. 8 MB, not less: the store's write-ahead log grows to about 3 MB in a whole run."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    yield folder
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], check=True)  # a client of this process still holds the store


def _leave_free(folder, kib):
    """Fill ``folder``'s file system but ``kib`` KiB; returns the filler file (delete it to free the space)."""
    st = os.statvfs(folder)
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - kib * 1024))
    return filler


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fmnist_root, _empty_store):
    """The metrics of the same run, never stopped."""
    folder = tmp_path_factory.mktemp("reference")
    shutil.copy(_empty_store, folder / "store.db")
    uri = f"sqlite:///{folder}/store.db"
    done = _train(folder, "-c", str(_config(folder, fmnist_root, f"mlflow.tracking_uri={uri}")))
    assert done.returncode == 0, done.stderr
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    return histories(client, run.info.run_id)


def _stopped(result, uri):
    """The run id and resume command of a run that stopped with one line (after its first line and progress)."""
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    first, *progress, last = result.stderr.splitlines()
    assert first.startswith("psn: run ") and all(p.startswith("psn: epoch ") for p in progress), result.stderr
    run_id = first.split()[2]
    assert last.startswith(f"psn: run {run_id} stopped: ")
    command = last.split("resume it with: ")[1]
    assert command == f"psn train --resume {run_id} mlflow.tracking_uri={uri}"
    return run_id, last, command


def _resume(folder, command, run_id, uri, reference):
    resumed = _train(folder, *shlex.split(command)[2:])
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    assert "warning" not in resumed.stderr  # no half-written checkpoint to skip
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert histories(client, run_id) == reference  # every epoch, once, as if it had never stopped


def test_a_full_store_stops_the_run_with_one_line_and_resume_finishes_it(
    tmp_path, tmpfs, fmnist_root, _empty_store, reference
):
    shutil.copy(_empty_store, tmpfs / "store.db")
    uri = f"sqlite:///{tmpfs}/store.db"
    cfg = _config(tmp_path, fmnist_root, f"mlflow.tracking_uri={uri}", f"mlflow.artifact_location={tmp_path}/art")
    filler = _leave_free(tmpfs, 200)  # the run opens, then its metrics fill the store's write-ahead log
    run_id, line, command = _stopped(_train(tmp_path, "-c", str(cfg)), uri)
    assert f"the tracking store {tmpfs}/store.db is full (No space left on device)" in line
    # closed FAILED when the store could still take the run's end (a failed write's space is freed by its rollback),
    # else left RUNNING, which the resume reopens: the line says which
    status = "RUNNING" if "the run is left RUNNING" in line else "FAILED"
    assert status == "RUNNING" or "the run is marked FAILED" in line
    filler.unlink()
    with sqlite3.connect(tmpfs / "store.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == status
    assert 0 < len(client.get_metric_history(run_id, "train_loss")) < EPOCHS
    _resume(tmp_path, command, run_id, uri, reference)


def test_full_artifacts_stop_the_run_failed_with_one_line_and_resume_finishes_it(
    tmp_path, tmpfs, fmnist_root, mlflow_uri, reference
):
    cfg = _config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}", f"mlflow.artifact_location={tmpfs}/art")
    filler = _leave_free(tmpfs, 100)  # room for a few checkpoints
    run_id, line, command = _stopped(_train(tmp_path, "-c", str(cfg)), mlflow_uri)
    assert f"the artifact folder {tmpfs}/art/{run_id}/artifacts is full (No space left on device)" in line
    assert "the run is marked FAILED" in line
    client = MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and "No space left on device" in run.data.tags["error"]
    saved = [f.path for f in client.list_artifacts(run_id, "checkpoints")]
    done = len(client.get_metric_history(run_id, "train_loss"))
    assert 0 < done < EPOCHS and saved[-1] == f"checkpoints/epoch_{done - 1:04d}.pt"  # no half-written one left
    filler.unlink()
    _resume(tmp_path, command, run_id, mlflow_uri, reference)


def test_a_full_spool_while_the_server_is_away_keeps_what_it_spooled_and_says_so(
    tmpfs, tmp_path, fmnist_root, mlflow_uri, monkeypatch
):
    # the run's spool (what waits for a tracking server that is away) on a disk that fills up
    import torch

    from parametricSN.tracking import MlflowLogger
    from parametricSN.tracking.faults import DiskFull
    from parametricSN.tracking.operations import Away
    from parametricSN.tracking.outage import Outage
    from parametricSN.tracking.spool import Spool

    monkeypatch.setenv("PSN_CACHE_DIR", str(tmpfs / "cache"))
    cfg = make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", root=fmnist_root)
    logger = MlflowLogger.from_config(cfg)
    run_id = logger.start_run(cfg)
    logger.outage, logger.spool = Outage("http://127.0.0.1:9"), Spool(run_id)  # as with a server, which goes away

    def away(op, file=None):
        raise Away()

    monkeypatch.setattr(logger, "_send", away)
    monkeypatch.setattr(logger.outage, "answering", lambda: False)
    logger.log_metrics({"train_loss": 1.0}, step=1)
    logger.log_metrics({"train_loss": 0.5}, step=2)
    checkpoint = tmp_path / "epoch_0002.pt"
    torch.save({"weights": torch.zeros(64 * 1024)}, checkpoint)  # 256 KiB: more than is left
    filler = _leave_free(tmpfs, 64)
    with pytest.raises(DiskFull) as raised:
        logger.log_file(checkpoint, "checkpoints")
    line = str(raised.value)
    assert line.startswith(f"run {run_id} stopped: its local spool {tmpfs / 'cache' / 'runs' / run_id} ") and (
        "is full (No space left on device); the run is left RUNNING on the server" in line
    ), line
    assert line.endswith(f"resume it with: psn train --resume {run_id} mlflow.tracking_uri={mlflow_uri}"), line
    logger.set_failed(raised.value)  # the server is away: nothing to close
    assert not list((tmpfs / "cache" / "runs" / run_id / "files").iterdir())  # no partial copy left
    assert [op["points"][0][:2] for op in Spool(run_id).ops] == [["train_loss", 1.0], ["train_loss", 0.5]]
    # a metric too big for what is left is not cut in the middle of its line: what comes after it reads back
    with pytest.raises(OSError):
        Spool(run_id).add({"op": "metrics", "points": [["x", 0.0, 0, 1]] * 20000})
    filler.unlink()
    spool = Spool(run_id)
    spool.add({"op": "metrics", "points": [["train_loss", 0.25, 0, 3]]})
    assert [op["points"][0][1] for op in Spool(run_id).ops] == [1.0, 0.5, 0.25]
