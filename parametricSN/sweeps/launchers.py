"""Launchers: take tasks (see :mod:`parametricSN.sweeps.worker`) from an iterator as they can start them and
yield ``(task, results)`` as each task ends, in completion order.

- ``local``: a pool of ``workers`` long-lived worker processes on this machine, each training task after task
  (a crashed worker is replaced). Each gets ``threads`` torch intra-op threads.
- ``ray``: each task is a Ray task that runs one worker process on whichever node Ray picks. Without an address
  a local Ray instance is started (and stopped afterwards); ``auto`` or ``ray://host:port`` joins an existing
  cluster. Ray is imported only here, only when this launcher is used (``pip install .[ray]``).

Both watch a :class:`Stop`: once a signal has set it they start nothing new and stop the tasks in progress (the
local pool sends each busy worker SIGTERM, again for every further signal; Ray cancels its tasks), then yield
those tasks' results (KILLED) and return.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

from parametricSN.config import ConfigError
from parametricSN.sweeps.worker import DONE_LINE, RESULT_PREFIX, STDERR_TAIL

Task = dict[str, Any]
Results = list[dict[str, Any]]


@dataclass
class Stop:
    """Set by the sweep's signal handlers: the first signal number and how many signals arrived."""

    signum: Optional[int] = None
    count: int = 0


def local_threads(workers: int, threads_per_run: Optional[int] = None) -> int:
    """Intra-op threads of each local run: ``threads_per_run``, else the cores shared among the workers."""
    if threads_per_run:
        return threads_per_run
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def _start(python: Optional[str], threads: Optional[int], errors: Any) -> subprocess.Popen:
    """A worker process in its own session (a terminal's Ctrl-C reaches the sweep, which stops it once)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    command = [python or sys.executable, "-m", "parametricSN.sweeps.worker"]
    command += ["--threads", str(threads)] if threads else []
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        env=env,
        bufsize=0,
        start_new_session=True,
    )


def _parse(lines: list[str]) -> Results:
    return [json.loads(line[len(RESULT_PREFIX) :]) for line in lines if line.startswith(RESULT_PREFIX)]


def _complete(task: Task, results: Results, code: Optional[int], output: str, elapsed: float) -> Results:
    """``results`` with a FAILED result for each run the worker did not report (it died); ``run_id`` None (the
    runner finds and closes such a run by its ``psn.attempt`` tag)."""
    if len(results) >= len(task["runs"]):
        return results
    tail = " ".join(output[-STDERR_TAIL:].split()) or "no output"
    error = f"worker process exited with status {code}: {tail}"
    elapsed -= sum(r["duration"] for r in results)
    return results + [
        {"status": "FAILED", "run_id": None, "test_acc": None, "error": error, "duration": elapsed}
        for _ in task["runs"][len(results) :]
    ]


def _log_tail(task: Task, run: int) -> str:
    """The end of a run's log file (what a crashed worker printed last)."""
    if run >= len(task["runs"]):
        return ""
    attempt = task["runs"][run].get("tags", {}).get("psn.attempt", "run")
    path = os.path.join(task.get("log_dir") or ".", f"{attempt}.log")
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - STDERR_TAIL))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def execute(task: Task, python: Optional[str] = None, threads: Optional[int] = None) -> Results:
    """Run ``task`` in a new worker process (a Ray task, tests); one result per run, in order. Interrupted
    (Ray cancels the task), it stops the worker with SIGTERM and waits for its runs to close."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as errors:
        proc = _start(python, threads, errors)
        try:
            out, _ = proc.communicate(json.dumps(task).encode() + b"\n")
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate()
        errors.seek(0)
        output = errors.read().decode(errors="replace")
    results = _parse(out.decode(errors="replace").splitlines())
    return _complete(task, results, proc.returncode, _log_tail(task, len(results)) + output, time.monotonic() - start)


class _Worker:
    def __init__(self, python: Optional[str], threads: Optional[int]) -> None:
        self.errors = tempfile.TemporaryFile()
        self.proc = _start(python, threads, self.errors)
        self.buffer = b""
        self.task: Optional[Task] = None
        self.lines: list[str] = []
        self.started = 0.0

    def send(self, task: Task) -> None:
        self.task, self.lines, self.started = task, [], time.monotonic()
        self.proc.stdin.write(json.dumps(task).encode() + b"\n")

    def read(self) -> bool:
        """Read what the worker wrote; False at end of file (the worker exited)."""
        data = os.read(self.proc.stdout.fileno(), 65536)
        self.buffer += data
        *complete, self.buffer = self.buffer.split(b"\n")
        self.lines += [line.decode(errors="replace") for line in complete]
        return bool(data)

    def output(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")

    def close(self, wait: float) -> None:
        """Close its input (it exits when idle), wait up to ``wait`` s, then kill it."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.errors.close()


def prestart(count: int, threads: Optional[int], python: Optional[str] = None) -> list[_Worker]:
    """``count`` worker processes started now, to import while the sweep prepares the store (give them to
    :func:`launch_local`, or :func:`close` them)."""
    return [_Worker(python, threads) for _ in range(count)]


