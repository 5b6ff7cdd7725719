"""Checkpoints (``parametricSN/training/checkpoint.py``): round trip, clear errors, and exact resume."""

import pytest
import torch

from parametricSN.data import build_loaders
from parametricSN.models import build_model
from parametricSN.training import (
    CheckpointError,
    FilterReport,
    Member,
    Trainee,
    build_loss,
    build_optimizer,
    build_schedule,
    fit,
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    seed_everything,
    train,
)
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger

RANDOM = (
    "model.name=mlp",
    "model.dropout=0.3",
    "model.hidden=16",
    "model.depth=1",
    "dataset.augment=resize-crop",
    "optim.scheduler=onecycle",
    "train.epochs=3",
    "train.test_every=2",
)


def parts(cfg):
    seed_everything(cfg.general.seed)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    loaders = build_loaders(cfg)
    return model, optimizer, build_schedule(optimizer, cfg, len(loaders.train)), loaders


def test_round_trip_and_weights_only_loading(tmp_path, fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    model, optimizer, schedule, _ = parts(cfg)
    path = save_checkpoint(
        tmp_path / "c.pt",
        model=model,
        optimizer=optimizer,
        schedule=schedule,
        epoch=4,
        history=[{"epoch": 4, "train_loss": 1.5}],
        cfg=cfg,
        extra={"note": "x"},
    )
    state = load_checkpoint(path)
    assert state["epoch"] == 4 and state["history"] == [{"epoch": 4, "train_loss": 1.5}]
    assert state["config"] == cfg.to_dict() and state["extra"] == {"note": "x"}
    assert set(state["model"]) == set(model.state_dict())
    assert not (tmp_path / "c.pt.tmp").exists()


def test_missing_corrupt_and_foreign_files_are_clear_errors(tmp_path, fmnist_root):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    cfg = make_cfg("fashion_mnist", *TINY, root=fmnist_root)
    model, optimizer, schedule, _ = parts(cfg)
    good = save_checkpoint(
        tmp_path / "good.pt", model=model, optimizer=optimizer, schedule=schedule, epoch=1, history=[], cfg=cfg
    )
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a parametricSN checkpoint"):
        load_checkpoint(foreign)


def test_resuming_from_a_checkpoint_replays_the_run_exactly(fmnist_root):
    cfg = make_cfg("fashion_mnist", *TINY, *RANDOM, "train.checkpoint_every=1", root=fmnist_root)
    logger = RecordingLogger()
    full = train(cfg, logger)
    assert logger.artifacts.count("checkpoints/epoch_0001.pt") == 1 and len(logger.checkpoints) == 3
    ckpt = logger.checkpoints[0]
    assert ckpt["epoch"] == 1 and ckpt["history"] == full.history[:1]

    torch.manual_seed(12345)  # scramble the global generator: the checkpoint must restore it
    model, optimizer, schedule, loaders = parts(cfg)
    start = restore_checkpoint(ckpt, model=model, optimizer=optimizer, schedule=schedule) + 1
    member = Member(
        cfg,
        loaders,
        RecordingLogger(),
        history=list(ckpt["history"]),
        hooks=[FilterReport(model, cfg, initial=ckpt["extra"]["initial_filters"])],
    )
    fit(
        Trainee(model, optimizer, schedule),
        [member],
        build_loss(cfg.train.loss),
        torch.device("cpu"),
        start_epoch=start,
    )
    assert member.history == full.history
