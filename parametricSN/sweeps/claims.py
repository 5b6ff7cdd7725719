"""One run per cell, however many sweeps target the store: heartbeats, dead runs and claims.

- **Heartbeat.** While a worker trains a run it sets the run's tag ``psn.heartbeat`` (unix seconds) every
  :func:`heartbeat_seconds` (30 s; ``$PSN_HEARTBEAT_SECONDS``). A RUNNING run is *alive* while its heartbeat
  (or, for a run without one, its start time) is younger than the sweep's ``--heartbeat-timeout`` (default
  :data:`parametricSN.sweeps.options.DEFAULT_TIMEOUT`); otherwise it is *dead* (its worker was SIGKILLed, its
  node lost, the power cut).
- **Done.** A cell (or a search's trial) is done when its experiment holds a FINISHED run carrying its identifying
  tags (:func:`finished_runs`): a sweep skips it, a claim on it is lost, a restarted trial reports it.
- **Dead runs** are closed FAILED with the reason (:func:`close_dead`, through :func:`close_runs`, the one function
  that closes the runs a process left RUNNING), tagged ``psn.lost``, and their cell runs
  again; the new run continues from the newest checkpoint of the cell's last KILLED or lost run
  (:func:`resume_state`), with the earlier epochs' metrics copied into it and the tag ``psn.resumed_from``.
- **Claims.** A worker creates its run first, then calls :func:`check_claim`: the cell's live RUNNING runs and its
  FINISHED runs are listed; the oldest live claim (start time, then run id) wins, every other claimant deletes
  its run and does not train. Two sweeps started together, or on two machines against one tracking server,
  thus train each cell once. On a SQLite store, creating the run and checking the claim happen under a file lock
  (:func:`claim_lock`), so the order of start times is the order in which claims become visible. Only MLflow
  client calls are used, so SQLite stores and servers work alike.
- **Clocks.** The order of claims is that of the ``(start time, run id)`` values the store holds, which every
  machine reads alike, but start times come from each machine's clock: a sweep whose clock is behind may claim a
  cell after another has started it and still be "older". So a claimant checks its claim again at every heartbeat
  period (at an epoch's end) and once more before it closes its run FINISHED
  (:class:`parametricSN.sweeps.cell.CellLogger`), and yields (its run deleted) when it has lost: two sweeps never
  both finish a cell, whatever the skew; a skew only costs the work of the claimant that yields. Heartbeats are
  compared with the reader's clock: a skew beyond ``--heartbeat-timeout`` makes a live run look dead to the other
  machine, which closes it as lost and continues its cell from its checkpoint; its own worker then finds its run
  closed at its next check and stops.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Optional

from mlflow.entities import RunStatus

from parametricSN.commands import sqlite_path
from parametricSN.tags import ERROR_TAG, TAG_ATTEMPT, TAG_CELL, TAG_HEARTBEAT, TAG_LOST
from parametricSN.tracking.store import retry_locked, store_lock


class ClaimLost(Exception):
    """Another sweep holds (or finished) this cell: the run just created is deleted and not trained."""


def heartbeat_seconds() -> float:
    """How often a worker refreshes its runs' heartbeat: ``$PSN_HEARTBEAT_SECONDS``, default 30."""
    return float(os.environ.get("PSN_HEARTBEAT_SECONDS") or 30.0)


def last_beat(run: Any) -> float:
    """The run's latest sign of life (unix seconds): its heartbeat tag, else its start time."""
    beat = run.data.tags.get(TAG_HEARTBEAT)
    try:
        return float(beat) if beat else run.info.start_time / 1000.0
    except ValueError:
        return run.info.start_time / 1000.0


def is_alive(run: Any, timeout: float, now: Optional[float] = None) -> bool:
    """A RUNNING run whose last sign of life is younger than ``timeout`` seconds."""
    return run.info.status == "RUNNING" and (now or time.time()) - last_beat(run) < timeout


def _tagged(identity: Mapping[str, str], status: Optional[str] = None) -> str:
    """The filter of the runs carrying ``identity``'s tags (and with ``status``)."""
    terms = [f"attributes.status = '{status}'"] if status else []
    return " and ".join(terms + [f"tags.`{k}` = '{v}'" for k, v in identity.items()])


