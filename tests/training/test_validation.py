"""Validation metrics in the epoch loop, and runs that never evaluate the test split
(``parametricSN/training/loop.py``: ``eval_sets``)."""

import math

from parametricSN.training import train
from parametricSN.training.loop import evaluate
from tests.configs import TINY, make_cfg
from tests.training.fixtures import RecordingLogger


def test_val_metrics_every_test_epoch_and_no_test_metrics_without_the_test_split(fmnist_root):
    common = (*TINY, "dataset.train_sample_num=10", "dataset.val_sample_num=20", "train.epochs=2")
    with_test, without_test = RecordingLogger(), RecordingLogger()
    a = train(make_cfg("fashion_mnist", *common, root=fmnist_root), with_test)
    b = train(make_cfg("fashion_mnist", *common, "train.evaluate_test=false", root=fmnist_root), without_test)
    for step in (1, 2):
        assert {"val_loss", "val_acc", "test_loss", "test_acc"} <= set(with_test.metrics[step])
        assert {"val_loss", "val_acc"} <= set(without_test.metrics[step])
        assert not any(k.startswith("test_") for k in without_test.metrics[step])
        # the test pass changes nothing the validation pass sees
        assert with_test.metrics[step]["val_acc"] == without_test.metrics[step]["val_acc"]
    assert math.isnan(b.test_acc) and not math.isnan(a.test_acc) and without_test.ended == "FINISHED"


def test_val_metrics_are_an_evaluation_of_the_validation_loader(fmnist_root):
    from parametricSN.data import build_loaders
    from parametricSN.models import build_model
    from parametricSN.training import build_loss
    from parametricSN.training.loop import eval_sets

    cfg = make_cfg("fashion_mnist", *TINY, "dataset.train_sample_num=10", "dataset.val_sample_num=20", root=fmnist_root)
    loaders = build_loaders(cfg)
    assert eval_sets(loaders) == ["test", "val"]
    model, loss = build_model(cfg), build_loss("cross-entropy")
    val = evaluate(model, loaders.val, loss, "cpu", name="val")
    assert set(val) == {"val_loss", "val_acc"} and len(loaders.val_indices) == 20
    assert eval_sets(
        build_loaders(
            make_cfg(
                "fashion_mnist",
                *TINY,
                "dataset.train_sample_num=10",
                "dataset.val_sample_num=20",
                "train.evaluate_test=false",
                root=fmnist_root,
            )
        )
    ) == ["val"]
