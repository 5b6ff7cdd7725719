"""Real ``psn sweep`` processes left to a scheduler: SIGTERM / SIGINT stop every worker (runs KILLED, one line,
128 + N); a SIGKILLed sweep leaves no worker, and the next sweep closes the run its SIGKILLed worker left RUNNING
and continues both cells from their checkpoints; two identical sweeps started together train each cell once.
Heartbeats every second here (``PSN_HEARTBEAT_SECONDS``), so that a dead run is recognised within seconds."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parametricSN.tracking.store import client_for
from tests.sweeps.test_run import tiny_base
from tests.warm import PYTHON, processes_in

pytestmark = pytest.mark.process  # every test here starts real processes

SPEC = """
name: procs
base: {base}
overrides: [train.epochs={epochs}, train.checkpoint_every={every}, train.test_every=1000]
grid:
  general.seed: {seeds}
"""


def start(folder: Path, uri: str, *args: str, python: str = PYTHON) -> subprocess.Popen:
    """A ``psn sweep``, warm-started unless ``python`` is ``sys.executable`` (tests/warm.py): the test that kills
    the sweep with SIGKILL needs its workers to be its own children, which notice its death by themselves."""
    env = {**os.environ, "PSN_HEARTBEAT_SECONDS": "1"}
    out, err = open(folder / f"out-{time.monotonic_ns()}", "w+"), open(folder / f"err-{time.monotonic_ns()}", "w+")
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "parametricSN",
            "sweep",
            str(folder / "spec.yaml"),
            "--tracking-uri",
            uri,
            "--heartbeat-timeout",
            "4",
            *args,
        ],
        stdout=out,
        stderr=err,
        env=env,
        cwd=folder,
    )
    proc.files = out, err
    return proc


def output(proc: subprocess.Popen) -> tuple[str, str]:
    for f in proc.files:
        f.seek(0)
    return proc.files[0].read(), proc.files[1].read()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def sweep_process(proc: subprocess.Popen, folder: Path) -> int:
    """The pid of the sweep itself: ``proc`` when cold; when warm, the template's child that ``proc`` (the client)
    stands for, found as the process in ``folder`` that the worker clients are children of."""
    if proc.args[0] == sys.executable:
        return proc.pid
    inside = processes_in(folder)
    parents = {ppid for ppid in inside.values() if ppid in inside and ppid != proc.pid}
    assert len(parents) == 1, inside
    return parents.pop()


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - the store may not exist yet
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s")


def runs(uri: str, **kwargs):
    # under the store's creation lock: a bare MlflowClient polling a store that the sweep is creating would migrate
    # it at the same time ("table ... already exists" in the sweep)
    client = client_for(uri)
    exp = client.get_experiment_by_name("procs")
    return client, (client.search_runs([exp.experiment_id], **kwargs) if exp else [])


def setup(tmp_path, fmnist_root, epochs: int, every: int, seeds: str) -> str:
    (tmp_path / "spec.yaml").write_text(
        SPEC.format(base=tiny_base(tmp_path, fmnist_root), epochs=epochs, every=every, seeds=seeds)
    )
    return f"sqlite:///{tmp_path}/store/mlflow.db"


def epochs_logged(client, run_id: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, "train_loss"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker_and_closes_their_runs_killed(tmp_path, fmnist_root, signum):
    uri = setup(tmp_path, fmnist_root, epochs=100000, every=0, seeds="[1, 2, 3]")
    sweep = start(tmp_path, uri, "--workers", "2")
    wait_for(
        lambda: (
            len([r for r in runs(uri)[1] if r.info.status == "RUNNING" and epochs_logged(runs(uri)[0], r.info.run_id)])
            == 2
        )
    )
    workers = children(sweep_process(sweep, tmp_path))  # warm: the workers' clients, each ends with its worker
    assert len(workers) == 2
    sweep.send_signal(signum)
    assert sweep.wait(120) == 128 + signum
    wait_for(lambda: not any(running(w) for w in workers), 30)
    client, started = runs(uri)
    assert sorted(r.info.status for r in started) == ["KILLED", "KILLED"]  # the third cell never started
    for r in started:  # each finished its epoch and stored a checkpoint to continue from
        assert [f.path for f in client.list_artifacts(r.info.run_id, "checkpoints")]
        assert "log.txt" in [f.path for f in client.list_artifacts(r.info.run_id)]
        assert f"by signal {signal.Signals(signum).name} after epoch" in r.data.tags["error"]  # the user's signal
    out, err = output(sweep)
    assert len(err.splitlines()) == 1, err
    assert f"stopped by {signal.Signals(signum).name}: 0 run(s) finished, 2 stopped" in err
    assert "continue with: psn sweep" in err and "--workers 2" in err


def test_sigkill_leaves_no_worker_and_the_next_sweep_continues_from_checkpoints(tmp_path, fmnist_root):
    epochs = 60  # a few seconds after the first checkpoint (epoch 2) to find the workers and kill them in
    uri = setup(tmp_path, fmnist_root, epochs=epochs, every=2, seeds="[1, 2]")
    sweep = start(tmp_path, uri, "--workers", "2", python=sys.executable)

    def checkpointed():
        client, rs = runs(uri)
        return len(rs) == 2 and all(client.list_artifacts(r.info.run_id, "checkpoints") for r in rs) and rs

    first = wait_for(checkpointed)
    workers = children(sweep.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)  # a lost worker: its run stays RUNNING, its heartbeat stops
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    wait_for(lambda: not any(running(w) for w in workers), 30)  # the other worker noticed its parent is gone
    client, rs = runs(uri)
    # the SIGKILLed worker's run stays RUNNING, the other is closed KILLED; on a busy machine one of them may have
    # finished between the checkpoint check and the kills
    assert sorted(r.info.status for r in rs) in (["KILLED", "RUNNING"], ["FINISHED", "RUNNING"], ["FINISHED", "KILLED"])
    done_before = {r.info.run_id for r in rs if r.info.status == "FINISHED"}
    dead = next((r for r in rs if r.info.status == "RUNNING"), None)
    time.sleep(4)  # older than --heartbeat-timeout

    again = start(tmp_path, uri, "--workers", "2")
    assert again.wait(300) == 0, output(again)
    client, rs = runs(uri)
    if dead is not None:
        assert client.get_run(dead.info.run_id).info.status == "FAILED"
        assert "no heartbeat" in client.get_run(dead.info.run_id).data.tags["error"]
    finished = [r for r in rs if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["psn.cell"] for r in finished) == sorted(r.data.tags["psn.cell"] for r in first)
    for r in finished:  # continued from the stopped run's checkpoint, its earlier epochs copied: each epoch once
        if r.info.run_id in done_before:
            continue
        assert r.data.tags["psn.resumed_from"] in {f.info.run_id for f in first}
        assert epochs_logged(client, r.info.run_id) == list(range(1, epochs + 1))
        assert r.info.run_name.startswith("procs seed=")


def test_a_sigkilled_sweep_is_one_stop_for_its_workers_and_the_next_sweep_continues(tmp_path, fmnist_root):
    # the workers outlive the sweep: the kernel announces its death with one SIGTERM per exiting thread of the sweep
    # (PR_SET_PDEATHSIG), which must stop each run once, gracefully, not as an impatient second Ctrl-C would
    epochs = 200  # seconds of training left when the sweep is killed, even on a slow machine
    uri = setup(tmp_path, fmnist_root, epochs=epochs, every=0, seeds="[1, 2]")  # checkpoints only when stopped
    sweep = start(tmp_path, uri, "--workers", "2", python=sys.executable)
    wait_for(
        lambda: (lambda c, rs: len(rs) == 2 and all(len(epochs_logged(c, r.info.run_id)) >= 2 for r in rs))(*runs(uri))
    )
    workers = children(sweep.pid)
    assert len(workers) == 2
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    wait_for(lambda: not any(running(w) for w in workers), 60)
    client, stopped = runs(uri)
    assert sorted(r.info.status for r in stopped) == ["KILLED", "KILLED"], [r.data.tags.get("error") for r in stopped]
    for r in stopped:  # each finished its epoch and stored a checkpoint of it
        assert "stopped at once" not in r.data.tags["error"], r.data.tags["error"]
        last = epochs_logged(client, r.info.run_id)[-1]
        assert [f.path for f in client.list_artifacts(r.info.run_id, "checkpoints")] == [
            f"checkpoints/epoch_{last:04d}.pt"
        ]

    again = start(tmp_path, uri, "--workers", "2")
    assert again.wait(300) == 0, output(again)
    client, rs = runs(uri)
    finished = [r for r in rs if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["psn.resumed_from"] for r in finished) == sorted(r.info.run_id for r in stopped)
    for r in finished:  # continued from the checkpoint, the stopped run's epochs copied: each epoch once
        assert epochs_logged(client, r.info.run_id) == list(range(1, epochs + 1))


def test_two_identical_sweeps_started_together_train_each_cell_once(tmp_path, fmnist_root):
    uri = setup(tmp_path, fmnist_root, epochs=3, every=0, seeds="[1, 2]")
    # no run may be taken for dead here (a loaded machine can delay a 1 s heartbeat past the 4 s of the others)
    twins = [start(tmp_path, uri, "--heartbeat-timeout", "60") for _ in range(2)]
    assert [t.wait(300) for t in twins] == [0, 0], [output(t) for t in twins]
    _, rs = runs(uri)
    assert sorted((r.data.tags["psn.cell"], r.info.status) for r in rs) == sorted(
        {(r.data.tags["psn.cell"], "FINISHED") for r in rs}
    )
    assert len(rs) == 2


def test_a_running_sweep_names_each_run_as_it_starts_and_its_totals_move(tmp_path, fmnist_root):
    uri = setup(tmp_path, fmnist_root, epochs=150, every=0, seeds="[1, 2]")
    sweep = start(tmp_path, uri, "--workers", "2", "--status-every", "0.5")
    assert sweep.wait(300) == 0, output(sweep)
    out, _ = output(sweep)
    client, rs = runs(uri)
    for r in rs:  # one label per cell: the run's name in the store, in every line of the sweep
        name = r.info.run_name
        assert name.startswith("procs seed="), name
        started = out.index(f"started {name}: run {r.info.run_id}")
        assert out.index(f"] {name}: test_acc=") > started
    totals = [line for line in out.splitlines() if line.startswith("2 runs: ")]
    assert any(" running (epoch" in line for line in totals), totals
    estimates = {line.split("; ")[1] for line in totals if "left (mean run" in line}
    assert len(estimates) >= 2, totals  # the estimate follows the epochs, not only finished runs
