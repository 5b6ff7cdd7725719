"""The MLflow UI in a real browser: ``mlflow ui`` over a store made by a real ``psn train``, ``psn sweep`` and
``psn tune``, its pages rendered by headless Chromium (Debian's ``chromium``, installed by ``make test``'s
``chromium`` target), and what a researcher looks for found in the rendered page: the experiment's and the run's
descriptions, the datasets, the logged model, the metrics, and the search's trials under its parent run.

Skipped, with the reason, where Chromium is not installed; a failure instead under ``PSN_REQUIRE_CHROMIUM=1`` (CI).
``PSN_UI_SCREENSHOT=FILE.png`` also saves a screenshot of the run page (docs/capture.py does, for the docs).
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.servers import mlflow_serving, require
from tests.warm import PYTHON

pytestmark = pytest.mark.process  # real psn processes, a server and a browser

SPEC = """
name: ui-sweep
description: Two seeds of a tiny learnable scattering run, for the browser test.
base: {base}
overrides: [train.save_model=true]
grid:
  general.seed: [0, 1]
"""
SEARCH = """
name: ui-search
description: A two-trial search, for the browser test.
base: {base}
overrides: [dataset.val_sample_num=10, train.epochs=1]
grid:
  general.seed: [0]
search:
  metric: val_acc
  mode: max
  trials: 2
  searcher: random
  seed: 0
  scheduler: {{name: fifo}}
  space:
    optim.max_lr: {{choice: [0.01, 0.1]}}
"""
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    """The Chromium binary; the test is skipped (failed under ``PSN_REQUIRE_CHROMIUM=1``) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = "headless Chromium is not installed (make test-tools, or apt-get install chromium)"
    return require(found, missing, "PSN_REQUIRE_CHROMIUM")


def _psn(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "parametricSN", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def browser():
    return chromium()


@pytest.fixture(scope="module")
def store(browser, tmp_path_factory, fmnist_root, _empty_store):
    """A store made by psn train (one run with its model), psn sweep (two seeds) and psn tune (two trials)."""
    from tests.sweeps.test_run import tiny_base

    folder = tmp_path_factory.mktemp("ui")
    (folder / "mlruns").mkdir()
    shutil.copy(_empty_store, folder / "mlruns" / "store.db")  # the default store of this folder
    base = tiny_base(folder, fmnist_root)
    (folder / "sweep.yaml").write_text(SPEC.format(base=base))
    (folder / "search.yaml").write_text(SEARCH.format(base=base))
    out = _psn("train", "-c", str(base), "train.save_model=true", "--quiet", cwd=folder)
    run_id = out.split("run_id: ")[1].split()[0]
    _psn("sweep", "sweep.yaml", "--workers", "1", cwd=folder)
    _psn("tune", "search.yaml", "--output", "best", "--cpus-per-trial", "1", cwd=folder)
    return folder, f"sqlite:///{folder}/mlruns/store.db", run_id


@pytest.fixture(scope="module")
def ui(store):
    folder, uri, _ = store
    with mlflow_serving(["ui", "--backend-store-uri", uri, "--workers", "1"], folder, "/health") as url:
        yield url


def render(browser: str, url: str, expect: list[str], screenshot: str = "") -> str:
    """The DOM of ``url`` once the React app has rendered every text of ``expect`` (the budget of virtual time
    grows until it has, up to about 30 s), or the last DOM for the assertion to show."""
    dom = ""
    for budget in (4000, 10000, 20000):
        with tempfile.TemporaryDirectory(prefix="psn-chromium-") as profile:
            args = [browser, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget}"]
            args += ["--window-size=1400,1000"]
            done = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False)
            dom = done.stdout
            if all(text in dom for text in expect):
                if screenshot:
                    subprocess.run(
                        [*args, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=True
                    )
                return dom
    return dom


def test_the_mlflow_ui_shows_descriptions_datasets_models_metrics_and_the_search_tree(store, ui, browser):
    _, uri, run_id = store
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    exp = client.get_experiment(run.info.experiment_id)
    page = f"{ui}/#/experiments/{exp.experiment_id}/runs/{run_id}"
    description = run.data.tags["mlflow.note.content"].split(" trained ")[0]  # its sentence's start
    (training,) = [i.dataset for i in run.inputs.dataset_inputs if i.dataset.name == "fashion_mnist-training"]
    dataset = f"{training.name} ({training.digest})"
    expect = ["Description", description, "Command:", "Datasets", dataset, "Logged models (1)", "Ready"]
    expect += ["test_acc", "train_loss", "Source", "psn"]
    if "mlflow.source.git.commit" in run.data.tags:  # a checkout: the UI shows the commit's short form
        expect.append(run.data.tags["mlflow.source.git.commit"][:7])
    dom = render(browser, page, expect, os.environ.get("PSN_UI_SCREENSHOT", ""))
    for text in expect:
        assert text in dom, f"{text!r} is not on the run page {page}"

    # a sweep's experiment: of the model-training kind (its runs under "Training runs", not only "Evaluation
    # runs"), its description the spec's, each cell with its datasets and its logged model
    sweep = client.get_experiment_by_name("ui-sweep")
    expect = ["Training runs", "Two seeds of a tiny learnable scattering run", "ui-sweep seed=0", "ui-sweep seed=1"]
    expect += ["fashion_mnist-training (", "Models"]
    dom = render(browser, f"{ui}/#/experiments/{sweep.experiment_id}/runs", expect)
    for text in expect:
        assert text in dom, f"{text!r} is not on the sweep's runs page"
    assert dom.count(">model<") >= 2, "the sweep's runs do not show their logged models"

    # a search: its parent run named for the search, with its trials as child runs
    search = client.get_experiment_by_name("ui-search-search")
    (parent,) = client.search_runs([search.experiment_id], filter_string="tags.`psn.role` = 'search'")
    trials = [
        r.info.run_name for r in client.search_runs([search.experiment_id]) if r.info.run_id != parent.info.run_id
    ]
    name = parent.info.run_name
    assert name.startswith("ui-search search ") and len(trials) == 2
    expect = [name, "A two-trial search", "Child runs", *trials]
    dom = render(browser, f"{ui}/#/experiments/{search.experiment_id}/runs/{parent.info.run_id}", expect)
    for text in expect:
        assert text in dom, f"{text!r} is not on the search's run page"
