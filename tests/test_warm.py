"""The suite's warm starts (tests/warm.py) keep what makes a process real: the client's working directory, streams,
exit status and signals reach the forked psn process, a signal it does not handle kills the client the same way, and
a SIGKILLed client takes its process with it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.configs import TINY, make_cfg
from tests.warm import PYTHON, processes_in

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(PYTHON == sys.executable, reason="no warm-start template in this session (PSN_TEST_WARM=0)"),
]


def long_run(tmp_path, fmnist_root, mlflow_uri) -> subprocess.Popen:
    """A warm ``psn train`` that runs for minutes, returned once it has printed its first line."""
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        make_cfg(
            "fashion_mnist", *TINY, "train.epochs=100000", f"mlflow.tracking_uri={mlflow_uri}", root=fmnist_root
        ).to_yaml()
    )
    proc = subprocess.Popen(
        [PYTHON, "-m", "parametricSN", "train", "-c", str(cfg)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline().startswith("psn: run "), proc.stderr.read()
    return proc


def test_a_warm_process_is_forked_from_the_template_and_dies_with_its_client(tmp_path, fmnist_root, mlflow_uri):
    proc = long_run(tmp_path, fmnist_root, mlflow_uri)
    found = processes_in(tmp_path)
    assert proc.pid in found and len(found) == 2, found
    (child,) = set(found) - {proc.pid}
    assert found[child] != proc.pid  # the template's child, not the client's: nothing was imported for it
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    deadline = time.monotonic() + 30
    while child in processes_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert child not in processes_in(tmp_path)


def test_signals_reach_the_process_and_its_end_is_the_clients(tmp_path, fmnist_root, mlflow_uri):
    proc = long_run(tmp_path, fmnist_root, mlflow_uri)
    proc.send_signal(signal.SIGUSR1)  # psn does not handle it: the process dies of it, and so does the client
    assert proc.wait(30) == -signal.SIGUSR1
    missing = subprocess.run(  # an exit status and one line on stderr, through the client
        [PYTHON, "-m", "parametricSN", "train", "-c", "missing.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert missing.returncode == 2 and missing.stderr.startswith("psn: config error: config file 'missing.yaml'")
    assert missing.stdout == ""
