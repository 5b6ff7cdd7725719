# Fixtures shared across test folders (one definition, so session-scoped ones are built once per session):
# fmnist_root (a tiny Fashion-MNIST in IDX format) and mlflow_uri (a fresh temporary SQLite MLflow store).
#
# One intra-op thread per test process, and for every process a test starts (OMP_NUM_THREADS is inherited): make
# test runs three pytest workers on two cores, and tests start several psn processes at once, so torch's default
# (a thread per core in each process) oversubscribes the cores and its spinning threads slow every test down
# (measured: the 1000-image Fashion-MNIST test took 191 s in the suite vs 16 s alone). A test whose numbers
# depend on the thread count pins it (tests/training/test_loop_fixture.py). Set before torch is imported.
import os
import shutil
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402 - imported after the thread settings above

from tests.training.fixtures import _empty_store, fmnist_root, mlflow_uri  # noqa: E402,F401 - fixtures, re-exported

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

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
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("PSN_TEST_WARM") == "0":
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
