"""``psn tune SPEC``: the spec's ``search:`` on Ray Tune, scored on the validation split, logged to MLflow.

    psn tune experiments/cifar10-100sample-search.yaml --gpus-per-trial 0.25 --address auto
    psn sweep best.yaml && psn report --experiment cifar10-100sample-search-best

The spec's runs must differ only in their seed (a search tunes one cell); its ``dataset.val_sample_num`` must be
> 0. Each trial (:mod:`parametricSN.sweeps.trial`) trains the cell with the sampled values, never evaluating the
test split, in the MLflow experiment ``<name>-search`` as a child of one run for the whole search (tag
``psn.search``: :func:`search_key`). ASHA stops trials at its rungs (``time_attr`` = the epoch); the runs of a
stopped trial are closed FINISHED with the tag ``psn.stopped_early`` = the last epoch they reported. At the end
the top 5 configs are printed (trials that ran every epoch first, then by the metric's last value), and
``DIR/best.yaml`` (a spec: the best values as overrides, the spec's seeds as the grid) and ``DIR/best-trial.yaml``
(the best trial's own config, for ``psn train``: like the trial, it reads no test image) are written; the commands
printed for them name the store.

Trials run in the folder ``psn tune`` ran in (where a Ray node has it), so relative paths such as the default
``dataset.root: data`` mean what they mean to ``psn train`` and ``psn sweep`` there. Ray's own output (its log
lines, advice and warnings) goes to ``DIR/.psn-tune/<name>-<key>.log``; the terminal gets psn's lines only.

Ctrl-C: Ray Tune stops the trials, this marks their runs KILLED and prints the command that continues the search
(the same command, from any folder): it restores the search from ``DIR/.psn-tune/<name>-<key>`` (Ray Tune's
experiment state), finished trials are kept, the others restart. Ray is imported only here, only when ``psn tune``
runs.

A lost Ray node: Ray Tune starts each trial it was training again elsewhere (at most ``MAX_LOSSES`` times); its runs
are closed FAILED and tagged lost, and the new attempt continues them from their newest checkpoint (a trial of
several seeds keeps the seeds that had finished). A trial that psn itself failed (it diverged) is not trained again.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TextIO

import yaml

from parametricSN.commands import absolute_uri, report_command, sweep_command
from parametricSN.config import DEFAULT_DATA_ROOT, ConfigError, config_from_dict
from parametricSN.sweeps.search import Search
from parametricSN.sweeps.spec import SEED_KEY, SpecError, SweepSpec, identity, override_text, param_text
from parametricSN.sweeps.trial import close_trial_runs, fmt, trial_config
from parametricSN.tags import ERROR_TAG, ROLE_SEARCH, TAG_BEST_RUN, TAG_ROLE, TAG_SEARCH, TAG_SPEC

TOP = 5


@dataclass
class Plan:
    """What a search runs: the cell's config (nested, test evaluation off), its seeds, where it logs."""

    spec: SweepSpec
    search: Search
    base: dict
    seeds: list
    fixed: list  # the cell's overrides on top of the spec's base, without the seed (best.yaml's starting point)
    uri: str
    experiment: str
    key: str
    threads: int
    max_epochs: int  # the longest a trial can train (train.epochs may be searched)


