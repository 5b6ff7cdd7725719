"""A dataset of your own in one file: this test file registers ``toy`` and ``psn train`` (a real process) trains
on it after importing this file through ``general.plugins``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from parametricSN.config import DatasetConfig
from parametricSN.data import DatasetSpec, Split, register_dataset

THIS_FILE = str(Path(__file__).resolve())  # imported by `psn train` as a plugin: so no `tests.` imports up here


def read_toy(d: DatasetConfig) -> tuple[Split, Split]:
    """Two classes of 8x8 grey images, dark and bright, with seeded noise (20 train, 10 test per class)."""
    rng = np.random.default_rng(0)

    def split(name: str, per_class: int) -> Split:
        labels = np.repeat(np.arange(2), per_class)
        images = np.clip(60 + 120 * labels[:, None, None] + rng.normal(0, 20, (len(labels), 8, 8)), 0, 255)
        return Split(f"toy/{name}", images.astype(np.uint8), labels.astype(np.int64), ("dark", "bright"), "L")

    return split("train", 20), split("test", 10)


@register_dataset("toy")
def toy() -> DatasetSpec:
    return DatasetSpec(
        readers={"native": read_toy},
        obtain="generated in memory by tests/e2e/test_own_dataset.py",
        num_classes=2,
        channels=1,
        native_size=(8, 8),
        normalization=((0.5,), (0.25,)),
    )


@pytest.mark.process
def test_psn_trains_on_a_dataset_registered_in_a_plugin_file(tmp_path, mlflow_uri):
    from tests.configs import TINY
    from tests.warm import PYTHON

    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump({"general": {"plugins": [THIS_FILE]}, "dataset": {"name": "toy"}}))
    proc = subprocess.run(
        [
            PYTHON,
            "-m",
            "parametricSN",
            "train",
            "-c",
            str(config),
            *TINY,
            f"mlflow.tracking_uri={mlflow_uri}",
            "train.epochs=1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = yaml.safe_load(proc.stdout)
    run = MlflowClient(mlflow_uri).get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["dataset.name"] == "toy" and THIS_FILE in run.data.params["general.plugins"]
    assert out["test_acc"] == round(run.data.metrics["test_acc"], 2)


def test_unknown_dataset_and_plugin_are_config_errors_before_any_run(tmp_path, mlflow_uri, capsys):
    from parametricSN.cli import main

    for override, message in (
        ("dataset.name=nosuch", "dataset.name: expected one of"),
        (f"general.plugins=[{tmp_path / 'missing.py'}]", "general.plugins: file"),
    ):
        config = tmp_path / "bad.yaml"
        config.write_text(yaml.safe_dump({"mlflow": {"tracking_uri": mlflow_uri}}))
        assert main(["train", "-c", str(config), override]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    client = MlflowClient(mlflow_uri)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []  # no run was opened
