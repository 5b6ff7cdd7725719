"""Saved models (``parametricSN/tracking/model_io.py``): reload by run id or path, same predictions."""

import shutil

import pytest
import torch
from mlflow.tracking import MlflowClient

from parametricSN.models import build_model
from parametricSN.tracking import ModelFileError, load_model, load_model_with_config, save_model_file
from parametricSN.training import seed_everything, train
from tests.configs import TINY, make_cfg


def trained(cfg):
    """Train ``cfg`` on a model we keep a handle on (built exactly as train() would build it)."""
    seed_everything(cfg.general.seed)
    model = build_model(cfg)
    return train(cfg, model=model), model.eval()


def test_reloaded_model_gives_the_same_predictions_by_run_id_and_by_path(fmnist_root, mlflow_uri, tmp_path):
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        f"mlflow.tracking_uri={mlflow_uri}",
        "train.save_model=true",
        "model.name=mlp",
        "model.hidden=8",
        "model.depth=1",
        "model.dropout=0.5",
        root=fmnist_root,
    )
    result, model = trained(cfg)
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
    by_id = load_model(result.run_id, tracking_uri=mlflow_uri)
    assert not by_id.training and all(not m.training for m in by_id.modules())
    with torch.no_grad():
        assert torch.equal(by_id(x), expected)

    folder = logged_model_folder(mlflow_uri, result.run_id, tmp_path)
    for where in (folder, f"{folder}/model.pt"):
        with torch.no_grad():
            assert torch.equal(load_model(where)(x), expected)

    # the file holds plain data only: readable with weights_only, no pickled classes
    data = torch.load(f"{folder}/model.pt", weights_only=True)
    assert data["config"] == cfg.to_dict() and set(data["state_dict"]) == set(model.state_dict())


def logged_model_folder(uri, run_id, dst):
    """A local copy of the run's logged model ``model``."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    client = MlflowClient(uri)
    (output,) = client.get_run(run_id).outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.name == "model" and str(logged.status) == "READY"
    return get_artifact_repository(logged.artifact_location).download_artifacts("", str(dst))


def test_mlflow_loads_the_logged_model_with_the_predictions_of_psns_load_model(fmnist_root, mlflow_uri, monkeypatch):
    import mlflow
    import mlflow.pytorch
    from mlflow.models import Model

    cfg = make_cfg(
        "fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "train.save_model=true", root=fmnist_root
    )
    result = train(cfg)
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = load_model(result.run_id, tracking_uri=mlflow_uri)(x)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)  # MLflow resolves runs:/ and models:/ in its default store
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        loaded = mlflow.pytorch.load_model(f"runs:/{result.run_id}/model")
        meta = Model.load(f"runs:/{result.run_id}/model")
    finally:
        mlflow.set_tracking_uri(None)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), expected)
    assert meta.signature is not None and meta.saved_input_example_info is not None
    assert meta.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 1, 8, 8)


def test_psns_load_model_reads_runs_logged_before_logged_models(fmnist_root, mlflow_uri, tmp_path):
    """Older runs stored only the run artifact ``model/model.pt``."""
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    torch.manual_seed(2)
    model = build_model(cfg).eval()
    client = MlflowClient(mlflow_uri)
    run = client.create_run(client.create_experiment("old", artifact_location=str(tmp_path / "artifacts")))
    client.log_artifact(run.info.run_id, str(save_model_file(tmp_path / "model.pt", model, cfg)), "model")
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(load_model(run.info.run_id, tracking_uri=mlflow_uri)(x), model(x))


def test_a_model_reloads_after_its_dataset_folder_is_gone(fmnist_root, tmp_path):
    root = tmp_path / "fmnist-copy"
    shutil.copytree(fmnist_root, root)
    cfg = make_cfg("fashion_mnist", *TINY, root=root)
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    path = save_model_file(tmp_path / "model.pt", model, cfg)
    shutil.rmtree(root)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(load_model(path)(x), model(x))


def test_load_errors_name_the_problem(fmnist_root, mlflow_uri, tmp_path):
    with pytest.raises(ModelFileError, match="neither a model file nor a run"):
        load_model("0123456789abcdef", tracking_uri=mlflow_uri)
    result = train(
        make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "train.epochs=1", root=fmnist_root)
    )
    with pytest.raises(ModelFileError, match="no saved model"):
        load_model(result.run_id, tracking_uri=mlflow_uri)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(bad)
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not a parametricSN model file"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="holds no model.pt"):
        load_model(tmp_path)


def test_load_model_with_config_returns_the_saved_config(fmnist_root, tmp_path):
    cfg = make_cfg("fashion_mnist", *TINY, "scattering.L=6", root=fmnist_root)
    path = save_model_file(tmp_path / "model.pt", build_model(cfg), cfg)
    model, saved = load_model_with_config(path)
    assert saved.to_dict() == cfg.to_dict() and model.scattering.L == 6 and not model.training


def test_each_member_of_a_pack_is_its_own_logged_model(fmnist_root, mlflow_uri):
    from parametricSN.training.pack import train_pack

    cfgs = [
        make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "train.save_model=true", root=fmnist_root)
        for _ in range(2)
    ]
    cfgs[1].general.seed = 1
    results = train_pack(cfgs)
    client = MlflowClient(mlflow_uri)
    models = [client.get_run(r.run_id).outputs.model_outputs for r in results]
    assert [len(m) for m in models] == [1, 1] and models[0][0].model_id != models[1][0].model_id
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        first, second = (load_model(r.run_id, tracking_uri=mlflow_uri)(x) for r in results)
    assert not torch.equal(first, second)  # each member's own weights


def test_a_run_resumed_for_more_epochs_loads_its_newest_model(tmp_path, fmnist_root, mlflow_uri, monkeypatch):
    # the run logs its model again when it ends again: psn (and psn deform) and MLflow's runs:/ load the newest
    import mlflow
    import mlflow.pytorch
    from mlflow.entities import Run, RunOutputs

    from parametricSN.cli import main
    from parametricSN.tracking.model_io import _download_file

    cfg = tmp_path / "run.yaml"
    extra = ("train.save_model=true", "train.checkpoint_every=1", "optim.scheduler=none")
    cfg.write_text(
        make_cfg("fashion_mnist", *TINY, *extra, f"mlflow.tracking_uri={mlflow_uri}", root=fmnist_root).to_yaml()
    )
    assert main(["train", "-c", str(cfg)]) == 0
    client = MlflowClient(mlflow_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    first = load_model(run.info.run_id, tracking_uri=mlflow_uri).state_dict()
    assert main(["train", "--resume", run.info.run_id, f"mlflow.tracking_uri={mlflow_uri}", "train.epochs=4"]) == 0
    newest = load_model(run.info.run_id, tracking_uri=mlflow_uri).state_dict()
    assert any(not torch.equal(newest[k], first[k]) for k in first)  # two more epochs moved the weights
    # whatever order the store lists the run's two models in
    resumed = client.get_run(run.info.run_id)
    outputs = resumed.outputs.model_outputs
    assert len(outputs) == 2
    for order in (outputs, outputs[::-1]):
        listed = Run(resumed.info, resumed.data, resumed.inputs, RunOutputs(model_outputs=list(order)))
        path = _download_file(client, listed, str(tmp_path / order[0].model_id), mlflow_uri)
        assert all(torch.equal(load_model(path).state_dict()[k], v) for k, v in newest.items())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        theirs = mlflow.pytorch.load_model(f"runs:/{run.info.run_id}/model").state_dict()
    finally:
        mlflow.set_tracking_uri(None)
    assert all(torch.equal(theirs[k], v) for k, v in newest.items())
