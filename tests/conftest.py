# Fixtures shared across test folders (one definition, so session-scoped ones are built once per session):
# fmnist_root (a tiny Fashion-MNIST in IDX format) and mlflow_uri (a fresh temporary SQLite MLflow store).
#
# One intra-op thread per test process, and for every process a test starts (OMP_NUM_THREADS is inherited): make
# test runs three pytest workers on two cores, and tests start several psn processes at once, so torch's default
# (a thread per core in each process) oversubscribes the cores and its spinning threads slow every test down
# (measured: the 1000-image Fashion-MNIST test took 191 s in the suite vs 16 s alone). A test whose numbers
# depend on the thread count pins it (tests/training/test_loop_fixture.py). Set before torch is imported (torch
# reads it then).
import os
import shutil
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# Nothing heavy is imported here: pytest-xdist's controller loads this file before it starts the workers.


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    """A fake Fashion-MNIST (4 train and 2 test images per class, 28x28, gzipped IDX)."""
    from tests.data.fakes import write_fashion_mnist

    root = tmp_path_factory.mktemp("fmnist")
    write_fashion_mnist(root, gz=True, train_per_class=4, test_per_class=2, seed=0)
    return root


@pytest.fixture(scope="session")
def _empty_store(request, tmp_path_factory) -> Path:
    """Creating an MLflow SQLite store runs its schema migrations (about 3 s): one empty store is migrated per
    MLflow version and kept in pytest's cache folder (``.pytest_cache``; the pytest-xdist workers take turns under
    a lock, so one migrates and the others read it), and each test gets a copy of the file."""
    import fcntl

    import mlflow
    from mlflow.tracking import MlflowClient

    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider: one store per worker
    folder = cache.mkdir("psn-empty-mlflow-store") if cache is not None else tmp_path_factory.mktemp("mlflow-store")
    path = folder / f"mlflow-{mlflow.__version__}.db"
    with open(folder / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            partial = folder / f"partial-{os.getpid()}.db"
            MlflowClient(tracking_uri=f"sqlite:///{partial}").search_experiments()  # creates and migrates the schema
            os.replace(partial, path)
    return path


@pytest.fixture
def mlflow_uri(tmp_path, _empty_store) -> str:
    """``sqlite:///<tmp>/store.db``: a fresh, empty MLflow store for this test (artifacts next to it)."""
    shutil.copy(_empty_store, tmp_path / "store.db")
    return f"sqlite:///{tmp_path}/store.db"


_template = None


@pytest.fixture
def warm_workers(monkeypatch):
    """Sweeps run in this process start their workers warm: the local launcher runs ``sys.executable -m
    parametricSN.sweeps.worker``, here the warm-start client (tests/warm.py), which runs any other command cold."""
    from tests.warm import PYTHON

    monkeypatch.setattr(sys, "executable", PYTHON)


def pytest_configure(config):
    """One warm-start template for the session (tests/warm.py), started here in pytest-xdist's controller (or the
    only process), before the workers, which inherit PSN_TEST_PYTHON."""
    global _template
    import gc
    import signal

    # Started in the background of a non-interactive shell (`make test &`, nohup), the suite inherits SIGINT ignored,
    # and so would every process it starts: the tests of what Ctrl-C does need it delivered (set before the workers
    # and the warm-start template exist, so they start with the default).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The test processes hold torch, torchvision and MLflow (millions of objects) and allocate many short-lived
    # ones: with the default thresholds each worker of make test-fast spent about 6.5 s in the collector, 5 s of
    # it in 12 full collections (measured with gc.callbacks). Fewer, larger collections.
    gc.set_threshold(100_000, 50, 100)
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("PSN_TEST_WARM") == "0":
        return
    if "not process" in (config.option.markexpr or ""):  # make test-fast: no test starts a psn process
        return
    from tests import warm

    folder = tempfile.mkdtemp(prefix="psn-warm-")
    _template = (warm.start(folder), folder)


def pytest_unconfigure(config):
    import gc

    gc.freeze()  # this process is about to exit: spare it the final collections (parametricSN/allocator.py)
    if _template is not None:
        from tests import warm

        proc, folder = _template
        if proc is not None:
            warm.stop(proc)
        os.environ.pop("PSN_TEST_PYTHON", None)
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """Real-process tests spread evenly through the run order (a stable interleave). pytest-xdist hands each
    worker a contiguous block of tests first: collected by file, the sweep, tune and signal tests all fell to one
    worker, which ran 597 s of tests while three others ran 112 s each (make test -n 4, measured). The ones that
    start Ray, the longest, go first."""
    heavy = [item for item in items if item.get_closest_marker("process") is not None]
    heavy.sort(key=lambda item: "ray" not in item.name and "tune" not in item.nodeid)  # Ray's: the longest, first
    if not heavy:
        return
    light = iter([item for item in items if item.get_closest_marker("process") is None])
    spaced, step = [], len(items) / len(heavy)
    for k, item in enumerate(heavy):
        while len(spaced) < int(k * step):
            spaced.append(next(light))
        spaced.append(item)
    spaced.extend(light)
    items[:] = spaced
