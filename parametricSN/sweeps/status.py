"""``psn sweep SPEC --status``: where a sweep stands, read from the store without changing it.

One line per cell — ``finished`` with its test accuracy, ``failed`` with its error, ``running`` with its last
logged epoch (``lost`` when its heartbeat stopped), ``pending`` — then the totals with an estimate of the time
left from the finished runs' durations (the same totals line a running sweep prints every ``--status-every``
seconds). A SQLite store that does not exist is not created: one line says so.
"""

from __future__ import annotations

import time
from typing import Any, Optional, TextIO

from parametricSN.naming import sweep_run_name
from parametricSN.sweeps import claims
from parametricSN.sweeps.spec import Cell, SweepSpec


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


def totals_line(counts: dict[str, int], durations: list[float], workers: Optional[int]) -> str:
    """``12 runs: 3 finished, 2 running, 1 failed, 6 pending; about 25m left (mean run 5m00s, 2 at a time)``."""
    total = sum(counts.values())
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("finished", "running", "failed", "pending"))
    left = counts.get("pending", 0) + counts.get("running", 0)
    if not durations:
        eta = "time left unknown until a run finishes" if left else "nothing left"
    else:
        mean = sum(durations) / len(durations)
        eta = (
            f"about {duration_text(mean * left / max(1, workers or 1))} left (mean run {duration_text(mean)}"
            f"{f', {workers} at a time' if workers else ''})"
        )
    return f"{total} runs: {parts}; {eta}"


def _epoch(client: Any, run_id: str) -> int:
    return max((m.step for m in client.get_metric_history(run_id, "train_loss")), default=0)


def cell_line(
    client: Any, spec: SweepSpec, cell: Cell, runs: list[Any], timeout: float, now: float
) -> tuple[str, str, Optional[float]]:
    """``(state, line, duration)`` of one cell from its runs (newest decides; a FINISHED one always wins)."""
    name = sweep_run_name(spec.name, cell.varying)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    if finished:
        r = max(finished, key=lambda r: r.info.start_time)
        acc = r.data.metrics.get("test_acc")
        took = ((r.info.end_time or r.info.start_time) - r.info.start_time) / 1000.0
        acc_text = f"test_acc={acc:.2f}" if acc is not None else "no test_acc"
        return "finished", f"finished  {name}: {acc_text} ({duration_text(took)}, run {r.info.run_id})", took
    running = [r for r in runs if r.info.status == "RUNNING"]
    if running:
        r = max(running, key=lambda r: r.info.start_time)
        epochs = cell.config.train.epochs
        if claims.is_alive(r, timeout, now):
            return (
                "running",
                f"running   {name}: epoch {_epoch(client, r.info.run_id)}/{epochs} (run {r.info.run_id})",
                None,
            )
        return (
            "failed",
            f"lost      {name}: no heartbeat for {duration_text(now - claims.last_beat(r))}, "
            f"at epoch {_epoch(client, r.info.run_id)}/{epochs} (run {r.info.run_id})",
            None,
        )
    if runs:
        r = max(runs, key=lambda r: r.info.start_time)
        error = " ".join(str(r.data.tags.get("error", "")).split())[:200] or "no error recorded"
        return "failed", f"{r.info.status.lower():9s} {name}: {error} (run {r.info.run_id})", None
    return "pending", f"pending   {name}", None


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
        by_cell.setdefault(r.data.tags.get(claims.TAG_CELL, ""), []).append(r)
    counts = {"finished": 0, "running": 0, "failed": 0, "pending": 0}
    durations, seen, now = [], set(), time.time()
    for cell in cells:
        if cell.hash in seen:
            continue
        seen.add(cell.hash)
        state, line, took = cell_line(client, spec, cell, by_cell.get(cell.hash, []), timeout, now)
        counts[state] += 1
        durations += [took] if took is not None else []
        print(line, file=out)
    print(totals_line(counts, durations, workers), file=out)
    return 0
