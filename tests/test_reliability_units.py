"""The pieces under the reliability guarantees: signal handling, retries on a locked SQLite store, the resume
rules and the writability preflight."""

import os
import signal

import pytest

from parametricSN.config import ConfigError, load_config
from parametricSN.tracking.preflight import TrackingError, check_artifacts_writable, check_store_writable
from parametricSN.tracking.store import retry_locked
from parametricSN.training import interrupt
from parametricSN.training.resume import check_resume_config


def test_first_signal_requests_a_stop_the_second_stops_at_once_except_while_checkpointing():
    with interrupt.graceful_stop():
        assert interrupt.stop_requested() is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupt.stop_requested() == signal.SIGTERM  # only a request: execution goes on
        with pytest.raises(interrupt.Terminated):
            with interrupt.critical():
                os.kill(os.getpid(), signal.SIGINT)  # deferred: the checkpoint is written first
                finished_the_block = True
        assert finished_the_block
        with pytest.raises(interrupt.Terminated):
            os.kill(os.getpid(), signal.SIGINT)
    assert interrupt.stop_requested() is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_writes_are_retried_while_the_database_is_locked():
    calls = []

    def flaky(x):
        calls.append(x)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return x * 2

    assert retry_locked(flaky, 21) == 42 and len(calls) == 3
    with pytest.raises(ValueError):  # any other error is not retried
        retry_locked(lambda: (_ for _ in ()).throw(ValueError("no such table")))


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["train.epochs=6", "train.test_every=2", "general.num_workers=2", "viz.figures=false"], None),
        (["optim.lr=0.5"], "optim.lr"),
        (["general.seed=1"], "general.seed"),
        (["dataset.augment=noaugment"], "dataset.augment"),
        (["train.epochs=3"], "train.epochs"),  # not more than the 3 epochs done
    ],
)
def test_resume_may_change_only_keys_that_cannot_change_the_result(overrides, key):
    saved = load_config(None, ["optim.scheduler=step", "train.epochs=4"])
    new = load_config(None, ["optim.scheduler=step", "train.epochs=4", *overrides])
    if key is None:
        check_resume_config(saved, new, done=3)
    else:
        with pytest.raises(ConfigError, match=key):
            check_resume_config(saved, new, done=3)


def test_epochs_are_fixed_when_the_schedule_is_fitted_to_them():
    for sched in (["optim.scheduler=onecycle"], ["optim.scheduler=cosine"]):
        saved, new = load_config(None, sched), load_config(None, [*sched, "train.epochs=20"])
        with pytest.raises(ConfigError, match="train.epochs"):
            check_resume_config(saved, new, done=2)
    saved = load_config(None, ["optim.scheduler=cosine", "optim.T_max=5"])
    check_resume_config(saved, load_config(None, ["optim.scheduler=cosine", "optim.T_max=5", "train.epochs=20"]), 2)


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root writes into read-only folders; the file-as-folder cases of "
    "tests/test_bad_inputs.py cover the same checks as root",
)
def test_read_only_folders_are_named(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(TrackingError, match="not writable"):
            check_store_writable(f"sqlite:///{folder}/store.db", folder / "store.db")
        with pytest.raises(TrackingError, match="artifact location"):
            check_artifacts_writable(str(folder / "artifacts"))
    finally:
        folder.chmod(0o755)
