"""A single run's per-epoch metrics are pinned bit for bit on CPU (``data/loop_metrics.json``).

Two small configs on the fake Fashion-MNIST of :func:`tests.training.fixtures.fmnist_root`: a learnable
scattering with the linear head, and a fixed one with the hybrid wide-ResNet head (batch statistics, momentum,
accumulation). The fixture was recorded before the single-run loop and the pack loop became one loop; any change
to the arithmetic of a single run (summation order, an extra cast) shows up here as a changed last bit.

Regenerate only for a deliberate change of the numbers:
``PSN_RECORD_FIXTURE=1 pytest tests/training/test_loop_fixture.py``.
"""

import json
import os
from pathlib import Path

import pytest
import torch

from parametricSN.training import train
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger

FIXTURE = Path(__file__).parent / "data" / "loop_metrics.json"
CONFIGS = {
    "linear-learnable": (
        "train.epochs=3",
        "dataset.augment=resize-crop",
        "scattering.learnable=true",
        "optim.scheduler=step",
        "general.seed=3",
    ),
    "hybrid-fixed": (
        "model.name=hybrid-wrn",
        "model.width=1",
        "model.depth=1",
        "scattering.learnable=false",
        "train.epochs=3",
        "train.test_every=2",
        "train.accum_steps=2",
        "optim.momentum=0.9",
        "general.seed=5",
    ),
}


THREADS = 2  # CPU sums depend on torch's intra-op thread count; the fixture was recorded with 2 (the suite uses 1)


def _history(fmnist_root, name):
    cfg = make_cfg("fashion_mnist", *TINY, *CONFIGS[name], root=fmnist_root)
    logger = RecordingLogger()
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        result = train(cfg, logger)
    finally:
        torch.set_num_threads(threads)
    assert logger.metrics == {h["epoch"]: {k: v for k, v in h.items() if k != "epoch"} for h in result.history}
    return result.history


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_single_run_metrics_are_unchanged_bit_for_bit(fmnist_root, name):
    history = _history(fmnist_root, name)
    if os.environ.get("PSN_RECORD_FIXTURE"):
        recorded = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
        recorded[name] = history
        FIXTURE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(FIXTURE.read_text())[name]
    # metrics added since the fixture was recorded (e.g. the frame bounds) are new columns, not changed numbers
    assert [{k: h[k] for k in r} for h, r in zip(history, recorded)] == recorded  # JSON keeps 17 digits: exact
    assert len(history) == len(recorded)
