"""What a sweep hands its launchers and what comes back: typed tasks and results, and the JSON-lines protocol a
sweep worker (:mod:`parametricSN.sweeps.worker`) speaks. Imports nothing heavy (a launcher plugin and the Ray side
read it).

A :class:`Task` is one cell, or the cells of one pack: a :class:`RunSpec` (config mapping and tags) per run. A
worker reads a task as one JSON line on stdin and answers ``PSN_RESULT {...}`` (a :class:`Result`) per run as soon
as the run ends, then ``PSN_DONE`` when the task is done. A worker that dies has reported the runs before it;
:func:`complete` adds a FAILED result for each run it did not report.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

from parametricSN.sweeps.options import DEFAULT_TIMEOUT
from parametricSN.tags import TAG_ATTEMPT

RESULT_PREFIX, DONE_LINE = "PSN_RESULT ", "PSN_DONE"
STDERR_TAIL = 2000  # characters of a crashed worker's output kept in its error message
STATUSES = ("FINISHED", "FAILED", "KILLED", "SKIPPED")  # SKIPPED: another sweep holds (or finished) the cell


@dataclass
class RunSpec:
    """One run of a task: its config (the nested mapping of :meth:`parametricSN.config.Config.to_dict`), the tags
    the run carries (a sweep's: ``psn.sweep``, ``psn.cell``, ``psn.attempt``, ``psn.varying``) and its name where
    it is not the config's ``mlflow.run_name`` (a trial's)."""

    config: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    name: Optional[str] = None

    @property
    def attempt(self) -> str:
        """The run's ``psn.attempt`` tag (names its log file), ``run`` without one."""
        return self.tags.get(TAG_ATTEMPT, "run")


@dataclass
class Task:
    """Runs trained in one worker process: one cell, or with ``pack`` the cells of one pack (configs differing only
    in their seed, trained as one model). ``cells``: the sweep's indices of those cells; ``log_dir``: where each
    run's output goes (``<log_dir>/<psn.attempt>.log``); ``timeout``: the heartbeat timeout of the claims."""

    runs: list[RunSpec]
    pack: bool = False
    log_dir: str = "."
    timeout: float = DEFAULT_TIMEOUT
    cells: list[int] = field(default_factory=list)

    def log_path(self, run: int) -> str:
        """The log file of run number ``run``."""
        return os.path.join(self.log_dir or ".", f"{self.runs[run].attempt}.log")

    def renewed(self) -> Task:
        """The same runs as a new attempt (new ``psn.attempt`` tags): how a task lost with its node is run again."""
        runs = [replace(r, tags={**r.tags, TAG_ATTEMPT: uuid.uuid4().hex}) for r in self.runs]
        return replace(self, runs=runs)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> Task:
        data = json.loads(line)
        return cls(**{**data, "runs": [RunSpec(**run) for run in data.get("runs", [])]})


@dataclass
class Result:
    """How one run ended: ``status`` (one of :data:`STATUSES`), its MLflow run id (None when no run was opened, or
    when its worker died: the sweep finds it by its ``psn.attempt`` tag), the final test accuracy, the error
    (``Type: message``) and the seconds it took."""

    status: str
    run_id: Optional[str] = None
    test_acc: Optional[float] = None
    error: Optional[str] = None
    duration: float = 0.0

    def line(self) -> str:
        """The result as the worker writes it."""
        return RESULT_PREFIX + json.dumps(asdict(self))


def parse_results(lines: list[str]) -> list[Result]:
    """The results among a worker's output lines."""
    return [Result(**json.loads(line[len(RESULT_PREFIX) :])) for line in lines if line.startswith(RESULT_PREFIX)]


def ended(task: Task, status: str, error: str, duration: float = 0.0) -> list[Result]:
    """One result ``status`` with ``error`` per run of ``task`` (no run id: the sweep closes the runs by tag)."""
    return [Result(status, error=error, duration=duration) for _ in task.runs]


def complete(task: Task, results: list[Result], code: Optional[int], output: str, elapsed: float) -> list[Result]:
    """``results`` with a FAILED result for each run the worker did not report (it died, with exit status ``code``
    and ``output`` last)."""
    if len(results) >= len(task.runs):
        return results
    tail = " ".join(output[-STDERR_TAIL:].split()) or "no output"
    missing = Task(task.runs[len(results) :])
    elapsed -= sum(r.duration for r in results)
    return results + ended(missing, "FAILED", f"worker process exited with status {code}: {tail}", elapsed)


def log_tail(task: Task, run: int) -> str:
    """The end of run number ``run``'s log file (what a crashed worker printed last)."""
    if run >= len(task.runs):
        return ""
    path = task.log_path(run)
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - STDERR_TAIL))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
