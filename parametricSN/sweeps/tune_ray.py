"""The Ray Tune side of ``psn tune`` (imported only when it runs): the search space, searcher and scheduler as Ray
Tune objects, the callback that closes the MLflow runs of stopped trials, and :func:`run_tuner`."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, TextIO

from ray import tune
from ray.tune import Callback

from parametricSN.config import ConfigError
from parametricSN.sweeps.launchers import init_ray
from parametricSN.sweeps.options import MAX_LOSSES
from parametricSN.sweeps.search import Search
from parametricSN.sweeps.trial import run_trial
from parametricSN.sweeps.worker import output_to
from parametricSN.tags import ERROR_TAG, TAG_LOST, TAG_STOPPED


def ray_space(search: Search) -> dict:
    """``{config.key: Ray Tune domain}``; ``randint: [a, b]`` includes b."""
    make = {
        "loguniform": lambda a: tune.loguniform(*a),
        "uniform": lambda a: tune.uniform(*a),
        "randint": lambda a: tune.randint(a[0], a[1] + 1),
        "choice": lambda a: tune.choice(list(a)),
    }
    return {d.key: make[d.kind](d.args) for d in search.space.values()}


def searcher(search: Search) -> Any:
    """Random sampling (seeded) or Optuna's TPE (seeded) through Ray Tune."""
    if search.searcher == "random":
        from ray.tune.search import BasicVariantGenerator

        return BasicVariantGenerator(random_state=search.seed)
    try:
        import optuna
        from ray.tune.search.optuna import OptunaSearch
    except ImportError:
        raise ConfigError(
            "search.searcher: optuna needs the optuna package (pip install optuna, see "
            "dependencies/requirements.txt), or use searcher: random"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=search.seed))


def scheduler(search: Search, epochs: int) -> Any:
    """ASHA on the epoch (rungs at grace_period * reduction_factor**k below ``epochs``, the longest a trial can
    run), or FIFO (no stopping)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    s = search.scheduler
    if s.name == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="epoch", max_t=epochs, grace_period=s.grace_period, reduction_factor=s.reduction_factor
    )


_TERMINAL: dict[str, TextIO] = {}  # psn's own streams while Ray's output goes to its log (:func:`ray_output_to`)


def say(line: str, stream: str = "out") -> None:
    """Print a psn line to the terminal (``out`` or ``err``), also while Ray's own output goes to its log."""
    print(line, file=_TERMINAL.get(stream) or (sys.stdout if stream == "out" else sys.stderr), flush=True)


