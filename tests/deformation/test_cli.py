"""``psn deform`` end to end: a tiny trained run and a fixed scattering, the CSV, the figures, the MLflow run,
and one-line errors for bad RUNs and options (a real process for the whole command, the errors in-process:
each ``psn`` process spends seconds importing torch and MLflow)."""

import csv
import shutil
import subprocess

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from parametricSN.cli import main
from parametricSN.deformation import COLUMNS, KINDS
from parametricSN.deformation.sources import reference_config
from parametricSN.models import build_model
from parametricSN.tracking import MlflowLogger, save_model_file
from tests.configs import TINY, make_cfg
from tests.warm import PYTHON


@pytest.fixture(scope="module")
def store(tmp_path_factory, _empty_store, fmnist_root):
    """A store with a run that saved its (untrained, tiny) model and a run that did not; logged the way
    ``train`` logs them, without spending the training time."""
    folder = tmp_path_factory.mktemp("deform-store")
    shutil.copy(_empty_store, folder / "store.db")
    uri = f"sqlite:///{folder}/store.db"
    cfg = make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={uri}", root=fmnist_root)
    run_ids = []
    for save in (True, False):
        logger = MlflowLogger.from_config(cfg)
        run_ids.append(logger.start_run(cfg))
        if save:
            logger.log_model(build_model(cfg), cfg)
        logger.end_run()
    return (uri, *run_ids)


