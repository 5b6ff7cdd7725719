"""``psn sweep SPEC --status``: where a sweep stands, read from the store without changing it.

One line per cell — ``finished`` with its test accuracy, ``killed`` (stopped by a signal: the next sweep continues
it from its checkpoint) or ``failed`` with its error, ``running`` with its last logged epoch (``lost`` when its
heartbeat stopped), ``pending`` — then the totals with an estimate of the time left (the same totals line a running
sweep prints every ``--status-every`` seconds). A SQLite store that does not exist is not created: one line says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, TextIO

from parametricSN.sweeps import claims
from parametricSN.sweeps.spec import Cell, SweepSpec
from parametricSN.tags import ERROR_TAG, TAG_CELL


def duration_text(seconds: float) -> str:
    """``42s``, ``7m05s``, ``3h20m``, ``2d04h``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


# the states a cell is counted in, in the totals' order; "killed" only when there are some (stopped by a signal,
# continued from their checkpoints by the next sweep)
STATES = ("finished", "running", "killed", "failed", "pending")


@dataclass(frozen=True)
class Progress:
    """A running run: epochs done of its total, seconds since it started."""

    epoch: int
    epochs: int
    elapsed: float

    def projected(self) -> Optional[float]:
        """Its whole duration at its pace so far (None before its first epoch)."""
        return self.elapsed * self.epochs / self.epoch if self.epoch > 0 else None


def totals_line(
    counts: dict[str, int], durations: list[float], workers: Optional[int], running: Sequence[Progress] = ()
) -> str:
    """``12 runs: 3 finished, 2 running (epochs 12/60, 30/60), 1 failed, 6 pending; about 25m left (mean run
    5m00s, 2 at a time)``.

    The estimate: what the running runs have left at their own pace, plus a mean run for each cell still to start
    (pending or killed), shared among ``workers``; the mean run is that of the finished runs, else the running
    runs' projected durations. It moves with every epoch, not only when a run finishes."""
    total = sum(counts.values())
    shown = [k for k in STATES if k != "killed" or counts.get(k)]
    parts = []
    for k in shown:
        part = f"{counts.get(k, 0)} {k}"
        if k == "running" and running:
            part += f" (epoch{'s' if len(running) > 1 else ''} {', '.join(f'{p.epoch}/{p.epochs}' for p in running)})"
        parts.append(part)
    to_start = counts.get("pending", 0) + counts.get("killed", 0)
    projected = [d for d in (p.projected() for p in running) if d is not None]
    mean = sum(durations) / len(durations) if durations else sum(projected) / len(projected) if projected else None
    if not to_start and not counts.get("running", 0):
        eta = "nothing left"
    elif mean is None:
        eta = "time left unknown until a run has trained an epoch"
    else:
        ahead = sum(max(0.0, (p.projected() or mean) - p.elapsed) for p in running) + to_start * mean
        eta = (
            f"about {duration_text(ahead / max(1, workers or 1))} left (mean run {duration_text(mean)}"
            f"{f', {workers} at a time' if workers else ''})"
        )
    return f"{total} runs: {', '.join(parts)}; {eta}"


def _epoch(client: Any, run_id: str) -> int:
    return max((m.step for m in client.get_metric_history(run_id, "train_loss")), default=0)


def cell_line(
    client: Any, spec: SweepSpec, cell: Cell, runs: list[Any], timeout: float, now: float
) -> tuple[str, str, Optional[float], Optional[Progress]]:
    """``(state, line, duration, progress)`` of one cell from its runs (newest decides; a FINISHED one always
    wins): the duration of a finished run, the progress of a running one."""
    name = cell.name(spec.name)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    if finished:
        r = max(finished, key=lambda r: r.info.start_time)
        acc = r.data.metrics.get("test_acc")
        took = ((r.info.end_time or r.info.start_time) - r.info.start_time) / 1000.0
        acc_text = f"test_acc={acc:.2f}" if acc is not None else "no test_acc"
        return "finished", f"finished  {name}: {acc_text} ({duration_text(took)}, run {r.info.run_id})", took, None
    running = [r for r in runs if r.info.status == "RUNNING"]
    if running:
        r = max(running, key=lambda r: r.info.start_time)
        epochs, epoch = cell.config.train.epochs, _epoch(client, r.info.run_id)
        if claims.is_alive(r, timeout, now):
            progress = Progress(epoch, epochs, max(0.0, now - r.info.start_time / 1000.0))
            return "running", f"running   {name}: epoch {epoch}/{epochs} (run {r.info.run_id})", None, progress
        return (
            "failed",
            f"lost      {name}: no heartbeat for {duration_text(now - claims.last_beat(r))}, "
            f"at epoch {epoch}/{epochs} (run {r.info.run_id})",
            None,
            None,
        )
    if runs:
        r = max(runs, key=lambda r: r.info.start_time)
        error = " ".join(str(r.data.tags.get(ERROR_TAG, "")).split())[:200] or "no error recorded"
        state = "killed" if r.info.status == "KILLED" else "failed"
        return state, f"{r.info.status.lower():9s} {name}: {error} (run {r.info.run_id})", None, None
    return "pending", f"pending   {name}", None, None


def print_status(
    spec: SweepSpec, cells: list[Cell], uri: str, workers: Optional[int], timeout: float, out: TextIO
) -> int:
    """Print the status of ``cells`` in the store ``uri`` (read only)."""
    from parametricSN.tracking.store import client_for, sqlite_path

    db = sqlite_path(uri)
    if db is not None and not db.expanduser().is_file():
        print(f"{spec.name}: no tracking store at {uri}: nothing has run yet ({len(cells)} runs pending)", file=out)
        return 0
    client = client_for(uri, create=False)
    exp = client.get_experiment_by_name(spec.name)
    runs = client.search_runs([exp.experiment_id], max_results=50000) if exp is not None else []
    by_cell: dict[str, list[Any]] = {}
    for r in runs:
        by_cell.setdefault(r.data.tags.get(TAG_CELL, ""), []).append(r)
    counts = dict.fromkeys(STATES, 0)
    durations, running, seen, now = [], [], set(), time.time()
    for cell in cells:
        if cell.hash in seen:
            continue
        seen.add(cell.hash)
        state, line, took, progress = cell_line(client, spec, cell, by_cell.get(cell.hash, []), timeout, now)
        counts[state] += 1
        durations += [took] if took is not None else []
        running += [progress] if progress is not None else []
        print(line, file=out)
    print(totals_line(counts, durations, workers, running), file=out)
    return 0
