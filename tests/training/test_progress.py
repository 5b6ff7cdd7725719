"""What a run prints (parametricSN/training/progress.py): the first line with the run id, store and ``mlflow ui``
command; progress lines at test epochs and every ``log.every`` seconds off a terminal, a bar on one; the final
line; ``--quiet``. In-process with a recording logger, then one real ``psn train`` piped to a file, killed with
SIGKILL after an epoch past its checkpoint and resumed: each epoch is in the run's metric history once."""

import io
import signal
import subprocess
import time

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.training import train
from parametricSN.training.progress import Progress, with_progress
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger
from tests.warm import PYTHON


class StoreLike(RecordingLogger):
    """A recording logger that says where it stores, as MlflowLogger does."""

    tracking_uri = "sqlite:///mlruns/store.db"
    experiment_name = "tests"
    reopen = None

    def set_tags(self, tags):
        self.tags = tags


def test_first_progress_and_last_lines_off_a_terminal(fmnist_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg("fashion_mnist", *TINY, "train.epochs=3", "train.test_every=2", "log.every=3600", root=fmnist_root)
    out = io.StringIO()
    inner = StoreLike()
    result = train(cfg, Progress(inner, out))
    lines = out.getvalue().splitlines()
    store = f"sqlite:///{tmp_path}/mlruns/store.db"  # made absolute: the command works from any folder
    assert lines[0] == (
        f"psn: run recorded started (experiment 'tests', seed {cfg.general.seed}) in {store}; "
        f"view it with: mlflow ui --backend-store-uri {store}"
    )
    # test epochs 2 and 3 (the last); epoch 1 is neither a test epoch nor log.every (an hour) after the start
    assert [line.split(" train_loss")[0] for line in lines[1:-1]] == ["psn: epoch 2/3", "psn: epoch 3/3"]
    assert f"test_acc {inner.metrics[2]['test_acc']:.2f}" in lines[1] and "left)" in lines[1]
    assert lines[-1].startswith(f"psn: run recorded finished: test_acc {result.test_acc:.2f} train_acc ")
    assert inner.ended == "FINISHED" and sorted(inner.metrics) == [1, 2, 3]  # everything reached the inner logger


def test_log_every_prints_between_test_epochs_and_quiet_keeps_the_last_line(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, "train.epochs=3", "train.test_every=5", "log.every=1e-9", root=fmnist_root)
    out = io.StringIO()
    train(cfg, Progress(RecordingLogger(), out))
    assert [line.split(" ")[2] for line in out.getvalue().splitlines()[1:-1]] == ["1/3", "2/3", "3/3"]
    quiet = io.StringIO()
    train(cfg, Progress(RecordingLogger(), quiet, quiet=True))
    (line,) = quiet.getvalue().splitlines()
    assert line.startswith("psn: run recorded finished: test_acc ") and "(3 epochs, " in line


def test_a_bar_on_a_terminal_and_a_pack_prints_each_member_once(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, "train.epochs=2", root=fmnist_root)
    out = io.StringIO()
    members = with_progress([StoreLike(), StoreLike()], out, bar=True)
    for m in members:
        m.start_run(cfg)
    for epoch in (1, 2):
        for p, m in enumerate(members):
            m.log_metrics({"train_loss": 1.0 / epoch, "test_acc": 10.0 * epoch + p}, step=epoch)
    for m in members:
        m.end_run()
    text = out.getvalue()
    assert "epochs: 100%" in text and "2/2" in text and "psn: epoch" not in text  # tqdm's bar, no lines
    finals = [line for line in text.splitlines() if " finished: " in line]
    assert [f.split("test_acc ")[1][:5] for f in finals] == ["20.00", "21.00"]
    members[1].set_tags({"pack_index": "1"})  # what the wrapper lacks comes from the wrapped logger
    assert members[1].inner.tags == {"pack_index": "1"}


def test_a_failed_run_closes_the_bar_and_leaves_the_error_to_the_caller(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    out, inner = io.StringIO(), RecordingLogger()
    progress = Progress(inner, out, bar=True)
    progress.start_run(cfg)
    progress.log_metrics({"train_loss": 1.0}, step=1)
    progress.set_failed(ValueError("boom"))
    assert inner.ended == "FAILED" and progress._bar is None and "finished" not in out.getvalue()


@pytest.mark.process
def test_psn_train_piped_to_a_file_then_killed_and_resumed_logs_each_epoch_once(
    tmp_path, fmnist_root, mlflow_uri, capsys
):
    # a step schedule, so that train.epochs may change on resume; checkpoints every 3 epochs
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        make_cfg(
            "fashion_mnist",
            *TINY,
            f"mlflow.tracking_uri={mlflow_uri}",
            "optim.scheduler=step",
            "train.epochs=100000",
            "train.checkpoint_every=3",
            "scattering.learnable=true",
            root=fmnist_root,
        ).to_yaml()
    )
    client = MlflowClient(mlflow_uri)
    with open(tmp_path / "err.txt", "w") as err, open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "parametricSN", "train", "-c", str(cfg)], cwd=tmp_path, stdout=out, stderr=err
        )
    try:
        deadline, first, steps = time.time() + 300, "", []
        while time.time() < deadline and not first:
            time.sleep(0.02)
            first = (tmp_path / "err.txt").read_text().partition("\n")[0]
            if first:  # the run's first line is in the file before its first epoch is logged
                run_id = first.split()[2]
                assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == [], first
        assert first.startswith("psn: run ") and " started (experiment 'tests'" in first, first
        assert f"in {mlflow_uri}; view it with: mlflow ui --backend-store-uri {mlflow_uri}" in first
        while time.time() < deadline:  # kill -9 after an epoch past the newest checkpoint (4, 7, ...: 2 epochs
            steps = [m.step for m in client.get_metric_history(run_id, "train_loss")]  # before the next one)
            if steps and max(steps) > 3 and max(steps) % 3 == 1:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    logged = max(m.step for m in client.get_metric_history(run_id, "train_loss"))
    ckpt = max(int(f.path[-7:-3]) for f in client.list_artifacts(run_id, "checkpoints"))
    lines = (tmp_path / "err.txt").read_text().splitlines()
    assert [line.split(" train_loss")[0] for line in lines[1:]][:3] == [
        "psn: epoch 1/100000",
        "psn: epoch 2/100000",
        "psn: epoch 3/100000",
    ]
    assert logged > ckpt, (logged, ckpt)  # epochs past the checkpoint: the resumed run trains them again
    capsys.readouterr()
    assert main(["train", "--resume", run_id, f"mlflow.tracking_uri={mlflow_uri}", f"train.epochs={logged + 2}"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"psn: run {run_id} resumed") and err[-1].startswith(f"psn: run {run_id} finished")
    names = client.get_run(run_id).data.metrics
    assert {"train_loss", "test_acc", "motion_theta"} <= set(names)
    for name in names:  # each epoch once, the replayed ones (ckpt + 1 .. logged) included
        assert sorted(m.step for m in client.get_metric_history(run_id, name)) == list(range(1, logged + 3)), name
