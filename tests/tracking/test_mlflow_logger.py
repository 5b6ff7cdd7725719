"""Runs logged into a real (temporary) SQLite MLflow store, read back with ``MlflowClient``."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from PIL import Image

import parametricSN
from parametricSN.config import DEFAULT_TRACKING_URI, ConfigError
from parametricSN.data import DatasetError
from parametricSN.tracking import ERROR_TAG, MlflowLogger, default_artifact_location, load_model, resolve_tracking_uri
from parametricSN.tracking.store import prepare_store
from parametricSN.training import train
from parametricSN.training.divergence import DivergenceError
from tests.configs import TINY, make_cfg


def artifact_paths(client: MlflowClient, run_id: str, path: str = "") -> set:
    out = set()
    for info in client.list_artifacts(run_id, path or None):
        out |= artifact_paths(client, run_id, info.path) if info.is_dir else {info.path}
    return out


def test_a_run_logs_params_metrics_config_figures_model_and_checkpoints(fmnist_root, mlflow_uri, tmp_path):
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        f"mlflow.tracking_uri={mlflow_uri}",
        "mlflow.run_name=tiny",
        "viz.figures=true",
        "train.save_model=true",
        "train.checkpoint_every=2",
        "train.epochs=3",
        "train.test_every=2",
        "viz.animation_every=2",
        root=fmnist_root,
    )
    result = train(cfg)
    client = MlflowClient(mlflow_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    assert client.get_experiment(run.info.experiment_id).name == "tests"

    assert run.data.params == {k: str(v) for k, v in cfg.flat().items()}
    assert len(run.data.params) == len(cfg.flat()) > 50

    def history(key):
        return [(m.step, m.value) for m in sorted(client.get_metric_history(result.run_id, key), key=lambda m: m.step)]

    assert [s for s, _ in history("train_loss")] == [1, 2, 3]
    assert [v for _, v in history("train_loss")] == pytest.approx([h["train_loss"] for h in result.history])
    assert [s for s, _ in history("test_acc")] == [2, 3]  # test epochs only
    assert run.data.metrics["test_acc"] == pytest.approx(result.test_acc)  # the final value
    for key in (
        "train_acc",
        "test_loss",
        "lr_head",
        "lr_orientation",
        "lr_scattering",
        "motion_theta",
        "motion_xi",
        "motion_sigma",
        "motion_slant",
        "frame_A",
        "frame_B",
        "frame_distance",
    ):
        assert key in run.data.metrics

    assert artifact_paths(client, result.run_id) == {
        "config.yaml",
        "figures/loss.png",
        "figures/accuracy.png",
        "figures/lr.png",
        "figures/filter_motion.png",
        "filters/fourier_before.png",
        "filters/fourier_after.png",
        "filters/params.png",
        "filters/animation.gif",
        "filters/littlewood_paley_before.png",
        "filters/littlewood_paley_after.png",
        "checkpoints/epoch_0002.pt",
        "checkpoints/epoch_0003.pt",
    }  # 3: the last epoch; the model is the run's logged model (tests/tracking/test_model_io.py)
    (output,) = run.outputs.model_outputs
    assert client.get_logged_model(output.model_id).name == "model"
    local = Path(client.download_artifacts(result.run_id, "config.yaml", str(tmp_path)))
    assert yaml.safe_load(local.read_text()) == cfg.to_dict()
    png = Path(client.download_artifacts(result.run_id, "figures/loss.png", str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    gif = Path(client.download_artifacts(result.run_id, "filters/animation.gif", str(tmp_path)))
    with Image.open(gif) as im:
        assert im.n_frames == 3  # epoch 0, 2 and the last (3)
    # artifacts live next to the store, under artifacts/<experiment>
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(tmp_path / "artifacts" / "tests")


def test_runs_and_experiments_read_well_in_mlflow_ui(fmnist_root, mlflow_uri, monkeypatch):
    """Model-training experiment kind, descriptions, code version, dataset inputs (MLflow's conventions)."""
    monkeypatch.setenv("PSN_COMMAND", "psn train -c tiny.yaml")
    cfg = make_cfg(
        "fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "dataset.val_sample_num=10", root=fmnist_root
    )
    result = train(cfg)
    client = MlflowClient(mlflow_uri)
    run = client.get_run(result.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "fashion_mnist" in experiment.tags["mlflow.note.content"]
    note = run.data.tags["mlflow.note.content"]
    assert note.startswith("learnable scattering (J=1, L=4, tight-frame init) + linear head trained 2 epochs on 20")
    assert "`train.epochs=2`" in note and "Command: `psn train -c tiny.yaml`" in note
    tags = run.data.tags
    assert (
        tags["mlflow.source.name"] == "psn" and tags["psn.version"] == parametricSN.__version__
    )  # the installed distribution's
    if (Path(parametricSN.__file__).parent.parent / ".git").exists():  # a checkout: its commit and state
        assert len(tags["mlflow.source.git.commit"]) == 40 and tags["psn.git.dirty"] in ("true", "false")
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation", "test"}
    assert inputs["training"].name == "fashion_mnist-training"
    assert [json.loads(inputs[c].profile)["num_rows"] for c in ("training", "validation", "test")] == [20, 10, 10]
    assert json.loads(inputs["training"].profile)["seed"] == 0
    assert len({d.digest for d in inputs.values()}) == 3

    # an experiment made before psn marked its kind gets it; a user's own kind and description stay
    client.set_experiment_tag(experiment.experiment_id, "mlflow.experimentKind", "genai_development")
    client.set_experiment_tag(experiment.experiment_id, "mlflow.note.content", "mine")
    train(cfg)
    assert client.get_experiment(experiment.experiment_id).tags["mlflow.experimentKind"] == "genai_development"
    assert client.get_experiment(experiment.experiment_id).tags["mlflow.note.content"] == "mine"


def test_a_failing_run_ends_failed_with_the_error_tag_and_raises(fmnist_root, mlflow_uri, tmp_path):
    cfg = make_cfg(
        "fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "optim.max_lr=1e30", root=fmnist_root
    )  # diverges at once
    with pytest.raises(DivergenceError, match="diverged in epoch 1"):
        train(cfg)
    client = MlflowClient(mlflow_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags[ERROR_TAG].startswith("DivergenceError: diverged in epoch 1")
    assert run.data.params["optim.max_lr"] == "1e+30"  # the config was logged before the failure


def test_a_data_error_leaves_no_run_behind(mlflow_uri, tmp_path):
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    with pytest.raises(DatasetError, match="Fashion-MNIST"):
        train(make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", root=empty))
    client = MlflowClient(mlflow_uri)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_tracking_uri_comes_from_the_environment_when_the_config_has_none(fmnist_root, mlflow_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    result = train(make_cfg("fashion_mnist", *TINY, "train.epochs=1", root=fmnist_root))
    assert MlflowClient(mlflow_uri).get_run(result.run_id).info.status == "FINISHED"


def test_artifact_location_can_be_chosen(fmnist_root, mlflow_uri, tmp_path):
    where = tmp_path / "elsewhere"
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        f"mlflow.tracking_uri={mlflow_uri}",
        f"mlflow.artifact_location={where}",
        "mlflow.experiment_name=placed",
        "train.epochs=1",
        root=fmnist_root,
    )
    result = train(cfg)
    assert (where / result.run_id / "artifacts" / "config.yaml").is_file()
    # a second run reuses the experiment (and its location)
    again = train(cfg)
    client = MlflowClient(mlflow_uri)
    assert client.get_run(again.run_id).info.experiment_id == client.get_run(result.run_id).info.experiment_id


def test_store_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == DEFAULT_TRACKING_URI == "sqlite:///mlruns/store.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from/env.db")
    assert resolve_tracking_uri() == "sqlite:///from/env.db"
    assert resolve_tracking_uri("http://server:5000") == "http://server:5000"  # the config wins
    monkeypatch.chdir(tmp_path)
    assert default_artifact_location(DEFAULT_TRACKING_URI, "my exp/1") == str(
        tmp_path / "mlruns" / "artifacts" / "my_exp_1"
    )
    assert default_artifact_location("http://server:5000", "x") is None
    prepare_store(DEFAULT_TRACKING_URI)
    assert (tmp_path / "mlruns").is_dir()


def test_logger_refuses_to_log_without_a_run(mlflow_uri):
    logger = MlflowLogger(mlflow_uri, "tests")
    with pytest.raises(RuntimeError, match="start_run"):
        logger.log_metrics({"a": 1.0}, step=1)
    logger.set_failed(ValueError("nothing to mark"))  # no run: nothing happens, nothing raised


def test_cuda_on_a_cpu_machine_is_a_config_error_before_any_run(fmnist_root, mlflow_uri):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="general.device"):
        train(
            make_cfg(
                "fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "general.device=cuda", root=fmnist_root
            )
        )
    assert MlflowClient(mlflow_uri).get_experiment_by_name("tests") is None


def test_spooled_dataset_inputs_and_model_are_delivered_later(fmnist_root, mlflow_uri, tmp_path, monkeypatch):
    """What an outage keeps in the spool (the model as a folder, the dataset inputs) reaches the store once
    delivered, as if it had been sent at once."""
    from parametricSN.data import build_loaders
    from parametricSN.models import build_model

    monkeypatch.setenv("PSN_CACHE_DIR", str(tmp_path / "cache"))
    cfg = make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", root=fmnist_root)
    logger = MlflowLogger.from_config(cfg)
    run_id = logger.start_run(cfg)
    sent, model = [], build_model(cfg).eval()
    with monkeypatch.context() as away:  # as while the server is away: spooled, not sent
        away.setattr(logger, "_submit", lambda op, file=None: sent.append(logger.spool.add(op, file)))
        logger.log_datasets(cfg, build_loaders(cfg))
        logger.log_model(model, cfg)
    assert len(logger.spool) == 2 and (sent[1] / "MLmodel").is_file()  # the folder's copy, in the spool
    assert logger.spool.deliver(logger._send) == {"points": 0, "files": 0}
    logger.end_run()
    client = MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {"fashion_mnist-training", "fashion_mnist-test"}
    (output,) = run.outputs.model_outputs
    assert client.get_logged_model(output.model_id).source_run_id == run_id
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(load_model(run_id, tracking_uri=mlflow_uri)(x), model(x))
    assert not (tmp_path / "cache" / "runs" / run_id).exists()


def test_runs_starting_together_share_their_datasets(fmnist_root, mlflow_uri, monkeypatch):
    """Two processes may create an experiment's dataset at once (a sweep's, a search's runs): the one whose insert
    loses (a unique-constraint error) tries again and links the dataset the other created."""
    from mlflow.exceptions import MlflowException

    from parametricSN.data import build_loaders

    cfg = make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", root=fmnist_root)
    logger = MlflowLogger.from_config(cfg)
    run_id = logger.start_run(cfg)
    real, calls = logger.client.log_inputs, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, ...")
        return real(*args, **kwargs)

    monkeypatch.setattr(logger.client, "log_inputs", racing)
    logger.log_datasets(cfg, build_loaders(cfg))
    logger.end_run()
    assert len(calls) == 2 and len(MlflowClient(mlflow_uri).get_run(run_id).inputs.dataset_inputs) == 2
