"""``psn``: train, config show, and one-line errors with their exit codes, in process (``python -m parametricSN`` as
a real process: tests/test_reliability_processes.py)."""

import yaml
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from tests.configs import TINY, make_cfg


def write_config(tmp_path, root, *overrides):
    path = tmp_path / "run.yaml"
    path.write_text(make_cfg("fashion_mnist", *TINY, *overrides, root=root).to_yaml())
    return path


def test_config_show_prints_the_resolved_config(tmp_path, fmnist_root, capsys):
    path = write_config(tmp_path, fmnist_root)
    assert main(["config", "show", "-c", str(path), "scattering.L=6", "optim.lr=0.5"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["scattering"]["L"] == 6 and shown["optim"]["lr"] == 0.5
    assert shown["dataset"]["root"] == str(fmnist_root)


def test_config_errors_are_one_line_and_exit_2(tmp_path, fmnist_root, capsys):
    path = write_config(tmp_path, fmnist_root)
    for argv in (
        ["train", "-c", str(path), "scattering.K=3"],
        ["config", "show", "-c", str(path), "train.epochs=0"],
        ["train", "-c", str(tmp_path / "missing.yaml")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("psn: config error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_train_prints_the_run_id_and_final_accuracy(tmp_path, fmnist_root, mlflow_uri, capsys):
    path = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    assert main(["train", "-c", str(path), "train.epochs=1"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    run = MlflowClient(mlflow_uri).get_run(out["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["train.epochs"] == "1"
    assert out["test_acc"] == round(run.data.metrics["test_acc"], 2)


def test_train_takes_overrides_after_its_options(tmp_path, fmnist_root, mlflow_uri, capsys):
    path = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    assert main(["train", "-c", str(path), "train.epochs=2", "--quiet", "train.epochs=1"]) == 0
    assert set(yaml.safe_load(capsys.readouterr().out)) == {"run_id", "test_acc"}
    (run,) = MlflowClient(mlflow_uri).search_runs(
        [MlflowClient(mlflow_uri).get_experiment_by_name("tests").experiment_id]
    )
    assert run.data.params["train.epochs"] == "1"  # the later override wins, wherever it stands


def test_a_missing_dataset_is_one_line_and_exit_1(tmp_path, mlflow_uri, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    path = write_config(tmp_path, empty, f"mlflow.tracking_uri={mlflow_uri}")
    assert main(["train", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("psn: Fashion-MNIST: no folder holds") and str(empty) in err
    assert err.count("\n") == 1 and "Traceback" not in err
