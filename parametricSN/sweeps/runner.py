"""``run_sweep``: skip the cells that already have a FINISHED run or a live one, launch the others, report
progress; stop cleanly on SIGINT / SIGTERM.

The store and experiment are created here, once, before any worker starts (so parallel workers never race to
create or migrate a fresh store). Each run is tagged ``psn.sweep`` (the spec's name), ``psn.cell`` (the cell
hash, see :func:`parametricSN.sweeps.spec.cell_hash`), ``psn.varying`` (JSON of the varying keys and their
values here) and ``psn.attempt`` (unique per launch, used to close the run of a worker that died), and named
from the spec and its varying values (:func:`parametricSN.naming.sweep_run_name`). The spec's ``published``
list is stored as the experiment tag ``psn.published`` for ``psn report``. Dead runs (their heartbeat stopped)
are closed first and their cells run again; see :mod:`parametricSN.sweeps.claims`.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TextIO, Union

from mlflow.entities import RunStatus

from parametricSN.commands import absolute_uri, report_command
from parametricSN.sweeps import claims
from parametricSN.sweeps.launch import Launcher, LaunchOptions, Stop
from parametricSN.sweeps.launchers import make_launcher
from parametricSN.sweeps.options import DEFAULT_TIMEOUT
from parametricSN.sweeps.spec import Cell, SweepSpec
from parametricSN.sweeps.status import Progress, totals_line
from parametricSN.sweeps.tasks import Result, RunSpec, Task
from parametricSN.tags import ERROR_TAG, TAG_ATTEMPT, TAG_CELL, TAG_PUBLISHED, TAG_SWEEP, TAG_VARYING
from parametricSN.tracking.preflight import probe_http
from parametricSN.tracking.store import client_for, default_artifact_location, get_or_create_experiment


@dataclass
class Outcome:
    """How one cell ended in this sweep."""

    cell: Cell
    status: str  # FINISHED | FAILED | KILLED | SKIPPED (another sweep holds the cell)
    run_id: Optional[str]
    test_acc: Optional[float]
    error: Optional[str]
    duration: float


def prepare_experiment(spec: SweepSpec, cells: list[Cell]) -> tuple[Any, str, str]:
    """Create the store and experiment (once, before the workers); returns (client, experiment id, uri)."""
    m = cells[0].config.mlflow
    uri = absolute_uri(m.tracking_uri)
    client = client_for(uri)
    artifacts = m.artifact_location or default_artifact_location(uri, spec.name)
    about = spec.description or f"Sweep {spec.name} ({spec.path}): {len(cells)} cells."
    exp_id = get_or_create_experiment(client, spec.name, artifacts, about, replace_description=bool(spec.description))
    published = [{"where": p.where, "mean": p.mean, "std": p.std} for p in spec.published]
    client.set_experiment_tag(exp_id, TAG_PUBLISHED, json.dumps(published, separators=(",", ":")))
    return client, exp_id, uri


def busy_cells(client: Any, exp_id: str, timeout: float) -> tuple[set[str], set[str]]:
    """``(finished, alive)``: hashes of the cells with a FINISHED run and of those with a live RUNNING run."""
    finished = {r.data.tags[TAG_CELL] for r in claims.finished_runs(client, exp_id) if TAG_CELL in r.data.tags}
    running = claims.running_runs(client, exp_id)
    alive = {r.data.tags[TAG_CELL] for r in running if TAG_CELL in r.data.tags and claims.is_alive(r, timeout)}
    return finished, alive - finished


def _task(spec: SweepSpec, cells: list[Cell], uri: str, log_dir: str, timeout: float) -> Task:
    """A launcher task: ``cells`` run in one worker process (one cell, or the cells of a pack)."""
    runs = []
    for cell in cells:
        config = cell.config.to_dict()
        config["mlflow"]["tracking_uri"] = uri
        config["mlflow"]["run_name"] = cell.name(spec.name)
        tags = {
            TAG_SWEEP: spec.name,
            TAG_CELL: cell.hash,
            TAG_ATTEMPT: uuid.uuid4().hex,
            TAG_VARYING: json.dumps(cell.varying, sort_keys=True),
        }
        runs.append(RunSpec(config, tags))
    return Task(runs, pack=len(cells) > 1, log_dir=log_dir, timeout=timeout, cells=[c.index for c in cells])


def pack_groups(cells: list[Cell], size: int) -> list[list[Cell]]:
    """``cells`` in launcher tasks: one cell per task, or with ``size`` > 1 the cells whose configs differ only in
    ``general.seed`` grouped, in spec order, into packs of at most ``size`` (trained as one model by
    :func:`parametricSN.training.train_pack`). A head that cannot be packed is a ConfigError naming it."""
    if size <= 1:
        return [[c] for c in cells]
    from parametricSN.training.pack import check_pack

    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        flat = cell.config.flat()
        flat.pop("general.seed")
        groups.setdefault(json.dumps(flat, sort_keys=True, default=str), []).append(cell)
    packs = []
    for group in groups.values():
        check_pack([c.config for c in group])
        packs += [group[i : i + size] for i in range(0, len(group), size)]
    return sorted(packs, key=lambda pack: pack[0].index)


def _close_orphan(
    client: Any, exp_id: str, attempt: str, error: str, status: str = "FAILED", log: Optional[Path] = None
) -> Optional[str]:
    """A worker died mid-run: close its still-RUNNING MLflow run ``status`` with ``error`` (and its log file as
    ``log.txt``, :func:`parametricSN.sweeps.claims.close_runs`); return its id."""
    runs = client.search_runs([exp_id], filter_string=f"tags.`{TAG_ATTEMPT}` = '{attempt}'")
    text = log.read_text(errors="replace") if log is not None and log.is_file() else None
    claims.close_runs(client, runs[:1], status, {ERROR_TAG: error}, text)
    return runs[0].info.run_id if runs else None


class _Signals:
    """SIGINT / SIGTERM handlers that only record the signal (the launcher stops the workers)."""

    def __init__(self, stop: Any) -> None:
        self.stop, self.previous = stop, {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.stop.signum = self.stop.signum or signum
        self.stop.count += 1

    def __exit__(self, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def run_sweep(
    spec: SweepSpec,
    cells: list[Cell],
    launcher: Union[str, Launcher] = "local",
    workers: int = 1,
    address: Optional[str] = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
    pack: int = 1,
    threads_per_run: Optional[int] = None,
    heartbeat_timeout: float = DEFAULT_TIMEOUT,
    status_every: float = 300.0,
    again: str = "",
) -> int:
    """Run every cell without a FINISHED or live run; print one line per finished run, totals every
    ``status_every`` seconds and a summary. Returns 0 when every run finished, 1 otherwise (each failed run
    listed on ``err`` with its run id and error), 128 + the signal number when stopped by SIGINT / SIGTERM (one
    line on ``err``: what finished and ``again``, the command that continues). ``pack`` > 1 trains up to that
    many cells that differ only in their seed as one packed model (one task, one process); each is still its
    own MLflow run. ``launcher``: a :class:`~parametricSN.sweeps.launch.Launcher`, or the name of a registered one
    built from ``workers``, ``threads_per_run``, ``address``, ``cpus_per_run`` and ``gpus_per_run``."""
    out, err = out or sys.stdout, err or sys.stderr
    if isinstance(launcher, str):
        options = LaunchOptions(workers, threads_per_run, address, cpus_per_run, gpus_per_run)
        launcher = make_launcher(launcher, options)
    pack_groups(cells, pack)  # a head that cannot be packed is a config error before the store is touched
    probe_http(absolute_uri(cells[0].config.mlflow.tracking_uri))  # a server that does not answer: one line, at once
    launcher.prepare(len(cells))  # local workers import while the store is prepared (they wait for their first task)
    try:
        client, exp_id, uri = prepare_experiment(spec, cells)
        lost = claims.close_dead_runs(client, exp_id, heartbeat_timeout)
        done, alive = busy_cells(client, exp_id, heartbeat_timeout)
    except BaseException:
        launcher.close()
        raise
    todo, seen = [], done | alive
    for cell in cells:
        if cell.hash not in seen:  # the same config twice in a spec is run once
            todo.append(cell)
            seen.add(cell.hash)
    skipped = len(cells) - len(todo)
    print(
        f"{spec.name}: {len(cells)} runs, {skipped} already finished, running elsewhere or repeated, "
        f"{len(todo)} to run ({launcher.name}){f', {lost} lost run(s) closed' if lost else ''} -> {uri}",
        file=out,
        flush=True,
    )
    by_index = {c.index: c for c in todo}
    log_dir = tempfile.mkdtemp(prefix="psn-sweep-logs-")
    stop, outcomes, started = Stop(), [], [0]
    watch = _Watch(client, exp_id, spec.name, out)

    def tasks() -> Iterator[Task]:
        for group in pack_groups(todo, pack):
            finished_now, alive_now = busy_cells(client, exp_id, heartbeat_timeout) if started[0] else (set(), set())
            group = [c for c in group if c.hash not in finished_now | alive_now]  # taken by a twin meanwhile
            if group:
                started[0] += len(group)
                task = _task(spec, group, uri, log_dir, heartbeat_timeout)
                watch.expect(task, group)
                yield task

    def tick() -> None:
        watch.announce(outcomes)
        if status_every > 0 and time.monotonic() - watch.last_totals >= status_every:
            watch.last_totals = time.monotonic()
            counts = {
                "finished": sum(o.status == "FINISHED" for o in outcomes),
                "killed": sum(o.status == "KILLED" for o in outcomes),
                "failed": sum(o.status == "FAILED" for o in outcomes),
                "running": started[0] - len(outcomes),
            }
            counts["pending"] = len(todo) - sum(counts.values())
            durations = [o.duration for o in outcomes if o.status == "FINISHED"]
            print(totals_line(counts, durations, launcher.slots(), watch.progress(outcomes)), file=out, flush=True)

    try:
        with _Signals(stop):
            for task, results in launcher.launch(tasks(), stop, tick):
                for index, run, res in zip(task.cells, task.runs, results):
                    _record(
                        client, exp_id, spec.name, by_index[index], run, res, outcomes, len(todo), stop, log_dir, out
                    )
    finally:
        launcher.close()  # the workers it started that no task took, or all of them when it never launched
        shutil.rmtree(log_dir, ignore_errors=True)
    return _summary(spec, uri, outcomes, skipped, stop, again, out, err)


class _Watch:
    """What the sweep shows of its runs while they train, read from the store: each run's id as it starts
    (``started <name>: run <id>``, polled every :data:`POLL` seconds) and the running runs' epochs for the totals."""

    POLL = 2.0

    def __init__(self, client: Any, exp_id: str, spec_name: str, out: TextIO) -> None:
        self.client, self.exp_id, self.spec_name, self.out = client, exp_id, spec_name, out
        self.cells: dict[str, Cell] = {}  # psn.attempt -> cell, for the runs this sweep launched
        self.runs: dict[str, Any] = {}  # psn.attempt -> its MLflow run, once seen RUNNING
        self.last_poll, self.last_totals = 0.0, time.monotonic()

    def expect(self, task: Task, cells: list[Cell]) -> None:
        for run, cell in zip(task.runs, cells):
            self.cells[run.attempt] = cell

    def _open(self, outcomes: list[Outcome]) -> list[str]:
        done = {o.cell.hash for o in outcomes}
        return [a for a, c in self.cells.items() if c.hash not in done]

    def announce(self, outcomes: list[Outcome]) -> None:
        if time.monotonic() - self.last_poll < self.POLL:
            return
        self.last_poll = time.monotonic()
        waiting = [a for a in self._open(outcomes) if a not in self.runs]
        if not waiting:
            return
        try:
            found = self.client.search_runs(
                [self.exp_id], f"attributes.status = 'RUNNING' and tags.`{TAG_SWEEP}` = '{self.spec_name}'"
            )
        except Exception:  # noqa: BLE001 - progress only: a store that is briefly busy or away is asked again later
            return
        for run in found:
            attempt = run.data.tags.get(TAG_ATTEMPT)
            if attempt in waiting:
                self.runs[attempt] = run
                name = self.cells[attempt].name(self.spec_name)
                print(f"started {name}: run {run.info.run_id}", file=self.out, flush=True)

    def progress(self, outcomes: list[Outcome]) -> list[Progress]:
        """Epochs done and seconds spent of each running run this sweep has seen start."""
        now, found = time.time(), []
        for attempt in self._open(outcomes):
            run = self.runs.get(attempt)
            if run is None:
                continue
            try:
                history = self.client.get_metric_history(run.info.run_id, "train_loss")
            except Exception:  # noqa: BLE001 - as above
                continue
            epochs = self.cells[attempt].config.train.epochs
            epoch = max((m.step for m in history), default=0)
            found.append(Progress(epoch, epochs, max(0.0, now - run.info.start_time / 1000.0)))
        return found


