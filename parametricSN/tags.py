"""The names of the tags psn sets on MLflow runs and experiments, each defined once (this module imports nothing).

Every run:

- :data:`ERROR_TAG` (``error``): why a run that did not finish ended (the exception, a lost heartbeat, a stopped
  search); removed when the run is resumed.

A packed run (``psn train --pack``, ``psn sweep --pack``): :data:`TAG_PACK_ID` (one id per pack),
:data:`TAG_PACK_INDEX` (its place in the pack; member 0 holds the pack's checkpoints), :data:`TAG_PACK_SIZE`.

A sweep's run (:mod:`parametricSN.sweeps.runner`): :data:`TAG_SWEEP` (the spec's name), :data:`TAG_CELL` (the cell
hash), :data:`TAG_VARYING` (JSON of the varying keys' values), :data:`TAG_ATTEMPT` (unique per launch: finds the run
of a worker that died), :data:`TAG_HEARTBEAT` (unix seconds, refreshed while it trains), :data:`TAG_LOST` (closed
because its heartbeat stopped), :data:`TAG_RESUMED` (the stopped run it continues). The experiment of a sweep:
:data:`TAG_PUBLISHED` (the spec's published numbers, JSON); its summary run made by ``psn report --log``:
:data:`TAG_REPORT`.

A search (:mod:`parametricSN.sweeps.tune`): the search's own run has :data:`TAG_ROLE` = :data:`ROLE_SEARCH`,
:data:`TAG_SEARCH` (the search key), :data:`TAG_SPEC` and, at the end, :data:`TAG_BEST_RUN`. A trial's runs have
:data:`TAG_TRIAL` (Ray Tune's trial id), :data:`TAG_SEARCH`, :data:`TAG_SAMPLED` (JSON of the sampled values),
:data:`TAG_THREADS`, :data:`TAG_PARENT` (MLflow's own parent-run tag), :data:`TAG_ATTEMPT` (one per ``psn tune``
process), :data:`TAG_NODE` (the Ray node it trained on) and, when the scheduler stopped the trial,
:data:`TAG_STOPPED` (the last epoch it reported); a run lost with its node, :data:`TAG_LOST`, and the run
continuing it, :data:`TAG_RESUMED`.
"""

ERROR_TAG = "error"

TAG_PACK_ID, TAG_PACK_INDEX, TAG_PACK_SIZE = "pack_id", "pack_index", "pack_size"

TAG_SWEEP, TAG_CELL, TAG_VARYING, TAG_ATTEMPT = "psn.sweep", "psn.cell", "psn.varying", "psn.attempt"
TAG_HEARTBEAT, TAG_LOST, TAG_RESUMED = "psn.heartbeat", "psn.lost", "psn.resumed_from"
TAG_NODE = "psn.node"  # the Ray node a run trained on (``--launcher ray``, a tune trial)
TAG_PUBLISHED, TAG_REPORT = "psn.published", "psn.report"

TAG_ROLE, ROLE_SEARCH, TAG_SPEC, TAG_BEST_RUN = "psn.role", "search", "psn.spec", "psn.best_run"
TAG_TRIAL, TAG_SEARCH, TAG_SAMPLED, TAG_THREADS = "psn.trial", "psn.search", "psn.sampled", "psn.threads"
TAG_STOPPED, TAG_PARENT = "psn.stopped_early", "mlflow.parentRunId"
