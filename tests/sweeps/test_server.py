"""A sweep logging to a real `mlflow server` (loopback only, HTTP tracking URI, artifacts uploaded through the
server), then `psn report` read back from it. One server for the module."""

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.tracking.preflight import PROBE
from tests.servers import mlflow_serving
from tests.sweeps.test_run import tiny_base

pytestmark = pytest.mark.process  # every test here starts real processes


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    command = ["server", "--workers", "1", "--backend-store-uri", f"sqlite:///{folder}/server.db"]
    command += ["--serve-artifacts", "--artifacts-destination", str(folder / "artifacts")]
    # ready: the API psn probes answers (its first request, under load, took more than psn's 3 s)
    with mlflow_serving(command, folder, PROBE) as url:
        yield url, folder / "artifacts"


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
