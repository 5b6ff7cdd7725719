"""A worker process that dies without reporting (OOM kill, segfault): its runs come back FAILED with the exit
status, the pool replaces it, and the runner closes the MLflow run it left RUNNING."""

import sys

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.sweeps.launch import LaunchOptions, execute
from parametricSN.sweeps.launchers import LocalPool
from parametricSN.sweeps.runner import _close_orphan
from parametricSN.sweeps.tasks import DONE_LINE, RESULT_PREFIX, RunSpec, Task
from parametricSN.tags import TAG_ATTEMPT, TAG_CELL


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
    results = execute(Task([RunSpec(), RunSpec(), RunSpec()]), python=str(fake))
    assert [r.status for r in results] == ["FINISHED", "FAILED", "FAILED"]
    assert results[0].run_id == "r1" and results[1].run_id is None
    assert "exited with status 137" in results[1].error and "Killed" in results[1].error


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
        "    if task['runs'][0]['tags'].get('crash'):\n        sys.exit(137)\n"
        f"    print('{RESULT_PREFIX}' + json.dumps({{'status': 'FINISHED', 'run_id': str(os.getpid()), "
        "'test_acc': 1.0, 'error': None, 'duration': 0.0}))\n"
        f"    print('{DONE_LINE}', flush=True)\n"
    )
    fake.chmod(0o755)
    tasks = [Task([RunSpec(tags={"crash": "1" if crash else ""})]) for crash in (False, False, True, False)]
    pool = LocalPool(LaunchOptions(workers=1), python=str(fake))
    results = [r for _, rs in pool.launch(iter(tasks)) for r in rs]
    assert [r.status for r in results] == ["FINISHED", "FINISHED", "FAILED", "FINISHED"]
    assert results[0].run_id == results[1].run_id != results[3].run_id  # one process, then a new one
    assert "exited with status 137" in results[2].error


@pytest.mark.process
def test_a_parent_death_announced_three_times_is_one_graceful_stop(tmp_path, fmnist_root, mlflow_uri):
    # the kernel repeats PR_SET_PDEATHSIG each time a thread the worker was re-parented to exits: the worker must
    # finish its epoch, checkpoint and close the run KILLED, as for one SIGTERM, not stop at once
    import json
    import os
    import signal
    import subprocess
    import time

    from parametricSN.sweeps.worker import PARENT_DIED
    from tests.configs import TINY, make_cfg

    cfg = make_cfg(
        "fashion_mnist", *TINY, "train.epochs=100000", "train.checkpoint_every=0", root=fmnist_root
    ).to_dict()
    cfg["mlflow"].update(tracking_uri=mlflow_uri, experiment_name="orphans")
    task = Task([RunSpec(cfg, {TAG_ATTEMPT: "a1", TAG_CELL: "c1"})], log_dir=str(tmp_path))
    worker = subprocess.Popen(
        [sys.executable, "-m", "parametricSN.sweeps.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker.stdin.write(task.to_json() + "\n")
    worker.stdin.flush()
    client = MlflowClient(mlflow_uri)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the run has logged two epochs
        exp = client.get_experiment_by_name("orphans")
        found = client.search_runs([exp.experiment_id]) if exp else []
        if found and len(client.get_metric_history(found[0].info.run_id, "train_loss")) >= 2:
            break
        time.sleep(0.2)
    for _ in range(3):
        os.kill(worker.pid, PARENT_DIED)
        time.sleep(0.05)
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 128 + signal.SIGTERM
    result = json.loads(out.split(RESULT_PREFIX, 1)[1].splitlines()[0])
    assert result["status"] == "KILLED" and "at once" not in result["error"], result
    run = client.get_run(result["run_id"])
    last = max(m.step for m in client.get_metric_history(run.info.run_id, "train_loss"))
    assert [f.path for f in client.list_artifacts(run.info.run_id, "checkpoints")] == [
        f"checkpoints/epoch_{last:04d}.pt"
    ]
