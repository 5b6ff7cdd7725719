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
from collections.abc import Callable
from typing import Any, Optional

from parametricSN.sweeps.spec import param_text

TAG_TRIAL, TAG_SEARCH, TAG_SAMPLED, TAG_PARENT = "psn.trial", "psn.search", "psn.sampled", "mlflow.parentRunId"
TAG_STOPPED, TAG_THREADS = "psn.stopped_early", "psn.threads"


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


def run_trial(sampled: dict, setup: dict) -> None:
    """The Ray Tune trainable: ``sampled`` is ``{config.key: value}``; ``setup`` holds the base config (nested),
    the seeds, the search's run id and key, the thread count and the folder psn tune ran in (see :mod:`parametricSN.sweeps.tune`)."""
    import torch
    from ray import tune

    from parametricSN.config import config_from_dict
    from parametricSN.training import train

    torch.set_num_threads(setup["threads"])
    if os.path.isdir(setup["cwd"]):  # relative paths (the default dataset.root) as psn train reads them there
        os.chdir(setup["cwd"])  # (Ray Tune starts a trial in its own folder; a node without this folder stays)
    trial_id = tune.get_context().get_trial_id()
    tags = {
        TAG_TRIAL: trial_id,
        TAG_SEARCH: setup["key"],
        TAG_SAMPLED: json.dumps(sampled, sort_keys=True),
        TAG_THREADS: str(setup["threads"]),
    }
    cfgs = [config_from_dict(trial_config(setup["base"], sampled, seed)) for seed in setup["seeds"]]
    epochs = cfgs[0].train.epochs  # train.epochs may be searched
    done = finished_result(cfgs[0].mlflow.tracking_uri, setup["parent"], trial_id, epochs)
    if done is not None:  # finished before a Ctrl-C that Ray's saved state missed: report it, do not train again
        tune.report(done)
        return
    group = _TrialRun(cfgs[0], setup, trial_id, tags) if len(cfgs) > 1 else None
    curves, last, logger_class = _Curves(), {}, _reporting_logger_class()
    try:
        for i, cfg in enumerate(cfgs):
            logger = logger_class.from_config(
                cfg, tags={**tags, TAG_PARENT: group.run_id if group else setup["parent"]}
            )
            logger.run_name = f"trial-{trial_id}" + (f"-seed{cfg.general.seed}" if group else "")
            reporting = i == len(cfgs) - 1

            def on_val(epoch: int, metrics: dict[str, float], reporting: bool = reporting, logger=logger) -> None:
                nonlocal last
                mean = curves.add(epoch, metrics)
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

            logger.on_val = on_val
            curves.seeds.append({})
            train(cfg, logger)
    except BaseException as exc:
        if group:
            group.logger.set_failed(exc)
        raise
    if group:
        group.logger.end_run()
    tune.report(last)


def finished_result(uri: Optional[str], parent: str, trial_id: str, epochs: int) -> Optional[dict]:
    """The result a trial reported last, when the search ``parent`` already holds a FINISHED run of ``trial_id``
    (Ray Tune restarts a trial that ended just before a Ctrl-C if its saved state missed the end); else None."""
    from parametricSN.tracking.store import client_for, retry_locked

    client = client_for(uri, create=False)
    exp_id = client.get_run(parent).info.experiment_id
    runs = retry_locked(
        client.search_runs,
        [exp_id],
        filter_string=f"tags.`{TAG_TRIAL}` = '{trial_id}' and tags.`{TAG_PARENT}` = '{parent}' "
        "and attributes.status = 'FINISHED'",
    )
    if not runs:
        return None
    run = runs[0]
    val = {k: v for k, v in run.data.metrics.items() if k.startswith("val_")}
    steps = [m.step for k in val for m in client.get_metric_history(run.info.run_id, k)]
    return {**val, "epoch": max(steps, default=0), "trial_epochs": epochs, "mlflow_run_id": run.info.run_id}


def _reporting_logger_class() -> type:
    from parametricSN.tracking import MlflowLogger

    class ReportingLogger(MlflowLogger):
        """An MLflow logger that hands every epoch's validation metrics to ``on_val(epoch, metrics)``."""

        on_val: Optional[Callable[[int, dict[str, float]], None]] = None

        def log_metrics(self, metrics: dict[str, float], step: int) -> None:
            super().log_metrics(metrics, step)
            if self.on_val is not None and any(k.startswith("val_") for k in metrics):
                self.on_val(step, metrics)

        def set_failed(self, error: BaseException) -> None:
            if isinstance(error, SystemExit):  # Ray Tune ended the trial (its scheduler, or Ctrl-C): the driver
                self.run_id = None  # knows which, and closes the run (parametricSN.sweeps.tune_ray.CloseRuns)
                return
            super().set_failed(error)

    return ReportingLogger


class _TrialRun:
    """The MLflow run of a trial with several seeds: its sampled values as params, the mean metrics per epoch."""

    def __init__(self, cfg: Any, setup: dict, trial_id: str, tags: dict) -> None:
        self.logger = _reporting_logger_class().from_config(cfg, tags={**tags, TAG_PARENT: setup["parent"]})
        self.logger.run_name = f"trial-{trial_id}"
        self.run_id = self.logger.start_run(cfg)
        self.logger.log_params({**json.loads(tags[TAG_SAMPLED]), "seeds": setup["seeds"]})


def close_trial_runs(client: Any, exp_id: str, trial_id: str, status: str, tags: dict, tag: str = TAG_TRIAL) -> int:
    """Mark the still-RUNNING trial runs whose ``tag`` is ``trial_id`` (default: the runs of one trial; with
    ``tag=psn.search``: every trial run of a search) ``status`` with ``tags``; returns how many there were."""
    runs = client.search_runs([exp_id], filter_string=f"tags.`{tag}` = '{trial_id}' and attributes.status = 'RUNNING'")
    runs = [r for r in runs if r.data.tags.get("psn.role") != "search"]
    for run in runs:
        for k, v in tags.items():
            client.set_tag(run.info.run_id, k, str(v))
        client.set_terminated(run.info.run_id, status)
    return len(runs)


def describe(sampled: dict) -> str:
    """``key=value`` of the sampled values, numbers to 4 significant digits."""
    return " ".join(f"{k}={fmt(v)}" for k, v in sampled.items())


def fmt(value: Any) -> str:
    """A sampled value as a table shows it (numbers to 4 significant digits)."""
    return f"{value:.4g}" if isinstance(value, float) else param_text(value)
