"""The launchers by name (:func:`register_launcher`, :func:`make_launcher`) and the built-in ones (see
:mod:`parametricSN.sweeps.launch` for the interface):

- ``local`` (:class:`LocalPool`): a pool of ``--workers`` long-lived worker processes on this machine, each training
  task after task (a crashed worker is replaced), each with ``threads`` torch intra-op threads. The workers start
  while the sweep prepares the store (:meth:`LocalPool.prepare`).
- ``ray`` (:class:`RayLauncher`): each task is a Ray task that runs one worker process on whichever node Ray picks.
  Without an address a local Ray instance is started (and stopped afterwards); ``auto`` or ``ray://host:port`` joins
  an existing cluster. Ray is imported only when this launcher runs (``pip install .[ray]``).

On a stop the local pool sends each busy worker the sweep's signal, again for every further signal; Ray cancels its
tasks.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any, Optional

from parametricSN.config import ConfigError
from parametricSN.sweeps.errors import SpecError
from parametricSN.sweeps.launch import Ended, Launcher, LaunchOptions, Stop, Tick, execute, start_worker
from parametricSN.sweeps.options import MAX_LOSSES
from parametricSN.sweeps.tasks import DONE_LINE, Result, Task, complete, ended, log_tail, parse_results

LAUNCHERS: dict[str, type[Launcher]] = {}


def launcher_names() -> list[str]:
    """The registered launchers' names, the built-ins first."""
    return list(LAUNCHERS)


def register_launcher(cls: type[Launcher]) -> type[Launcher]:
    """A class decorator: the launcher class ``cls`` (built from :class:`LaunchOptions`) becomes
    ``--launcher <cls.name>``."""
    LAUNCHERS[cls.name] = cls
    return cls


def make_launcher(name: str, options: Optional[LaunchOptions] = None) -> Launcher:
    """The launcher registered as ``name``, built from ``options``; a name nobody registered, or an option this
    launcher does not read, is a :class:`~parametricSN.sweeps.errors.SpecError` naming the launchers that do."""
    if name not in LAUNCHERS:
        raise SpecError(
            f"--launcher {name}: no such launcher; known: {', '.join(LAUNCHERS)} (a plugin file or module in "
            "general.plugins registers its own with @register_launcher)"
        )
    options = options or LaunchOptions()
    launcher = LAUNCHERS[name](options)
    extra = sorted(options.given() - {"workers"} - set(launcher.reads))
    if extra:
        flags = " and ".join("--" + k.replace("_", "-") for k in extra)
        readers = [n for n, cls in LAUNCHERS.items() if set(extra) <= cls.reads]
        where = f"--launcher {' or --launcher '.join(readers)}" if readers else "another launcher"
        raise SpecError(f"{flags} {'are' if len(extra) > 1 else 'is'} for {where}")
    return launcher


def local_threads(workers: int, threads_per_run: Optional[int] = None) -> int:
    """Intra-op threads of each local run: ``threads_per_run``, else the cores shared among the workers."""
    if threads_per_run:
        return threads_per_run
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


class _Worker:
    """A long-lived worker process of the pool and the task it holds."""

    def __init__(self, python: Optional[str], threads: Optional[int]) -> None:
        self.errors = tempfile.TemporaryFile()
        self.proc = start_worker(python, threads, self.errors)
        self.buffer = b""
        self.task: Optional[Task] = None
        self.lines: list[str] = []
        self.started = 0.0

    def send(self, task: Task) -> None:
        self.task, self.lines, self.started = task, [], time.monotonic()
        self.proc.stdin.write(task.to_json().encode() + b"\n")

    def read(self) -> bool:
        """Read what the worker wrote; False at end of file (the worker exited)."""
        data = os.read(self.proc.stdout.fileno(), 65536)
        self.buffer += data
        *complete_lines, self.buffer = self.buffer.split(b"\n")
        self.lines += [line.decode(errors="replace") for line in complete_lines]
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


