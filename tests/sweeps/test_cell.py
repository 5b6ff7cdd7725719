"""The claim of a sweep's run (``parametricSN/sweeps/cell.py``, ``CellLogger``) against clocks that disagree: a
claim made later on a machine whose clock is behind looks older and wins; the first claimant yields at its next
check (an epoch's end past the heartbeat period), so the cell is not finished twice."""

import time

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.sweeps import claims
from parametricSN.sweeps.cell import CellLogger, Claim
from parametricSN.tags import TAG_ATTEMPT, TAG_CELL
from tests.configs import TINY, make_cfg


def test_a_later_claim_that_looks_older_wins_and_the_first_yields_at_its_next_check(mlflow_uri, monkeypatch):
    cfg = make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "mlflow.experiment_name=clocks")
    client = MlflowClient(mlflow_uri)
    beat = claims.Heartbeat(client, every=3600.0)

    def claimant(attempt: str) -> CellLogger:
        logger = CellLogger.from_config(cfg, tags={TAG_CELL: "cell", TAG_ATTEMPT: attempt})
        logger.claim = Claim(beat, timeout=600.0)
        return logger

    first = claimant("a")
    first_id = first.start_run(cfg)  # alone: it claims the cell and trains
    first.log_metrics({"train_loss": 1.0}, step=1)
    real = time.time
    with monkeypatch.context() as m:  # a second machine, 40 s behind: its run's start time is older
        m.setattr(time, "time", lambda: real() - 40.0)
        second = claimant("b")
        second_id = second.start_run(cfg)  # the oldest live claim: it wins
    monkeypatch.setenv("PSN_HEARTBEAT_SECONDS", "0")  # the first's next epoch is past its heartbeat period
    with pytest.raises(claims.ClaimLost, match=f"being trained by run {second_id}"):
        first.log_metrics({"train_loss": 0.9}, step=2)
    first.set_failed(claims.ClaimLost("lost"))  # what train() does with the error: the run is deleted
    assert client.get_run(first_id).info.lifecycle_stage == "deleted"
    second.log_metrics({"train_loss": 1.0}, step=1)
    second.end_run()
    assert client.get_run(second_id).info.status == "FINISHED"


def test_a_run_closed_by_another_sweep_yields(mlflow_uri, monkeypatch):
    # a sweep whose clock is ahead by more than the heartbeat timeout took this live run for dead and closed it
    cfg = make_cfg("fashion_mnist", *TINY, f"mlflow.tracking_uri={mlflow_uri}", "mlflow.experiment_name=clocks")
    client = MlflowClient(mlflow_uri)
    logger = CellLogger.from_config(cfg, tags={TAG_CELL: "cell", TAG_ATTEMPT: "a"})
    logger.claim = Claim(claims.Heartbeat(client, every=3600.0), timeout=600.0)
    run_id = logger.start_run(cfg)
    claims.close_dead(client, client.get_run(run_id), 600.0)
    with pytest.raises(claims.ClaimLost, match="closed by another sweep"):
        logger.end_run()  # checked once more before it would end FINISHED
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
