"""One trial of ``psn tune``, as it runs inside a Ray Tune worker: train the sampled config on the spec's first
``search.seeds_per_trial`` seeds and report the validation metric to Ray Tune after every test epoch.

The run is ``train(cfg)`` with ``train.evaluate_test: false`` (no test image is evaluated) and an MLflow logger
that also reports: a trial with one seed is one MLflow run, child of the search's run (tag ``mlflow.parentRunId``);
with several seeds the trial is a run that logs the mean over its seeds per epoch, parent of one run per seed.
The seeds train one after the other; Ray Tune (and ASHA) sees the mean while the last seed trains, so the earlier
seeds always run to the end.
Every run of a trial carries the tag ``psn.trial`` (Ray Tune's trial id), so that the driver can close the runs of a
trial that Ray stopped (ASHA) or killed (Ctrl-C). The last epoch is reported after the run has ended, so a
trial that completes is FINISHED with its figures and model whatever the scheduler decides.

Threads: ``torch.set_num_threads(setup["threads"])`` (CPU results depend on it); ``psn tune`` prints the
``OMP_NUM_THREADS=<threads> psn train ...`` that reproduces a trial bit for bit on CPU.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from parametricSN.sweeps.spec import param_text
from parametricSN.sweeps.tasks import RunSpec
from parametricSN.tags import (
    ERROR_TAG,
    ROLE_SEARCH,
    TAG_ATTEMPT,
    TAG_LOST,
    TAG_NODE,
    TAG_PARENT,
    TAG_ROLE,
    TAG_SAMPLED,
    TAG_SEARCH,
    TAG_THREADS,
    TAG_TRIAL,
)


def trial_config(base: dict, sampled: dict, seed: int) -> dict:
    """The nested config mapping of a trial: ``base`` with the sampled dotted keys and ``general.seed`` set."""
    out = {section: dict(body) for section, body in base.items()}
    for dotted, value in {**sampled, "general.seed": seed}.items():
        section, _, key = dotted.partition(".")
        out[section][key] = value
    return out


class _Curves:
    """The validation metrics of a trial's seeds by epoch; :meth:`add` returns the mean over the seeds so far."""

    def __init__(self) -> None:
        self.seeds: list[dict[int, dict[str, float]]] = []

    def add(self, epoch: int, metrics: dict[str, float]) -> dict[str, float]:
        self.seeds[-1][epoch] = {k: v for k, v in metrics.items() if k.startswith("val_")}
        rows = [seed[epoch] for seed in self.seeds if epoch in seed]
        return {k: sum(r[k] for r in rows) / len(rows) for k in rows[-1]}


class TrialFailed(RuntimeError):
    """A trial that psn itself ended (it diverged, its data could not be read) and Ray Tune started again after
    it: it fails at once with the first error instead of training again."""


def run_trial(sampled: dict, setup: dict) -> None:
    """The Ray Tune trainable: ``sampled`` is ``{config.key: value}``; ``setup`` holds the base config (nested),
    the seeds, the search's run id and key, the ``psn tune`` process's attempt id, the thread count and the folder
    psn tune ran in (see :mod:`parametricSN.sweeps.tune`). Each seed is one run of
    :func:`parametricSN.sweeps.cell.run_cell`, the executor of a sweep's cells.

    Ray Tune starts a trial again when its worker is lost (its node died; ``FailureConfig.max_failures``); the
    driver has then closed the lost attempt's runs FAILED and tagged lost
    (:class:`parametricSN.sweeps.tune_ray.CloseRuns`), and this attempt keeps the seeds that FINISHED and continues
    each lost run from its newest checkpoint. Ray Tune also starts again a trial that psn ended with an error: that
    attempt raises :class:`TrialFailed` at once."""
    import ray
    import torch
    from ray import tune

    from parametricSN.config import config_from_dict
    from parametricSN.sweeps.cell import CellLogger, run_cell
    from parametricSN.sweeps.claims import finished_runs
    from parametricSN.tracking.store import client_for

    torch.set_num_threads(setup["threads"])
    if os.path.isdir(setup["cwd"]):  # relative paths (the default dataset.root) as psn train reads them there
        os.chdir(setup["cwd"])  # (Ray Tune starts a trial in its own folder; a node without this folder stays)
    trial_id = tune.get_context().get_trial_id()
    tags = {
        TAG_TRIAL: trial_id,
        TAG_SEARCH: setup["key"],
        TAG_SAMPLED: json.dumps(sampled, sort_keys=True),
        TAG_THREADS: str(setup["threads"]),
        TAG_ATTEMPT: setup["attempt"],
        TAG_NODE: ray.get_runtime_context().get_node_id(),
    }
    runs = [RunSpec(trial_config(setup["base"], sampled, seed), tags) for seed in setup["seeds"]]
    cfg = config_from_dict(runs[0].config)
    epochs = cfg.train.epochs  # train.epochs may be searched
    client = client_for(cfg.mlflow.tracking_uri, create=False)
    exp_id = client.get_run(setup["parent"]).info.experiment_id
    done = finished_result(client, exp_id, setup["parent"], trial_id, epochs)
    if done is not None:  # finished before a Ctrl-C that Ray's saved state missed: report it, do not train again
        tune.report(done)
        return
    failed = earlier_failure(client, exp_id, trial_id, setup["attempt"])
    if failed is not None:
        raise TrialFailed(f"trial {trial_id} failed in an earlier attempt of this search: {failed}")
    group = _TrialRun(cfg, setup, trial_id, tags) if len(runs) > 1 else None
    curves, last = _Curves(), {}

    def on_val(logger: CellLogger, epoch: int, metrics: dict[str, float]) -> None:
        nonlocal last
        mean = curves.add(epoch, metrics)
        reporting = len(curves.seeds) == len(runs)  # Ray Tune sees the mean while the last seed trains
        if group and reporting:
            group.logger.log_metrics(mean, epoch)
        last = {
            **mean,
            "epoch": epoch,
            "trial_epochs": epochs,
            "mlflow_run_id": group.run_id if group else logger.run_id,
        }
        if reporting and epoch < epochs:  # the last epoch is reported once the run has ended
            tune.report(last)

    try:
        for run, seed in zip(runs, setup["seeds"]):
            run.tags = {**tags, TAG_PARENT: group.run_id if group else setup["parent"]}
            run.name = f"trial-{trial_id}" + (f"-seed{seed}" if group else "")
            seed_runs = seed_identity(setup["key"], trial_id, run.name)
            kept = finished_runs(client, exp_id, seed_runs) if group else []
            curves.seeds.append({})
            if kept:  # a seed of a lost attempt that had finished: its curve, not a second run
                _replay(client, kept[0].info.run_id, lambda epoch, metrics: on_val(group.logger, epoch, metrics))
                continue
            # Ray Tune ends a trial (its scheduler, or Ctrl-C) with SystemExit: the driver knows which, and closes
            # the run (parametricSN.sweeps.tune_ray.CloseRuns)
            run_cell([run], progress=False, on_val=on_val, leave_open=(SystemExit,), catch=False, resume=seed_runs)
    except BaseException as exc:
        if group:
            group.logger.set_failed(exc)
        raise
    if group:
        group.logger.end_run()
    tune.report(last)


