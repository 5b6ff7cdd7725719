"""``psn train --resume RUN_ID [key=value ...]``: find a run's last checkpoint in the store and continue it.

The run keeps its id: its status goes back to RUNNING and the new epochs' metrics are appended to its
history. Training restarts from the newest checkpoint artifact (``checkpoints/epoch_NNNN.pt``, written every
``train.checkpoint_every`` epochs and when the run is stopped by SIGINT / SIGTERM); a damaged newest checkpoint
falls back to the one before it. The config is the checkpoint's own, changed only by overrides that
:func:`parametricSN.training.resume.check_resume_config` allows.

A member of a pack (tag ``pack_id``) resumes the whole pack: its checkpoint is in the run with ``pack_index`` 0 and
holds every member's run id, config and history, so any member's run id finds it.

A run killed without a chance to checkpoint (SIGKILL, power loss) may have logged epochs after its last
checkpoint: they are trained again but not logged a second time (the store keeps the points it has; by
determinism they are the same values, see ``MlflowLogger.for_run``).

A run whose tracking server went away (:mod:`parametricSN.tracking.outage`) may have a local spool: what it could
not send yet, its newest checkpoints included. It is delivered to the store first (one line says what), so that the
run's history is whole; ``checkpoint=PATH`` (``--checkpoint``) then resumes from that local checkpoint file instead
of the newest one in the store. A run that had trained all its epochs when it stopped is complete once its spool is
delivered: :class:`Delivered` says so.
"""

from __future__ import annotations

import re
import sys
import tempfile
import warnings
from typing import Any, Optional

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

from parametricSN.config import Config, ConfigError, apply_overrides, config_from_dict, parse_override
from parametricSN.tags import TAG_PACK_ID, TAG_PACK_INDEX
from parametricSN.tracking.mlflow_logger import MlflowLogger
from parametricSN.tracking.preflight import TrackingError
from parametricSN.tracking.spool import Spool
from parametricSN.tracking.store import client_for, resolve_tracking_uri
from parametricSN.training.checkpoint import CheckpointError, load_checkpoint
from parametricSN.training.resume import check_resume_config

CHECKPOINT_DIR = "checkpoints"
_EPOCH = re.compile(r"epoch_(\d+)\.pt$")


class Delivered(Exception):
    """``--resume`` of a run that had trained all its epochs when its tracking server went away: delivering its
    spool completed it (the message says so); there is nothing to train."""


def deliver_spool(run_id: str, uri: str, experiment: str = "default") -> bool:
    """Send what run ``run_id`` spooled on this machine while its tracking server was away (one line on stderr
    says how much); True when the run's end was among it (the run is now FINISHED)."""
    spool = Spool(run_id)
    if not spool:
        return False
    ended = spool.ended()
    logger = MlflowLogger.for_run(run_id, uri, experiment)
    logger.run_id, logger.spool = run_id, spool
    sent = spool.deliver(logger._send)
    print(
        f"psn: run {run_id}: delivered {sent['points']} metric points and {sent['files']} files kept on local disk "
        "while the tracking server was away",
        file=sys.stderr,
        flush=True,
    )
    return ended


def _override_uri(overrides: list[str]) -> Optional[str]:
    uri = None
    for text in overrides:
        key, value = parse_override(text)
        if key == "mlflow.tracking_uri":
            uri = value
    return uri


def get_run_or_explain(client: Any, run_id: str, uri: str) -> Any:
    """``client.get_run(run_id)``; a missing run is a ConfigError, an unusable store a TrackingError."""
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise ConfigError(
                f"--resume: no run {run_id!r} in the tracking store {uri!r}; check the id "
                "(mlflow ui) or give mlflow.tracking_uri=... of the store it is in"
            ) from None
        raise TrackingError(f"cannot read the tracking store {uri!r}: {' '.join(exc.message.split())[:300]}") from None


def _newest_checkpoint(client: Any, run_id: str, dst: str) -> dict[str, Any]:
    names = sorted(
        (f.path for f in client.list_artifacts(run_id, CHECKPOINT_DIR) if _EPOCH.search(f.path)),
        key=lambda p: int(_EPOCH.search(p).group(1)),
        reverse=True,
    )
    if not names:
        raise CheckpointError(
            f"run {run_id} has no checkpoint to resume from: it was stopped before its first "
            "checkpoint (train.checkpoint_every=0 and no SIGINT / SIGTERM); start it again"
        )
    for i, name in enumerate(names):
        try:  # named by its artifact, not by the temporary copy
            return load_checkpoint(client.download_artifacts(run_id, name, dst), shown=f"artifact {name}", fix="")
        except (CheckpointError, MlflowException, OSError) as exc:
            if i + 1 == len(names):
                which = "its only checkpoint is" if len(names) == 1 else f"none of its {len(names)} checkpoints is"
                raise CheckpointError(
                    f"run {run_id} cannot be resumed: {which} readable (the oldest: {exc}); train it again from "
                    "the start"
                ) from None
            warnings.warn(f"run {run_id}: {exc}; resuming from {names[i + 1]}", stacklevel=2)
    raise AssertionError("unreachable")  # pragma: no cover


