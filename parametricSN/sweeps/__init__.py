"""Sweeps: experiment families as data (``experiments/*.yaml``), run locally or on Ray, reported as tables.

    from parametricSN.sweeps import load_spec, run_sweep, report
    spec = load_spec("experiments/cifar10-linear.yaml")
    cells = spec.cells()              # every run, validated, with its cell hash
    run_sweep(spec, cells, launcher="local", workers=2)
    print(report("cifar10-linear"))

The names load on first use (see :mod:`parametricSN._lazy`): ``psn sweep --help`` imports no MLflow.
"""

from parametricSN._lazy import lazy_package

__all__ = lazy_package(
    __name__,
    {
        "report": "tables",
        "run_sweep": "runner",
        "Cell": "spec",
        "Published": "spec",
        "SpecError": "spec",
        "SweepSpec": "spec",
        "cell_hash": "spec",
        "load_spec": "spec",
    },
)
