"""``psn tune`` (``parametricSN/sweeps/tune.py``, ``tune_ray.py``, ``trial.py``): the issue's done-when search on a
local Ray, and the checks a spec gets before Ray starts."""

import os
import re
import shlex
import shutil
import signal
import subprocess

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from parametricSN.sweeps import SpecError, load_spec
from parametricSN.sweeps.tune import never_reported, plan_search, tune_command
from tests.data.fakes import write_idx
from tests.warm import PYTHON

SPEC = """
name: fm-search
overrides: [dataset.name=fashion_mnist, dataset.root=ROOT, dataset.height=28, dataset.width=28,
            dataset.train_sample_num=100, dataset.val_sample_num=200, dataset.test_sample_num=20,
            dataset.train_batch_size=50, dataset.test_batch_size=100, dataset.augment=noaugment,
            scattering.J=2, scattering.L=4, model.name=linear, train.epochs=4, train.save_model=false,
            viz.figures=false, general.device=cpu]
grid:
  general.seed: [0, 1]
search:
  metric: val_acc
  mode: max
  trials: 8
  searcher: random
  seed: 0
  seeds_per_trial: 1
  scheduler: {name: asha, grace_period: 1, reduction_factor: 2}
  space:
    optim.max_lr: {loguniform: [0.001, 0.3]}
    scattering.lr_orientation: {loguniform: [0.01, 0.3]}
    optim.weight_decay: {choice: [0.0, 5.0e-4]}
"""


