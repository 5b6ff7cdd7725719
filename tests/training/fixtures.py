"""A recording logger for the training tests (the shared fixtures ``fmnist_root`` and ``mlflow_uri`` are in
``tests/conftest.py``; configs: ``tests.configs.make_cfg``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from parametricSN.config import Config
from parametricSN.training import NullLogger, load_checkpoint


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
