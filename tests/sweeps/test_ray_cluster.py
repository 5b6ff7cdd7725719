"""``psn sweep --launcher ray`` and ``psn tune --address`` on a real multi-node Ray cluster: a head and a second
node, each a raylet of its own with one CPU (Ray's ``cluster_utils.Cluster``, which starts real processes), the
sweep or the search a separate process joining it by address. Runs land on both nodes; when the second node is
lost (its raylet, its Ray workers and their psn workers SIGKILLed at once, as when a machine dies) its run is closed
as lost and continues on the head from its newest checkpoint; every cell (every trial) ends FINISHED once, with
every epoch logged once, and the search counts each trial once."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from parametricSN.tags import TAG_LOST, TAG_NODE, TAG_RESUMED, TAG_TRIAL
from parametricSN.tracking.store import client_for
from tests.sweeps.test_processes import epochs_logged, output, runs, setup, start, wait_for
from tests.sweeps.test_run import tiny_base
from tests.warm import PYTHON

pytestmark = pytest.mark.process


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += parents.get(p, [])
    return found


@pytest.fixture
def cluster():
    from ray import ray_constants
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    node = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    raylet = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
    try:
        yield c, node, raylet
    finally:
        c.shutdown()


def lose(raylet: int) -> float:
    """The machine of ``raylet`` dies: its raylet, Ray workers and their children SIGKILLed at once (nothing of it
    closes anything); returns when."""
    for pid in descendants(raylet):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return time.time()


def test_runs_land_on_both_nodes_and_a_lost_nodes_run_continues_on_the_other(tmp_path, fmnist_root, cluster):
    c, node, raylet = cluster
    epochs = 400  # seconds of training left when the node is killed, even on a loaded machine
    uri = setup(tmp_path, fmnist_root, epochs=epochs, every=2, seeds="[1, 2]")
    sweep = start(tmp_path, uri, "--launcher", "ray", "--address", c.address, "--cpus-per-run", "1")

    def both_checkpointed():
        client, rs = runs(uri)
        return len(rs) == 2 and all(client.list_artifacts(r.info.run_id, "checkpoints") for r in rs) and rs

    first = wait_for(both_checkpointed)
    assert {r.data.tags[TAG_NODE] for r in first} == {c.head_node.node_id, node.node_id}  # one run per node
    doomed = next(r for r in first if r.data.tags[TAG_NODE] == node.node_id)
    killed_at = lose(raylet)
    assert sweep.wait(600) == 0, output(sweep)
    _, err = output(sweep)
    assert "its Ray node was lost; 1 run(s) closed, continuing elsewhere" in err, err

    client, rs = runs(uri)
    lost = client.get_run(doomed.info.run_id)
    assert (
        lost.info.status == "FAILED" and lost.data.tags[TAG_LOST] == "1" and "Ray node died" in lost.data.tags["error"]
    )
    finished = [r for r in rs if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["psn.cell"] for r in finished) == sorted(r.data.tags["psn.cell"] for r in first)
    for r in finished:  # each epoch once, the lost run's continued from its checkpoint on the head
        assert epochs_logged(client, r.info.run_id) == list(range(1, epochs + 1))
    (continued,) = [r for r in finished if r.data.tags.get(TAG_RESUMED) == doomed.info.run_id]
    assert continued.data.tags[TAG_NODE] == c.head_node.node_id
    assert continued.info.start_time / 1000 > killed_at


def test_without_an_address_a_sweep_starts_a_ray_of_its_own_beside_a_running_cluster(tmp_path, fmnist_root, cluster):
    # Ray's own default would join the cluster started last on this machine (another user's, another test's)
    c, node, _ = cluster
    uri = setup(tmp_path, fmnist_root, epochs=1, every=0, seeds="[1]")
    sweep = start(tmp_path, uri, "--launcher", "ray")
    assert sweep.wait(300) == 0, output(sweep)
    (run,) = runs(uri)[1]
    assert run.info.status == "FINISHED" and run.data.tags[TAG_NODE] not in {c.head_node.node_id, node.node_id}


SEARCH = """
name: cluster-search
base: {base}
overrides: [dataset.val_sample_num=10, train.epochs={epochs}, train.checkpoint_every=2, train.test_every=1]
grid:
  general.seed: {seeds}
search:
  metric: val_acc
  mode: max
  trials: 2
  searcher: random
  seed: 0
  seeds_per_trial: {per_trial}
  scheduler: {{name: fifo}}
  space:
    optim.max_lr: {{loguniform: [0.01, 0.1]}}
