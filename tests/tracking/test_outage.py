"""A real ``mlflow server`` that goes away under a running ``psn train`` (real processes): stopped for a while, the
run trains on, says so in two lines and every epoch reaches the server; stopped for good, the run stops past
``mlflow.outage_limit`` with one line naming its local checkpoint and the command that resumes it, which works
once the server is back."""

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.tracking.preflight import PROBE
from tests.configs import TINY, make_cfg
from tests.servers import free_port, wait_until_answers
from tests.warm import PYTHON

pytestmark = pytest.mark.process  # every test here starts real processes

PSN = [PYTHON, "-m", "parametricSN"]


class Server:
    """``mlflow server`` on a fixed port and store, which a test stops (SIGKILL: a crash) and starts again."""

    def __init__(self, folder):
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        log = open(self.folder / "server.log", "a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{self.folder}/server.db",
                "--serve-artifacts",
                "--artifacts-destination",
                str(self.folder / "artifacts"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            start_new_session=True,
        )
        log.close()
        wait_until_answers(f"{self.url}{PROBE}", self.proc, self.folder / "server.log", "mlflow server", 120)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "server")
    s.folder.mkdir()
    s.start()
    yield s
    s.stop()


def _start_run(tmp_path, fmnist_root, server, limit, epochs):
    cfg = tmp_path / "run.yaml"
    overrides = [f"mlflow.tracking_uri={server.url}", f"mlflow.outage_limit={limit}", f"train.epochs={epochs}"]
    # a step schedule (train.epochs may change on resume), a checkpoint every 5 epochs, a progress line a minute
    overrides += ["optim.scheduler=step", "optim.step_size=5", "train.checkpoint_every=5", "train.test_every=5"]
    cfg.write_text(make_cfg("fashion_mnist", *TINY, *overrides, root=fmnist_root).to_yaml())
    env = {**os.environ, "PSN_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [*PSN, "train", "-c", str(cfg)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = MlflowClient(server.url)
    deadline, runs = time.monotonic() + 300, []
    while time.monotonic() < deadline and not runs:  # until the run has logged an epoch
        time.sleep(0.2)
        exp = client.get_experiment_by_name("tests")
        runs = [r for r in client.search_runs([exp.experiment_id]) if r.data.metrics] if exp else []
        assert proc.poll() is None, proc.communicate()
    assert runs, "the run never logged an epoch"
    return proc, runs[0].info.run_id, env


def _steps(client, run_id, key="train_loss"):
    return [m.step for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def test_a_server_away_for_a_while_loses_nothing_and_says_so(tmp_path, fmnist_root, server):
    epochs = 150
    proc, run_id, _ = _start_run(tmp_path, fmnist_root, server, limit=300, epochs=epochs)
    server.stop()
    time.sleep(6)  # training goes on meanwhile
    assert proc.poll() is None
    server.start()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "Traceback" not in err, err
    away = [line for line in err.splitlines() if "stopped answering" in line]
    back = [line for line in err.splitlines() if "answers again" in line]
    assert len(away) == 1 and len(back) == 1, err
    assert run_id in away[0] and server.url in away[0] and "mlflow.outage_limit=300" in away[0]
    delivered = int(back[0].split("delivered ")[1].split()[0])
    assert delivered > 0, back[0]
    client = MlflowClient(server.url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    for key in ("train_loss", "train_acc", "lr_head"):  # every epoch's metrics, once each
        assert _steps(client, run_id, key) == list(range(1, epochs + 1)), key
    assert _steps(client, run_id, "test_acc") == list(range(5, epochs + 1, 5))
    names = [f.path for f in client.list_artifacts(run_id, "checkpoints")]
    assert names[-1] == f"checkpoints/epoch_{epochs:04d}.pt" and len(names) == epochs // 5
    assert not (tmp_path / "cache" / "runs" / run_id).exists()  # the spool is gone once delivered


def test_a_server_gone_for_good_stops_the_run_with_its_local_checkpoint_and_the_resume_command(
    tmp_path, fmnist_root, server
):
    proc, run_id, env = _start_run(tmp_path, fmnist_root, server, limit=3, epochs=100000)
    server.stop()
    started = time.monotonic()
    out, err = proc.communicate(timeout=300)
    assert time.monotonic() - started < 60  # the limit, then one epoch: never minutes of silence
    assert proc.returncode == 1 and out == "" and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("psn: epoch ")]
    first, away, last = lines  # the run's first line, the server gone, and the one line that ends the run
    assert first.startswith(f"psn: run {run_id} started") and "stopped answering" in away
    assert last.startswith(f"psn: run {run_id} stopped: the tracking server {server.url} has not answered for")
    assert "mlflow.outage_limit=3 s" in last
    local = last.split("is on local disk at ")[1].split(",")[0]
    assert os.path.isfile(local) and local.startswith(str(tmp_path / "cache"))
    done = int(local.rsplit("epoch_", 1)[1].split(".")[0])
    command = last.split("resume it from there with: ")[1]
    assert command == f"psn train --resume {run_id} --checkpoint {local} mlflow.tracking_uri={server.url}"

    server.start()  # the server is back: the exact printed command (made to stop 3 epochs later) finishes the run
    epochs = done + 3
    resumed = subprocess.run(
        [*PSN, *shlex.split(command)[1:], f"train.epochs={epochs}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    assert f"psn: run {run_id}: delivered " in resumed.stderr
    client = MlflowClient(server.url)
    assert client.get_run(run_id).info.status == "FINISHED"
    for key in ("train_loss", "lr_head"):  # every epoch once: those spooled while it was away, and the new ones
        assert _steps(client, run_id, key) == list(range(1, epochs + 1)), key
    assert not (tmp_path / "cache" / "runs" / run_id).exists()