def search_key(search: Search, cell_identity: dict, seeds: list) -> str:
    """12 hex digits naming a search: its section (but ``trials``), the cell's result-defining keys and the seeds."""
    text = json.dumps([search.key(), cell_identity, seeds], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def plan_search(spec: SweepSpec, tracking_uri: Optional[str], trials: Optional[int], cpus_per_trial: float) -> Plan:
    """Check ``spec`` for a search and resolve what it runs (no Ray, no store touched)."""
    from dataclasses import replace

    if spec.search is None:
        raise SpecError(
            f"{spec.path}: search: psn tune needs a search: section (see experiments/cifar10-100sample-search.yaml)"
        )
    search = replace(spec.search, trials=trials) if trials else spec.search
    cells = spec.cells([f"mlflow.tracking_uri={tracking_uri}"] if tracking_uri else [])
    others = [k for k in spec.varying_keys if k != SEED_KEY]
    if others:
        raise SpecError(
            f"{spec.path}: grid/cases: a search tunes one cell, but the spec varies {', '.join(others)}; "
            f"keep only general.seed in grid"
        )
    clash = [k for k in search.space if any(o.split("=", 1)[0].strip() == k for o in cells[0].overrides)]
    if clash:
        raise SpecError(
            f"{spec.path}: search.space: {clash[0]}: also set in overrides/cases/grid; keep it in one place"
        )
    cfg = cells[0].config
    if cfg.dataset.val_sample_num <= 0:
        raise SpecError(
            f"{spec.path}: dataset.val_sample_num: a search scores configs on a validation split; "
            f"set dataset.val_sample_num (e.g. 1000) in overrides"
        )
    seeds = list(dict.fromkeys(c.seed for c in cells))
    if search.seeds_per_trial > len(seeds):
        raise SpecError(
            f"{spec.path}: search.seeds_per_trial: {search.seeds_per_trial} seeds per trial, but the "
            f"spec has {len(seeds)} (grid: general.seed)"
        )
    base = cfg.to_dict()
    base["train"]["evaluate_test"] = False
    base["mlflow"].update(
        tracking_uri=absolute_uri(cfg.mlflow.tracking_uri), experiment_name=f"{spec.name}-search", run_name=None
    )
    # trials run in this folder (run_trial changes to it where it exists), so the default root ``data`` is looked
    # up as psn train and psn sweep look it up (there, then the dataset's own fallbacks); any other root is made
    # absolute for the Ray nodes that lack this folder
    if cfg.dataset.root != DEFAULT_DATA_ROOT:
        base["dataset"]["root"] = str(Path(cfg.dataset.root).expanduser().resolve())
    base["general"]["plugins"] = [str(Path(p).resolve()) if p.endswith(".py") else p for p in cfg.general.plugins]
    try:  # a mistake of the cell itself is named as such, not as one of the searched values
        config_from_dict(trial_config(base, {}, seeds[0]))
    except ConfigError as exc:
        raise SpecError(f"{spec.path}: {exc}") from None
    for dim in search.space.values():  # every value a trial can take at the edges is a valid config
        for value in dim.args:
            try:
                config_from_dict(trial_config(base, {dim.key: value}, seeds[0]))
            except ConfigError as exc:
                raise SpecError(
                    f"{spec.path}: search.space: {dim.key}: {param_text(value)} is not a valid value: {exc}"
                ) from None
    max_epochs = max(search.space["train.epochs"].args) if "train.epochs" in search.space else cfg.train.epochs
    if search.scheduler.name == "asha" and search.scheduler.grace_period > max_epochs:
        raise SpecError(
            f"{spec.path}: search.scheduler.grace_period: {search.scheduler.grace_period} epochs, but "
            f"trials train at most {max_epochs}"
        )
    fixed = [o for o in cells[0].overrides if o.split("=", 1)[0].strip() != SEED_KEY]
    ident = {k: v for k, v in identity(cfg).items() if k != SEED_KEY}
    return Plan(
        spec,
        search,
        base,
        seeds,
        fixed,
        base["mlflow"]["tracking_uri"],
        f"{spec.name}-search",
        search_key(search, ident, seeds),
        max(1, int(cpus_per_trial)),
        max_epochs,
    )


# ---- MLflow: the search's run and the closing of stopped trials ---------------------------------------------
def search_run_name(plan: Plan) -> str:
    """The search's parent run: ``<spec> search <key>`` (the key tells continued searches of one spec apart)."""
    return f"{plan.spec.name} search {plan.key[:8]}"


def search_description(plan: Plan) -> str:
    """What the search is, in a sentence (its experiment's and its parent run's description)."""
    s = plan.search
    about = f" {plan.spec.description.strip()}" if plan.spec.description else ""
    return (
        f"Search of sweep spec {plan.spec.name} ({plan.spec.path}): {s.trials} {s.searcher} trials over "
        f"{', '.join(s.space)}, scored by {s.metric} ({s.mode}) on "
        f"{plan.base['dataset']['val_sample_num']} validation images.{about}"
    )


def open_search_run(plan: Plan) -> tuple[Any, str, str]:
    """(client, experiment id, run id) of the search's parent run: the one tagged with this search's key (reopened
    when a search is continued), else a new one with the search settings as params."""
    from mlflow.entities import RunStatus

    from parametricSN.tracking.store import client_for, default_artifact_location, get_or_create_experiment

    client = client_for(plan.uri)
    artifacts = plan.base["mlflow"]["artifact_location"] or default_artifact_location(plan.uri, plan.experiment)
    exp_id = get_or_create_experiment(client, plan.experiment, artifacts, search_description(plan))
    found = client.search_runs(
        [exp_id],
        filter_string=f"tags.`{TAG_SEARCH}` = '{plan.key}' and tags.`{TAG_ROLE}` = '{ROLE_SEARCH}'",
        max_results=1,
    )
    if found:
        run_id = found[0].info.run_id
        client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
        return client, exp_id, run_id
    s = plan.search
    from parametricSN.tracking.describe import NOTE, code_version_tags, command

    run = client.create_run(
        exp_id,
        run_name=search_run_name(plan),
        tags={
            TAG_SEARCH: plan.key,
            TAG_ROLE: ROLE_SEARCH,
            TAG_SPEC: str(plan.spec.path),
            **code_version_tags(),
            NOTE: f"{search_description(plan)}\n\nCommand: `{command()}`",
        },
    )
    params = {
        "metric": s.metric,
        "mode": s.mode,
        "trials": s.trials,
        "searcher": s.searcher,
        "seed": s.seed,
        "seeds_per_trial": s.seeds_per_trial,
        "scheduler": json.dumps(vars(s.scheduler)),
        "seeds": plan.seeds[: s.seeds_per_trial],
        "threads": plan.threads,
        **{f"space.{d.key}": json.dumps({d.kind: list(d.args)}) for d in s.space.values()},
    }
    for k, v in params.items():
        client.log_param(run.info.run_id, f"search.{k}", str(v))
    return client, exp_id, run.info.run_id


# ---- the search, its summary and best.yaml ------------------------------------------------------------------
@dataclass
class TrialResult:
    trial_id: str
    sampled: dict
    value: Optional[float]  # the metric's last reported value (mean over the trial's seeds)
    epoch: int  # the last epoch it reported
    epochs: int  # the epochs it was to train
    run_id: Optional[str]


def rank(results: list[TrialResult], mode: str) -> list[TrialResult]:
    """Trials with a value, those that ran every epoch first, then best value first."""
    scored = [r for r in results if r.value is not None]
    sign = -1.0 if mode == "max" else 1.0
    return sorted(scored, key=lambda r: (r.epoch < r.epochs, sign * r.value))


def best_spec(plan: Plan, best: TrialResult) -> dict:
    """The spec ``psn sweep`` runs on the test split: the best values as overrides, the spec's seeds as a grid."""
    spec = plan.spec
    return {
        "name": f"{spec.name}-best",
        "description": f"best of search {plan.key} ({plan.experiment}): trial {best.trial_id}, "
        f"{plan.search.metric}={best.value:.2f} on {plan.base['dataset']['val_sample_num']} "
        f"validation images",
        **({"base": str(spec.base)} if spec.base else {}),
        "overrides": [*plan.fixed, *(override_text(k, v) for k, v in best.sampled.items())],
        "grid": {SEED_KEY: plan.seeds},
        **(
            {"published": [{"where": p.where, "mean": p.mean, "std": p.std} for p in spec.published]}
            if spec.published
            else {}
        ),
    }


def summary(plan: Plan, ranked: list[TrialResult], total: int) -> str:
    """The top :data:`TOP` trials as a table."""
    keys, metric = list(plan.search.space), plan.search.metric
    rows = [[metric, "epochs", *keys, "run"]]
    rows += [
        [f"{r.value:.2f}", f"{r.epoch}/{r.epochs}", *(fmt(r.sampled.get(k)) for k in keys), r.run_id or "-"]
        for r in ranked[:TOP]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    seeds = plan.search.seeds_per_trial
    head = f"top {min(TOP, len(ranked))} of {total} trials by {metric} ({'mean over ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed'}; full-length trials first):"
    return "\n".join([head, *("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)])


def never_reported(results: list, metric: str) -> list:
    """The trials of Ray Tune ``results`` that neither reported ``metric`` nor failed: Ray left them pending (a
    Ctrl-C came first). Their result is not empty (Ray fills in the trial id), and Ray may count them as ended."""
    return [r for r in results if r.error is None and metric not in (r.metrics or {})]


def tune_command(plan: Plan, output: Path, address: Optional[str], cpus: float, gpus: float) -> str:
    """The ``psn tune`` command line that continues ``plan``'s search: the spec, the store and the output folder
    absolute (it works from any folder), the options that differ from their defaults."""
    words = ["psn", "tune", str(Path(plan.spec.path).expanduser().resolve())]
    if plan.spec.search is not None and plan.search.trials != plan.spec.search.trials:
        words += ["--trials", str(plan.search.trials)]
    words += ["--address", address] if address else []
    words += ["--cpus-per-trial", f"{cpus:g}"] if cpus != 1.0 else []
    words += ["--gpus-per-trial", f"{gpus:g}"] if gpus else []
    return shlex.join([*words, "--tracking-uri", plan.uri, "--output", str(output)])


def run_search(
    plan: Plan,
    address: Optional[str] = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    output: Path = Path("."),
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    """Run (or continue) ``plan``'s search; print the top configs; write best.yaml and best-trial.yaml to
    ``output``. Returns 0, or 130 when interrupted (the trials' runs KILLED; rerun to continue)."""
    from mlflow.entities import RunStatus

    try:
        from parametricSN.sweeps import tune_ray
    except ImportError as exc:
        raise ConfigError(f"psn tune needs Ray Tune: pip install 'parametricSN[ray]' ({exc})") from None
    out, err = out or sys.stdout, err or sys.stderr
    output = output.expanduser().resolve()
    client, exp_id, parent = open_search_run(plan)
    # runs a previous, killed invocation of this search left open: Ray Tune restarts their trials
    close_trial_runs(client, exp_id, plan.key, "KILLED", {ERROR_TAG: "the search process ended"}, tag=TAG_SEARCH)
    s = plan.search
    print(
        f"search {plan.key} of {plan.spec.name}: {s.trials} trials ({s.searcher}, {s.scheduler.name}) of "
        f"{', '.join(s.space)} by {s.metric} on {plan.base['dataset']['val_sample_num']} validation images; "
        f"experiment {plan.experiment!r}, run {parent} in {plan.uri}",
        file=out,
        flush=True,
    )
    setup = {
        "base": plan.base,
        "seeds": plan.seeds[: s.seeds_per_trial],
        "parent": parent,
        "key": plan.key,
        "threads": plan.threads,
        "cwd": str(Path.cwd()),
        "attempt": uuid.uuid4().hex,  # this process's: a trial that failed in it fails again at once
    }
    log = output / ".psn-tune" / f"{plan.spec.name}-{plan.key}.log"
    results, interrupted = tune_ray.run_tuner(
        plan, setup, exp_id, address, cpus_per_trial, gpus_per_trial, output / ".psn-tune", log, out, err
    )
    trials = []
    for r in results:
        m = r.metrics or {}
        trials.append(
            TrialResult(
                m.get("trial_id", "?"),
                dict(r.config or {}),
                m.get(s.metric),
                int(m.get("epoch", 0)),
                int(m.get("trial_epochs", 0)),
                m.get("mlflow_run_id"),
            )
        )
    ranked = rank(trials, s.mode)
    # Ray ended the search early (Ctrl-C) when a trial never reported or its run is still open: those runs are
    # KILLED, and a rerun restarts those trials (Ray Tune keeps the finished ones)
    killed = close_trial_runs(
        client, exp_id, plan.key, "KILLED", {ERROR_TAG: "the search was interrupted"}, tag=TAG_SEARCH
    )
    if interrupted or killed or never_reported(results, s.metric):
        client.set_terminated(parent, RunStatus.to_string(RunStatus.KILLED))
        again = tune_command(plan, output, address, cpus_per_trial, gpus_per_trial)
        print(
            f"psn: search {plan.key} of {plan.spec.name} interrupted ({killed} trial runs marked KILLED; Ray's "
            f"messages in {log}); continue it (finished trials are kept) with: {again}",
            file=err,
            flush=True,
        )
        return 130
    if not ranked or ranked[0].epoch < ranked[0].epochs:
        client.set_terminated(parent, RunStatus.to_string(RunStatus.FAILED))
        print(
            f"psn: search {plan.key} of {plan.spec.name}: no trial ran every epoch ({len(trials)} trials); see "
            f"the failed runs in experiment {plan.experiment!r} in {plan.uri} (Ray's messages in {log})",
            file=err,
            flush=True,
        )
        return 1
    best = ranked[0]
    print(summary(plan, ranked, len(trials)), file=out)
    output.mkdir(parents=True, exist_ok=True)
    (output / "best.yaml").write_text(yaml.safe_dump(best_spec(plan, best), sort_keys=False))
    # the best trial as it ran (validation split only: reproducing a trial never reads the test split)
    cfg = config_from_dict(trial_config(plan.base, best.sampled, plan.seeds[0]))
    cfg.mlflow.experiment_name = f"{plan.spec.name}-best-trial"
    (output / "best-trial.yaml").write_text(cfg.to_yaml())
    client.log_metric(parent, f"best_{s.metric}", best.value)
    who, mean = ("'s first seed", f" is the mean over {s.seeds_per_trial} seeds") if s.seeds_per_trial > 1 else ("", "")
    client.set_tag(parent, TAG_BEST_RUN, best.run_id or "")
    client.set_terminated(parent, RunStatus.to_string(RunStatus.FINISHED))
    print(
        f"wrote {output / 'best.yaml'}: {sweep_command(str(output / 'best.yaml'), plan.uri)} && "
        f"{report_command(f'{plan.spec.name}-best', plan.uri)}\nreproduce the best trial{who} "
        f"({s.metric}={best.value:.2f}{mean}, test split unread): OMP_NUM_THREADS={plan.threads} "
        f"{shlex.join(['psn', 'train', '-c', str(output / 'best-trial.yaml')])}",
        file=out,
        flush=True,
    )
    return 0
