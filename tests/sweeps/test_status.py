"""The totals line of ``psn sweep --status`` and of a running sweep, and a cell's state from its runs."""

from types import SimpleNamespace

from parametricSN.sweeps.spec import load_spec
from parametricSN.sweeps.status import Progress, cell_line, totals_line


def test_the_estimate_moves_with_the_running_runs_epochs():
    counts = {"finished": 0, "running": 2, "failed": 0, "pending": 2}
    # no run finished: the mean run is the running runs' pace (10 of 100 epochs in 10 s: 100 s a run)
    early = totals_line(counts, [], 2, [Progress(10, 100, 10.0), Progress(10, 100, 10.0)])
    later = totals_line(counts, [], 2, [Progress(50, 100, 50.0), Progress(50, 100, 50.0)])
    assert early == (
        "4 runs: 0 finished, 2 running (epochs 10/100, 10/100), 0 failed, 2 pending; "
        "about 3m10s left (mean run 1m40s, 2 at a time)"
    )  # (90 + 90 + 2 * 100) / 2
    assert "about 2m30s left" in later  # (50 + 50 + 2 * 100) / 2
    assert totals_line(counts, [], 2, [Progress(0, 100, 3.0)]).endswith(
        "time left unknown until a run has trained an epoch"
    )


def test_killed_cells_are_counted_as_killed_and_are_still_to_run():
    line = totals_line({"finished": 1, "running": 0, "killed": 2, "failed": 0, "pending": 0}, [60.0], 1)
    assert (
        line
        == "3 runs: 1 finished, 0 running, 2 killed, 0 failed, 0 pending; about 2m00s left (mean run 1m00s, 1 at a time)"
    )


def test_a_killed_run_makes_a_killed_cell(tmp_path):
    (tmp_path / "base.yaml").write_text("train: {epochs: 3}\n")
    (tmp_path / "spec.yaml").write_text("name: s\nbase: base.yaml\ngrid:\n  general.seed: [1]\n")
    spec = load_spec(tmp_path / "spec.yaml")
    (cell,) = spec.cells()
    run = SimpleNamespace(
        info=SimpleNamespace(status="KILLED", start_time=0, run_id="r1"),
        data=SimpleNamespace(tags={"error": "RunInterrupted: interrupted by signal SIGINT after epoch 2"}),
    )
    state, line, _, _ = cell_line(None, spec, cell, [run], 60.0, 0.0)
    assert state == "killed" and line.startswith("killed    s seed=1: RunInterrupted") and line.endswith("(run r1)")