def tagged_runs(client: Any, exp_id: str, identity: Mapping[str, str], status: Optional[str] = None) -> list[Any]:
    """Every (not deleted) run of the experiment that carries ``identity``'s tags (and has ``status``)."""
    found = retry_locked(client.search_runs, [exp_id], filter_string=_tagged(identity, status), max_results=50000)
    return [r for r in found if status is None or r.info.status == status]


def cell_runs(client: Any, exp_id: str, cell: str) -> list[Any]:
    """Every (not deleted) run of the cell ``cell`` in the experiment."""
    return tagged_runs(client, exp_id, {TAG_CELL: cell})


def finished_runs(client: Any, exp_id: str, identity: Optional[Mapping[str, str]] = None) -> list[Any]:
    """The rule of "done": the FINISHED runs of the experiment that carry ``identity``'s tags (a sweep's cell:
    ``{psn.cell: hash}``; a search's trial: ``{psn.trial: id, mlflow.parentRunId: the search's run}``)."""
    return tagged_runs(client, exp_id, identity or {}, "FINISHED")


def running_runs(client: Any, exp_id: str, identity: Optional[Mapping[str, str]] = None) -> list[Any]:
    """The RUNNING runs of the experiment that carry ``identity``'s tags."""
    return tagged_runs(client, exp_id, identity or {}, "RUNNING")


def close_runs(
    client: Any, runs: Iterable[Any], status: str, tags: Mapping[str, Any], log: Optional[str] = None
) -> int:
    """Close the runs a process left RUNNING (it died, its heartbeat stopped, Ray ended its trial): set ``tags`` (the
    reason as :data:`~parametricSN.tags.ERROR_TAG`, ...), store ``log`` as ``log.txt``, end them ``status``. Runs no
    longer RUNNING are left alone; returns how many were closed."""
    from parametricSN.tracking.mlflow_logger import MAX_TAG_LENGTH

    closed = 0
    for run in runs:
        if run.info.status != "RUNNING":
            continue
        for key, value in tags.items():
            retry_locked(client.set_tag, run.info.run_id, key, str(value)[:MAX_TAG_LENGTH])
        retry_locked(client.set_terminated, run.info.run_id, status)
        if log is not None:
            retry_locked(client.log_text, run.info.run_id, log, "log.txt")
        closed += 1
    return closed


def close_dead(client: Any, run: Any, timeout: float) -> None:
    """Close a RUNNING run whose heartbeat stopped: FAILED, with the reason as its error tag, tagged lost."""
    age = time.time() - last_beat(run)
    reason = (
        f"lost: no heartbeat for {age:.0f} s (timeout {timeout:.0f} s): its worker was killed or its node "
        "lost; psn sweep runs its cell again from its last checkpoint"
    )
    close_runs(client, [run], RunStatus.to_string(RunStatus.FAILED), {ERROR_TAG: reason, TAG_LOST: "1"})


def close_lost(client: Any, exp_id: str, attempts: Iterable[str], reason: str) -> int:
    """Close the RUNNING runs of ``attempts`` (``psn.attempt`` tags) whose process is known to be gone (its Ray
    node died): FAILED, with ``reason`` as the error, tagged lost, so that the cell's next run continues from their
    newest checkpoint (:func:`resume_state`) without waiting for the heartbeat timeout. Returns how many."""
    runs = [r for a in attempts for r in running_runs(client, exp_id, {TAG_ATTEMPT: a})]
    return close_runs(client, runs, RunStatus.to_string(RunStatus.FAILED), {ERROR_TAG: reason, TAG_LOST: "1"})


def close_dead_runs(client: Any, exp_id: str, timeout: float) -> int:
    """Close every dead RUNNING sweep run (one with a cell tag) of the experiment (:func:`close_dead`); returns
    how many."""
    dead = [r for r in running_runs(client, exp_id) if TAG_CELL in r.data.tags and not is_alive(r, timeout)]
    for run in dead:
        close_dead(client, run, timeout)
    return len(dead)


