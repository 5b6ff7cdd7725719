"""Where a sweep's runs execute: ``python -m parametricSN.sweeps.worker [--threads N]`` is a long-lived process
that reads tasks (one JSON line each) from stdin and trains their runs one after the other, so the import cost
is paid once per worker, not once per run.

A task (:class:`~parametricSN.sweeps.tasks.Task`) is one JSON line; its runs are trained by
:func:`parametricSN.sweeps.cell.run_cell`, the executor tune trials use too. For each run the worker writes
``PSN_RESULT {...}`` (a :class:`~parametricSN.sweeps.tasks.Result`) on stdout as soon as the run ends (status
FINISHED, FAILED, KILLED or SKIPPED — another sweep holds the cell), then ``PSN_DONE`` when the task is done. A
worker that dies (out of memory, a segfault) has reported the runs before it, so the launcher knows which are
missing. Everything a run prints (stdout and stderr, also of C code) goes to the file
``<log_dir>/<psn.attempt>.log``, stored in the run as the artifact ``log.txt`` when it ends, however it ends.

Signals: SIGINT / SIGTERM during a run finish its epoch, store a checkpoint (when the run keeps them), close it
KILLED and end the worker (:mod:`parametricSN.training.interrupt`); a second signal stops at once. A worker
whose parent (the sweep) is gone stops the same way, as for one SIGTERM: Linux signals the parent's death
(``PR_SET_PDEATHSIG``) with :data:`PARENT_DIED`, and where that is not available a thread checking
``os.getppid()`` every second does. A death is one event however many signals announce it: the kernel sends the
signal again each time a thread the worker was re-parented to exits (a SIGKILLed sweep with several threads), and
these must not count as the impatient second signal that stops a run at once, without its checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional, TextIO

from parametricSN.sweeps.tasks import DONE_LINE, Result, RunSpec, Task
from parametricSN.tags import TAG_CELL

PR_SET_PDEATHSIG = 1
PARENT_DIED = signal.SIGUSR2  # the parent-death signal: its own, so that it is never taken for a user's second one


def _parent_died(signum: int, frame: Any) -> None:
    """The sweep is gone: stop as for one SIGTERM (finish the epoch, checkpoint, close the run KILLED), unless a
    stop is already under way; every later announcement of the same death is ignored."""
    from parametricSN.training.interrupt import stop_requested

    signal.signal(PARENT_DIED, signal.SIG_IGN)
    handler = signal.getsignal(signal.SIGTERM)
    if stop_requested() is None and callable(handler):
        handler(signal.SIGTERM, frame)


def watch_parent() -> None:
    """:data:`PARENT_DIED` to this process when its parent dies (prctl on Linux; a polling thread elsewhere)."""
    signal.signal(PARENT_DIED, _parent_died)
    parent, notified = os.getppid(), False
    if sys.platform.startswith("linux"):
        try:
            notified = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(PARENT_DIED), 0, 0, 0) == 0
        except (OSError, AttributeError):
            pass

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), PARENT_DIED)

    if not notified:
        threading.Thread(target=poll, name="psn-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # pragma: no cover - the parent died before prctl took effect
        os.kill(os.getpid(), PARENT_DIED)


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[tuple[int, int]]:
    """File descriptors 1 and 2 (Python's and C code's output) to ``path`` within the block, which gets copies of
    the descriptors they had (to keep writing where they went)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield saved
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _store_log(results: list[Result], runs: list[RunSpec], log: Path) -> None:
    """Upload the task's log file as ``log.txt`` into each of its runs, then delete it."""
    if not log.is_file():
        return
    from parametricSN.tracking.store import client_for

    text = log.read_text(errors="replace")
    for result, run in zip(results, runs):
        if result.run_id:
            with contextlib.suppress(Exception):
                client_for(run.config["mlflow"]["tracking_uri"]).log_text(result.run_id, text, "log.txt")
    log.unlink()


def _stop(signum: int, frame: object) -> None:
    from parametricSN.training.interrupt import Terminated

    raise Terminated(signum)


def serve(tasks: TextIO, results: TextIO, threads: Optional[int]) -> int:
    """Train the tasks of ``tasks`` (JSON lines) until end of file or a stop signal."""
    import torch

    # what a task uses (MLflow, the training loop) is imported before the first task arrives, not during it
    from parametricSN.sweeps.cell import Claim, run_cell
    from parametricSN.sweeps.claims import Heartbeat
    from parametricSN.training import interrupt

    if threads:
        torch.set_num_threads(threads)
    beat = None
    for line in iter(tasks.readline, ""):
        task = Task.from_json(line)
        if beat is None:
            from parametricSN.tracking.store import client_for

            beat = Heartbeat(client_for(task.runs[0].config["mlflow"]["tracking_uri"]))
        claim = Claim(beat, task.timeout)
        stopped = None
        for group in [task.runs] if task.pack else [[run] for run in task.runs]:
            log = Path(task.log_dir or ".") / f"{group[0].attempt}.log"
            with output_to(log):
                # a pack keeps no checkpoint: a signal stops it at once (its runs are closed KILLED); a cell whose last
                # run was stopped continues from its checkpoint
                with contextlib.nullcontext() if task.pack else interrupt.graceful_stop():
                    resume = None if task.pack else {TAG_CELL: group[0].tags[TAG_CELL]}
                    out = run_cell(group, pack=task.pack, claim=claim, resume=resume)
                    stopped = stopped or interrupt.stop_requested()
            _store_log(out, group, log)
            for result in out:
                results.write(result.line() + "\n")
            results.flush()
            if stopped or any(r.status == "KILLED" for r in out):
                return 128 + int(stopped or signal.SIGTERM)
        results.write(DONE_LINE + "\n")
        results.flush()
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parametricSN.sweeps.worker")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads per run")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)  # between runs: end at once (nothing to save)
    signal.signal(signal.SIGINT, _stop)
    watch_parent()
    results = os.fdopen(os.dup(1), "w")  # the result channel; fd 1 itself goes to stderr between runs
    os.dup2(2, 1)
    try:
        return serve(sys.stdin, results, args.threads)
    except KeyboardInterrupt as exc:
        return 128 + int(getattr(exc, "signum", signal.SIGINT))


if __name__ == "__main__":
    from parametricSN.allocator import fast_exit, retain_freed_memory

    retain_freed_memory()  # a process of psn's own (see parametricSN.allocator)
    sys.exit(fast_exit(main()))
