"""Running a cell: the one executor of a sweep worker's task and of a tune trial's seeds.

:func:`run_cell` takes a cell's runs (:class:`~parametricSN.sweeps.tasks.RunSpec`: one run, or with ``pack`` the
seeds of one pack), opens each MLflow run (or, with ``resume``, a new run continuing the cell's last stopped run from
its checkpoint), trains them (:func:`parametricSN.training.train` or :func:`~parametricSN.training.train_pack`:
logging, checkpoints, signals), closes them and returns one :class:`~parametricSN.sweeps.tasks.Result` per run.

Every run goes through one logger, :class:`CellLogger`: an :class:`~parametricSN.tracking.MlflowLogger` that

- with a :class:`Claim` (a sweep's run), claims its cell as it creates the run
  (:func:`parametricSN.sweeps.claims.check_claim`; a lost claim deletes the run) and keeps its heartbeat while open;
- with ``resumed_from``, tags the new run with the stopped run it continues and copies its params and past epochs;
- with ``on_val``, hands every epoch's validation metrics to a callback (a trial reports them to Ray Tune);
- leaves a run RUNNING after an error of ``leave_open`` (Ray Tune ending a trial: its driver closes the run);
- remembers the id of the run it opened after the run is closed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from parametricSN.config import Config, ConfigError, config_from_dict
from parametricSN.sweeps import claims
from parametricSN.sweeps.tasks import Result, RunSpec
from parametricSN.tags import TAG_CELL, TAG_HEARTBEAT, TAG_RESUMED
from parametricSN.tracking import MlflowLogger
from parametricSN.tracking.store import client_for
from parametricSN.training import interrupt, train, train_pack
from parametricSN.training.progress import with_progress
from parametricSN.training.resume import check_resume_config


@dataclass
class Claim:
    """What a sweep's run holds while it trains: its worker's heartbeat and the sweep's heartbeat timeout."""

    beat: claims.Heartbeat
    timeout: float


OnVal = Callable[["CellLogger", int, dict[str, float]], None]


class CellLogger(MlflowLogger):
    """The MLflow logger of a cell's runs (see the module docstring)."""

    claim: Optional[Claim] = None
    resumed_from: Optional[str] = None
    history: Sequence[dict[str, float]] = ()  # the past epochs of the run it continues
    on_val: Optional[OnVal] = None
    leave_open: tuple[type[BaseException], ...] = ()
    opened: Optional[str] = None
    checked: float = 0.0  # when the claim was last checked (time.monotonic)
    exp_id: str = ""  # the experiment of a claimed run

    def start_run(self, cfg: Config) -> str:
        if self.claim is None:
            self.opened = super().start_run(cfg)
        else:
            self.tags[TAG_HEARTBEAT] = f"{time.time():.0f}"
            with claims.claim_lock(self.tracking_uri):
                self.opened = super().start_run(cfg)
                self.claim.beat.add(self.opened)
                self.exp_id = self.client.get_run(self.opened).info.experiment_id
                try:
                    claims.check_claim(self.client, self.exp_id, self.tags[TAG_CELL], self.opened, self.claim.timeout)
                    self.checked = time.monotonic()
                except claims.ClaimLost as exc:  # train() does not close a run whose start_run raised
                    self.set_failed(exc)
                    raise
        if self.resumed_from:  # a new run continuing a stopped one: its params and its past epochs, as they were
            self.set_tags({TAG_RESUMED: self.resumed_from})
            self.log_params(cfg.flat())
            for row in self.history:
                self.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
        return self.opened

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        super().log_metrics(metrics, step)
        if self.on_val is not None and any(k.startswith("val_") for k in metrics):
            self.on_val(self, step, metrics)
        if self.claim is not None and time.monotonic() - self.checked >= claims.heartbeat_seconds():
            self._recheck()

    def _recheck(self) -> None:
        """Check the claim again (every heartbeat period, at an epoch's end, and before the run ends FINISHED):
        :class:`~parametricSN.sweeps.claims.ClaimLost` when an older claim of the cell has become visible (a sweep
        on a machine whose clock is behind) or another sweep closed this run as lost (one whose clock is ahead by
        more than the heartbeat timeout). So two sweeps never both finish a cell, whatever their clocks. A store that
        does not answer is asked again next time."""
        self.checked = time.monotonic()
        if self.claim is None or self.run_id is None:
            return
        try:
            claims.check_claim(self.client, self.exp_id, self.tags[TAG_CELL], self.run_id, self.claim.timeout)
        except claims.ClaimLost:
            raise
        except Exception:  # noqa: BLE001 - the tracking server is away: the outage logic reports it
            return

    def end_run(self) -> None:
        if self.claim is not None:
            try:
                self._recheck()
            except claims.ClaimLost as exc:  # the run is deleted, its cell left to the claim that won
                self.set_failed(exc)
                raise
            self.claim.beat.discard(self.run_id)
        super().end_run()

    def set_failed(self, error: BaseException) -> None:
        if self.claim is not None:
            self.claim.beat.discard(self.run_id)
        if isinstance(error, claims.ClaimLost) and self.run_id:
            with contextlib.suppress(Exception):
                self.client.delete_run(self.run_id)
            self.run_id = None
            return
        if isinstance(error, self.leave_open):
            self.run_id = None
            return
        with interrupt.critical():  # a second signal must not leave the run RUNNING half-closed
            super().set_failed(error)


