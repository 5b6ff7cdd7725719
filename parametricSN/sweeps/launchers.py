"""Launchers: run a list of tasks (see :mod:`parametricSN.sweeps.worker`) and yield ``(task, results)`` as each
task ends, in completion order.

- ``local``: ``workers`` tasks at a time on this machine, each in its own worker process.
- ``ray``: each task is a Ray task that starts the same worker process on whichever node Ray picks. Without an
  address a local Ray instance is started (and stopped afterwards); ``auto`` or ``ray://host:port`` joins an
  existing cluster. Ray is imported only here, only when this launcher is used (``pip install .[ray]``).
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Iterator, Optional

from parametricSN.config import ConfigError
from parametricSN.sweeps.worker import execute

Task = dict[str, Any]
Results = list[dict[str, Any]]


def launch_local(tasks: list[Task], workers: int = 1) -> Iterator[tuple[Task, Results]]:
    """At most ``workers`` worker processes at once (threads only wait on them)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending = {pool.submit(execute, task): task for task in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()


def _failed(task: Task, error: str) -> Results:
    return [{"status": "FAILED", "run_id": None, "test_acc": None, "error": error, "duration": 0.0}
            for _ in task["runs"]]


def launch_ray(tasks: list[Task], address: Optional[str] = None, cpus_per_run: float = 1.0,
               gpus_per_run: float = 0.0) -> Iterator[tuple[Task, Results]]:
    """One Ray task per task, each reserving ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs per run it holds
    (``--gpus-per-run 0.25``: four 100-sample runs share a GPU). Uses the caller's Ray session if one is open."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--launcher ray: Ray is not installed; pip install 'parametricSN[ray]' "
                          "(or use --launcher local)") from None
    own_session = not ray.is_initialized()
    if own_session:
        ray.init(address=address, include_dashboard=False, log_to_driver=False) if address is None \
            else ray.init(address=address, log_to_driver=False)
    try:
        remote = ray.remote(max_retries=0)(execute)
        pending = {}
        for task in tasks:
            n = len(task["runs"])
            ref = remote.options(num_cpus=cpus_per_run * n, num_gpus=gpus_per_run * n).remote(task)
            pending[ref] = task
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    results = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the Ray worker itself died: its runs are failed
                    results = _failed(task, f"ray task failed: {' '.join(str(exc).split())[:500]}")
                yield task, results
    finally:
        if own_session:
            ray.shutdown()
