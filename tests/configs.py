"""The one way tests build configs: ``make_cfg(dataset, *overrides, root=None)``, plus override presets.

    make_cfg("cifar", root=tmp_path)                          # data-layer size: native 32x32 (28x28), 2 per class
    make_cfg("fashion_mnist", *TINY, "train.epochs=1", root=fmnist_root)   # a whole run in well under a second
    make_cfg("kth", *paper("kth"), "model.name=hybrid-wrn")          # the paper's input size and J, a small head

Overrides are applied in order, so later ones win (the caller's come last).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

from parametricSN.config import Config, load_config
from parametricSN.config.no_effect import NoEffectWarning

# training images per dataset at the data-layer size: the fewest that a class-balanced subset allows, or 2 per class
TRAIN_SAMPLES = {"cifar": 20, "fashion_mnist": 20, "kth": 22, "covidx": 4}
# 8x8 images, J=1, L=4: 1 + 4 = 5 coefficients on 4x4, 2 epochs, nothing written but metrics
TINY = (
    "dataset.height=8",
    "dataset.width=8",
    "dataset.train_sample_num=20",
    "dataset.test_sample_num=10",
    "dataset.train_batch_size=8",
    "dataset.test_batch_size=8",
    "dataset.augment=noaugment",
    "scattering.J=1",
    "scattering.L=4",
    "model.name=linear",
    "train.epochs=2",
    "train.test_every=1",
    "train.save_model=false",
    "viz.figures=false",
    "general.device=cpu",
    "mlflow.experiment_name=tests",
)
# dataset -> (side length, J): the shapes and scales of the paper's configs
PAPER_SHAPES = {"cifar": (32, 2), "fashion_mnist": (28, 2), "kth": (128, 4), "covidx": (224, 4)}


def paper(dataset: str, small: bool = True) -> tuple[str, ...]:
    """The paper's input size and J for ``dataset``; ``small`` shrinks the head and uses L = 4."""
    side, J = PAPER_SHAPES[dataset]
    shape = (f"dataset.height={side}", f"dataset.width={side}", f"scattering.J={J}")
    return shape + (("scattering.L=4", "model.width=1", "model.depth=1", "model.hidden=16") if small else ())


def make_cfg(dataset: str, *overrides: str, root: Optional[Path] = None) -> Config:
    """A validated config for ``dataset`` (read from ``root`` when given) at its native size with
    :data:`TRAIN_SAMPLES` training images and batches of 8; ``overrides`` come last."""
    side = 28 if dataset == "fashion_mnist" else 32
    # the defaults before they became the paper's protocol (subset paper, augment autoaugment-paper, sample d):
    # the tests' numbers and fixtures were recorded with these
    former = ["dataset.subset=balanced", "dataset.augment=autoaugment"]
    former += ["dataset.sample=a"] if dataset == "kth" else []
    base = (
        former
        + [
            f"dataset.name={dataset}",
            f"dataset.height={side}",
            f"dataset.width={side}",
            f"dataset.train_sample_num={TRAIN_SAMPLES.get(dataset, 20)}",
            "dataset.train_batch_size=8",
            "dataset.test_batch_size=8",
        ]
        + (["dataset.download=false"] if dataset == "cifar" else [])
    )
    if root is not None:
        base.append(f"dataset.root={root}")
    # the helper pins small values for every key (heads, schedules, scattering) whatever the test then chooses: that
    # some of them do nothing with the chosen head or schedule is the point, not a mistake to warn about
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoEffectWarning)
        return load_config(None, overrides=base + list(overrides))