def seed_identity(key: str, trial_id: str, name: str) -> dict[str, str]:
    """The tags of a trial seed's runs, over its attempts (a lost run and the run continuing it): the search key,
    the trial id and the run name (``trial-ID``, or ``trial-ID-seedN`` in a trial of several seeds)."""
    return {TAG_SEARCH: key, TAG_TRIAL: trial_id, "mlflow.runName": name}


def earlier_failure(client: Any, exp_id: str, trial_id: str, attempt: str) -> Optional[str]:
    """The error of a run of ``trial_id`` that psn closed FAILED in this ``psn tune`` process (``attempt``), not
    lost with its node; else None."""
    from parametricSN.sweeps.claims import tagged_runs

    found = tagged_runs(client, exp_id, {TAG_TRIAL: trial_id, TAG_ATTEMPT: attempt}, "FAILED")
    errors = [r.data.tags.get(ERROR_TAG, "failed") for r in found if not r.data.tags.get(TAG_LOST)]
    return errors[0] if errors else None


def _replay(client: Any, run_id: str, on_val: Any) -> None:
    """Hand the validation metrics ``run_id`` logged, epoch by epoch, to ``on_val(epoch, metrics)``."""
    by_epoch: dict[int, dict[str, float]] = {}
    for key in client.get_run(run_id).data.metrics:
        if key.startswith("val_"):
            for m in client.get_metric_history(run_id, key):
                by_epoch.setdefault(m.step, {})[key] = m.value
    for epoch in sorted(by_epoch):
        on_val(epoch, by_epoch[epoch])


def finished_result(client: Any, exp_id: str, parent: str, trial_id: str, epochs: int) -> Optional[dict]:
    """The result a trial reported last, when the search ``parent`` already holds a FINISHED run of ``trial_id``
    (Ray Tune restarts a trial that ended just before a Ctrl-C if its saved state missed the end); else None."""
    from parametricSN.sweeps.claims import finished_runs

    runs = finished_runs(client, exp_id, {TAG_TRIAL: trial_id, TAG_PARENT: parent})
    if not runs:
        return None
    run = runs[0]
    val = {k: v for k, v in run.data.metrics.items() if k.startswith("val_")}
    steps = [m.step for k in val for m in client.get_metric_history(run.info.run_id, k)]
    return {**val, "epoch": max(steps, default=0), "trial_epochs": epochs, "mlflow_run_id": run.info.run_id}


class _TrialRun:
    """The MLflow run of a trial with several seeds: its sampled values as params, the mean metrics per epoch."""

    def __init__(self, cfg: Any, setup: dict, trial_id: str, tags: dict) -> None:
        from parametricSN.sweeps.cell import CellLogger

        self.logger = CellLogger.from_config(cfg, tags={**tags, TAG_PARENT: setup["parent"]})
        self.logger.leave_open = (SystemExit,)
        self.logger.run_name = f"trial-{trial_id}"
        self.run_id = self.logger.start_run(cfg)
        self.logger.log_params({**json.loads(tags[TAG_SAMPLED]), "seeds": setup["seeds"]})


def close_trial_runs(client: Any, exp_id: str, trial_id: str, status: str, tags: dict, tag: str = TAG_TRIAL) -> int:
    """Close the still-RUNNING trial runs whose ``tag`` is ``trial_id`` (default: the runs of one trial; with
    ``tag=psn.search``: every trial run of a search) ``status`` with ``tags``
    (:func:`parametricSN.sweeps.claims.close_runs`); returns how many there were."""
    from parametricSN.sweeps.claims import close_runs, running_runs

    runs = [r for r in running_runs(client, exp_id, {tag: trial_id}) if r.data.tags.get(TAG_ROLE) != ROLE_SEARCH]
    return close_runs(client, runs, status, tags)


def describe(sampled: dict) -> str:
    """``key=value`` of the sampled values, numbers to 4 significant digits."""
    return " ".join(f"{k}={fmt(v)}" for k, v in sampled.items())


def fmt(value: Any) -> str:
    """A sampled value as a table shows it (numbers to 4 significant digits)."""
    return f"{value:.4g}" if isinstance(value, float) else param_text(value)