@contextmanager
def ray_output_to(log: Path, out: TextIO, err: TextIO) -> Iterator[None]:
    """Everything written to file descriptors 1 and 2 while the block runs (Ray's log lines, its advice, warnings,
    from Python or C++) goes to ``log``; :func:`say` keeps writing to ``out`` and ``err`` as they were."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (out, err):
        stream.flush()
    with output_to(log) as saved:

        def keep(stream: TextIO) -> TextIO:  # a stream on descriptor 1 or 2 would follow it into the log
            try:
                fd = stream.fileno()
            except (AttributeError, OSError, ValueError):  # not a file (captured): it stays where it is
                return stream
            if fd not in (1, 2):
                return stream
            return os.fdopen(os.dup(saved[fd - 1]), "w", buffering=1, encoding=getattr(stream, "encoding", None))

        _TERMINAL.update(out=keep(out), err=keep(err))
        try:
            yield
        finally:
            for stream in _TERMINAL.values():
                if stream is not out and stream is not err:
                    stream.close()
            _TERMINAL.clear()


def last_error(trial: Any) -> Optional[BaseException]:
    """The trial's last failure as Ray Tune stored it: psn's own exception for an error in the trial (unwrapped from
    Ray's ``RayTaskError``), Ray's ``RayActorError`` for a worker that died (its node was lost); None if unknown."""
    import cloudpickle

    try:  # the driver's own copy: Ray Tune's get_pickled_error reads the storage, synced later
        with open(trial.pickled_error_file, "rb") as f:
            exc = cloudpickle.load(f)
    except Exception:  # noqa: BLE001 - no file, or an unreadable one: the reason is then unknown
        return None
    return getattr(exc, "cause", None) or exc


def last_failure(trial: Any) -> str:
    """``Type: last line of the message`` of :func:`last_error`."""
    exc = last_error(trial)
    if exc is None:
        return "no error recorded"
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1][:300] if lines else ''}".rstrip(": ")


class CloseRuns(Callback):
    """Prints one line per ended trial and closes the MLflow runs of the trials Ray ended: stopped by the scheduler
    (FINISHED, tagged ``psn.stopped_early`` = the last epoch reported) or failed. Plain data, so that Ray Tune can
    store it with the search and use it again when the search is continued."""

    def __init__(self, uri: str, exp_id: str, metric: str, trials: int, scheduler_name: str) -> None:
        self.uri, self.exp_id, self.metric = uri, exp_id, metric
        self.trials, self.scheduler_name, self.done = trials, scheduler_name, 0
        self.failed: set[str] = set()  # trials psn itself failed: not started again after the attempt Ray queued

    def _close(self, trial_id: str, status: str, tags: dict) -> int:
        from parametricSN.sweeps.trial import close_trial_runs
        from parametricSN.tracking.store import client_for

        return close_trial_runs(client_for(self.uri), self.exp_id, trial_id, status, tags)

    def _count(self, trials: list, trial: Any) -> None:
        # trials that ended, this one included (a continued search counts those of its earlier runs too); Ray Tune
        # calls back before it marks ``trial`` ended, so it is counted apart from the others
        others = sum(t.status in ("TERMINATED", "ERROR") for t in trials if t is not trial)
        self.done = max(self.done + 1, others + 1)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        from parametricSN.sweeps.trial import describe

        last = trial.last_result or {}
        epoch, epochs = int(last.get("epoch", 0)), int(last.get("trial_epochs", 0))
        stopped = epoch < epochs
        self._close(trial.trial_id, "FINISHED", {TAG_STOPPED: epoch} if stopped else {})
        self._count(trials, trial)
        how = f", stopped early by {self.scheduler_name} at epoch {epoch}/{epochs}" if stopped else ""
        value = f"{self.metric}={last[self.metric]:.2f}" if self.metric in last else "no result"
        say(f"[{self.done}/{self.trials}] trial {trial.trial_id} {describe(trial.config)}: {value}{how}")

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A trial whose worker has started may be started again, up to :data:`MAX_LOSSES` times, when the worker
        dies (its node is lost): its own ``max_failures`` (Ray Tune's ``FailureConfig``, set per trial). Not from
        the start: Ray Tune counts as failures the workers it cancels before they start when the search is
        interrupted, and a trial it retried then would be resumed with those counted by the continued search."""
        trial.max_failures = 0 if trial.trial_id in getattr(self, "failed", ()) else MAX_LOSSES

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Ray Tune starts the trial again. Its worker died (its node was lost): the runs it left RUNNING are closed
        FAILED and tagged lost, so that the next attempt continues them from their newest checkpoint; one line
        says so. psn itself failed it (it diverged): its runs are closed already, and the attempt Ray Tune queued
        fails at once (:func:`parametricSN.sweeps.trial.run_trial`), its last."""
        from ray.exceptions import RayActorError

        from parametricSN.sweeps.trial import describe

        error = last_error(trial)
        if error is not None and not isinstance(error, RayActorError):
            self.failed = {*getattr(self, "failed", ()), trial.trial_id}
            trial.max_failures = 0
            return
        why = last_failure(trial)
        reason = f"lost: its Ray worker died ({why}); the search runs the trial again from its last checkpoint"
        closed = self._close(trial.trial_id, "FAILED", {ERROR_TAG: reason, TAG_LOST: "1"})
        epoch = int((trial.last_result or {}).get("epoch", 0))
        say(
            f"psn: trial {trial.trial_id} {describe(trial.config)}: its Ray node was lost at epoch {epoch}; "
            f"{closed} run(s) closed, continuing elsewhere from the last checkpoint",
            "err",
        )

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        from parametricSN.sweeps.trial import describe

        # a run still RUNNING lost its process (its node died once too often): lost, so a continued search resumes it
        reason = f"the trial failed ({last_failure(trial)}); see {trial.error_file}"
        self._close(trial.trial_id, "FAILED", {ERROR_TAG: reason, TAG_LOST: "1"})
        self._count(trials, trial)
        say(
            f"[{self.done}/{self.trials}] trial {trial.trial_id} {describe(trial.config)}: FAILED ({trial.error_file})",
            "err",
        )


def run_tuner(
    plan: Any,
    setup: dict,
    exp_id: str,
    address: Optional[str],
    cpus: float,
    gpus: float,
    storage: Path,
    log: Path,
    out: TextIO,
    err: TextIO,
) -> tuple[list, bool]:
    """Run (or continue, when ``storage/<name>`` holds its state) the search on Ray Tune; returns Ray Tune's
    results, one per trial, and whether it was interrupted (Ctrl-C: some trials neither ended nor failed). Starts
    a local Ray without ``address`` (stopped afterwards). Ray's own output goes to ``log``, psn's lines to ``out``
    and ``err``."""
    with ray_output_to(log, out, err):
        return _run_tuner(plan, setup, exp_id, address, cpus, gpus, storage)


def _run_tuner(
    plan: Any, setup: dict, exp_id: str, address: Optional[str], cpus: float, gpus: float, storage: Path
) -> tuple[list, bool]:
    import ray
    from ray.tune.logger import JsonLoggerCallback

    # Tune's own progress table and TensorBoard/CSV files: psn prints one line per trial and MLflow keeps the curves
    # (the JSON results, which Tune's results and the continued search read, are kept)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    own = not ray.is_initialized()
    if own:
        init_ray(address, log_to_driver=False, configure_logging=False)
    try:
        trainable = tune.with_resources(tune.with_parameters(run_trial, setup=setup), {"cpu": cpus, "gpu": gpus})
        name = f"{plan.spec.name}-{plan.key}"
        path = storage / name
        s = plan.search
        if tune.Tuner.can_restore(str(path)):
            tuner = tune.Tuner.restore(str(path), trainable, resume_unfinished=True, restart_errored=True)
        else:
            callback = CloseRuns(plan.uri, exp_id, s.metric, s.trials, s.scheduler.name)
            tuner = tune.Tuner(
                trainable,
                param_space=ray_space(s),
                tune_config=tune.TuneConfig(
                    metric=s.metric,
                    mode=s.mode,
                    num_samples=s.trials,
                    search_alg=searcher(s),
                    scheduler=scheduler(s, plan.max_epochs),
                    reuse_actors=True,
                ),  # a worker imports torch and MLflow once
                run_config=tune.RunConfig(
                    name=name,
                    storage_path=str(storage),
                    verbose=0,
                    callbacks=[callback, JsonLoggerCallback()],
                ),
            )
        grid = tuner.fit()
        return [grid[i] for i in range(len(grid))], grid.num_terminated + grid.num_errors < len(grid)
    finally:
        if own:
            ray.shutdown()
