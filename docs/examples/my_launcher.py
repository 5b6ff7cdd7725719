"""A launcher of your own, in one file: ``fresh``, one fresh worker process per task.

A launcher is where a sweep's runs execute. ``psn sweep`` has two (``--launcher local``: a pool of long-lived
worker processes on this machine; ``--launcher ray``: Ray tasks on a cluster). Both implement the
:class:`~parametricSN.sweeps.launch.Launcher` protocol, and so does :class:`FreshLauncher`:

- :meth:`~FreshLauncher.launch` takes an iterator of :class:`~parametricSN.sweeps.tasks.Task` and pulls the next one
  only when it can start it (the sweep decides what runs next at that moment, so a cell finished meanwhile by
  another sweep is not started twice). A task is one run, or the seeds of one pack;
- it executes a task by handing it, as one JSON line (:meth:`~parametricSN.sweeps.tasks.Task.to_json`), to a sweep
  worker (:func:`~parametricSN.sweeps.launch.worker_command`), which trains its runs (opening, checkpointing,
  logging and closing each MLflow run) and writes one :class:`~parametricSN.sweeps.tasks.Result` per run;
- it yields ``(task, results)`` as each task ends; :func:`~parametricSN.sweeps.tasks.complete` adds a FAILED result
  for each run a worker did not report (it died);
- it watches the :class:`~parametricSN.sweeps.launch.Stop`: once a signal to the sweep has set it, it starts nothing
  new and passes each further signal on to the running workers (which finish their epoch, store a checkpoint and
  close their runs KILLED), and it calls ``tick()`` about every half second (the sweep's progress lines);
- :meth:`~FreshLauncher.slots`, :meth:`~FreshLauncher.prepare` and :meth:`~FreshLauncher.close` tell the sweep how
  many runs train at once (its estimate of the time left) and let a launcher start and stop workers around the
  sweep; ``reads`` names the ``psn sweep`` options it reads beyond ``--workers`` (another is an error).

``@register_launcher`` makes it, by its ``name``, a launcher like the built-ins. Name this file in
``general.plugins`` (the spec's base config, or an override) and ``psn sweep`` runs through it:

    psn sweep experiments/cifar10-linear.yaml --launcher fresh --workers 2 general.plugins=[docs/examples/my_launcher.py]

(from Python: ``run_sweep(spec, cells, launcher="fresh")``, or pass an instance). It starts a new process for every
task, ``--workers`` at a time: slower than the local pool (each process pays the imports) but the shape of a
batch-scheduler adapter. To submit to SLURM, say, put ``["srun", "--ntasks=1", *worker_command()]`` in
:meth:`~FreshLauncher.command`.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Optional

from parametricSN.sweeps.launch import LaunchOptions, Stop, Tick, worker_command
from parametricSN.sweeps.launchers import register_launcher
from parametricSN.sweeps.tasks import Result, Task, complete, parse_results


@register_launcher
class FreshLauncher:
    """Each task in a new worker process, at most ``options.workers`` at a time."""

    name = "fresh"
    reads = frozenset({"threads_per_run"})

    def __init__(self, options: Optional[LaunchOptions] = None) -> None:
        options = options or LaunchOptions()
        self.jobs, self.threads = options.workers, options.threads_per_run

    def command(self) -> list[str]:
        """The command that runs one task: a sweep worker of this Python (replace it to submit to a scheduler)."""
        return worker_command(threads=self.threads)

    def slots(self) -> Optional[int]:
        return self.jobs

    def prepare(self, count: int) -> None:
        pass  # nothing to start ahead: each task gets its own process

    def close(self) -> None:
        pass

    def launch(self, tasks: Iterator[Task], stop: Stop, tick: Tick) -> Iterator[tuple[Task, list[Result]]]:
        running: list[tuple[Task, subprocess.Popen, float]] = []
        forwarded, exhausted = 0, False
        try:
            while True:
                while stop.signum is None and not exhausted and len(running) < self.jobs:
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    # its own session: a terminal's Ctrl-C reaches the sweep, which passes it on once (below)
                    proc = subprocess.Popen(
                        self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
                    )
                    proc.stdin.write(task.to_json() + "\n")
                    proc.stdin.close()  # one task: the worker ends after it
                    running.append((task, proc, time.monotonic()))
                if not running:
                    return
                if stop.count > forwarded:
                    for _, proc, _ in running:
                        proc.send_signal(stop.signum or signal.SIGTERM)
                    forwarded = stop.count
                for entry in [e for e in running if e[1].poll() is not None]:
                    task, proc, started = entry
                    running.remove(entry)
                    results = parse_results(proc.stdout.read().splitlines())
                    yield task, complete(task, results, proc.returncode, "", time.monotonic() - started)
                time.sleep(0.5)
                tick()
        finally:  # the sweep stopped reading (an error): no worker outlives it
            for _, proc, _ in running:
                proc.send_signal(signal.SIGTERM)
            for _, proc, _ in running:
                proc.wait()
