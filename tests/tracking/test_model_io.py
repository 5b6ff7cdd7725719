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

    folder = MlflowClient(mlflow_uri).download_artifacts(result.run_id, "model", str(tmp_path))
    for where in (folder, f"{folder}/model.pt"):
        with torch.no_grad():
            assert torch.equal(load_model(where)(x), expected)

    # the file holds plain data only: readable with weights_only, no pickled classes
    data = torch.load(f"{folder}/model.pt", weights_only=True)
    assert data["config"] == cfg.to_dict() and set(data["state_dict"]) == set(model.state_dict())


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
