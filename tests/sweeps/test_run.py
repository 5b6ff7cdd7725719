"""Real sweeps on the tiny Fashion-MNIST: the local pool (two workers writing one fresh SQLite store at once),
then the same sweep again on Ray, which skips the FINISHED cell and reruns the FAILED ones; a run that fails
makes the sweep exit non-zero and is listed with its error (and its run id when it got that far). One Ray session for the module."""

import json
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.tags import TAG_CELL, TAG_SWEEP

pytestmark = pytest.mark.process  # every test here starts real processes

SPEC = """
name: tiny-sweep
base: {base}
cases:
  - {{train.epochs: 2}}
  - {{train.epochs: 1, dataset.root: {empty}}}   # fails until the test puts the data there
grid:
  general.seed: [1]
"""


def tiny_base(folder: Path, root: Path) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(
        f"dataset: {{name: fashion_mnist, root: {root}, height: 8, width: 8, train_sample_num: 20, "
        "test_sample_num: 10, train_batch_size: 8, test_batch_size: 8, augment: noaugment}\n"
        "scattering: {J: 1, L: 4}\nmodel: {name: linear}\n"
        "train: {epochs: 2, test_every: 1, save_model: false}\nviz: {figures: false}\ngeneral: {device: cpu}\n"
    )
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, fmnist_root):
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "later").mkdir()
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(base=tiny_base(folder, fmnist_root), empty=folder / "later"))
    # a store that does not exist yet: the runner creates and migrates it once, before the workers start
    return spec, f"sqlite:///{folder}/store/mlflow.db", fmnist_root, folder / "later"


def runs_of(uri):
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("tiny-sweep")
    return client, client.search_runs([exp.experiment_id])


def test_local_pool_lists_failures_and_loses_nothing_then_ray_reruns_only_the_failed(sweep, capsys, warm_workers):
    # one test: the Ray part continues the store the local part left (pytest-xdist may run tests of a module on
    # different workers, each with its own module fixture)
    spec, uri, data, later = sweep
    code = main(["sweep", str(spec), "--workers", "2", "--tracking-uri", uri])
    out, err = capsys.readouterr()
    assert code == 1
    assert "2 to run" in out and "[2/2]" in out and "1 finished, 0 skipped, 1 failed" in out
    client, runs = runs_of(uri)
    (ok,) = runs  # the failing cell stopped on its missing data before its MLflow run was created
    assert ok.info.status == "FINISHED"
    listed = [line for line in err.splitlines() if line.startswith("psn:")]
    assert len(listed) == 1 and "no MLflow run was created" in listed[0] and "dataset.root" in listed[0]
    assert ok.data.tags[TAG_SWEEP] == "tiny-sweep" and len(ok.data.tags[TAG_CELL]) == 16
    assert json.loads(ok.data.tags["psn.varying"]) == {"train.epochs": 2, "general.seed": 1}
    # two workers wrote to one fresh store at once: every per-epoch metric of the finished run is there
    for name in ("train_loss", "train_acc", "test_acc", "test_loss"):
        assert [m.step for m in client.get_metric_history(ok.info.run_id, name)] == [1, 2]
    assert ok.data.metrics["test_acc"] == pytest.approx(float(out.split("test_acc=")[1].split()[0]), abs=0.01)

    # the same sweep on Ray skips the finished cell and reruns the failed one
    pytest.importorskip("ray")  # installed by `make test` (the [ray] extra); the local path is tested above
    for f in data.iterdir():  # the failed cell can now succeed
        shutil.copy(f, later / f.name)
    code = main(["sweep", str(spec), "--launcher", "ray", "--cpus-per-run", "1", "--tracking-uri", uri])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 already finished, running elsewhere or repeated, 1 to run (ray)" in out
    assert "1 finished, 1 skipped, 0 failed" in out
    _, runs = runs_of(uri)
    cells = {}
    for r in runs:
        cells.setdefault(r.data.tags[TAG_CELL], []).append(r.info.status)
    assert sorted(map(sorted, cells.values())) == [["FINISHED"], ["FINISHED"]]
    assert main(["sweep", str(spec), "--tracking-uri", uri]) == 0  # nothing left: no process started
    assert "0 to run" in capsys.readouterr().out