def _record(
    client: Any,
    exp_id: str,
    spec_name: str,
    cell: Cell,
    run: RunSpec,
    res: Result,
    outcomes: list[Outcome],
    total: int,
    stop: Any,
    log_dir: str,
    out: TextIO,
) -> None:
    """Close a crashed worker's run, remember the outcome, print its line (a KILLED one only when no signal
    explains it: after a signal the summary line says it)."""
    run_id = res.run_id
    if run_id is None and res.status in ("FAILED", "KILLED"):
        status = RunStatus.to_string(RunStatus.KILLED if res.status == "KILLED" else RunStatus.FAILED)
        log = Path(log_dir) / f"{run.attempt}.log"
        run_id = _close_orphan(client, exp_id, run.attempt, res.error or "", status, log)
    o = Outcome(cell, res.status, run_id, res.test_acc, res.error, res.duration)
    outcomes.append(o)
    if stop.signum is not None and o.status == "KILLED":
        return
    acc = f"test_acc={o.test_acc:.2f}" if o.test_acc is not None else o.status
    where = "held by another sweep" if o.status == "SKIPPED" else f"run {o.run_id or '-'}"
    print(
        f"[{len(outcomes)}/{total}] {cell.name(spec_name)}: {acc} ({o.duration:.1f}s) {where}",
        file=out,
        flush=True,
    )


