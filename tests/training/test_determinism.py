"""Device choice, deterministic mode, generator states, and bit-identical runs (``determinism.py``)."""

import os
import random

import numpy as np
import pytest
import torch

from parametricSN.config import ConfigError
from parametricSN.training import (
    NullLogger,
    deterministic_mode,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
    train,
)
from tests.configs import TINY, make_cfg

# dropout and random augmentations make every source of randomness matter
RANDOM = (
    "model.name=mlp",
    "model.dropout=0.3",
    "model.hidden=16",
    "model.depth=1",
    "dataset.augment=resize-crop",
    "scattering.init=random",
    "train.epochs=2",
)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="general.device"):
            resolve_device("cuda:0")


def test_deterministic_mode_sets_the_flags_and_restores_them():
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    with deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (":4096:8", ":16:8")
    after = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    assert after == before


def test_rng_state_round_trip_replays_every_generator():
    seed_everything(3)
    state = rng_state()
    draws = (torch.rand(3), random.random(), np.random.rand())
    set_rng_state(state)
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(draws[0], again[0]) and draws[1:] == again[1:]


def test_same_seed_gives_bit_identical_histories_and_another_seed_does_not(fmnist_root):
    runs = [
        train(make_cfg("fashion_mnist", *TINY, *RANDOM, f"general.seed={s}", root=fmnist_root), NullLogger()).history
        for s in (5, 5, 6)
    ]
    assert runs[0] == runs[1]  # exact float equality, every metric of every epoch
    assert runs[0] != runs[2]


def test_histories_do_not_depend_on_num_workers(fmnist_root):
    runs = [
        train(
            make_cfg("fashion_mnist", *TINY, *RANDOM, f"general.num_workers={w}", root=fmnist_root), NullLogger()
        ).history
        for w in (0, 2)
    ]
    assert runs[0] == runs[1]


def test_deterministic_flag_runs_on_cpu_and_gives_the_same_history(fmnist_root):
    plain = train(make_cfg("fashion_mnist", *TINY, *RANDOM, root=fmnist_root), NullLogger()).history
    strict = train(
        make_cfg("fashion_mnist", *TINY, *RANDOM, "general.deterministic=true", root=fmnist_root), NullLogger()
    ).history
    assert plain == strict
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run


def test_train_leaves_the_callers_random_generators_as_they_were(fmnist_root):
    from parametricSN.training import train

    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    train(make_cfg("fashion_mnist", *TINY, "train.epochs=1", root=fmnist_root), NullLogger())
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1] and np.random.rand() == expected[2]
