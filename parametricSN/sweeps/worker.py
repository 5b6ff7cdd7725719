"""Where a sweep's runs execute: ``python -m parametricSN.sweeps.worker [--threads N]`` is a long-lived process
that reads tasks (one JSON line each) from stdin and trains their runs one after the other, so the import cost
is paid once per worker, not once per run.

A task is ``{"runs": [{"config": {...}, "tags": {...}}, ...], "pack": bool, "log_dir": str, "timeout": s}``. For
each run the worker writes ``PSN_RESULT {"status", "run_id", "test_acc", "error", "duration"}`` on stdout as soon
as the run ends (status FINISHED, FAILED, KILLED or SKIPPED — another sweep holds the cell), then ``PSN_DONE``
when the task is done. A worker that dies (out of memory, a segfault) has reported the runs before it, so the
launcher knows which are missing. Everything a run prints (stdout and stderr, also of C code) goes to the file
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
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional, TextIO

RESULT_PREFIX, DONE_LINE = "PSN_RESULT ", "PSN_DONE"
STDERR_TAIL = 2000  # characters of a crashed worker's output kept in its error message
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
def output_to(path: Path) -> Iterator[None]:
    """File descriptors 1 and 2 (Python's and C code's output) to ``path`` within the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _loggers(
    specs: list[dict[str, Any]], timeout: float, beat: Any, resume_from: Optional[str]
) -> tuple[list[Any], list[Any]]:
    """The runs' configs and MLflow loggers (with the sweep's tags). A logger claims its cell right after it
    creates the run (:func:`parametricSN.sweeps.claims.check_claim`), keeps its heartbeat while it is open, and
    remembers its run id after the run is closed."""
    from parametricSN.config import config_from_dict
    from parametricSN.sweeps import claims
    from parametricSN.tracking import MlflowLogger
    from parametricSN.training import interrupt

    class _Logger(MlflowLogger):
        opened: Optional[str] = None
        history: list[dict[str, float]] = []

        def start_run(self, cfg):  # type: ignore[no-untyped-def]
            self.tags[claims.TAG_HEARTBEAT] = f"{time.time():.0f}"
            with claims.claim_lock(self.tracking_uri):
                self.opened = super().start_run(cfg)
                beat.add(self.opened)
                exp_id = self.client.get_run(self.opened).info.experiment_id
                try:
                    claims.check_claim(self.client, exp_id, self.tags[claims.TAG_CELL], self.opened, timeout)
                except claims.ClaimLost as exc:  # train() does not close a run whose start_run raised
                    self.set_failed(exc)
                    raise
            if resume_from:  # a new run continuing a stopped one: its params and its past epochs, as they were
                self.set_tags({claims.TAG_RESUMED: resume_from})
                self.log_params(cfg.flat())
                for row in self.history:
                    self.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
            return self.opened

        def end_run(self) -> None:
            beat.discard(self.run_id)
            super().end_run()

        def set_failed(self, error: BaseException) -> None:
            beat.discard(self.run_id)
            if isinstance(error, claims.ClaimLost) and self.run_id:
                with contextlib.suppress(Exception):
                    self.client.delete_run(self.run_id)
                self.run_id = None
                return
            with interrupt.critical():  # a second signal must not leave the run RUNNING half-closed
                super().set_failed(error)

    cfgs = [config_from_dict(spec["config"]) for spec in specs]
    return cfgs, [_Logger.from_config(cfg, tags=spec.get("tags")) for cfg, spec in zip(cfgs, specs)]


def _resume(client: Any, cfg: Any, tags: dict[str, str]) -> tuple[Optional[str], Optional[dict[str, Any]]]:
    """The checkpoint of the cell's last stopped run (see :func:`parametricSN.sweeps.claims.resume_state`) when
    this config can continue it, else ``(None, None)``."""
    from parametricSN.config import ConfigError, config_from_dict
    from parametricSN.sweeps import claims
    from parametricSN.training.resume import check_resume_config

    exp = client.get_experiment_by_name(cfg.mlflow.experiment_name)
    if exp is None:
        return None, None
    run_id, state = claims.resume_state(client, exp.experiment_id, tags[claims.TAG_CELL])
    if state is None:
        return None, None
    try:
        check_resume_config(config_from_dict(state["config"]), cfg, int(state["epoch"]))
    except ConfigError:
        return None, None
    return run_id, state


