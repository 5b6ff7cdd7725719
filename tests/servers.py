"""MLflow's own servers for tests that need one (``mlflow server``, ``mlflow ui``): started on a free loopback port,
waited for, and stopped with their worker processes."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_serving(command: list[str], folder: Path, probe: str, timeout: float = 120) -> Iterator[str]:
    """``python -m mlflow COMMAND --host 127.0.0.1 --port P`` run in ``folder`` (its output in ``folder/server.log``),
    yielding its URL once ``probe`` (a path) answers 200; stopped with its workers (one process group) at the end."""
    port = free_port()
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", *command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        start_new_session=True,  # the server and its web workers: one process group to stop
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}{probe}", timeout=30) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow {command[0]} did not start: {(folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it waits for idle keep-alive connections: nothing is left to save
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
