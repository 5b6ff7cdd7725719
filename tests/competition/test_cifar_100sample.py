"""The competition script runs the published protocol through the public API, seed by seed."""

import runpy
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.data.fakes import write_cifar

SCRIPT = Path(__file__).resolve().parents[2] / "competition" / "cifar-10_100sample.py"


@pytest.mark.slow
def test_competition_script_trains_each_seed_and_reports(tmp_path, mlflow_uri, monkeypatch, capsys):
    write_cifar(tmp_path, train_per_class=10, test_per_class=2)
    monkeypatch.chdir(tmp_path)
    main = runpy.run_path(str(SCRIPT))["main"]
    tiny = [
        f"dataset.root={tmp_path}",
        "dataset.download=false",
        "dataset.test_sample_num=20",
        f"mlflow.tracking_uri={mlflow_uri}",
        "train.epochs=1",
        "model.width=1",
        "model.depth=1",
        "dataset.augment=noaugment",
        "train.save_model=false",
        "viz.figures=false",
        "general.device=cpu",
    ]
    accuracies = main(["--seeds", "2", *tiny])
    assert len(accuracies) == 2
    out = capsys.readouterr().out
    assert "2 seeds:" in out and "published: 43.60" in out
    runs = MlflowClient(mlflow_uri).search_runs(
        [MlflowClient(mlflow_uri).get_experiment_by_name("cifar10-100sample").experiment_id]
    )
    params = [r.data.params for r in runs]
    assert sorted(p["general.seed"] for p in params) == ["207715039", "491659600"]
    # the schedule the published runs executed: two phases, filters and head peaking at 0.1, momentum cycled
    assert all(p["model.name"] == "hybrid-wrn" and p["optim.three_phase"] == "False" for p in params)
    assert all(
        (p["optim.max_lr"], p["scattering.lr_orientation"], p["scattering.lr_scattering"]) == ("0.1", "0.1", "0.1")
        for p in params
    )
    assert all(
        (p["optim.cycle_momentum"], p["model.init"], p["dataset.subset"]) == ("True", "default", "paper")
        for p in params
    )
    assert all(r.info.status == "FINISHED" for r in runs)


def test_competition_script_rejects_bad_seed_count():
    main = runpy.run_path(str(SCRIPT))["main"]
    with pytest.raises(SystemExit):
        main(["--seeds", "11"])