def prepare_resume(run_id: str, overrides: list[str]) -> tuple[Config, dict[str, Any], MlflowLogger]:
    """``(config, checkpoint, logger)`` for ``train(config, logger, resume=checkpoint)`` to continue the single
    run ``run_id`` (a pack member is a ConfigError: see :func:`prepare_resume_runs`)."""
    cfgs, state, loggers = prepare_resume_runs(run_id, overrides)
    if "members" in state:
        raise ConfigError(
            f"--resume: run {run_id} is a member of a pack; resume the pack (prepare_resume_runs, train_pack)"
        )
    return cfgs[0], state, loggers[0]


def prepare_resume_runs(
    run_id: str, overrides: list[str], checkpoint: Optional[str] = None
) -> tuple[list[Config], dict[str, Any], list[MlflowLogger]]:
    """``(configs, checkpoint, loggers)`` that continue run ``run_id``: ``train(configs[0], loggers[0],
    resume=checkpoint)`` for a single run, ``train_pack(configs, loggers, resume=checkpoint)`` for a member of a
    pack (the checkpoint has ``members``; every member continues). The store is ``mlflow.tracking_uri`` from
    ``overrides``, else ``$MLFLOW_TRACKING_URI``, else the default; it is only read here (a mistyped SQLite path is
    an error, not a new empty store). ``checkpoint``: a local checkpoint file of the run to continue from instead
    of its newest one in the store (read before the run's spool is delivered, which removes the spool's copies)."""
    uri = resolve_tracking_uri(_override_uri(overrides))
    client = client_for(uri, create=False)
    run = _live_run(client, run_id, uri)
    owner = _pack_owner(client, run) if TAG_PACK_ID in run.data.tags else run_id
    state = load_checkpoint(checkpoint) if checkpoint else None
    experiment = client.get_experiment(run.info.experiment_id).name
    for spooled in dict.fromkeys([owner, run_id]):
        if deliver_spool(spooled, uri, experiment) and spooled == run_id:
            raise Delivered(f"run {run_id} is complete: it had trained all its epochs; nothing to resume")
    if state is None:
        with tempfile.TemporaryDirectory(prefix="psn-resume-") as tmp:
            state = _newest_checkpoint(client, owner, tmp)
    members = state.get("members") or [{"run_id": run_id, "config": state["config"]}]
    if run_id not in [m["run_id"] for m in members]:
        raise CheckpointError(
            f"run {run_id}: the pack's checkpoint (in run {owner}) does not list it; its pack cannot be resumed"
        )
    cfgs = []
    for member in members:
        member_run = run if member["run_id"] == run_id else _live_run(client, member["run_id"], uri)
        logged = max((m.step for m in client.get_metric_history(member["run_id"], "train_loss")), default=0)
        if member_run.info.status == "FINISHED" and logged > state["epoch"]:
            raise CheckpointError(
                f"run {member['run_id']} finished {logged} epochs but its newest checkpoint is "
                f"of epoch {state['epoch']}: it cannot be extended (train it with "
                "train.checkpoint_every > 0 to be able to extend it later)"
            )
        saved = config_from_dict(member["config"])
        cfg = apply_overrides(config_from_dict(member["config"]), overrides)
        check_resume_config(saved, cfg, int(state["epoch"]))
        cfgs.append(cfg)
    return cfgs, state, [MlflowLogger.for_run(m["run_id"], uri, experiment) for m in members]


def _live_run(client: Any, run_id: str, uri: str) -> Any:
    run = get_run_or_explain(client, run_id, uri)
    if run.info.lifecycle_stage == "deleted":
        raise ConfigError(f"--resume: run {run_id} is deleted; restore it first (mlflow runs restore)")
    return run


def _pack_owner(client: Any, run: Any) -> str:
    """The run id of ``run``'s pack member 0, which holds the pack's checkpoints."""
    if run.data.tags.get(TAG_PACK_INDEX) == "0":
        return run.info.run_id
    found = client.search_runs(
        [run.info.experiment_id],
        f"tags.{TAG_PACK_ID} = '{run.data.tags[TAG_PACK_ID]}' and tags.{TAG_PACK_INDEX} = '0'",
        max_results=1,
    )
    if not found:
        raise CheckpointError(
            f"run {run.info.run_id}: the first member of its pack (tag {TAG_PACK_ID}="
            f"{run.data.tags[TAG_PACK_ID]}, {TAG_PACK_INDEX}=0), which holds the pack's checkpoints, is "
            "not in the store; the pack cannot be resumed"
        )
    return found[0].info.run_id