def run_runs(specs: list[dict[str, Any]], pack: bool, timeout: float, beat: Any) -> list[dict[str, Any]]:
    """Train ``specs`` (``config`` dict, ``tags``) — one run, or with ``pack`` configs differing only in their
    seed as one packed model — and return one result per run; a failure is a result, not a raise (with a pack,
    every member fails with it)."""
    from parametricSN.sweeps.claims import ClaimLost
    from parametricSN.training import train, train_pack
    from parametricSN.training.progress import with_progress

    start = time.monotonic()
    loggers: list[Any] = []
    try:
        resume_from, state = None, None
        if not pack:  # a cell whose last run was stopped continues from its checkpoint
            from parametricSN.config import config_from_dict
            from parametricSN.tracking.store import client_for

            cfg0 = config_from_dict(specs[0]["config"])
            resume_from, state = _resume(client_for(cfg0.mlflow.tracking_uri), cfg0, specs[0]["tags"])
        cfgs, loggers = _loggers(specs, timeout, beat, resume_from)
        if state is not None:
            loggers[0].history = state["history"]
        shown = with_progress(loggers)  # progress lines into the run's log file (log.txt)
        results = train_pack(cfgs, shown) if pack else [train(cfgs[0], shown[0], resume=state)]
        outs = [{"status": "FINISHED", "run_id": r.run_id, "test_acc": r.test_acc, "error": None} for r in results]
    except BaseException as exc:  # noqa: BLE001 - reported to the launcher; the runs are already marked failed
        status = (
            "SKIPPED" if isinstance(exc, ClaimLost) else "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        )
        outs = [
            {
                "status": status,
                "run_id": lg.opened if lg and status != "SKIPPED" else None,
                "test_acc": None,
                "error": f"{type(exc).__name__}: {exc}",
            }
            for lg in loggers or [None] * len(specs)
        ]
    duration = (time.monotonic() - start) / len(specs)
    return [{**o, "duration": duration} for o in outs]


def _store_log(results: list[dict[str, Any]], specs: list[dict[str, Any]], log: Path) -> None:
    """Upload the task's log file as ``log.txt`` into each of its runs, then delete it."""
    if not log.is_file():
        return
    from parametricSN.tracking.store import client_for

    text = log.read_text(errors="replace")
    for result, spec in zip(results, specs):
        if result["run_id"]:
            with contextlib.suppress(Exception):
                client_for(spec["config"]["mlflow"]["tracking_uri"]).log_text(result["run_id"], text, "log.txt")
    log.unlink()


def _stop(signum: int, frame: object) -> None:
    from parametricSN.training.interrupt import Terminated

    raise Terminated(signum)


def serve(tasks: TextIO, results: TextIO, threads: Optional[int]) -> int:
    """Train the tasks of ``tasks`` (JSON lines) until end of file or a stop signal."""
    import torch

    # what a task uses (MLflow, the training loop) is imported before the first task arrives, not during it (the
    # packages import their names lazily: name them)
    from parametricSN.sweeps.claims import Heartbeat
    from parametricSN.tracking import MlflowLogger  # noqa: F401
    from parametricSN.training import interrupt, train, train_pack  # noqa: F401

    if threads:
        torch.set_num_threads(threads)
    beat = None
    for line in iter(tasks.readline, ""):
        task = json.loads(line)
        if beat is None:
            from parametricSN.tracking.store import client_for

            beat = Heartbeat(client_for(task["runs"][0]["config"]["mlflow"]["tracking_uri"]))
        groups = [task["runs"]] if task.get("pack") else [[spec] for spec in task["runs"]]
        stopped = None
        for specs in groups:
            log = Path(task.get("log_dir") or ".") / f"{specs[0]['tags'].get('psn.attempt', 'run')}.log"
            with output_to(log):
                # a pack keeps no checkpoint: a signal stops it at once (its runs are closed KILLED)
                with contextlib.nullcontext() if task.get("pack") else interrupt.graceful_stop():
                    out = run_runs(specs, bool(task.get("pack")), float(task.get("timeout") or 180), beat)
                    stopped = stopped or interrupt.stop_requested()
            _store_log(out, specs, log)
            for result in out:
                results.write(RESULT_PREFIX + json.dumps(result) + "\n")
            results.flush()
            if stopped or any(r["status"] == "KILLED" for r in out):
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
