"""Where a sweep's runs execute: ``python -m parametricSN.sweeps.worker`` reads a task (JSON on stdin) and trains
its runs one after the other in this process; :func:`execute` starts that process and collects the results.

A task is ``{"runs": [{"config": {...}, "tags": {...}}, ...]}``. For each run the worker prints one line
``PSN_RESULT {"status": ..., "run_id": ..., "test_acc": ..., "error": ...}`` as soon as the run ends, so a worker
that dies (out of memory, a segfault) still reports the runs before it and the launcher knows which are missing.
Every launcher (local pool, Ray) runs a task as its own process, so a crash takes down no other run.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any, Optional

RESULT_PREFIX = "PSN_RESULT "
STDERR_TAIL = 2000  # characters of a crashed worker's stderr kept in its error message


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")  # the run is closed as KILLED, not left RUNNING


def _loggers(specs: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """The runs' configs and MLflow loggers (with the sweep's tags) that remember the run they opened, so a
    failed run's id is still known after ``set_failed`` has closed it."""
    from parametricSN.config import config_from_dict
    from parametricSN.tracking import MlflowLogger

    class _Logger(MlflowLogger):
        opened: Optional[str] = None

        def start_run(self, cfg):  # type: ignore[no-untyped-def]
            self.opened = super().start_run(cfg)
            return self.opened

    cfgs = [config_from_dict(spec["config"]) for spec in specs]
    return cfgs, [_Logger.from_config(cfg, tags=spec.get("tags")) for cfg, spec in zip(cfgs, specs)]


def run_runs(specs: list[dict[str, Any]], pack: bool = False) -> list[dict[str, Any]]:
    """Train ``specs`` (``config`` dict, ``tags``) — one run, or with ``pack`` configs differing only in their
    seed as one packed model — and return one result per run; a failure is a result, not a raise (with a pack,
    every member fails with it)."""
    from parametricSN.training import train, train_pack

    start = time.monotonic()
    loggers: list[Any] = []
    try:
        cfgs, loggers = _loggers(specs)
        results = train_pack(cfgs, loggers) if pack else [train(cfgs[0], loggers[0])]
        outs = [{"status": "FINISHED", "run_id": r.run_id, "test_acc": r.test_acc, "error": None} for r in results]
    except BaseException as exc:  # noqa: BLE001 - reported to the launcher; the runs are already marked failed
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        outs = [{"status": status, "run_id": lg.opened if lg else None, "test_acc": None,
                 "error": f"{type(exc).__name__}: {exc}"} for lg in loggers or [None] * len(specs)]
    duration = (time.monotonic() - start) / len(specs)
    return [{**o, "duration": duration} for o in outs]


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    task = json.load(sys.stdin)
    # one pack, or the runs one after the other (each reported as soon as it ends)
    groups = [task["runs"]] if task.get("pack") else [[spec] for spec in task["runs"]]
    ok = True
    for specs in groups:
        results = run_runs(specs, pack=bool(task.get("pack")))
        for result in results:
            print(RESULT_PREFIX + json.dumps(result), flush=True)
        ok = ok and all(r["status"] == "FINISHED" for r in results)
        if any(r["status"] == "KILLED" for r in results):
            return 130
    return 0 if ok else 1


def execute(task: dict[str, Any], python: Optional[str] = None) -> list[dict[str, Any]]:
    """Run ``task`` in a new ``python -m parametricSN.sweeps.worker`` process; one result per run, in order.
    Runs the process did not report (it died) come back ``FAILED`` with its exit status and stderr tail and
    ``run_id`` None (the launcher finds and closes their MLflow runs by their ``psn.attempt`` tag)."""
    start = time.monotonic()
    proc = subprocess.run([python or sys.executable, "-m", "parametricSN.sweeps.worker"], input=json.dumps(task),
                          capture_output=True, text=True)
    results = [json.loads(line[len(RESULT_PREFIX):]) for line in proc.stdout.splitlines()
               if line.startswith(RESULT_PREFIX)]
    if len(results) < len(task["runs"]):
        tail = " ".join(proc.stderr[-STDERR_TAIL:].split()) or "no output"
        error = f"worker process exited with status {proc.returncode}: {tail}"
        elapsed = time.monotonic() - start - sum(r["duration"] for r in results)
        results += [{"status": "FAILED", "run_id": None, "test_acc": None, "error": error, "duration": elapsed}
                    for _ in task["runs"][len(results):]]
    return results


if __name__ == "__main__":
    sys.exit(main())
