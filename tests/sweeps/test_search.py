"""The ``search:`` section of a spec (``parametricSN/sweeps/search.py``): the issue's layout, and one error per
kind of mistake naming the file and the key."""

import pytest

from parametricSN.sweeps import SpecError, load_spec
from parametricSN.sweeps.search import Dimension, Scheduler

LAYOUT = """
name: demo
overrides: [model.name=linear]
grid:
  general.seed: [1, 2]
search:
  metric: val_acc
  mode: max
  trials: 8
  searcher: random          # or optuna
  seed: 0
  seeds_per_trial: 1
  scheduler: {name: asha, grace_period: 1, reduction_factor: 2}   # or {name: fifo}
  space:
    optim.max_lr: {loguniform: [0.01, 0.3]}
    scattering.lr_orientation: {loguniform: [0.01, 0.3]}
    optim.weight_decay: {choice: [0.0, 5.0e-4]}
"""


def _spec(tmp_path, search: str):
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\nsearch:\n" + "".join(f"  {line}\n" for line in search.strip().splitlines()))
    return load_spec(path).search


def test_the_issue_layout(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(LAYOUT)
    s = load_spec(path).search
    assert (s.metric, s.mode, s.trials, s.searcher, s.seed, s.seeds_per_trial) == ("val_acc", "max", 8, "random", 0, 1)
    assert s.scheduler == Scheduler("asha", 1, 2)
    assert s.space == {
        "optim.max_lr": Dimension("optim.max_lr", "loguniform", (0.01, 0.3)),
        "scattering.lr_orientation": Dimension("scattering.lr_orientation", "loguniform", (0.01, 0.3)),
        "optim.weight_decay": Dimension("optim.weight_decay", "choice", (0.0, 5e-4)),
    }
    assert len(load_spec(path).cells()) == 2  # psn sweep runs the grid and ignores the search


def test_defaults_and_key(tmp_path):
    s = _spec(tmp_path, "space: {train.epochs: {randint: [2, 4]}}\nmetric: val_loss")
    assert (s.mode, s.searcher, s.scheduler.name, s.trials) == ("min", "random", "asha", 8)
    t = _spec(tmp_path, "space: {train.epochs: {randint: [2, 4]}}\nmetric: val_loss\ntrials: 20")
    assert s.key() == t.key()  # more trials continue the same search
    assert s.key() != _spec(tmp_path, "space: {train.epochs: {randint: [2, 5]}}\nmetric: val_loss").key()


@pytest.mark.parametrize(
    "search, message",
    [
        (
            "metric: test_acc\nspace: {optim.lr: {uniform: [0.1, 0.2]}}",
            "search.metric: expected one of val_acc, val_loss, got 'test_acc' (a search never reads the test split)",
        ),
        ("mode: up\nspace: {optim.lr: {uniform: [0.1, 0.2]}}", "search.mode: expected max or min"),
        ("searcher: grid\nspace: {optim.lr: {uniform: [0.1, 0.2]}}", "search.searcher: expected one of random, optuna"),
        ("trials: 0\nspace: {optim.lr: {uniform: [0.1, 0.2]}}", "search.trials: expected an integer >= 1"),
        ("scheduler: {name: hyperband}\nspace: {optim.lr: {uniform: [0.1, 0.2]}}", "search.scheduler: expected"),
        (
            "scheduler: {name: fifo, grace_period: 2}\nspace: {optim.lr: {uniform: [0.1, 0.2]}}",
            "search.scheduler.grace_period: unknown key for fifo",
        ),
        (
            "scheduler: {name: asha, reduction_factor: 1}\nspace: {optim.lr: {uniform: [0.1, 0.2]}}",
            "search.scheduler.reduction_factor: expected an integer >= 2",
        ),
        ("space: {}", "search.space: expected a mapping"),
        ("space: {optim.nope: {uniform: [0.1, 0.2]}}", "search.space: optim.nope: unknown config key"),
        ("space: {general.seed: {randint: [0, 9]}}", "search.space: general.seed: seeds are not searched"),
        ("space: {optim.lr: {normal: [0.1, 0.2]}}", "search.space: optim.lr: expected one of"),
        (
            "space: {optim.lr: {loguniform: [0.0, 0.2]}}",
            "search.space: optim.lr.loguniform: expected numbers [low, high] with 0 < low < high",
        ),
        ("space: {optim.lr: {uniform: [0.3, 0.2]}}", "search.space: optim.lr.uniform: expected numbers"),
        ("space: {train.epochs: {randint: [2.5, 4]}}", "search.space: train.epochs.randint: expected integers"),
        ("space: {optim.lr: {choice: []}}", "search.space: optim.lr.choice: expected a non-empty list"),
        ("spaces: {}", "search.spaces: unknown key"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path, search, message):
    with pytest.raises(SpecError) as info:
        _spec(tmp_path, search)
    text = str(info.value)
    assert text.startswith(f"{tmp_path / 'spec.yaml'}: ") and message in text and "\n" not in text
