"""End to end from every native dataset layout: train into a temporary SQLite store, read the run back, and
reload the saved model."""

import pytest
import torch
from mlflow.tracking import MlflowClient

from parametricSN import train
from parametricSN.data import build_loaders
from parametricSN.tracking import load_model
from parametricSN.training import build_loss, evaluate
from tests.configs import make_cfg
from tests.data import fakes

FORMATS = {
    "cifar": (lambda root: fakes.write_cifar(root, train_per_class=2, test_per_class=1), "cifar", ()),
    "cifar-imagefolder": (
        lambda root: fakes.write_cifar_folder(root, train_per_class=2, test_per_class=1),
        "cifar",
        ("dataset.format=imagefolder",),
    ),
    "kth": (lambda root: fakes.write_kth(root, per_sample=2), "kth", ("dataset.train_sample_num=11",)),
    "covidx": (lambda root: fakes.write_covidx(root, train_per_class=2, test_per_class=1), "covidx", ()),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_train_and_reload_from_native_layout(fmt, tmp_path, mlflow_uri, monkeypatch):
    write, name, extra = FORMATS[fmt]
    write(tmp_path)
    monkeypatch.chdir(tmp_path)
    train_n = {"cifar": 20, "kth": 11, "covidx": 4}[name]
    cfg = make_cfg(
        name,
        *extra,
        f"dataset.train_sample_num={train_n}",
        "scattering.J=2",
        "scattering.L=4",
        "dataset.augment=resize-crop",
        "train.epochs=1",
        "train.save_model=true",
        "viz.figures=false",
        f"mlflow.tracking_uri={mlflow_uri}",
        "general.device=cpu",
        root=tmp_path,
    )
    result = train(cfg)
    client = MlflowClient(mlflow_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["test_acc"] == result.test_acc
    assert run.data.params["dataset.name"] == name

    model = load_model(result.run_id, tracking_uri=mlflow_uri)
    assert not model.training
    # the reloaded model scores exactly what the run logged
    again = evaluate(model, build_loaders(cfg).test, build_loss(cfg.train.loss), torch.device("cpu"))
    assert again["test_acc"] == result.test_acc
