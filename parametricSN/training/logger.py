"""The logger interface the training loop reports through.

``training/`` never talks to an experiment tracker directly: it calls the methods of a :class:`Logger`.
``parametricSN.tracking.MlflowLogger`` implements it with MLflow; :class:`NullLogger` discards everything
(useful in notebooks, benchmarks and tests that do not need a store).

``train(cfg)`` without a logger uses the default one, installed with :func:`set_default_logger` by whoever
provides it: importing ``parametricSN.tracking`` installs MLflow's (``parametricSN.train`` and ``psn train`` do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, Protocol, runtime_checkable

from parametricSN.config import Config

if TYPE_CHECKING:  # annotations only: importing the logger interface imports no torch
    from torch import nn


@runtime_checkable
class Logger(Protocol):
    """What a run reports. One logger object serves one run at a time.

    Call order: ``start_run`` once, then any of the ``log_*`` methods, then exactly one of ``end_run`` or
    ``set_failed``.
    """

    def start_run(self, cfg: Config) -> str:
        """Open a run for ``cfg`` and return its id."""

    def end_run(self) -> None:
        """Close the run as finished."""

    def set_failed(self, error: BaseException) -> None:
        """Close the run as failed (killed for ``KeyboardInterrupt``), recording ``error`` as a tag."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Record flat ``name -> value`` parameters (values are stringified)."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Record scalar metrics at ``step`` (the epoch number for per-epoch metrics)."""

    def log_text(self, text: str, name: str) -> None:
        """Store ``text`` as the artifact file ``name`` (e.g. ``"config.yaml"``)."""

    def log_figure(self, fig: Any, name: str) -> None:
        """Store a matplotlib figure as the image artifact ``name`` (e.g. ``"figures/loss.png"``)."""

    def log_file(self, path: os.PathLike[str] | str, artifact_dir: Optional[str] = None) -> None:
        """Copy the local file ``path`` into the run's artifacts, under ``artifact_dir`` when given."""

    def log_model(self, model: nn.Module, cfg: Config) -> None:
        """Store the trained model (weights + config) so that it can be rebuilt without this process."""

    # Optional (looked up with getattr, so loggers without them still are Loggers):
    #
    #   def log_datasets(self, cfg: Config, loaders: Loaders) -> None
    #
    # called once after log_params with the run's loaders (their train_indices, val_indices, test_indices):
    # MlflowLogger records them as MLflow dataset inputs.
    #
    #   def halt(self) -> Optional[BaseException]
    #
    # asked after every epoch but the last: None to go on, or an error to stop the run with. The loop then writes a
    # checkpoint (through log_file), asks again (the error may now name that checkpoint) and raises the answer; the
    # run is closed with set_failed. MlflowLogger's: its tracking server away longer than mlflow.outage_limit.


class NullLogger:
    """A :class:`Logger` that records nothing; ``start_run`` returns an empty run id."""

    def start_run(self, cfg: Config) -> str:
        return ""

    def end_run(self) -> None:
        pass

    def set_failed(self, error: BaseException) -> None:
        pass

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def log_text(self, text: str, name: str) -> None:
        pass

    def log_figure(self, fig: Any, name: str) -> None:
        pass

    def log_file(self, path: os.PathLike[str] | str, artifact_dir: Optional[str] = None) -> None:
        pass

    def log_model(self, model: nn.Module, cfg: Config) -> None:
        pass


_DEFAULT: list[Callable[[Config], Logger]] = []


def set_default_logger(factory: Callable[[Config], Logger]) -> None:
    """Make ``factory(cfg)`` the logger of ``train(cfg)`` calls that pass none."""
    _DEFAULT[:] = [factory]


def default_logger(cfg: Config) -> Logger:
    """The installed default logger for ``cfg`` (see :func:`set_default_logger`)."""
    if not _DEFAULT:
        raise RuntimeError(
            "train(cfg) was given no logger and none is installed: use parametricSN.train(cfg) "
            "(logs to MLflow), import parametricSN.tracking, or pass logger=NullLogger()"
        )
    return _DEFAULT[0](cfg)
