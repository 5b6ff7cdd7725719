"""``psn train --resume`` when checkpoints are damaged: an unreadable newest one falls back to the one before (a
warning naming the artifact); none readable is one line naming the run's artifacts, not a temporary copy."""

from pathlib import Path

from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from tests.configs import TINY, make_cfg


def _damage(client: MlflowClient, run_id: str, name: str) -> None:
    path = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://")) / "checkpoints" / name
    path.write_bytes(path.read_bytes()[:100])  # truncated, as by a full disk


def test_damaged_checkpoints_fall_back_then_say_none_is_readable(tmp_path, fmnist_root, mlflow_uri, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", root=fmnist_root).to_yaml())
    assert main(["train", "-c", str(cfg), "train.checkpoint_every=1"]) == 0
    client = MlflowClient(mlflow_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    run_id = run.info.run_id
    capsys.readouterr()

    _damage(client, run_id, "epoch_0002.pt")
    resume = ["train", "--resume", run_id, f"mlflow.tracking_uri={mlflow_uri}", "train.epochs=3"]
    assert main(resume) == 1  # a finished run is not extended from epoch 1; what matters here is the warning
    err = capsys.readouterr().err
    assert f"run {run_id}: checkpoint artifact checkpoints/epoch_0002.pt is corrupt or truncated" in err, err
    assert "resuming from checkpoints/epoch_0001.pt" in err and "psn-resume" not in err

    _damage(client, run_id, "epoch_0001.pt")
    assert main(resume) == 1
    *warned, err = capsys.readouterr().err.splitlines()  # the fallback's warning, then the one-line error
    assert all(w.startswith("psn: warning: ") for w in warned), warned
    assert err.startswith(f"psn: run {run_id} cannot be resumed: none of its 2 checkpoints is readable"), err
    assert "artifact checkpoints/epoch_0001.pt" in err and "train it again from the start" in err
    assert "psn-resume" not in err and "earlier checkpoint" not in err