def close(workers: list[_Worker]) -> None:
    """Stop workers that hold no run (SIGTERM ends an idle worker at once) and wait for them."""
    for w in workers:
        if w.task is None and w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        w.close(30.0)


def launch_local(
    tasks: Iterator[Task],
    workers: int = 1,
    threads: Optional[int] = None,
    stop: Optional[Stop] = None,
    tick: Callable[[], None] = lambda: None,
    python: Optional[str] = None,
    started: Optional[list[_Worker]] = None,
) -> Iterator[tuple[Task, Results]]:
    """At most ``workers`` worker processes (``started`` ones first), each reused for task after task; ``tick``
    is called about every half second (progress lines)."""
    stop = stop or Stop()
    pool: list[_Worker] = list(started or [])
    selector = selectors.DefaultSelector()
    for worker in pool:
        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
    sent, exhausted = 0, False
    try:
        while True:
            while (
                stop.signum is None and not exhausted and sum(w.task is None for w in pool) + (workers - len(pool)) > 0
            ):
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                worker = next((w for w in pool if w.task is None), None)
                if worker is None:
                    worker = _Worker(python, threads)
                    pool.append(worker)
                    selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
                worker.send(task)
            busy = [w for w in pool if w.task is not None]
            if not busy:
                return
            if stop.count > sent:  # each signal to the sweep is passed on once to every busy worker, as it came
                for w in busy:  # (the runs' error tags then name the user's signal, SIGINT for a Ctrl-C)
                    w.proc.send_signal(stop.signum or signal.SIGTERM)
                sent = stop.count
            for key, _ in selector.select(0.5):
                worker: _Worker = key.data
                alive = worker.read()
                if worker.task is not None and (DONE_LINE in worker.lines or not alive):
                    task = worker.task
                    if not alive:
                        worker.proc.wait()
                        selector.unregister(worker.proc.stdout)
                        pool.remove(worker)
                        output = _log_tail(task, len(_parse(worker.lines))) + worker.output()
                        worker.errors.close()
                    results = _parse(worker.lines)
                    worker.task = None
                    yield (
                        task,
                        _complete(
                            task,
                            results,
                            worker.proc.returncode,
                            output if not alive else "",
                            time.monotonic() - worker.started,
                        ),
                    )
                elif not alive:  # an idle worker ended (a signal): forget it
                    selector.unregister(worker.proc.stdout)
                    pool.remove(worker)
                    worker.close(0)
            tick()
    finally:
        for w in pool:
            if w.task is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in pool:
            w.close(60.0)
        selector.close()


def _ended(task: Task, status: str, error: str) -> Results:
    return [{"status": status, "run_id": None, "test_acc": None, "error": error, "duration": 0.0} for _ in task["runs"]]


def launch_ray(
    tasks: Iterator[Task],
    address: Optional[str] = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    stop: Optional[Stop] = None,
    tick: Callable[[], None] = lambda: None,
) -> Iterator[tuple[Task, Results]]:
    """One Ray task per task, each reserving ``cpus_per_run`` CPUs (its torch threads) and ``gpus_per_run`` GPUs
    per run it holds (``--gpus-per-run 0.25``: four 100-sample runs share a GPU); as many in flight as the
    cluster's CPUs hold. Uses the caller's Ray session if one is open."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--launcher ray: Ray is not installed; pip install 'parametricSN[ray]' (or use --launcher local)"
        ) from None
    stop = stop or Stop()
    own_session = not ray.is_initialized()
    if own_session:
        ray.init(address=address, include_dashboard=False, log_to_driver=False) if address is None else ray.init(
            address=address, log_to_driver=False
        )
    try:
        remote = ray.remote(max_retries=0)(execute)
        limit = max(1, int(ray.cluster_resources().get("CPU", 1) // max(cpus_per_run, 1e-3)))
        pending: dict[Any, Task] = {}
        cancelled, exhausted = False, False
        while True:
            while stop.signum is None and not exhausted and len(pending) < limit:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                n = len(task["runs"])
                threads = max(1, int(cpus_per_run))
                ref = remote.options(num_cpus=cpus_per_run * n, num_gpus=gpus_per_run * n).remote(task, None, threads)
                pending[ref] = task
            if not pending:
                return
            if stop.signum is not None and not cancelled:
                for ref in pending:
                    ray.cancel(ref)
                cancelled = True
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    results = ray.get(ref)
                except ray.exceptions.TaskCancelledError:
                    results = _ended(task, "KILLED", "KeyboardInterrupt: the sweep was stopped (Ray task cancelled)")
                except ray.exceptions.RayError as exc:  # the Ray worker itself died: its runs are failed
                    results = _ended(task, "FAILED", f"ray task failed: {' '.join(str(exc).split())[:500]}")
                yield task, results
            tick()
    finally:
        if own_session:
            ray.shutdown()