@register_launcher
class LocalPool:
    """At most ``options.workers`` worker processes on this machine, each reused for task after task."""

    name = "local"
    reads = frozenset({"threads_per_run"})

    def __init__(self, options: Optional[LaunchOptions] = None, python: Optional[str] = None) -> None:
        options = options or LaunchOptions()
        self.workers, self.python = options.workers, python
        self.threads = local_threads(options.workers, options.threads_per_run)
        self.early: list[_Worker] = []

    def slots(self) -> Optional[int]:
        return self.workers

    def prepare(self, count: int) -> None:
        self.early = [_Worker(self.python, self.threads) for _ in range(min(self.workers, count))]

    def close(self) -> None:
        """Stop the started workers that hold no run (SIGTERM ends an idle worker at once) and wait for them."""
        for w in self.early:
            if w.task is None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.early:
            w.close(30.0)

    def launch(self, tasks: Iterator[Task], stop: Optional[Stop] = None, tick: Tick = lambda: None) -> Ended:
        """The pool (the workers :meth:`prepare` started first); ``tick`` about every half second."""
        stop = stop or Stop()
        pool: list[_Worker] = list(self.early)
        selector = selectors.DefaultSelector()
        for worker in pool:
            selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        sent, exhausted = 0, False
        try:
            while True:
                while (
                    stop.signum is None
                    and not exhausted
                    and sum(w.task is None for w in pool) + (self.workers - len(pool))
                ):
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    worker = next((w for w in pool if w.task is None), None)
                    if worker is None:
                        worker = _Worker(self.python, self.threads)
                        pool.append(worker)
                        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
                    worker.send(task)
                busy = [w for w in pool if w.task is not None]
                if not busy:
                    return
                if stop.count > sent:  # each signal to the sweep is passed on once to every busy worker, as it
                    for w in busy:  # came (the runs' error tags then name the user's signal, SIGINT for a Ctrl-C)
                        w.proc.send_signal(stop.signum or signal.SIGTERM)
                    sent = stop.count
                for key, _ in selector.select(0.5):
                    done = self._read(key.data, pool, selector)
                    if done is not None:
                        yield done
                tick()
        finally:
            for w in pool:
                if w.task is not None and w.proc.poll() is None:
                    w.proc.send_signal(signal.SIGTERM)
            for w in pool:
                w.close(60.0)
            selector.close()

    @staticmethod
    def _read(worker: _Worker, pool: list[_Worker], selector: Any) -> Optional[tuple[Task, list[Result]]]:
        """Read what ``worker`` wrote; its task and results once the task is done or the worker died."""
        alive = worker.read()
        task = worker.task
        if task is None or alive:
            if not alive:  # an idle worker ended (a signal): forget it
                selector.unregister(worker.proc.stdout)
                pool.remove(worker)
                worker.close(0)
            if task is None or DONE_LINE not in worker.lines:
                return None
        else:  # it died holding a task
            worker.proc.wait()
            selector.unregister(worker.proc.stdout)
            pool.remove(worker)
        results = parse_results(worker.lines)
        output = "" if alive else log_tail(task, len(results)) + worker.output()
        if not alive:
            worker.errors.close()
        worker.task = None
        return task, complete(task, results, worker.proc.returncode, output, time.monotonic() - worker.started)


def init_ray(address: Optional[str], **options: Any) -> None:
    """Start this process's Ray session: joining the cluster at ``address`` (``auto``, ``ray://host:port``), or
    without one a Ray of its own (``address="local"``, no dashboard), not a cluster that ``ray start`` left running
    on this machine (Ray's own default would join the one started last). ``options`` go to ``ray.init``."""
    import ray

    if address is None:
        ray.init(address="local", include_dashboard=False, **options)
    else:
        ray.init(address=address, **options)


def _on_node(task: Task, threads: int) -> list[Result]:
    """The Ray task: tag each run with the node it trains on, then :func:`~parametricSN.sweeps.launch.execute`."""
    import ray

    from parametricSN.tags import TAG_NODE

    node = ray.get_runtime_context().get_node_id()
    for run in task.runs:
        run.tags[TAG_NODE] = node
    return execute(task, None, threads)


