# Fixtures shared across test folders (one definition, so session-scoped ones are built once per session):
# fmnist_root (a tiny Fashion-MNIST in IDX format) and mlflow_uri (a fresh temporary SQLite MLflow store).
#
# One intra-op thread per test process, and for every process a test starts (OMP_NUM_THREADS is inherited): make
# test runs three pytest workers on two cores, and tests start several psn processes at once, so torch's default
# (a thread per core in each process) oversubscribes the cores and its spinning threads slow every test down
# (measured: the 1000-image Fashion-MNIST test took 191 s in the suite vs 16 s alone). A test whose numbers
# depend on the thread count pins it (tests/training/test_loop_fixture.py). Set before torch is imported.
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402 - imported after the thread settings above

from tests.training.fixtures import _empty_store, fmnist_root, mlflow_uri  # noqa: E402,F401 - fixtures, re-exported

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


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