def learnable_fashion_mnist(folder, train_per_class=30, test_per_class=2, seed=0):
    """Fashion-MNIST IDX files whose classes can be learnt (a fixed pattern per class plus noise), so that the
    trials' learning rates matter and ASHA has differences to act on."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 256, size=(10, 28, 28))
    for prefix, n in (("train", train_per_class), ("t10k", test_per_class)):
        y = rng.permutation(np.repeat(np.arange(10), n))
        x = 0.5 * patterns[y] + 0.5 * rng.integers(0, 256, size=(len(y), 28, 28))
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x.astype(np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y.astype(np.uint8))


def _spec(tmp_path, text=SPEC):
    root = tmp_path / "fm"
    if not root.exists():
        learnable_fashion_mnist(root)
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("ROOT", str(root)))
    return path


def _interrupt_after(cmd, lines: int, cwd):
    """Run ``cmd`` in ``cwd``, send SIGINT once it printed ``lines`` trial lines; returns (exit status, stdout,
    stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    out = []
    try:
        for line in proc.stdout:
            out.append(line)
            if line.startswith(f"[{lines}/"):
                proc.send_signal(signal.SIGINT)
                break
        rest, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, "".join(out) + rest, err


def _psn(command: str, cwd, env=None):
    """A command psn printed (``psn ...``, maybe after ``VAR=value`` assignments), run as printed in ``cwd``."""
    words = shlex.split(command)
    assignments = {}
    while "=" in words[0] and not words[0].startswith("psn"):
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    assert words[0] == "psn", command
    env = {**(env or os.environ), **assignments}
    return subprocess.run(
        [PYTHON, "-m", "parametricSN", *words[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


def _counters(stdout: str) -> list:
    return [int(m.group(1)) for m in re.finditer(r"^\[(\d+)/8\] trial ", stdout, re.MULTILINE)]


@pytest.mark.process
def test_search_trials_are_child_runs_on_validation_and_the_best_reproduces(tmp_path, _empty_store, monkeypatch):
    # run from a folder outside the repository with the default store and dataset.root: data, as a user would
    here, other = tmp_path / "here", tmp_path / "other"
    learnable_fashion_mnist(here / "data" / "fashion-mnist")  # what psn train finds under the default root
    other.mkdir()
    (other / "data").symlink_to(here / "data")
    (here / "mlruns").mkdir()
    shutil.copy(_empty_store, here / "mlruns" / "store.db")
    store = f"sqlite:///{here}/mlruns/store.db"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("ROOT", "data"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cmd = [PYTHON, "-m", "parametricSN", "tune", str(spec), "--output", "out", "--cpus-per-trial", "1"]
    # Ctrl-C after two trials: the trials in progress are KILLED, nothing stays RUNNING, exit 130, one line that
    # prints the command that continues; Ray's own messages are in the log it names, not on the terminal
    status, stdout, stderr = _interrupt_after(cmd, 2, here)
    assert status == 130 and stderr.count("\n") == 1 and stderr.startswith("psn: search "), stderr[-3000:]
    log = stderr.split("Ray's messages in ")[1].split(")")[0]
    assert "Tuner.restore" in open(log).read()  # Ray's advice, kept from the user
    assert all(line.startswith(("search ", "[")) for line in stdout.splitlines()), stdout  # psn's lines only
    again = stderr.split("continue it (finished trials are kept) with: ")[1].strip()
    assert again == shlex.join(["psn", "tune", str(spec), "--tracking-uri", store, "--output", str(here / "out")])
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("fm-search-search")
    first = client.search_runs([exp.experiment_id])
    assert not [r for r in first if r.info.status == "RUNNING"]
    done_before = {
        r.data.tags["psn.trial"] for r in first if r.info.status == "FINISHED" and "psn.trial" in r.data.tags
    }
    ended = _counters(stdout)
    assert len(done_before) >= 2 and ended == list(range(1, len(ended) + 1)), stdout
    # the printed command, from another folder, continues the search without repeating the finished trials; its
    # counter goes on from the trials that had ended
    proc = _psn(again, other)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:] + proc.stdout[-3000:]
    assert "top 5 of 8 trials by val_acc" in proc.stdout
    assert _counters(proc.stdout) == list(range(len(ended) + 1, 9)), proc.stdout
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("psn.role") == "search"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = [r for r in children if r.info.status != "KILLED"]
    assert len(trials) == 8 == len({r.data.tags["psn.trial"] for r in trials}) and parent.info.status == "FINISHED"
    for trial_id in done_before:
        assert len([r for r in children if r.data.tags["psn.trial"] == trial_id]) == 1
    stopped = [r for r in trials if "psn.stopped_early" in r.data.tags]
    assert 0 < len(stopped) < 8  # ASHA stopped some, not all
    for run in trials:
        assert run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "val_acc")
        assert history and not any(k.startswith("test_") for k in run.data.metrics)
        last = max(m.step for m in history)
        assert last == int(run.data.tags.get("psn.stopped_early", 4))
        sampled = yaml.safe_load(run.data.tags["psn.sampled"])
        assert set(sampled) == {"optim.max_lr", "scattering.lr_orientation", "optim.weight_decay"}
        assert all(run.data.params[k] == str(v) for k, v in sampled.items())  # the sampled values are params

    out = here / "out"
    best_spec = load_spec(out / "best.yaml")
    cells = best_spec.cells()
    assert best_spec.name == "fm-search-best" and [c.seed for c in cells] == [0, 1]
    best = client.get_run(parent.data.tags["psn.best_run"])
    sampled = yaml.safe_load(best.data.tags["psn.sampled"])
    assert all(getattr(getattr(cells[0].config, k.split(".")[0]), k.split(".")[1]) == v for k, v in sampled.items())
    assert cells[0].config.train.evaluate_test  # the sweep of the best config is tabled on the test split

    # the printed psn train of the best trial, as printed, from another folder: the same val_acc, on the same
    # threads, and like the trial it never reads the test split
    lines = proc.stdout.splitlines()
    (reproduce,) = [line.split("test split unread): ")[1] for line in lines if line.startswith("reproduce")]
    assert reproduce.startswith("OMP_NUM_THREADS=1 psn train -c ")
    trained = _psn(reproduce, other)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (again,) = client.search_runs([client.get_experiment_by_name("fm-search-best-trial").experiment_id])
    assert again.data.metrics["val_acc"] == best.data.metrics["val_acc"] == parent.data.metrics["best_val_acc"]
    assert not [k for k in again.data.metrics if k.startswith("test_")]

    # the printed psn sweep && psn report, as printed, from another folder: they use the search's store
    (suggested,) = [line.split(".yaml: ", 1)[1] for line in lines if line.startswith("wrote ")]
    sweep, report = suggested.split(" && ")
    for command in (sweep, report):
        done = _psn(command, other)
        assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("# fm-search-best") and "| all runs | 2 " in done.stdout, done.stdout
    assert sorted(p.name for p in other.iterdir()) == ["data"]  # no store of its own


@pytest.mark.parametrize(
    "edit, message",
    [
        (("dataset.val_sample_num=200, ", ""), "dataset.val_sample_num: a search scores configs on a validation split"),
        (
            ("general.seed: [0, 1]", "general.seed: [0, 1]\n  optim.momentum: [0.8, 0.9]"),
            "grid/cases: a search tunes one cell, but the spec varies optim.momentum",
        ),
        (("seeds_per_trial: 1", "seeds_per_trial: 3"), "search.seeds_per_trial: 3 seeds per trial, but the spec has 2"),
        (("grace_period: 1", "grace_period: 5"), "search.scheduler.grace_period: 5 epochs, but trials train at most 4"),
        (
            ("optim.max_lr: {loguniform: [0.001, 0.3]}", "model.dropout: {uniform: [0.5, 1.5]}"),
            r"search.space: model.dropout: 1.5 is not a valid value: model.dropout: expected a value in \[0, 1\)",
        ),
        (("model.name=linear, ", "model.name=linear, optim.max_lr=0.1, "), "search.space: optim.max_lr: also set in"),
        (None, "search: psn tune needs a search: section"),
    ],
)
def test_spec_errors_before_ray_starts(tmp_path, edit, message):
    text = SPEC.replace(*edit) if edit else SPEC.split("search:")[0]
    with pytest.raises(SpecError, match=message):
        plan_search(load_spec(_spec(tmp_path, text)), None, None, 1.0)


def test_the_default_root_means_what_it_means_to_psn_train(tmp_path, monkeypatch):
    # from a folder without data/: psn train would look further (Debian's Fashion-MNIST folder), so does a search
    spec = load_spec(_spec(tmp_path, SPEC.replace("dataset.root=ROOT", "dataset.root=data")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    plan = plan_search(spec, None, None, 1.0)
    assert plan.base["dataset"]["root"] == "data"  # resolved by each trial in this folder, as psn train does
    relative = load_spec(_spec(tmp_path, SPEC.replace("dataset.root=ROOT", "dataset.root=../fm")))
    assert plan_search(relative, None, None, 1.0).base["dataset"]["root"] == str(tmp_path / "fm")


def test_the_continue_command_names_the_spec_store_output_and_the_options_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec, store = _spec(tmp_path), f"sqlite:///{tmp_path}/mlruns/store.db"
    plan = plan_search(load_spec(spec), None, 12, 2.0)
    assert shlex.split(tune_command(plan, tmp_path / "o u t", "auto", 2.0, 0.25)) == [
        *("psn", "tune", str(spec), "--trials", "12", "--address", "auto", "--cpus-per-trial", "2"),
        *("--gpus-per-trial", "0.25", "--tracking-uri", store, "--output", str(tmp_path / "o u t")),
    ]
    plan = plan_search(load_spec(spec), None, None, 1.0)  # defaults are left out
    assert tune_command(plan, tmp_path, None, 1.0, 0.0) == shlex.join(
        ["psn", "tune", str(spec), "--tracking-uri", store, "--output", str(tmp_path)]
    )


def test_the_shipped_example_plans(tmp_path):
    from pathlib import Path

    spec = load_spec(Path(__file__).resolve().parents[2] / "experiments" / "cifar10-100sample-search.yaml")
    plan = plan_search(spec, f"sqlite:///{tmp_path}/store.db", None, 2.0)
    assert plan.base["dataset"]["val_sample_num"] == 1000 and plan.base["train"]["evaluate_test"] is False
    assert plan.max_epochs == 3000 and len(plan.seeds) == 10 and plan.threads == 2
    assert plan.experiment == "cifar10-100sample-search-search" and not (tmp_path / "store.db").exists()


def test_a_trial_ray_left_pending_counts_as_not_run():
    class Result:  # what Ray Tune's ResultGrid gives: metrics (the last result) and error
        def __init__(self, metrics, error=None):
            self.metrics, self.error = metrics, error

    done, pending, failed = Result({"val_acc": 50.0, "trial_id": "a"}), Result({"trial_id": "b"}), Result({}, "boom")
    assert never_reported([done, pending, failed, Result(None)], "val_acc")[0] is pending
    assert len(never_reported([done, pending, failed, Result(None)], "val_acc")) == 2
    assert never_reported([done, failed], "val_acc") == []


@pytest.mark.process
def test_a_trial_that_diverges_is_not_trained_again(tmp_path, mlflow_uri):
    # Ray Tune starts a failed trial again (a lost node's trial must be): a trial psn failed is not trained again
    spec = _spec(tmp_path, SPEC.replace("{loguniform: [0.001, 0.3]}", "{choice: [1.0e+12]}"))
    cmd = [PYTHON, "-m", "parametricSN", "tune", str(spec), "--trials", "1", "--tracking-uri", mlflow_uri]
    proc = subprocess.run([*cmd, "--output", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "no trial ran every epoch (1 trials)" in proc.stderr, proc.stderr[-3000:]
    failed = re.findall(r"^\[(\d)/1\] trial \S+ .*: FAILED \((\S+)\)$", proc.stderr, re.MULTILINE)
    assert [n for n, _ in failed] == ["1"], proc.stderr  # counted once
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("fm-search-search")
    trials = [r for r in client.search_runs([exp.experiment_id]) if "psn.trial" in r.data.tags]
    assert len(trials) == 1 and trials[0].info.status == "FAILED"  # one run: trained once
    assert all(r.data.tags["error"].startswith("DivergenceError") and "psn.lost" not in r.data.tags for r in trials)
    # the one attempt Ray Tune had queued when it learnt of the error failed at once, naming it; no more
    attempts = open(failed[0][1]).read().split("Failure # ")[1:]
    assert len(attempts) == 2 and "DivergenceError" in attempts[0], attempts
    assert "failed in an earlier attempt of this search: DivergenceError" in attempts[1], attempts
