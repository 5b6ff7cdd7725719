"""Sweeps: experiment families as data (``experiments/*.yaml``), run locally or on Ray, reported as tables.

    from parametricSN.sweeps import load_spec, run_sweep, report
    spec = load_spec("experiments/cifar10-linear.yaml")
    cells = spec.cells()              # every run, validated, with its cell hash
    run_sweep(spec, cells, launcher="local", workers=2)
    print(report("cifar10-linear"))
"""
from parametricSN.sweeps.report import report
from parametricSN.sweeps.runner import run_sweep
from parametricSN.sweeps.spec import Cell, Published, SpecError, SweepSpec, cell_hash, load_spec

__all__ = ["Cell", "Published", "SpecError", "SweepSpec", "cell_hash", "load_spec", "report", "run_sweep"]