def resume_state(cfg: Config, identity: Mapping[str, str]) -> tuple[Optional[str], Optional[dict[str, Any]]]:
    """The checkpoint of the last stopped run carrying ``identity``'s tags (see
    :func:`parametricSN.sweeps.claims.resume_state`) and that run's id, when ``cfg`` can continue it, else
    ``(None, None)``."""
    client = client_for(cfg.mlflow.tracking_uri)
    exp = client.get_experiment_by_name(cfg.mlflow.experiment_name)
    if exp is None:
        return None, None
    run_id, state = claims.resume_state(client, exp.experiment_id, identity)
    if state is None:
        return None, None
    try:
        check_resume_config(config_from_dict(state["config"]), cfg, int(state["epoch"]))
    except ConfigError:
        return None, None
    return run_id, state


def run_cell(
    runs: Sequence[RunSpec],
    pack: bool = False,
    claim: Optional[Claim] = None,
    resume: Optional[Mapping[str, str]] = None,
    progress: bool = True,
    on_val: Optional[OnVal] = None,
    leave_open: tuple[type[BaseException], ...] = (),
    catch: bool = True,
) -> list[Result]:
    """Train ``runs`` — one run, or with ``pack`` configs differing only in their seed as one packed model — and
    return one result per run. ``resume``: the tags of the runs it may continue (a sweep's cell:
    ``{psn.cell: hash}``; a trial's seed): the newest stopped one is continued from its checkpoint when there is
    one. ``progress``: progress lines on stderr. A failure is a result (with a pack, every member fails with it), or
    with ``catch=False`` raised once the runs are closed."""
    start = time.monotonic()
    loggers: list[CellLogger] = []
    try:
        cfgs = [config_from_dict(run.config) for run in runs]
        resumed_from, state = resume_state(cfgs[0], resume) if resume else (None, None)
        for cfg, run in zip(cfgs, runs):
            logger = CellLogger.from_config(cfg, tags=run.tags)
            logger.claim, logger.on_val, logger.leave_open = claim, on_val, leave_open
            logger.run_name = run.name or logger.run_name
            loggers.append(logger)
        if state is not None:
            loggers[0].resumed_from, loggers[0].history = resumed_from, state["history"]
        shown = with_progress(loggers) if progress else loggers  # progress lines into the run's log file (log.txt)
        trained = train_pack(cfgs, shown) if pack else [train(cfgs[0], shown[0], resume=state)]
        results = [Result("FINISHED", r.run_id, r.test_acc) for r in trained]
    except BaseException as exc:  # noqa: BLE001 - reported to the caller; the runs are already marked failed
        if not catch:
            raise
        lost = isinstance(exc, claims.ClaimLost)
        status = "SKIPPED" if lost else "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        error = f"{type(exc).__name__}: {exc}"
        opened = [None if lost else lg.opened for lg in loggers] or [None] * len(runs)
        results = [Result(status, run_id, None, error) for run_id in opened]
    duration = (time.monotonic() - start) / len(runs)
    for result in results:
        result.duration = duration
    return results
