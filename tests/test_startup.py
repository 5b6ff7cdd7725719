"""Start-up: ``psn --help``, every subcommand's ``--help`` and ``psn config show`` import neither torch,
torchvision, MLflow nor Ray; the packages' public names load on first use and are the objects their modules
define. (Times are measured by benchmarks/startup.py, not asserted here.)"""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "mlflow", "ray")

# One fresh interpreter for every command (a process costs more than the commands).
COMMANDS = """
import contextlib, io, sys
from parametricSN.cli import main
for argv in ([["--help"]] + [[c, "--help"] for c in ("train", "sweep", "report", "deform", "tune")]
             + [["config", "show", "-c", sys.argv[1]]]):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            status = main(argv)
    except SystemExit as exc:
        status = exc.code
    print(" ".join(argv[:2]), status, len(out.getvalue()) > 100)
print("heavy:", *sorted(m for m in sys.modules if m.split(".")[0] in {heavy}))
"""


def test_help_and_config_show_import_nothing_heavy():
    proc = subprocess.run(
        [sys.executable, "-c", COMMANDS.replace("{heavy}", repr(set(HEAVY))), str(ROOT / "conf" / "cifar.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:-1] == [
        f"{cmd} 0 True"
        for cmd in (
            "--help",
            "train --help",
            "sweep --help",
            "report --help",
            "deform --help",
            "tune --help",
            "config show",
        )
    ]
    assert lines[-1] == "heavy:"


LAZY = (
    "parametricSN.data",
    "parametricSN.deformation",
    "parametricSN.sweeps",
    "parametricSN.tracking",
    "parametricSN.training",
    "parametricSN.viz",
)


@pytest.mark.parametrize("package", LAZY)
def test_every_public_name_of_a_package_loads_and_is_its_modules_object(package):
    pkg = importlib.import_module(package)
    for name in pkg.__all__:
        value = getattr(pkg, name)
        where = pkg._exports.get(name)
        if where is not None:
            assert value is getattr(importlib.import_module(f"{package}.{where}"), name), name
    assert set(pkg.__all__) <= set(dir(pkg))


@pytest.mark.parametrize("package", LAZY + ("parametricSN.sweeps",))
def test_no_public_name_of_a_package_is_also_one_of_its_submodules(package):
    """Importing such a submodule would bind the package's attribute to the module (the reason ``sweeps.report``,
    the function, lives in ``sweeps/tables.py``, and ``deformation.evaluate`` in ``deformation/evaluation.py``)."""
    pkg = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    assert set(pkg._exports) & submodules == set()
    with pytest.raises(AttributeError, match="has no attribute 'nosuch'"):
        getattr(pkg, "nosuch")  # noqa: B009 - the attribute access is what is tested


def test_sweeps_report_is_the_function_also_after_its_module_was_imported():
    import parametricSN.sweeps.tables  # noqa: F401  (the submodule first)
    from parametricSN.sweeps import report
    from parametricSN.sweeps.tables import report as report_function

    assert report is report_function


TRAIN = """
import sys
from pathlib import Path
from tests.data.fakes import write_cifar
from parametricSN import allocator
from parametricSN.cli import main
write_cifar(Path(sys.argv[1]) / "data")
status = main(["train", "-c", "conf/cifar.yaml", f"dataset.root={sys.argv[1]}/data", "dataset.download=false",
               "dataset.train_sample_num=20", "dataset.test_sample_num=10", "train.epochs=1", "model.name=linear",
               f"mlflow.tracking_uri={sys.argv[2]}"])
print("status", status)
print("allocator tuned:", allocator._applied)
allocator.fast_exit(0)  # as psn exits
"""


@pytest.mark.process
def test_training_called_as_a_library_leaves_the_allocator_alone(tmp_path, mlflow_uri):
    """``main()`` and ``train()`` called from another program (a notebook, this script) train without changing the
    program's ``malloc`` settings: only the ``psn`` process itself tunes them (``cli.run``, the sweep workers;
    tests/test_allocator.py)."""
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN, str(tmp_path), mlflow_uri],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["status 0", "allocator tuned: False"]
