"""What a run prints while it trains: a :class:`Progress` wraps any :class:`~parametricSN.training.logger.Logger`.

Everything goes to **stderr** (stdout stays the command's result: ``psn train`` prints ``run_id`` and
``test_acc`` there), one event per line, flushed at once:

- first line, when the run opens: its id, experiment and store, and for a local SQLite store the command that
  opens it in the MLflow UI::

    psn: run 0c1d… started (experiment 'default', seed 0) in sqlite:////home/me/mlruns/store.db; view it with: mlflow ui --backend-store-uri sqlite:////home/me/mlruns/store.db

- on a terminal, one progress bar over the epochs with the latest train loss, test accuracy and the time left;
  off a terminal (a log file, a scheduler), one line every ``log.every`` seconds and at every test epoch::

    psn: epoch 3/10 train_loss 1.2345 train_acc 55.00 test_acc 45.20 (0:00:12 elapsed, ~0:00:28 left)

- last line, when the run finishes: the final accuracies and the run id. A run that fails or is stopped ends
  with the caller's one-line error instead (``psn``'s names the run and how to resume it).

``quiet=True`` keeps only the last line. Per-epoch metrics are those logged with ``step=epoch`` (as
:func:`parametricSN.training.loop.fit` and the pack's loop do).
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Optional, TextIO

from parametricSN.commands import absolute_uri, mlflow_ui_command
from parametricSN.config import Config
from parametricSN.training.logger import Logger

SHOWN = ("train_loss", "train_acc", "val_acc", "test_acc")  # in a line, in this order, when logged


def _is_terminal(stream: TextIO) -> bool:
    """A terminal with a width (a pseudo-terminal without one, e.g. under ``script``, draws no bar: lines)."""
    try:
        return stream.isatty() and os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, OSError, ValueError):  # no fileno (StringIO), closed
        return False


def _duration(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


class Progress:
    """A :class:`Logger` that forwards every call to ``inner`` and prints the run's progress on ``stream``.

    ``bar``: draw a progress bar (default: when ``stream`` is a terminal), else print lines every ``log.every``
    seconds and at test epochs. ``lines=False`` prints only the first and the last line (the other members of
    a pack, whose epochs the first member's bar already shows). Attributes it lacks come from ``inner``.
    """

    def __init__(
        self,
        inner: Logger,
        stream: Optional[TextIO] = None,
        quiet: bool = False,
        bar: Optional[bool] = None,
        lines: bool = True,
    ) -> None:
        self.inner = inner
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.use_bar = bar if bar is not None else _is_terminal(self.stream)
        self.lines = lines and not quiet
        self._bar: Any = None
        self._run_id = ""
        self.epochs = 0
        self.every = 60.0
        self.latest: dict[str, float] = {}
        self.last_epoch = 0
        self._first_epoch: Optional[int] = None
        self._started = self._printed = time.monotonic()

    def __getattr__(self, name: str) -> Any:  # set_tags, opened, tracking_uri, ... of the wrapped logger
        if name == "inner":  # not set yet (copy, pickle)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    # ---- run lifecycle ----------------------------------------------------------------------------------
    def start_run(self, cfg: Config) -> str:
        self._run_id = self.inner.start_run(cfg)
        self.epochs, self.every = cfg.train.epochs, cfg.log.every
        self._started = self._printed = time.monotonic()
        if not self.quiet:
            self._print(self.first_line(cfg))
        if self.use_bar and self.lines and not getattr(self.inner, "reopen", None):
            self._new_bar(0)  # at once: the first epoch's time shows (a resumed run's starts at its first epoch)
        return self._run_id

    def first_line(self, cfg: Config) -> str:
        """``psn: run ID started|resumed (experiment 'NAME', seed S) in STORE; view it with: mlflow ui ...``."""
        uri = getattr(self.inner, "tracking_uri", None)
        if not self._run_id or uri is None:
            return f"psn: untracked run started (seed {cfg.general.seed})"
        how = "resumed" if getattr(self.inner, "reopen", None) else "started"
        experiment = getattr(self.inner, "experiment_name", cfg.mlflow.experiment_name)
        text = (
            f"psn: run {self._run_id} {how} (experiment {experiment!r}, seed {cfg.general.seed}) in {absolute_uri(uri)}"
        )
        ui = mlflow_ui_command(uri)
        return text + (f"; view it with: {ui}" if ui else "")

    def end_run(self) -> None:
        self.inner.end_run()
        self._close()
        done = " ".join(f"{k} {self.latest[k]:.2f}" for k in ("test_acc", "val_acc", "train_acc") if k in self.latest)
        self._print(
            f"psn: run {self._run_id or '(untracked)'} finished: {done or 'no epoch'} "
            f"({self.last_epoch} epochs, {_duration(time.monotonic() - self._started)})"
        )

    def set_failed(self, error: BaseException) -> None:
        self.inner.set_failed(error)
        self._close()  # the caller prints the error (one line naming the run)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ---- per-epoch progress -----------------------------------------------------------------------------
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.inner.log_metrics(metrics, step)
        self.latest.update({k: float(v) for k, v in metrics.items()})
        self.last_epoch = step
        if self._first_epoch is None:
            self._first_epoch = step
        if not self.lines:
            return
        if self.use_bar:
            self._update_bar(step)
        elif "test_acc" in metrics or step == self.epochs or time.monotonic() - self._printed >= self.every:
            self._print(self.progress_line(step))
            self._printed = time.monotonic()

    def _left(self, step: int) -> Optional[float]:
        done = step - (self._first_epoch or step) + 1
        return (time.monotonic() - self._started) / done * (self.epochs - step) if done > 0 else None

    def progress_line(self, step: int) -> str:
        """``psn: epoch E/N train_loss ... test_acc ... (elapsed, ~left)``."""
        shown = " ".join(
            f"{k} {self.latest[k]:.4f}" if k.endswith("loss") else f"{k} {self.latest[k]:.2f}"
            for k in SHOWN
            if k in self.latest
        )
        left = self._left(step)
        eta = f", ~{_duration(left)} left" if left is not None and step < self.epochs else ""
        return f"psn: epoch {step}/{self.epochs} {shown} ({_duration(time.monotonic() - self._started)} elapsed{eta})"

    def _new_bar(self, done: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=self.epochs, initial=done, desc="epochs", unit="epoch", file=self.stream, dynamic_ncols=True
        )

    def _update_bar(self, step: int) -> None:
        if self._bar is None:
            self._new_bar(step - 1)
        shown = {"loss": "train_loss", "test": "test_acc"}  # short: the bar shares a line with them
        self._bar.set_postfix_str(
            " ".join(
                f"{name} {self.latest[k]:.{3 if name == 'loss' else 2}f}"
                for name, k in shown.items()
                if k in self.latest
            ),
            refresh=False,
        )
        self._bar.update(step - self._bar.n)

    # ---- the rest is the wrapped logger's -----------------------------------------------------------------
    def log_params(self, params: dict[str, Any]) -> None:
        self.inner.log_params(params)

    def log_text(self, text: str, name: str) -> None:
        self.inner.log_text(text, name)

    def log_figure(self, fig: Any, name: str) -> None:
        self.inner.log_figure(fig, name)

    def log_file(self, path: Any, artifact_dir: Optional[str] = None) -> None:
        self.inner.log_file(path, artifact_dir)

    def log_model(self, model: Any, cfg: Config) -> None:
        self.inner.log_model(model, cfg)


def with_progress(
    loggers: Sequence[Logger], stream: Optional[TextIO] = None, quiet: bool = False, bar: Optional[bool] = None
) -> list[Progress]:
    """One :class:`Progress` per logger of a run (one logger) or a pack (one per member): every member prints
    its first and last line; only the first draws the epochs' bar or lines (the members train in lockstep)."""
    return [Progress(lg, stream, quiet, bar, lines=(i == 0)) for i, lg in enumerate(loggers)]
