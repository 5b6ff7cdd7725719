"""Several processes logging to one SQLite store at once (what `psn sweep --workers N` does) lose no run and no
metric. The experiment exists before they start, as the sweep runner arranges."""

import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.process  # every test here starts real processes

WRITER = """
import sys
from parametricSN.config import load_config
from parametricSN.tracking import MlflowLogger
uri, k = sys.argv[1], int(sys.argv[2])
logger = MlflowLogger(uri, "writers", tags={"writer": str(k)})
logger.start_run(load_config(None, ["general.seed=%d" % k]))
for step in range(1, 21):
    logger.log_metrics({"a": step * k, "b": step, "c": -step}, step=step)
logger.end_run()
"""


def test_three_processes_log_to_one_store_without_loss(mlflow_uri, tmp_path):
    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("writers", artifact_location=str(tmp_path / "artifacts"))
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, mlflow_uri, str(k)], stderr=subprocess.PIPE, text=True)
        for k in (1, 2, 3)
    ]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    runs = client.search_runs([exp])
    assert sorted(r.data.tags["writer"] for r in runs) == ["1", "2", "3"]
    assert all(r.info.status == "FINISHED" for r in runs)
    for r in runs:
        k = int(r.data.tags["writer"])
        history = client.get_metric_history(r.info.run_id, "a")
        assert sorted((m.step, m.value) for m in history) == [(s, float(s * k)) for s in range(1, 21)]
        assert len(client.get_metric_history(r.info.run_id, "c")) == 20
