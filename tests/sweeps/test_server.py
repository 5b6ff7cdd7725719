"""A sweep logging to a real `mlflow server` (loopback only, HTTP tracking URI, artifacts uploaded through the
server), then `psn report` read back from it. One server for the module."""

import os
import shutil
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from tests.servers import mlflow_server, require
from tests.sweeps.test_processes import wait_for
from tests.sweeps.test_run import tiny_base

pytestmark = pytest.mark.process  # every test here starts real processes


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    with mlflow_server(f"sqlite:///{folder}/server.db", folder) as (url, artifacts):
        yield url, artifacts


def test_sweep_and_report_through_a_tracking_server(server, tmp_path, fmnist_root, capsys, warm_workers):
    url, artifacts = server
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"name: served\nbase: {tiny_base(tmp_path, fmnist_root)}\ngrid:\n  general.seed: [1]\n"
        "published:\n  - {where: {}, mean: 50.0, std: 1.0}\n"
    )
    assert main(["sweep", str(spec), "--tracking-uri", url]) == 0
    out = capsys.readouterr().out
    assert "1 finished, 0 skipped, 0 failed" in out
    client = MlflowClient(url)
    exp = client.get_experiment_by_name("served")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["psn.sweep"] == "served"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]
    # the artifact went through the server into its artifact store, not to a local folder of the worker
    assert list(artifacts.rglob("config.yaml")) and not (tmp_path / "mlruns").exists()
    assert main(["sweep", str(spec), "--tracking-uri", url]) == 0  # rerun: the cell is finished
    assert "0 to run" in capsys.readouterr().out
    assert main(["report", "--experiment", "served", "--tracking-uri", url, "--format", "csv", "--log"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    acc = run.data.metrics["test_acc"]
    assert lines[1].split(",")[:3] == ["1", f"{acc:.4f}", ""] and lines[1].endswith("50.0,1.0")
    assert list(artifacts.rglob("report.csv"))


def test_train_through_a_server_prints_only_its_result_on_stdout(server, tmp_path, fmnist_root, capsys):
    import yaml

    url, _ = server
    assert main(["train", "-c", str(tiny_base(tmp_path, fmnist_root)), f"mlflow.tracking_uri={url}"]) == 0
    out = capsys.readouterr().out
    assert "View run" not in out and set(yaml.safe_load(out)) == {"run_id", "test_acc"}, out


@pytest.mark.parametrize("skew", [0, -40], ids=["same-clock", "clock-40s-behind"])
def test_twin_sweeps_on_two_machines_sharing_only_the_server_train_each_cell_once(server, tmp_path, fmnist_root, skew):
    # two working folders (two machines) run the same spec against one server: started at once with the same clock;
    # or, with skew, the second machine's clock is 40 s behind (libfaketime) and it starts once the first is
    # training, so its claims come later but look older: the first must yield at its next check, not finish too
    missing = "libfaketime is not installed (make test-tools, or apt-get install faketime): no clock to skew"
    faketime = require(shutil.which("faketime"), missing, "PSN_REQUIRE_FAKETIME") if skew else None
    url, _ = server
    name, epochs = f"twins{-skew}", 200 if skew else 40  # skewed: the first still trains when the second starts
    client = MlflowClient(url)

    def sweep(machine: str, clock: list[str]) -> subprocess.Popen:
        folder = tmp_path / machine
        folder.mkdir()
        (folder / "spec.yaml").write_text(
            f"name: {name}\nbase: {tiny_base(folder, fmnist_root)}\n"
            f"overrides: [train.epochs={epochs}, train.test_every=1000]\ngrid:\n  general.seed: [1, 2]\n"
        )
        return subprocess.Popen(
            [*clock, sys.executable, "-m", "parametricSN", "sweep", "spec.yaml", "--tracking-uri", url]
            + ["--workers", "2", "--heartbeat-timeout", "600"],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PSN_HEARTBEAT_SECONDS": "1"},
        )

    first = sweep("a", [])
    if skew:
        wait_for(
            lambda: (lambda e: e and len(client.search_runs([e.experiment_id], "metrics.train_loss > 0")) == 2)(
                client.get_experiment_by_name(name)
            )
        )
    second = sweep("b", [faketime, "-f", f"{skew:+d}s"] if skew else [])
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [err[-2000:] for _, err in outs]
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert sorted(r.data.params["general.seed"] for r in finished) == ["1", "2"], [
        (r.data.params["general.seed"], r.info.status) for r in runs
    ]
    for r in finished:
        assert [m.step for m in client.get_metric_history(r.info.run_id, "train_loss")] == list(range(1, epochs + 1))
