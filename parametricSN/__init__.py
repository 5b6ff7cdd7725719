"""parametricSN: learnable parametric scattering networks.

Subpackages: ``scattering`` (filters and the scattering layer), ``models`` (heads and ``build_model``),
``data`` (datasets and ``build_loaders``), ``training`` (``train``), ``tracking`` (MLflow), ``viz`` (filter
figures and animation); ``config`` holds the typed schema; ``fileformat`` the versioned file format of checkpoints
and saved models. ``parametricSN.train(cfg)`` trains one config and logs it to MLflow;
``parametricSN.train_pack(cfgs)`` trains configs that differ only in their seed as one packed model.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def train(cfg: Any, logger: Any = None, **kwargs: Any) -> Any:
    """``parametricSN.training.train`` reporting to MLflow (``cfg.mlflow``) unless another ``logger`` is given.

    The package root is the one place that joins training and tracking; they are imported on the first call, so
    ``import parametricSN.scattering`` stays light.
    """
    from parametricSN.tracking import MlflowLogger
    from parametricSN.training import train as train_run

    return train_run(cfg, logger if logger is not None else MlflowLogger.from_config(cfg), **kwargs)


def train_pack(cfgs: Any, loggers: Any = None) -> Any:
    """``parametricSN.training.train_pack`` (the configs' seeds trained as one packed model), each member
    reporting to MLflow (its ``cfg.mlflow``) unless ``loggers`` are given."""
    from parametricSN.tracking import MlflowLogger
    from parametricSN.training import train_pack as train_pack_runs

    return train_pack_runs(cfgs, loggers if loggers is not None else [MlflowLogger.from_config(c) for c in cfgs])
