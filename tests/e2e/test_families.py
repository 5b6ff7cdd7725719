"""Every built-in wavelet family trains through ``psn train`` (figures, animation, motion metrics named after its
parameters, the saved model reloads), ``psn train --seeds`` (a pack) and ``psn sweep``; a family from a plugin file
(docs/examples/my_family.py) trains end to end; an unknown family is a one-line config error."""

from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from tests.configs import TINY, make_cfg

FAMILIES = ("morlet", "gabor", "cauchy")
PLUGIN = Path(__file__).resolve().parents[2] / "docs" / "examples" / "my_family.py"


def write_config(tmp_path, root, *overrides):
    path = tmp_path / "run.yaml"
    path.write_text(make_cfg("fashion_mnist", *TINY, *overrides, root=root).to_yaml())
    return path


@pytest.mark.parametrize("family", FAMILIES)
def test_psn_train_logs_the_family_and_reloads_it(tmp_path, fmnist_root, mlflow_uri, capsys, family):
    from parametricSN.tracking import load_model

    path = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    argv = ["train", "-c", str(path), f"scattering.family={family}", "viz.figures=true", "viz.animation_every=1"]
    argv += ["train.save_model=true", "scattering.lr={orientation: 0.05}"]
    assert main(argv) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    client = MlflowClient(mlflow_uri)
    run = client.get_run(out["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["scattering.family"] == family
    model = load_model(out["run_id"], tracking_uri=mlflow_uri)
    names = model.scattering.family.names
    assert model.scattering.family_name == family
    assert {f"motion_{n}" for n in names} <= set(run.data.metrics)
    assert {"frame_A", "frame_B", "lr_orientation"} <= set(run.data.metrics)
    assert run.data.metrics["lr_orientation"] <= 0.05
    artifacts = {a.path for a in client.list_artifacts(out["run_id"], "filters")}
    assert {"filters/params.png", "filters/animation.gif", "filters/fourier_after.png"} <= artifacts


@pytest.mark.parametrize("family", FAMILIES)
def test_psn_train_seeds_packs_every_family(tmp_path, fmnist_root, mlflow_uri, capsys, family):
    path = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}", "train.epochs=1")
    assert main(["train", "-c", str(path), "--seeds", "1,2", f"scattering.family={family}"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    client = MlflowClient(mlflow_uri)
    runs = [client.get_run(o["run_id"]) for o in out]
    assert {r.data.params["scattering.family"] for r in runs} == {family}
    assert len({r.data.tags["pack_id"] for r in runs}) == 1


@pytest.mark.process
def test_psn_sweep_runs_every_family(tmp_path, fmnist_root, capsys, warm_workers):
    base = write_config(tmp_path, fmnist_root, "train.epochs=1")
    spec = tmp_path / "families.yaml"
    spec.write_text(
        f"name: families\nbase: {base}\ngrid:\n  scattering.family: [{', '.join(FAMILIES)}]\n"
        "  scattering.learnable: [true, false]\n"
    )
    uri = f"sqlite:///{tmp_path}/store.db"
    assert main(["sweep", str(spec), "--tracking-uri", uri]) == 0
    assert "6 finished, 0 skipped, 0 failed" in capsys.readouterr().out
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("families").experiment_id])
    assert sorted(r.data.params["scattering.family"] for r in runs) == sorted(FAMILIES * 2)


def test_a_family_from_a_plugin_file_trains_end_to_end(tmp_path, fmnist_root, mlflow_uri, capsys):
    from parametricSN.tracking import load_model

    path = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    argv = ["train", "-c", str(path), f"general.plugins=[{PLUGIN}]", "scattering.family=log-gabor"]
    argv += ["viz.figures=true", "train.save_model=true", "scattering.lr={shape: 0.05}", "scattering.J=2"]
    argv += ["scattering.parameterization=equivariant"]
    assert main(argv) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    run = MlflowClient(mlflow_uri).get_run(out["run_id"])
    assert run.info.status == "FINISHED" and {"motion_bandwidth", "motion_spread"} <= set(run.data.metrics)
    model = load_model(out["run_id"], tracking_uri=mlflow_uri)
    assert model.scattering.family_name == "log-gabor"
    meta = model.scattering.meta()
    assert meta[-1]["bandwidth2"] is not None and isinstance(meta[-1]["spread1"], float)
    assert torch.isfinite(model.scattering.filters()).all()


def test_an_unknown_family_is_one_config_line_listing_the_families(tmp_path, fmnist_root, capsys):
    path = write_config(tmp_path, fmnist_root)
    assert main(["train", "-c", str(path), "scattering.family=haar"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("psn: config error: scattering.family: expected one of cauchy, gabor, ")
    assert "morlet" in err and err.endswith("got 'haar'\n")  # (and any family a plugin registered in this process)
    assert main(["train", "-c", str(path), "scattering.lr={size: 0.1}"]) == 2
    assert "scattering.lr: expected learning-rate groups of the morlet family" in capsys.readouterr().err


def test_psn_tune_searches_the_family_and_its_group_rates(tmp_path):
    """A search space over the family and its learning rates is planned (every value checked as a config) before
    Ray starts; a rate for a group the family lacks is named."""
    from parametricSN.sweeps import SpecError, load_spec
    from parametricSN.sweeps.tune import plan_search
    from tests.sweeps.test_tune import SPEC, _spec

    space = (
        "    scattering.family: {choice: [morlet, cauchy]}\n    scattering.lr_scattering: {loguniform: [0.01, 0.3]}\n"
    )
    text = SPEC.split("  space:\n")[0] + "  space:\n" + space
    plan = plan_search(load_spec(_spec(tmp_path, text)), None, None, 1.0)
    assert set(plan.search.space) == {"scattering.family", "scattering.lr_scattering"}
    cauchy = text.replace("scattering.J=2,", "scattering.J=2, scattering.family=cauchy,").replace(
        "    scattering.family: {choice: [morlet, cauchy]}\n",
        "    scattering.lr: {choice: [{shape: 0.01}, {shape: 0.1}]}\n",
    )
    assert "scattering.lr" in plan_search(load_spec(_spec(tmp_path, cauchy)), None, None, 1.0).search.space
    with pytest.raises(SpecError, match="scattering.lr: expected learning-rate groups of the morlet family"):
        plan_search(load_spec(_spec(tmp_path, cauchy.replace("scattering.family=cauchy,", ""))), None, None, 1.0)


def test_psn_deform_compares_a_family_with_its_fixed_bank(tmp_path, fmnist_root, mlflow_uri, capsys):
    """A trained Cauchy run beside ``tight-frame``: the fixed scattering takes the run's family."""
    from parametricSN.deformation.sources import load_sources

    path = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}", "train.save_model=true")
    assert main(["train", "-c", str(path), "scattering.family=cauchy", "train.epochs=1"]) == 0
    run_id = yaml.safe_load(capsys.readouterr().out)["run_id"]
    trained, fixed = load_sources([run_id, "tight-frame"], mlflow_uri, "scattering", torch.device("cpu"))
    assert trained.module.scattering.family_name == fixed.module.family_name == "cauchy"
    assert trained.label.startswith("cauchy tight-frame learnable") and fixed.label.startswith("cauchy tight-frame")