@contextlib.contextmanager
def claim_lock(uri: str) -> Iterator[None]:
    """Within the block, no other process on this machine creates and checks a claim in the SQLite store
    ``uri`` (an exclusive lock on ``<store>.claims.lock``; other stores: no lock). A run's start time is read
    before its row is committed, so without it a claimant whose commit waited on the store's write lock could
    become visible, older, only after a younger claimant had checked and won: both trained the cell (seen with
    two identical sweeps on a loaded machine)."""
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    db = db.expanduser()
    with store_lock(db.with_name(db.name + ".claims")):
        yield


def check_claim(client: Any, exp_id: str, cell: str, run_id: str, timeout: float) -> None:
    """Raise :class:`ClaimLost` unless ``run_id`` is the oldest live claim of ``cell``, still RUNNING (another
    sweep may have closed it as lost), and no run of the cell has FINISHED; dead claims met on the way are
    closed."""
    runs = cell_runs(client, exp_id, cell)
    done = [r for r in runs if r.info.status == "FINISHED"]  # the rule of finished_runs, on the runs listed here
    if done:
        raise ClaimLost(f"cell {cell} already FINISHED in run {done[0].info.run_id}")
    now, live = time.time(), []
    for run in runs:
        if run.info.run_id == run_id:
            if run.info.status != "RUNNING":
                raise ClaimLost(f"run {run_id} was closed by another sweep: {run.data.tags.get(ERROR_TAG)}")
            live.append(run)
        elif run.info.status == "RUNNING":
            if is_alive(run, timeout, now):
                live.append(run)
            else:
                close_dead(client, run, timeout)
    winner = min(live, key=lambda r: (r.info.start_time, r.info.run_id), default=None)
    if winner is not None and winner.info.run_id != run_id:
        raise ClaimLost(f"cell {cell} is being trained by run {winner.info.run_id}")


def resume_state(
    client: Any, exp_id: str, identity: Mapping[str, str]
) -> tuple[Optional[str], Optional[dict[str, Any]]]:
    """``(run id, checkpoint)`` of the newest KILLED or lost run carrying ``identity``'s tags (a sweep's cell:
    ``{psn.cell: hash}``; a trial's seed: see :func:`parametricSN.sweeps.trial.seed_identity`) that has a readable
    checkpoint, else ``(None, None)``."""
    from parametricSN.tracking.resume import _newest_checkpoint
    from parametricSN.training.checkpoint import CheckpointError

    stopped = [
        r
        for r in tagged_runs(client, exp_id, identity)
        if r.info.status == "KILLED" or (r.info.status == "FAILED" and r.data.tags.get(TAG_LOST))
    ]
    for run in sorted(stopped, key=lambda r: r.info.start_time, reverse=True):
        with tempfile.TemporaryDirectory(prefix="psn-resume-") as tmp:
            try:
                return run.info.run_id, _newest_checkpoint(client, run.info.run_id, tmp)
            except (CheckpointError, OSError, Exception):  # noqa: BLE001 - no usable checkpoint: try the next
                continue
    return None, None


class Heartbeat:
    """A daemon thread that sets ``psn.heartbeat`` on every run in :attr:`runs` each ``every`` seconds."""

    def __init__(self, client: Any, every: Optional[float] = None) -> None:
        self.client, self.every = client, every or heartbeat_seconds()
        self.runs: set[str] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._beat, name="psn-heartbeat", daemon=True).start()

    def add(self, run_id: str) -> None:
        with self._lock:
            self.runs.add(run_id)

    def discard(self, run_id: Optional[str]) -> None:
        with self._lock:
            self.runs.discard(run_id or "")

    def _beat(self) -> None:
        while True:
            time.sleep(self.every)
            with self._lock:
                runs = list(self.runs)
            for run_id in runs:
                try:
                    self.client.set_tag(run_id, TAG_HEARTBEAT, f"{time.time():.0f}")
                except Exception:  # noqa: BLE001 - a busy store skips one beat; the timeout allows several
                    pass