def read_rows(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


@pytest.mark.process
def test_psn_deform_writes_csv_figures_and_an_mlflow_run(tmp_path, store):
    uri, saved, _ = store
    proc = subprocess.run(
        [
            PYTHON,
            "-m",
            "parametricSN",
            "deform",
            saved,
            "tight-frame",
            "--tracking-uri",
            uri,
            "--num-images",
            "6",
            "--levels",
            "2",
            "--output",
            "out",
            "--device",
            "cpu",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "psn deform" in proc.stderr and "100%" in proc.stderr  # the progress bar ran to the end
    run_id = proc.stdout.split("run_id: ")[1].split()[0]

    header, rows = read_rows(tmp_path / "out" / "deformation.csv")
    assert tuple(header) == COLUMNS
    assert len(rows) == 2 * len(KINDS) * 3
    assert {r["run_id"] for r in rows} == {saved, "tight-frame"} and {r["deformation"] for r in rows} == set(KINDS)
    for r in rows:
        assert 0 < float(r["baseline"])
        assert (float(r["distance"]) == 0) == (float(r["strength"]) == 0)
        stability = r["deformation"] == "random-diffeo"
        assert all((r[k] != "") == stability for k in ("D", "G", "displacement_px"))
        assert (r["R"] != "") == (stability and float(r["strength"]) > 0)
    for kind in KINDS:
        with Image.open(tmp_path / "out" / f"{kind}.png") as im:
            im.load()
            assert im.format == "PNG" and im.width > 200 and im.height > 100

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "deformation"
    assert run.data.params["source.0"] == saved and run.data.params["source.1"] == "tight-frame"
    assert run.data.params["sources"] == f"{saved},tight-frame" and run.data.params["levels"] == "2"
    assert {a.path for a in client.list_artifacts(run_id)} == {"deformation.csv", *(f"{k}.png" for k in KINDS)}


def test_a_model_file_with_logits_is_deterministic_given_the_seed(tmp_path, fmnist_root, mlflow_uri):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    model_file = save_model_file(tmp_path / "model.pt", build_model(cfg), cfg)
    argv = [
        "deform",
        str(model_file),
        "--layer",
        "logits",
        "--tracking-uri",
        mlflow_uri,
        "--num-images",
        "5",
        "--levels",
        "1",
        "--deformations",
        "rotation,random-diffeo",
        "--device",
        "cpu",
        "--seed",
        "3",
    ]
    assert main(argv + ["--output", str(tmp_path / "a")]) == 0
    assert main(argv + ["--output", str(tmp_path / "b")]) == 0
    a, b = (read_rows(tmp_path / d / "deformation.csv")[1] for d in ("a", "b"))
    assert a == b and len(a) == 4 and a[0]["run_id"] == str(model_file) and float(a[1]["distance"]) > 0


def errors(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert err.startswith("psn: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return code, err


def test_bad_runs_and_options_are_one_line_errors(tmp_path, store, fmnist_root, mlflow_uri, capsys):
    uri, _, unsaved = store
    code, err = errors(capsys, ["deform", "0123456789abcdef", "--tracking-uri", uri])
    assert code == 1 and "'0123456789abcdef' is neither a model file nor a run in the tracking store" in err
    code, err = errors(capsys, ["deform", unsaved, "--tracking-uri", uri])
    assert code == 1 and f"run {unsaved} has no saved model" in err
    code, err = errors(capsys, ["deform", str(tmp_path / "missing.pt"), "--tracking-uri", mlflow_uri])
    assert code == 1 and "missing.pt" in err and "neither a model file nor a run" in err
    (tmp_path / "a-file").write_text("")
    bad_store = f"sqlite:///{tmp_path}/a-file/store.db"  # its folder cannot be created: a file is in the way
    code, err = errors(capsys, ["deform", unsaved, "--tracking-uri", bad_store])
    assert code == 1 and f"'{unsaved}' is not a model file, and no tracking store at '{bad_store}'" in err

    pixels = make_cfg("fashion_mnist", *TINY, "scattering.architecture=identity", root=fmnist_root)
    pixel_file = save_model_file(tmp_path / "pixels.pt", build_model(pixels), pixels)
    code, err = errors(capsys, ["deform", str(pixel_file)])
    assert code == 2 and "has no scattering layer" in err and "--layer logits" in err
    code, err = errors(capsys, ["deform", str(pixel_file), "tight-frame", "--layer", "logits"])
    assert code == 2 and "'tight-frame' is an untrained scattering" in err
    code, err = errors(capsys, ["deform", str(pixel_file), "--layer", "logits", "--deformations", "rotation,twist"])
    assert code == 2 and "--deformations: unknown 'twist'" in err
    code, err = errors(capsys, ["deform", str(pixel_file), "--layer", "logits"])  # 100 of 20 test images
    assert code == 2 and "--num-images: expected 2..20" in err
    code, err = errors(
        capsys,
        [
            "deform",
            str(pixel_file),
            "--layer",
            "logits",
            "--cutoff",
            "8",
            "--num-images",
            "4",
            "--deformations",
            "random-diffeo",
        ],
    )
    assert code == 2 and "--cutoff" in err and "lower the cut-off" in err
    code, err = errors(capsys, ["deform", "random"])
    assert code == 2 and "--dataset" in err
    code, err = errors(
        capsys,
        [
            "deform",
            str(pixel_file),
            "--layer",
            "logits",
            "--data-root",
            str(tmp_path / "nope"),
            "--tracking-uri",
            mlflow_uri,
        ],
    )
    assert code == 1 and "--data-root" in err
    assert not (tmp_path / "deformation-results").exists()


def test_a_fixed_scattering_alone_takes_its_dataset_from_the_options(capsys):
    for name, classes in (("cifar", 10), ("kth", 11), ("covidx", 2), ("fashion_mnist", 10)):
        cfg = reference_config(name, None, 16, 24, 3, 6, seed=4)
        assert (cfg.dataset.name, cfg.dataset.height, cfg.dataset.width, cfg.num_classes) == (name, 16, 24, classes)
        assert (cfg.scattering.J, cfg.scattering.L, cfg.general.seed) == (3, 6, 4)
    code, err = errors(capsys, ["deform", "tight-frame", "--dataset", "mnist"])
    assert code == 2 and "dataset.name" in err and "mnist" in err