def _summary(
    spec: SweepSpec, uri: str, outcomes: list[Outcome], skipped: int, stop: Any, again: str, out: TextIO, err: TextIO
) -> int:
    finished = sum(o.status == "FINISHED" for o in outcomes)
    if stop.signum is not None:
        killed = sum(o.status == "KILLED" for o in outcomes)
        print(
            f"psn: sweep {spec.name} stopped by {signal.Signals(stop.signum).name}: {finished} run(s) finished, "
            f"{killed} stopped (KILLED, continued from their checkpoints next time); continue with: "
            f"{again or 'the same command'}",
            file=err,
            flush=True,
        )
        return 128 + stop.signum
    failed = [o for o in outcomes if o.status not in ("FINISHED", "SKIPPED")]
    held = sum(o.status == "SKIPPED" for o in outcomes)
    print(
        f"{spec.name}: {finished} finished, {skipped + held} skipped, {len(failed)} failed "
        f"(experiment {spec.name!r} in {uri}; table: {report_command(spec.name, uri)})",
        file=out,
        flush=True,
    )
    for o in failed:  # a run that failed before its MLflow run opened (e.g. missing data) has no run id
        where = f"run {o.run_id} (tag {ERROR_TAG!r})" if o.run_id else "no MLflow run was created"
        print(f"psn: {o.status} {o.cell.name(spec.name)}: {where}: {o.error}", file=err, flush=True)
    return 1 if failed else 0