def _lost(task: Task, why: str) -> bool:
    """Close the runs of ``task`` that its lost node left RUNNING (FAILED, tagged lost) and say so on stderr; False
    when the store cannot be reached (the task then ends FAILED and the next sweep continues it)."""
    import sys

    from parametricSN.sweeps import claims
    from parametricSN.tracking.store import client_for

    mlflow = task.runs[0].config["mlflow"]
    try:
        client = client_for(mlflow["tracking_uri"])
        exp = client.get_experiment_by_name(mlflow["experiment_name"])
        reason = f"lost: its Ray node died ({why}); the sweep runs its cell again from its last checkpoint"
        closed = claims.close_lost(client, exp.experiment_id, [r.attempt for r in task.runs], reason) if exp else 0
    except Exception:  # noqa: BLE001 - reported by the FAILED result instead
        return False
    names = ", ".join(r.name or r.config["mlflow"].get("run_name") or r.attempt for r in task.runs)
    print(f"psn: {names}: its Ray node was lost; {closed} run(s) closed, continuing elsewhere", file=sys.stderr)
    return True


@register_launcher
class RayLauncher:
    """One Ray task per task, each reserving ``cpus_per_run`` CPUs (its torch threads) and ``gpus_per_run`` GPUs per
    run it holds (``--gpus-per-run 0.25``: four 100-sample runs share a GPU); as many in flight as the cluster's CPUs
    hold. Uses the caller's Ray session if one is open."""

    name = "ray"
    reads = frozenset({"address", "cpus_per_run", "gpus_per_run"})

    def __init__(self, options: Optional[LaunchOptions] = None) -> None:
        options = options or LaunchOptions()
        self.address, self.cpus, self.gpus = options.address, options.cpus_per_run, options.gpus_per_run

    def slots(self) -> Optional[int]:
        return None  # the cluster decides

    def prepare(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass

    def launch(self, tasks: Iterator[Task], stop: Optional[Stop] = None, tick: Tick = lambda: None) -> Ended:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--launcher ray: Ray is not installed; pip install 'parametricSN[ray]' (or use --launcher local)"
            ) from None
        stop = stop or Stop()
        own_session = not ray.is_initialized()
        if own_session:
            quiet = {"log_to_driver": False, "logging_level": logging.WARNING}  # stderr: psn's lines only
            init_ray(self.address, **quiet)
        try:
            remote = ray.remote(max_retries=0)(_on_node)
            limit = max(1, int(ray.cluster_resources().get("CPU", 1) // max(self.cpus, 1e-3)))
            pending: dict[Any, Task] = {}
            losses: dict[tuple[int, ...], int] = {}  # a task's cells -> how often it was lost with its node
            cancelled, exhausted = False, False

            def submit(task: Task) -> None:
                n, threads = len(task.runs), max(1, int(self.cpus))
                ref = remote.options(num_cpus=self.cpus * n, num_gpus=self.gpus * n).remote(task, threads)
                pending[ref] = task

            while True:
                while stop.signum is None and not exhausted and len(pending) < limit:
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    submit(task)
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
                        results = ended(task, "KILLED", "KeyboardInterrupt: the sweep was stopped (Ray task cancelled)")
                    except ray.exceptions.RayTaskError as exc:  # execute itself raised: a bug, not a lost node
                        results = ended(task, "FAILED", f"ray task failed: {' '.join(str(exc).split())[:500]}")
                    except ray.exceptions.RayError as exc:  # its worker or node died (lost, preempted)
                        why, key = " ".join(str(exc).split())[:300], tuple(task.cells)
                        losses[key] = losses.get(key, 0) + 1
                        if stop.signum is None and losses[key] <= MAX_LOSSES and _lost(task, why):
                            submit(task.renewed())  # its runs continue on another node from their newest checkpoints
                            continue
                        results = ended(task, "FAILED", f"ray task lost: {why}")
                    yield task, results
                tick()
        finally:
            if own_session:
                ray.shutdown()
