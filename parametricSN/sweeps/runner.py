"""``run_sweep``: skip the cells that already have a FINISHED run, launch the others, report progress.

The store and experiment are created here, once, before any worker starts (so parallel workers never race to
create or migrate a fresh store). Each run is tagged ``psn.sweep`` (the spec's name), ``psn.cell`` (the cell
hash, see :func:`parametricSN.sweeps.spec.cell_hash`), ``psn.varying`` (JSON of the varying keys and their
values here) and ``psn.attempt`` (unique per launch, used to close the run of a worker that died). The spec's
``published`` list is stored as the experiment tag ``psn.published`` for ``psn report``.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional, TextIO

from mlflow.entities import RunStatus

from parametricSN.sweeps.spec import Cell, SweepSpec
from parametricSN.tracking.store import client_for, default_artifact_location, get_or_create_experiment, \
    resolve_tracking_uri, sqlite_path

TAG_SWEEP, TAG_CELL, TAG_VARYING, TAG_ATTEMPT = "psn.sweep", "psn.cell", "psn.varying", "psn.attempt"
TAG_PUBLISHED = "psn.published"
ERROR_TAG = "error"


@dataclass
class Outcome:
    """How one cell ended in this sweep."""

    cell: Cell
    status: str  # FINISHED | FAILED | KILLED
    run_id: Optional[str]
    test_acc: Optional[float]
    error: Optional[str]
    duration: float


def absolute_uri(uri: Optional[str]) -> str:
    """The resolved tracking URI; a relative SQLite path made absolute, so that a worker started in another
    folder (a Ray node) writes to the same store."""
    uri = resolve_tracking_uri(uri)
    path = sqlite_path(uri)
    if path is not None and not path.expanduser().is_absolute():
        return f"sqlite:///{path.expanduser().resolve()}"
    return uri


def prepare_experiment(spec: SweepSpec, cells: list[Cell]) -> tuple[Any, str, str]:
    """Create the store and experiment (once, before the workers); returns (client, experiment id, uri)."""
    m = cells[0].config.mlflow
    uri = absolute_uri(m.tracking_uri)
    client = client_for(uri)
    artifacts = m.artifact_location or default_artifact_location(uri, spec.name)
    exp_id = get_or_create_experiment(client, spec.name, artifacts)
    published = [{"where": p.where, "mean": p.mean, "std": p.std} for p in spec.published]
    client.set_experiment_tag(exp_id, TAG_PUBLISHED, json.dumps(published, separators=(",", ":")))
    return client, exp_id, uri


def finished_cells(client: Any, exp_id: str) -> set[str]:
    """Hashes of the cells of this experiment that have a FINISHED run."""
    runs = client.search_runs([exp_id], filter_string="attributes.status = 'FINISHED'", max_results=50000)
    return {r.data.tags[TAG_CELL] for r in runs if TAG_CELL in r.data.tags}


def _task(spec: SweepSpec, cells: list[Cell], uri: str) -> dict[str, Any]:
    """A launcher task: ``cells`` run one after the other in one worker process (one cell per task today)."""
    runs = []
    for cell in cells:
        config = cell.config.to_dict()
        config["mlflow"]["tracking_uri"] = uri
        config["mlflow"]["run_name"] = config["mlflow"]["run_name"] or f"{spec.name}-{cell.hash[:8]}-s{cell.seed}"
        tags = {TAG_SWEEP: spec.name, TAG_CELL: cell.hash, TAG_ATTEMPT: uuid.uuid4().hex,
                TAG_VARYING: json.dumps(cell.varying, sort_keys=True)}
        runs.append({"config": config, "tags": tags})
    return {"cells": [c.index for c in cells], "runs": runs, "pack": len(cells) > 1}


def pack_groups(cells: list[Cell], size: int) -> list[list[Cell]]:
    """``cells`` in launcher tasks: one cell per task, or with ``size`` > 1 the cells whose configs differ only in
    ``general.seed`` grouped, in spec order, into packs of at most ``size`` (trained as one model by
    :func:`parametricSN.training.train_pack`). A head that cannot be packed is a ConfigError naming it."""
    if size <= 1:
        return [[c] for c in cells]
    from parametricSN.training.pack import check_pack

    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        flat = cell.config.flat()
        flat.pop("general.seed")
        groups.setdefault(json.dumps(flat, sort_keys=True, default=str), []).append(cell)
    packs = []
    for group in groups.values():
        check_pack([c.config for c in group])
        packs += [group[i:i + size] for i in range(0, len(group), size)]
    return sorted(packs, key=lambda pack: pack[0].index)


def _close_orphan(client: Any, exp_id: str, attempt: str, error: str) -> Optional[str]:
    """A worker died mid-run: mark its still-RUNNING MLflow run FAILED with ``error``; return its id."""
    runs = client.search_runs([exp_id], filter_string=f"tags.`{TAG_ATTEMPT}` = '{attempt}'")
    for run in runs:
        if run.info.status == "RUNNING":
            client.set_tag(run.info.run_id, ERROR_TAG, error[:5000])
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
        return run.info.run_id
    return None


def run_sweep(spec: SweepSpec, cells: list[Cell], launcher: str = "local", workers: int = 1,
              address: Optional[str] = None, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
              out: Optional[TextIO] = None, err: Optional[TextIO] = None, pack: int = 1) -> int:
    """Run every cell without a FINISHED run; print one line per finished run and a summary. Returns 0 when
    every run finished, 1 otherwise (each failed run listed on ``err`` with its run id and error). ``pack`` > 1
    trains up to that many cells that differ only in their seed as one packed model (one task, one process);
    each is still its own MLflow run."""
    from parametricSN.sweeps.launchers import launch_local, launch_ray

    out, err = out or sys.stdout, err or sys.stderr
    pack_groups(cells, pack)  # a head that cannot be packed is a config error before the store is touched
    client, exp_id, uri = prepare_experiment(spec, cells)
    done = finished_cells(client, exp_id)
    todo, seen = [], set(done)
    for cell in cells:
        if cell.hash not in seen:  # the same config twice in a spec is run once
            todo.append(cell)
            seen.add(cell.hash)
    skipped = len(cells) - len(todo)
    print(f"{spec.name}: {len(cells)} runs, {skipped} already finished or repeated, {len(todo)} to run "
          f"({launcher}) -> {uri}", file=out, flush=True)
    by_index = {c.index: c for c in todo}
    tasks = [_task(spec, group, uri) for group in pack_groups(todo, pack)]
    if launcher == "ray":
        stream = launch_ray(tasks, address, cpus_per_run, gpus_per_run)
    else:
        stream = launch_local(tasks, workers)
    outcomes: list[Outcome] = []
    for task, results in stream:
        for index, run, res in zip(task["cells"], task["runs"], results):
            cell = by_index[index]
            run_id = res["run_id"] or (_close_orphan(client, exp_id, run["tags"][TAG_ATTEMPT], res["error"])
                                       if res["status"] != "FINISHED" else None)
            o = Outcome(cell, res["status"], run_id, res["test_acc"], res["error"], res["duration"])
            outcomes.append(o)
            acc = f"test_acc={o.test_acc:.2f}" if o.test_acc is not None else o.status
            print(f"[{len(outcomes)}/{len(todo)}] {cell.label()} seed={cell.seed}: {acc} ({o.duration:.1f}s) "
                  f"run {o.run_id or '-'}", file=out, flush=True)
    failed = [o for o in outcomes if o.status != "FINISHED"]
    from parametricSN.commands import report_command
    print(f"{spec.name}: {len(outcomes) - len(failed)} finished, {skipped} skipped, {len(failed)} failed "
          f"(experiment {spec.name!r} in {uri}; table: {report_command(spec.name, uri)})", file=out, flush=True)
    for o in failed:  # a run that failed before its MLflow run opened (e.g. missing data) has no run id
        where = f"run {o.run_id} (tag {ERROR_TAG!r})" if o.run_id else "no MLflow run was created"
        print(f"psn: {o.status} {o.cell.label()} seed={o.cell.seed}: {where}: {o.error}", file=err, flush=True)
    return 1 if failed else 0
