"""A shared tracking server as a lab runs it: ``mlflow server`` on a real PostgreSQL database, artifacts served by
the server. ``psn train`` (stopped, then resumed from another folder, as another machine would), ``psn sweep``,
``psn report`` and ``psn deform`` run against it as real processes; checkpoints and models live in the server's
artifact store, never on the machine that trained."""

import shlex
import signal
import subprocess
import time

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.servers import mlflow_server, postgres
from tests.sweeps.test_run import tiny_base
from tests.sweeps.test_tune import SPEC as SEARCH
from tests.sweeps.test_tune import _spec
from tests.warm import PYTHON

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with postgres() as database:
        with mlflow_server(database, tmp_path_factory.mktemp("pg-server")) as (url, artifacts):
            yield url, artifacts


def psn(folder, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([PYTHON, "-m", "parametricSN", *args], cwd=folder, capture_output=True, text=True)
    assert not check or done.returncode == 0, done.stderr[-3000:]
    return done


def test_train_stop_resume_elsewhere_sweep_report_and_deform_on_postgres(server, tmp_path, fmnist_root):
    url, artifacts = server
    node_a, node_b = tmp_path / "a", tmp_path / "b"  # two machines: they share only the server
    node_a.mkdir()
    node_b.mkdir()
    base = tiny_base(node_a, fmnist_root)
    client = MlflowClient(url)

    run = subprocess.Popen(
        [PYTHON, "-m", "parametricSN", "train", "-c", str(base), f"mlflow.tracking_uri={url}"]
        + [
            "mlflow.experiment_name=pg",
            "optim.scheduler=step",
            "train.epochs=100000",
            "train.checkpoint_every=1",
            "train.save_model=true",
        ],
        cwd=node_a,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # until an epoch's checkpoint is on the server
        exp = client.get_experiment_by_name("pg")
        found = client.search_runs([exp.experiment_id]) if exp else []
        if found and client.list_artifacts(found[0].info.run_id, "checkpoints"):
            break
        time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 128 + signal.SIGTERM, err
    run_id = found[0].info.run_id
    command = err.strip().splitlines()[-1].split("resume it with: ")[1]
    assert command == f"psn train --resume {run_id} mlflow.tracking_uri={url}"
    stopped_at = max(m.step for m in client.get_metric_history(run_id, "train_loss"))
    # the checkpoints went through the server into its artifact store; nothing was written on the node
    assert list(artifacts.rglob(f"checkpoints/epoch_{stopped_at:04d}.pt"))
    assert not (node_a / "mlruns").exists()

    # node a is gone: node b continues the run from the server's checkpoint, with the printed command
    epochs = stopped_at + 2
    done = psn(node_b, *shlex.split(command)[1:], f"train.epochs={epochs}")
    assert yaml.safe_load(done.stdout)["run_id"] == run_id
    finished = client.get_run(run_id)
    assert finished.info.status == "FINISHED" and "error" not in finished.data.tags
    assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == list(range(1, epochs + 1))
    assert list(artifacts.rglob("model.pt")) and not (node_b / "mlruns").exists()  # the logged model, served

    spec = node_b / "spec.yaml"
    spec.write_text(f"name: pg-sweep\nbase: {base}\ngrid:\n  general.seed: [1, 2]\n")
    psn(node_b, "sweep", str(spec), "--tracking-uri", url, "--workers", "2")
    table = psn(node_b, "report", "--experiment", "pg-sweep", "--tracking-uri", url, "--format", "csv").stdout
    assert table.splitlines()[1].split(",")[0] == "2"  # two seeds averaged

    deform = psn(node_b, "deform", run_id, "--tracking-uri", url, "--num-images", "4", "--levels", "1")
    assert client.get_run(deform.stdout.split("run_id: ")[1].split()[0]).info.status == "FINISHED"
    assert not (node_b / "mlruns").exists()


def test_a_search_on_postgres(server, tmp_path):
    url, _ = server
    spec = _spec(tmp_path, SEARCH.replace("trials: 8", "trials: 2").replace("train.epochs=4", "train.epochs=2"))
    done = psn(tmp_path, "tune", str(spec), "--tracking-uri", url, "--output", "out")
    assert "[2/2] trial " in done.stdout and done.stderr == "", done.stderr[-2000:]
    client = MlflowClient(url)
    trials = client.search_runs([client.get_experiment_by_name("fm-search-search").experiment_id])
    assert sum(r.info.status == "FINISHED" for r in trials) == 3  # the search and its two trials
    assert (tmp_path / "out" / "best.yaml").is_file() and not (tmp_path / "mlruns").exists()