"""


@pytest.mark.parametrize("per_trial", [1, 2])
def test_a_search_on_two_nodes_continues_the_trial_of_a_lost_node_and_counts_each_trial_once(
    tmp_path, fmnist_root, cluster, per_trial
):
    # with two seeds per trial the node is lost while its trial trains the second seed: the first is kept
    c, node, raylet = cluster
    epochs, seeds = 150, list(range(per_trial))
    spec = SEARCH.format(base=tiny_base(tmp_path, fmnist_root), epochs=epochs, seeds=seeds, per_trial=per_trial)
    (tmp_path / "spec.yaml").write_text(spec)
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    out, err = open(tmp_path / "out", "w+"), open(tmp_path / "err", "w+")
    search = subprocess.Popen(
        [PYTHON, "-m", "parametricSN", "tune", str(tmp_path / "spec.yaml"), "--address", c.address]
        + ["--tracking-uri", uri, "--output", str(tmp_path / "best")],
        stdout=out,
        stderr=err,
        cwd=tmp_path,
    )
    search.files = (out, err)

    def trial_runs():
        client = client_for(uri)
        exp = client.get_experiment_by_name("cluster-search-search")
        found = client.search_runs([exp.experiment_id]) if exp else []
        return client, [r for r in found if TAG_TRIAL in r.data.tags]

    def last_seed_checkpointed_on_each_node():  # the runs of each trial's last seed, once both have a checkpoint
        client, rs = trial_runs()
        last = [r for r in rs if per_trial == 1 or r.info.run_name.endswith(f"-seed{seeds[-1]}")]
        return len(last) == 2 and all(client.list_artifacts(r.info.run_id, "checkpoints") for r in last) and last

    try:
        first = wait_for(last_seed_checkpointed_on_each_node)
        assert {r.data.tags[TAG_NODE] for r in first} == {c.head_node.node_id, node.node_id}  # a trial per node
        doomed = next(r for r in first if r.data.tags[TAG_NODE] == node.node_id)
        killed_at = lose(raylet)
        assert search.wait(600) == 0, output(search)
    finally:
        if search.poll() is None:
            search.kill()
    stdout, stderr = output(search)
    trial = doomed.data.tags[TAG_TRIAL]
    closed = 1 if per_trial == 1 else 2  # the seed's run, and the run of the trial's mean
    assert re.search(
        rf"^psn: trial {trial} .*: its Ray node was lost at epoch \d+; {closed} run\(s\) closed", stderr
    ), stderr
    assert stderr.count("\n") == 1, stderr  # that line alone
    assert re.findall(r"^\[(\d)/2\] trial ", stdout, re.MULTILINE) == ["1", "2"], stdout  # each trial once
    assert "top 2 of 2 trials by val_acc" in stdout, stdout

    client, rs = trial_runs()
    lost = [r for r in rs if r.info.status == "FAILED"]
    assert len(lost) == closed and all(r.data.tags[TAG_LOST] == "1" and r.data.tags[TAG_TRIAL] == trial for r in lost)
    # Ray's error for the dead worker (ActorDiedError, or ActorUnavailableError when the node's loss is seen first)
    assert all(re.match(r"lost: its Ray worker died \(Actor\w+Error: ", r.data.tags["error"]) for r in lost), lost
    finished = [r for r in rs if r.info.status == "FINISHED"]
    # one FINISHED run per trial and seed (and per trial's mean): the doomed trial's first seed was not trained again
    assert len(finished) == len(rs) - closed == 2 * per_trial + (2 if per_trial > 1 else 0)
    assert len({(r.data.tags[TAG_TRIAL], r.info.run_name) for r in finished}) == len(finished)
    for r in finished:  # each epoch once (a trial's mean: each epoch's val_acc once), the lost run's continued
        steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "val_acc"))
        assert steps == list(range(1, epochs + 1)), (r.info.run_name, steps[:5], len(steps))
        if "train_loss" in r.data.metrics:
            assert epochs_logged(client, r.info.run_id) == list(range(1, epochs + 1))
    (continued,) = [r for r in finished if r.data.tags.get(TAG_RESUMED) == doomed.info.run_id]
    assert continued.data.tags[TAG_NODE] == c.head_node.node_id
    assert continued.info.start_time / 1000 > killed_at
    print(
        f"node lost: runs closed {max(r.info.end_time for r in lost) / 1000 - killed_at:.1f} s after the kill, "
        f"continued {continued.info.start_time / 1000 - killed_at:.1f} s after"
    )
