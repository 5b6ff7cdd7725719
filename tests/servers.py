"""Real servers for the tests that need them: a PostgreSQL cluster, MLflow's own servers (``mlflow server`` on it or
on SQLite with served artifacts, ``mlflow ui``), each started in a folder of its own on a free loopback port, waited
for, and stopped (SIGTERM to its process group, then SIGKILL) when the block ends.

PostgreSQL comes from Debian's ``postgresql`` package (``make test-tools`` installs it where apt and root allow);
where its binaries are missing the tests that need it skip with the reason printed, unless
``PSN_REQUIRE_POSTGRES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, TypeVar

import pytest

from parametricSN.tracking.preflight import PROBE

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Optional[Path]:
    """The folder of PostgreSQL's server binaries (Debian's layout, newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def require(found: Optional[T], missing: str, variable: str) -> T:
    """``found``, or the test is skipped saying ``missing`` (what is not installed and how to get it); under
    ``variable=1`` (CI, which installs it) the skip is a failure instead."""
    if found is None:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{missing} but {variable}=1")
        pytest.skip(missing)
    return found


def require_postgres() -> Path:
    missing = "PostgreSQL's server is not installed (make test-tools, or apt-get install postgresql)"
    return require(postgres_bin(), missing, "PSN_REQUIRE_POSTGRES")


def wait_until_answers(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float = 180) -> None:
    """Return once ``url`` answers 200; fail the test (with the end of ``log``) when ``proc`` ended or ``timeout``
    seconds passed first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def postgres(database: str = "mlflow") -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port with an empty ``database``; yields its SQLAlchemy URL
    (``postgresql://psn@127.0.0.1:PORT/mlflow``, trust authentication: tests only). As root it runs as the
    ``postgres`` user (PostgreSQL refuses root)."""
    bin_dir = require_postgres()
    data = Path(tempfile.mkdtemp(prefix="psn-pg-"))  # outside pytest's root-only tmp folders: postgres must read it
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "psn", "--no-sync"],
        check=True,
        capture_output=True,
    )
    log = open(data / "server.log", "w")
    server = subprocess.Popen(
        [*as_user, str(bin_dir / "postgres"), "-D", str(data / "db"), "-p", str(port), "-k", str(data)]
        + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        ).returncode:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "psn",
                "-d",
                "postgres",
                "-c",
                f"CREATE DATABASE {database}",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://psn@127.0.0.1:{port}/{database}"
    finally:
        _stop(server)  # SIGTERM: PostgreSQL's smart shutdown; the sessions are closed by then
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def mlflow_serving(command: list[str], folder: Path, probe: str = PROBE, timeout: float = 180) -> Iterator[str]:
    """``python -m mlflow COMMAND --host 127.0.0.1 --port P`` (``server ...``, ``ui ...``) run in ``folder`` (its
    output in ``folder/server.log``), yielding its URL once ``probe`` (a path; default: the API psn probes) answers
    200; stopped with its web workers (one process group) at the end."""
    port = free_port()
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", *command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:  # a first start migrates an empty database
        wait_until_answers(f"{url}{probe}", proc, folder / "server.log", f"mlflow {command[0]}", timeout)
        yield url
    finally:
        _stop(proc, grace=5.0)  # it waits for idle keep-alive connections: nothing is left to save
        log.close()


@contextlib.contextmanager
def mlflow_server(backend: str, folder: Path) -> Iterator[tuple[str, Path]]:
    """``mlflow server`` on ``backend`` (a database URL) with artifacts served from ``folder/artifacts``; yields
    ``(url, artifacts folder)`` once it answers."""
    command = ["server", "--workers", "1", "--backend-store-uri", backend, "--serve-artifacts"]
    with mlflow_serving([*command, "--artifacts-destination", str(folder / "artifacts")], folder) as url:
        yield url, folder / "artifacts"
