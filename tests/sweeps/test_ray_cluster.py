"""``psn sweep --launcher ray`` on a real multi-node Ray cluster: a head and a second node, each a raylet of its own
with one CPU (Ray's ``cluster_utils.Cluster``, which starts real processes), the sweep a separate process joining
it by address. Runs land on both nodes; when the second node is lost (its raylet, its Ray workers and their psn
workers SIGKILLed at once, as when a machine dies) its run is closed as lost and continues on the head from its
newest checkpoint; every cell ends FINISHED once, with every epoch logged once."""

import os
import signal
import time
from pathlib import Path

import pytest

from parametricSN.tags import TAG_LOST, TAG_NODE, TAG_RESUMED
from tests.sweeps.test_processes import epochs_logged, output, runs, setup, start, wait_for

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
    for pid in descendants(raylet):  # the machine dies: nothing of it closes anything
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed_at = time.time()
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
