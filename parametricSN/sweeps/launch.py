"""The launcher interface: where a sweep's tasks run. A :class:`Launcher` takes tasks
(:class:`~parametricSN.sweeps.tasks.Task`) from an iterator as it can start them and yields ``(task, results)`` as
each task ends, in completion order. Launchers are registered by name
(:func:`parametricSN.sweeps.launchers.register_launcher`), beside the built-ins (``local``, ``ray``), and the sweep
builds the one ``--launcher`` names with :func:`~parametricSN.sweeps.launchers.make_launcher`;
docs/examples/my_launcher.py is a launcher of one's own in one file.

The contract:

- pull the next task only when it can start (the sweep decides what runs next at that moment, so a cell another
  sweep finished meanwhile is not started twice);
- run a task in a sweep worker process (:func:`worker_command`, :func:`execute`), which trains its runs (opening,
  checkpointing, logging and closing each MLflow run) and reports one :class:`~parametricSN.sweeps.tasks.Result` per
  run; a run the worker did not report (it died) is FAILED (:func:`parametricSN.sweeps.tasks.complete`);
- watch the :class:`Stop`: once a signal to the sweep has set it, start nothing new and pass each further signal on
  to the running workers (they finish their epoch, store a checkpoint and close their runs KILLED), then yield those
  tasks' results and return; call ``tick()`` about every half second (the sweep's progress lines);
- leave no worker running when the sweep stops reading (a ``finally``).

Imports nothing heavy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Optional, Protocol

from parametricSN.sweeps.tasks import Result, Task, complete, log_tail, parse_results


@dataclass
class Stop:
    """Set by the sweep's signal handlers: the first signal number and how many signals arrived."""

    signum: Optional[int] = None
    count: int = 0


@dataclass(frozen=True)
class LaunchOptions:
    """``psn sweep``'s options for its launcher; each launcher reads those it understands (its ``reads``)
    and a launcher given another is an error."""

    workers: int = 1  # local: worker processes
    threads_per_run: Optional[int] = None  # local: torch threads per run (default: the cores shared out)
    address: Optional[str] = None  # ray: auto or ray://host:port
    cpus_per_run: float = 1.0  # ray: CPUs reserved per run
    gpus_per_run: float = 0.0  # ray: GPUs per run

    def given(self) -> set[str]:
        """The options that differ from their defaults."""
        return {k for k, v in vars(self).items() if v != getattr(LaunchOptions, k)}


Tick = Callable[[], None]
Ended = Iterator[tuple[Task, list[Result]]]


class Launcher(Protocol):
    """Where a sweep's tasks run (see the module docstring for the contract)."""

    name: str  # what --launcher calls it
    reads: frozenset[str]  # the LaunchOptions it reads beyond ``workers``

    def slots(self) -> Optional[int]:
        """How many runs train at once when that is known here (the sweep's estimate of the time left), else None."""
        ...

    def prepare(self, count: int) -> None:
        """Called before the sweep prepares the store, with the most tasks it may launch (a pool starts its workers
        now, to import meanwhile)."""
        ...

    def launch(self, tasks: Iterator[Task], stop: Stop, tick: Tick) -> Ended:
        """Run ``tasks``; yield ``(task, results)`` as each ends."""
        ...

    def close(self) -> None:
        """Release what :meth:`prepare` started and :meth:`launch` did not use (always called)."""
        ...


def worker_command(python: Optional[str] = None, threads: Optional[int] = None) -> list[str]:
    """The command of a sweep worker of ``python`` (default: this interpreter) with ``threads`` torch threads."""
    command = [python or sys.executable, "-m", "parametricSN.sweeps.worker"]
    return command + (["--threads", str(threads)] if threads else [])


def start_worker(python: Optional[str], threads: Optional[int], errors: IO[bytes]) -> subprocess.Popen:
    """A worker process in its own session (a terminal's Ctrl-C reaches the sweep, which passes it on once)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return subprocess.Popen(
        worker_command(python, threads),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        env=env,
        bufsize=0,
        start_new_session=True,
    )


def execute(task: Task, python: Optional[str] = None, threads: Optional[int] = None) -> list[Result]:
    """Run ``task`` in a new worker process (a Ray task, a launcher of one process per task); one result per run,
    in order. Interrupted (Ray cancels the task, a signal), it stops the worker with SIGTERM and waits for its runs
    to close."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as errors:
        proc = start_worker(python, threads, errors)
        try:
            out, _ = proc.communicate(task.to_json().encode() + b"\n")
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate()
        errors.seek(0)
        output = errors.read().decode(errors="replace")
    results = parse_results(out.decode(errors="replace").splitlines())
    output = log_tail(task, len(results)) + output
    return complete(task, results, proc.returncode, output, time.monotonic() - start)
