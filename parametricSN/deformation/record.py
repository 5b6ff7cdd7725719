"""Logging a finished evaluation to MLflow: a new run in experiment ``deformation`` holding the CSV and the
figures as artifacts and the evaluated RUNs (MLflow ids, model files, ``tight-frame``/``random``) as params.

Uses an explicit ``MlflowClient`` and run id (never MLflow's global active run), like the training logger.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from mlflow.entities import Param, RunStatus

from parametricSN.deformation.options import EXPERIMENT
from parametricSN.tracking.mlflow_logger import MAX_PARAM_LENGTH, MAX_PARAMS_PER_BATCH, MAX_TAG_LENGTH
from parametricSN.tracking.store import (
    client_for,
    default_artifact_location,
    get_or_create_experiment,
    resolve_tracking_uri,
)


def log_evaluation(
    files: Sequence[Path],
    runs: Sequence[str],
    params: dict[str, Any],
    tracking_uri: Optional[str] = None,
    experiment: str = EXPERIMENT,
) -> str:
    """Create a FINISHED run in ``experiment`` with ``params``, ``source.<k>`` = the k-th RUN, ``sources`` = all
    of them comma-separated, and ``files`` as top-level artifacts; returns its run id. A failure while logging
    ends the run FAILED and re-raises."""
    uri = resolve_tracking_uri(tracking_uri)
    client = client_for(uri)
    exp_id = get_or_create_experiment(client, experiment, default_artifact_location(uri, experiment))
    run_id = client.create_run(
        exp_id, run_name=f"deform {len(runs)} model(s)", tags={"sources": ",".join(runs)[:MAX_TAG_LENGTH]}
    ).info.run_id
    try:
        everything = {**params, "sources": ",".join(runs), **{f"source.{k}": r for k, r in enumerate(runs)}}
        items = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in everything.items()]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            client.log_batch(run_id, params=items[i : i + MAX_PARAMS_PER_BATCH])
        for path in files:
            client.log_artifact(run_id, str(path))
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run_id
