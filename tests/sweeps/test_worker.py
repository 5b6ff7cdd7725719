"""A worker process that dies without reporting (OOM kill, segfault): its runs come back FAILED with the exit
status, and the runner closes the MLflow run it left RUNNING."""
import sys

from mlflow.tracking import MlflowClient

from parametricSN.sweeps.runner import TAG_ATTEMPT, _close_orphan
from parametricSN.sweeps.launchers import execute
from parametricSN.sweeps.worker import RESULT_PREFIX


def test_a_dead_worker_reports_every_missing_run_failed(tmp_path):
    # a stand-in interpreter that reports the first run, then dies with status 137 (as when OOM-killed)
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n"
                    f"print('{RESULT_PREFIX}' + '{{\"status\": \"FINISHED\", \"run_id\": \"r1\", \"test_acc\": 1.0, "
                    f"\"error\": null, \"duration\": 0.1}}')\nsys.stderr.write('Killed\\n')\nsys.exit(137)\n")
    fake.chmod(0o755)
    results = execute({"runs": [{}, {}, {}]}, python=str(fake))
    assert [r["status"] for r in results] == ["FINISHED", "FAILED", "FAILED"]
    assert results[0]["run_id"] == "r1" and results[1]["run_id"] is None
    assert "exited with status 137" in results[1]["error"] and "Killed" in results[1]["error"]


def test_the_orphaned_run_is_closed_failed_with_the_error(mlflow_uri):
    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("orphans")
    run = client.create_run(exp, tags={TAG_ATTEMPT: "abc"})
    other = client.create_run(exp, tags={TAG_ATTEMPT: "xyz"})
    assert _close_orphan(client, exp, "abc", "worker process exited with status 137") == run.info.run_id
    closed = client.get_run(run.info.run_id)
    assert closed.info.status == "FAILED" and "137" in closed.data.tags["error"]
    assert client.get_run(other.info.run_id).info.status == "RUNNING"
