"""A worker process that dies without reporting (OOM kill, segfault): its runs come back FAILED with the exit
status, the pool replaces it, and the runner closes the MLflow run it left RUNNING."""

import sys

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.sweeps.launchers import execute, launch_local
from parametricSN.sweeps.runner import TAG_ATTEMPT, _close_orphan
from parametricSN.sweeps.worker import DONE_LINE, RESULT_PREFIX


@pytest.mark.process
def test_a_dead_worker_reports_every_missing_run_failed(tmp_path):
    # a stand-in interpreter that reports the first run, then dies with status 137 (as when OOM-killed)
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n"
        f'print(\'{RESULT_PREFIX}\' + \'{{"status": "FINISHED", "run_id": "r1", "test_acc": 1.0, '
        f'"error": null, "duration": 0.1}}\')\nsys.stderr.write(\'Killed\\n\')\nsys.exit(137)\n'
    )
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


@pytest.mark.process
def test_the_pool_reuses_a_worker_and_replaces_one_that_crashed(tmp_path):
    # a stand-in worker: answers each task line with one result, until a task asks it to die (status 137)
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\nimport json, os, sys\nfor line in sys.stdin:\n"
        "    task = json.loads(line)\n"
        "    if task['runs'][0].get('crash'):\n        sys.exit(137)\n"
        f"    print('{RESULT_PREFIX}' + json.dumps({{'status': 'FINISHED', 'run_id': str(os.getpid()), "
        "'test_acc': 1.0, 'error': None, 'duration': 0.0}))\n"
        f"    print('{DONE_LINE}', flush=True)\n"
    )
    fake.chmod(0o755)
    tasks = [{"runs": [{"crash": crash}]} for crash in (False, False, True, False)]
    results = [r for _, rs in launch_local(iter(tasks), workers=1, python=str(fake)) for r in rs]
    assert [r["status"] for r in results] == ["FINISHED", "FINISHED", "FAILED", "FINISHED"]
    assert results[0]["run_id"] == results[1]["run_id"] != results[3]["run_id"]  # one process, then a new one
    assert "exited with status 137" in results[2]["error"]
