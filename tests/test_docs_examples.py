"""The extension examples of the docs (docs/examples/*.py) run end to end on tiny data: a head and a dataset loaded
through ``general.plugins`` train (and the head's model reloads from its run), and a sweep runs its cells through
the example launcher."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.configs import TINY, make_cfg
from tests.warm import PYTHON

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def example(name: str):
    """Import ``docs/examples/<name>.py`` as a module (the way ``general.plugins`` imports a file)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_head_example_trains_through_general_plugins_and_its_model_reloads(fmnist_root, mlflow_uri):
    from parametricSN import train
    from parametricSN.tracking import load_model

    plugin = EXAMPLES / "my_head.py"
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        f"general.plugins=[{plugin}]",
        "model.name=pooled-mlp",
        "model.hidden=16",
        "train.save_model=true",
        f"mlflow.tracking_uri={mlflow_uri}",
        root=fmnist_root,
    )
    result = train(cfg)
    assert 0.0 <= result.test_acc <= 100.0 and len(result.history) == 2
    model = load_model(result.run_id, tracking_uri=mlflow_uri)
    assert type(model.head).__name__ == "PooledMLP" and model.head.hidden.out_features == 16
    assert MlflowClient(mlflow_uri).get_run(result.run_id).data.params["model.name"] == "pooled-mlp"


def write_csv(path: Path, per_class: int, rng: np.random.Generator) -> None:
    labels = np.repeat(np.arange(10), per_class)
    pixels = rng.integers(0, 256, size=(len(labels), 28 * 28))
    header = ",".join(["label"] + [f"pixel{i}" for i in range(28 * 28)])
    rows = [",".join(map(str, [label, *row])) for label, row in zip(labels, pixels)]
    path.write_text("\n".join([header, *rows]) + "\n")


def test_the_dataset_example_reads_its_layout_and_trains(tmp_path):
    from parametricSN.data import DatasetError, dataset_spec
    from parametricSN.training import NullLogger, train

    rng = np.random.default_rng(0)
    write_csv(tmp_path / "train.csv", 4, rng)
    write_csv(tmp_path / "test.csv", 2, rng)
    plugin = EXAMPLES / "my_dataset.py"
    cfg = make_cfg(
        "fashion_mnist",
        *TINY,
        f"general.plugins=[{plugin}]",
        "dataset.name=csv-images",
        f"dataset.root={tmp_path}",
        "dataset.subset=balanced",
        "dataset.test_sample_num=20",
    )
    assert (cfg.num_classes, cfg.in_channels) == (10, 1)
    train_split, test_split = dataset_spec("csv-images").read(cfg.dataset)
    assert train_split.images.shape == (40, 28, 28) and len(test_split) == 20
    result = train(cfg, NullLogger())
    assert len(result.history) == 2

    (tmp_path / "test.csv").write_text("label,pixel0\n3,12\n")  # malformed: one error naming the file
    with pytest.raises(DatasetError, match="test.csv"):
        dataset_spec("csv-images").read(cfg.dataset)


@pytest.mark.process
def test_psn_sweep_runs_through_the_launcher_example_named_in_general_plugins(tmp_path, fmnist_root, mlflow_uri):
    base = tmp_path / "tiny.yaml"
    base.write_text(
        f"dataset: {{name: fashion_mnist, root: {fmnist_root}, height: 8, width: 8, train_sample_num: 20, "
        "test_sample_num: 10, train_batch_size: 8, test_batch_size: 8, augment: noaugment}\n"
        "scattering: {J: 1, L: 4}\nmodel: {name: linear}\n"
        "train: {epochs: 1, test_every: 1, save_model: false}\nviz: {figures: false}\ngeneral: {device: cpu}\n"
    )
    spec = tmp_path / "fresh.yaml"
    spec.write_text(f"name: fresh\nbase: {base}\ngrid:\n  general.seed: [0, 1, 2]\n")
    plugin = f"general.plugins=[{EXAMPLES / 'my_launcher.py'}]"

    def sweep(*args: str) -> subprocess.CompletedProcess:
        command = [PYTHON, "-m", "parametricSN", "sweep", str(spec), "--tracking-uri", mlflow_uri, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)

    done = sweep("--launcher", "fresh", "--workers", "2", "--seeds", "2", plugin)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 to run" in done.stdout and "2 finished" in done.stdout, done.stdout
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("fresh").experiment_id])
    assert sorted(r.data.params["general.seed"] for r in runs) == ["0", "1"]
    assert all(r.info.status == "FINISHED" and r.data.tags["psn.sweep"] == "fresh" for r in runs)
    done = sweep("--launcher", "fresh", plugin)  # the third seed only
    assert done.returncode == 0 and "2 already finished" in done.stdout, done.stdout + done.stderr

    unknown = sweep("--launcher", "fresh")  # no plugin: one line naming the launchers there are, and how to add one
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1, unknown.stderr
    assert "--launcher fresh: no such launcher; known: local, ray (a plugin" in unknown.stderr
