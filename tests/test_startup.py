"""Start-up: ``psn --help``, every subcommand's ``--help`` and ``psn config show`` import neither torch,
torchvision, MLflow nor Ray; the packages' public names load on first use and are the objects their modules
define. (Times are measured by benchmarks/startup.py, not asserted here.)"""

import importlib
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


def test_a_public_name_that_is_also_a_submodule_stays_the_public_name(tmp_path, monkeypatch):
    """``sweeps.report`` is the function in ``sweeps/report.py``, also when that submodule was imported before the
    name was looked up (as it was when the packages imported their names eagerly)."""
    (tmp_path / "lazypkg").mkdir()
    (tmp_path / "lazypkg" / "__init__.py").write_text(
        "from parametricSN._lazy import lazy_package\n__all__ = lazy_package(__name__, {'report': 'report'})\n"
    )
    (tmp_path / "lazypkg" / "report.py").write_text("def report():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazypkg.report  # noqa: F401  (the submodule first)
    from lazypkg import report

    assert report() == 42 and sys.modules["lazypkg.report"].report is report
    with pytest.raises(AttributeError, match="has no attribute 'nosuch'"):
        getattr(sys.modules["lazypkg"], "nosuch")  # noqa: B009 - the attribute access is what is tested
    for module in ("lazypkg.report", "lazypkg"):
        del sys.modules[module]

    from parametricSN.sweeps import report as sweeps_report
    from parametricSN.sweeps.report import report as report_function

    assert sweeps_report is report_function


TRAIN = """
import sys
from pathlib import Path
from tests.data.fakes import write_cifar
from parametricSN.cli import main
write_cifar(Path(sys.argv[1]) / "data")
status = main(["train", "-c", "conf/cifar.yaml", f"dataset.root={sys.argv[1]}/data", "dataset.download=false",
               "dataset.train_sample_num=20", "dataset.test_sample_num=10", "train.epochs=1", "model.name=linear",
               f"mlflow.tracking_uri={sys.argv[2]}", *sys.argv[3:]])
print("status", status)
print("torchvision:", *sorted(m for m in sys.modules if m.split(".")[0] == "torchvision"))
from parametricSN.allocator import fast_exit
fast_exit(0)  # as psn exits
"""


@pytest.mark.process
def test_training_the_papers_pipeline_does_not_import_torchvision(tmp_path, mlflow_uri):
    """``autoaugment-paper`` (the default) trains without torchvision, whose ``__init__`` imports its models and ops
    (about 2 s); ``augment: autoaugment`` imports it for its AutoAugment (tests/data/test_transforms.py)."""
    proc = subprocess.run(
        [sys.executable, "-c", TRAIN, str(tmp_path), mlflow_uri, "dataset.augment=autoaugment-paper"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["status 0", "torchvision:"]
