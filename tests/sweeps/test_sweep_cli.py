"""``psn sweep`` arguments (options and overrides in any order, ``--only key=a,b``, ``--seeds K``, a relative
``base:`` found in the working directory) and ``--status`` (read from the store, never creating one)."""

import time

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.sweeps.cli import _values
from parametricSN.sweeps.spec import load_spec
from parametricSN.sweeps.status import totals_line
from parametricSN.tags import TAG_HEARTBEAT

pytestmark = pytest.mark.process  # every test here starts real processes

SPEC = """
name: args
base: conf/tiny.yaml
grid:
  dataset.train_sample_num: [10, 20, 30]
  general.seed: [5, 6, 7]
"""


@pytest.fixture
def spec(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "tiny.yaml").write_text("model: {name: linear}\ntrain: {epochs: 2}\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    path = scratch / "spec.yaml"
    path.write_text(SPEC)
    monkeypatch.chdir(tmp_path)  # base: conf/tiny.yaml is neither next to the spec nor in its parent
    return path


def dry_run(capsys, *argv):
    assert main(["sweep", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_options_and_overrides_in_any_order_only_any_of_values_and_first_seeds(spec, capsys):
    lines = dry_run(
        capsys, str(spec), "--only", "dataset.train_sample_num=10,30", "train.epochs=3", "--seeds", "2", "--dry-run"
    )
    assert lines[-1] == "4 runs (args)"
    assert lines[0] == "every run: train.epochs=3"
    picked = [line.split()[2:] for line in lines[1:-1]]
    assert picked == [[f"dataset.train_sample_num={n}", f"general.seed={s}"] for n in (10, 30) for s in (5, 6)]
    # --only repeated across keys: every key must match one of its values
    lines = dry_run(capsys, "--dry-run", "--only", "general.seed=7", str(spec), "--only", "dataset.train_sample_num=20")
    assert lines[-1] == "1 runs (args)"
    assert _values("a,[1,2],'x,y'") == ["a", "[1,2]", "'x,y'"]


def test_a_missing_base_lists_every_place_looked(tmp_path, capsys):
    spec = tmp_path / "s" / "spec.yaml"
    spec.parent.mkdir()
    spec.write_text("name: x\nbase: nowhere.yaml\n")
    assert main(["sweep", str(spec), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for folder in (spec.parent, tmp_path):
        assert str(folder / "nowhere.yaml") in err


def test_status_never_creates_a_store(spec, tmp_path, capsys):
    db = tmp_path / "none" / "store.db"
    assert main(["sweep", str(spec), "--status", "--tracking-uri", f"sqlite:///{db}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "no tracking store" in out[0] and "9 runs pending" in out[0]
    assert not db.exists() and not db.parent.exists()


def test_status_lists_each_cell_and_the_totals(spec, mlflow_uri, capsys):
    cells = load_spec(spec).cells([f"mlflow.tracking_uri={mlflow_uri}"])
    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("args")
    now = int(time.time() * 1000)
    done = client.create_run(exp, tags={"psn.cell": cells[0].hash}, start_time=now - 600_000)
    client.log_metric(done.info.run_id, "test_acc", 41.5)
    client.set_terminated(done.info.run_id, "FINISHED", end_time=now)
    failed = client.create_run(exp, tags={"psn.cell": cells[1].hash, "error": "DivergenceError: diverged"})
    client.set_terminated(failed.info.run_id, "FAILED")
    alive = client.create_run(exp, tags={"psn.cell": cells[2].hash, TAG_HEARTBEAT: f"{time.time():.0f}"})
    client.log_metric(alive.info.run_id, "train_loss", 1.0, step=3)
    assert main(["sweep", str(spec), "--status", "--tracking-uri", mlflow_uri, "--workers", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 10
    assert out[0].startswith("finished  args n=10 seed=5: test_acc=41.50 (10m00s")
    assert out[1].startswith("failed    args n=10 seed=6: DivergenceError: diverged")
    assert out[2].startswith("running   args n=10 seed=7: epoch 3/2")
    assert all(line.startswith("pending   args n=") for line in out[3:9])
    assert (
        # the running run has just started and is past its epochs: nothing left of it; 6 mean runs on 2 workers
        out[9] == "9 runs: 1 finished, 1 running (epoch 3/2), 1 failed, 6 pending; about 30m00s left (mean run 10m00s, "
        "2 at a time)"
    )
    assert (
        totals_line({"pending": 2}, [], None) == "2 runs: 0 finished, 0 running, 0 failed, 2 pending; "
        "time left unknown until a run has trained an epoch"
    )
