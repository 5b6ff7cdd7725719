"""A launcher of your own, in one file: ``launch_fresh``, one fresh worker process per task.

A launcher is where a sweep's runs execute. ``psn sweep`` has two (``--launcher local``: a pool of long-lived
worker processes on this machine; ``--launcher ray``: Ray tasks on a cluster). Both are generators with one
contract, which this file implements:

- they take an iterator of *tasks* and pull the next one only when they can start it (the sweep decides what
  runs next at that moment, so a cell finished meanwhile by another sweep is not started twice). A task is a
  dict, ``{"runs": [{"config": {...}, "tags": {...}}, ...], "pack": bool, "log_dir": str, "timeout": s}``: one
  run, or the seeds of one pack;
- they execute a task by handing it, as one JSON line, to ``python -m parametricSN.sweeps.worker``, which trains
  its runs (opening, checkpointing, logging and closing each MLflow run) and writes ``PSN_RESULT {...}`` per run;
- they yield ``(task, results)`` as each task ends, one result dict per run (``status``, ``run_id``,
  ``test_acc``, ``error``, ``duration``): a run the worker did not report (it died) is FAILED;
- they watch a :class:`~parametricSN.sweeps.launchers.Stop`: once a signal to the sweep has set it they start
  nothing new and pass each further signal on to the running workers (which finish their epoch, store a
  checkpoint and close their runs KILLED), and call ``tick()`` about every half second (the sweep's progress
  lines).

``launch_fresh`` starts a new process for every task, ``jobs`` at a time: slower than the local pool (each
process pays the imports) but the shape of a batch-scheduler adapter. To submit to SLURM, say, put
``["srun", "--ntasks=1", sys.executable, ...]`` in ``worker_command``.

    python docs/examples/my_launcher.py experiments/cifar10-linear.yaml --seeds 2

runs a spec through it. The sweep chooses its launcher by the name ``--launcher`` gives, so :func:`sweep_with`
hands ``launch_fresh`` to the sweep in place of the local pool.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional
from unittest import mock

from parametricSN.sweeps import launchers
from parametricSN.sweeps.worker import RESULT_PREFIX

Task = dict[str, Any]
Results = list[dict[str, Any]]


def worker_command(threads: Optional[int]) -> list[str]:
    """The command that runs one task: a sweep worker of this Python (replace it to submit to a scheduler)."""
    return [sys.executable, "-m", "parametricSN.sweeps.worker"] + (["--threads", str(threads)] if threads else [])


def results_of(task: Task, output: str, code: int, elapsed: float) -> Results:
    """One result per run of ``task``: those the worker reported, then a FAILED one for each it did not."""
    results = [json.loads(line[len(RESULT_PREFIX) :]) for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    missing = {"status": "FAILED", "run_id": None, "test_acc": None, "duration": elapsed}
    missing["error"] = f"worker process exited with status {code} before reporting the run"
    return results + [dict(missing) for _ in task["runs"][len(results) :]]


def launch_fresh(
    tasks: Iterator[Task],
    jobs: int = 1,
    threads: Optional[int] = None,
    stop: Optional[launchers.Stop] = None,
    tick: Callable[[], None] = lambda: None,
) -> Iterator[tuple[Task, Results]]:
    """Run each task in a new worker process, at most ``jobs`` at a time; yield ``(task, results)`` as each ends."""
    stop = stop or launchers.Stop()
    running: list[tuple[Task, subprocess.Popen, float]] = []
    forwarded, exhausted = 0, False
    try:
        while True:
            while stop.signum is None and not exhausted and len(running) < jobs:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                # its own session: a terminal's Ctrl-C reaches the sweep, which passes it on once (below)
                proc = subprocess.Popen(
                    worker_command(threads),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
                proc.stdin.write(json.dumps(task) + "\n")
                proc.stdin.close()  # one task: the worker ends after it
                running.append((task, proc, time.monotonic()))
            if not running:
                return
            if stop.count > forwarded:
                for _, proc, _ in running:
                    proc.send_signal(signal.SIGTERM)
                forwarded = stop.count
            for entry in [e for e in running if e[1].poll() is not None]:
                task, proc, started = entry
                running.remove(entry)
                yield task, results_of(task, proc.stdout.read(), proc.returncode, time.monotonic() - started)
            time.sleep(0.5)
            tick()
    finally:  # the sweep stopped reading (an error): no worker outlives it
        for _, proc, _ in running:
            proc.send_signal(signal.SIGTERM)
        for _, proc, _ in running:
            proc.wait()


def sweep_with(spec_path: str, jobs: int = 1, seeds: Optional[int] = None, overrides: tuple[str, ...] = ()) -> int:
    """``psn sweep SPEC [--seeds K] [key=value ...]`` with ``launch_fresh`` in place of the local pool; returns the
    sweep's exit status. Everything else is the sweep's own: skipping finished cells, tags, progress, summary."""
    from parametricSN.sweeps import load_spec
    from parametricSN.sweeps.runner import run_sweep

    spec = load_spec(spec_path)
    cells = spec.cells(list(overrides))
    if seeds is not None:
        kept = list(dict.fromkeys(c.config.general.seed for c in cells))[:seeds]
        cells = [c for c in cells if c.config.general.seed in kept]

    def launcher(tasks, workers, threads, stop, tick, started=()):  # the local pool's signature
        return launch_fresh(tasks, jobs=workers, threads=threads, stop=stop, tick=tick)

    # the sweep starts its local pool's workers early; this launcher starts its own
    with (
        mock.patch.object(launchers, "launch_local", launcher),
        mock.patch.object(launchers, "prestart", lambda *a: []),
    ):
        return run_sweep(spec, cells, launcher="local", workers=jobs)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="psn sweep with one fresh worker process per run")
    parser.add_argument("spec")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--jobs", type=int, default=1, help="processes at a time")
    parser.add_argument("--seeds", type=int, default=None, help="only the first K seeds")
    args = parser.parse_args()
    sys.exit(sweep_with(args.spec, args.jobs, args.seeds, tuple(args.overrides)))
