"""Fixtures shared by the training, tracking and CLI tests: a tiny Fashion-MNIST in its native IDX format, a
recording logger, and a fresh SQLite MLflow store per test (configs: ``tests.configs.make_cfg``).

Creating an MLflow SQLite store runs its schema migrations (seconds), so one empty store is migrated per
session and each test gets its own copy of the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

import pytest

from parametricSN.config import Config
from parametricSN.training import NullLogger, load_checkpoint
from tests.data.fakes import write_fashion_mnist


class RecordingLogger(NullLogger):
    """A Logger that keeps what it is given: metrics per step, artifact names, checkpoints (loaded when
    logged, since the loop deletes the file afterwards), and how the run ended."""

    def __init__(self) -> None:
        self.metrics: dict[int, dict[str, float]] = {}
        self.artifacts: list[str] = []
        self.checkpoints: list[dict] = []
        self.ended: Optional[str] = None
        self.error: Optional[BaseException] = None

    def start_run(self, cfg: Config) -> str:
        return "recorded"

    def end_run(self) -> None:
        self.ended = "FINISHED"

    def set_failed(self, error: BaseException) -> None:
        self.ended, self.error = "FAILED", error

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.setdefault(step, {}).update(metrics)

    def log_text(self, text: str, name: str) -> None:
        self.artifacts.append(name)

    def log_figure(self, fig: Any, name: str) -> None:
        self.artifacts.append(name)

    def log_file(self, path, artifact_dir: Optional[str] = None) -> None:
        self.artifacts.append(f"{artifact_dir}/{Path(path).name}")
        if artifact_dir == "checkpoints":
            self.checkpoints.append(load_checkpoint(path))

    def log_model(self, model, cfg: Config) -> None:
        self.artifacts.append("model")


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    """A fake Fashion-MNIST (4 train and 2 test images per class, 28x28, gzipped IDX)."""
    root = tmp_path_factory.mktemp("fmnist")
    write_fashion_mnist(root, gz=True, train_per_class=4, test_per_class=2, seed=0)
    return root


@pytest.fixture(scope="session")
def _empty_store(tmp_path_factory) -> Path:
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "store.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # creates and migrates the schema
    return path


@pytest.fixture
def mlflow_uri(tmp_path, _empty_store) -> str:
    """``sqlite:///<tmp>/store.db``: a fresh, empty MLflow store for this test (artifacts next to it)."""
    shutil.copy(_empty_store, tmp_path / "store.db")
    return f"sqlite:///{tmp_path}/store.db"
