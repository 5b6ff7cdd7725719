"""Trained models as plain files: weights + config, rebuilt with ``build_model`` (no pickled classes).

The file (``model/model.pt`` in a run's artifacts) is, in :mod:`parametricSN.fileformat`'s versioned format::

    {"format": "parametricSN-model", "version": 1, "config": cfg.to_dict(), "state_dict": {name: tensor},
     "shape": {"num_classes": int, "in_channels": int}}

so :func:`load_model` needs only this package, never the globals of the process that trained it, nor the data
(``shape`` holds what the dataset registry said; files written before it existed are rebuilt from the config).

Runs log their model as an MLflow *logged model* named ``model`` (:func:`save_logged_model`): a folder in MLflow's
pytorch format (``MLmodel`` with a signature and an input example, the pickled module under ``data/``), so that
``mlflow.pytorch.load_model(f"runs:/{run_id}/model")`` loads it and it can be registered, with psn's ``model.pt``
beside ``MLmodel``. MLflow resolves ``runs:/<run>/model/model.pt`` to the run's own artifact ``model/model.pt``
(runs logged before logged models) or else to the logged model's file, so :func:`load_model` reads both.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from torch import nn

from parametricSN.config import DEFAULT_DATA_ROOT, Config, config_from_dict
from parametricSN.fileformat import read_versioned, write_versioned
from parametricSN.models import build_model
from parametricSN.tracking.preflight import TrackingError
from parametricSN.tracking.store import client_for, resolve_tracking_uri

FORMAT = "parametricSN-model"
VERSION = 1
ARTIFACT_DIR = "model"
FILE_NAME = "model.pt"


class ModelFileError(ValueError):
    """A saved model cannot be found or read."""


def save_model_file(path: Union[str, os.PathLike[str]], model: nn.Module, cfg: Config) -> Path:
    """Write ``model``'s weights (on CPU) and ``cfg`` to ``path`` (atomically); returns the path."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    shape = {"num_classes": cfg.num_classes, "in_channels": cfg.in_channels}
    return write_versioned(path, FORMAT, VERSION, {"config": cfg.to_dict(), "state_dict": state, "shape": shape})


def save_logged_model(folder: Union[str, os.PathLike[str]], model: nn.Module, cfg: Config) -> Path:
    """Write ``model`` (a CPU copy in eval mode) to ``folder`` in MLflow's pytorch format, with a signature and
    an input example (two images of ``cfg``'s shape), and psn's :data:`FILE_NAME` beside ``MLmodel``."""
    import copy

    import torch

    folder = Path(folder)
    cpu = copy.deepcopy(model).cpu().eval()
    shape = (2, cfg.in_channels, cfg.dataset.height, cfg.dataset.width)
    example = torch.randn(shape, generator=torch.Generator().manual_seed(0)).numpy()
    with torch.no_grad():
        output = cpu(torch.from_numpy(example)).numpy()
    # MLflow warns about pickle on every save: psn's own model.pt (plain tensors) is the safe way to reload
    quiet = logging.getLogger("mlflow.pytorch")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _save_pytorch(cpu, folder, example, output)
    finally:
        quiet.setLevel(level)
    save_model_file(folder / FILE_NAME, model, cfg)
    return folder


def _save_pytorch(cpu: nn.Module, folder: Path, example: Any, output: Any) -> None:
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    from parametricSN.tracking.describe import package_version

    mlflow.pytorch.save_model(
        cpu,
        str(folder),
        signature=infer_signature(example, output),
        input_example=example,
        serialization_format="pickle",  # torch.export cannot trace the filters' data-dependent windows
        # given, so that MLflow does not infer them (a subprocess that imports the model: seconds per run)
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"parametricSN=={package_version()}"],
    )


def _read(path: Path) -> dict:
    return read_versioned(path, FORMAT, VERSION, ModelFileError, "model file")


def _config_for_rebuild(saved: dict) -> Config:
    """The saved config, minus what rebuilding the network does not need and may no longer exist here:
    the dataset folder and the initial-weights file (the saved weights replace them)."""
    saved = {section: dict(body) for section, body in saved.items()}
    root = saved.get("dataset", {}).get("root")
    if root is not None and not Path(root).expanduser().exists():
        saved["dataset"]["root"] = DEFAULT_DATA_ROOT
    if "weights" in saved.get("model", {}):
        saved["model"]["weights"] = None
    return config_from_dict(saved, with_data=False)


def _download_file(client: MlflowClient, run: Run, dst: str, uri: str) -> str:
    """The run's ``model/model.pt``: from its newest logged model ``model`` (looked up through ``client``'s store
    ``uri``: MLflow's ``runs:/`` resolution reads logged models from the default store only, and a served artifact
    location, ``mlflow-artifacts:/...``, is resolved against ``uri`` too), else from the run's own artifacts (runs
    logged before logged models)."""
    from mlflow.artifacts import download_artifacts

    outputs = run.outputs.model_outputs if run.outputs is not None else []
    logged = [m for m in (client.get_logged_model(o.model_id) for o in outputs) if m.name == ARTIFACT_DIR]
    if logged:  # the newest: a run resumed for more epochs logged its model again when it ended again
        newest = max(logged, key=lambda m: m.creation_timestamp)
        location = f"{newest.artifact_location.rstrip('/')}/{FILE_NAME}"
        return download_artifacts(artifact_uri=location, dst_path=dst, tracking_uri=uri)
    return client.download_artifacts(run.info.run_id, f"{ARTIFACT_DIR}/{FILE_NAME}", dst)


def _download(run_id: str, tracking_uri: Optional[str], dst: str) -> Path:
    uri = resolve_tracking_uri(tracking_uri)
    try:  # reading only: a mistyped SQLite path is an error here, not a new empty store
        client = client_for(uri, create=False)
    except TrackingError as exc:
        raise ModelFileError(f"{run_id!r} is not a model file, and {exc}") from None
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):  # not an id at all
            raise ModelFileError(
                f"{run_id!r} is not a model file, and the tracking store {uri!r} cannot be "
                f"read: {' '.join(exc.message.split())[:200]}"
            ) from exc
        raise ModelFileError(f"{run_id!r} is neither a model file nor a run in the tracking store {uri!r}") from exc
    try:
        local = _download_file(client, run, dst, uri)
    except (MlflowException, OSError) as exc:
        raise ModelFileError(
            f"run {run_id} has no saved model ({ARTIFACT_DIR}/{FILE_NAME}); "
            "it was trained with train.save_model=false or did not finish"
        ) from exc
    return Path(local)


def load_model(run_id_or_path: Union[str, os.PathLike[str]], tracking_uri: Optional[str] = None) -> nn.Module:
    """Rebuild a saved model in eval mode, on CPU.

    ``run_id_or_path``: a model file, a folder holding ``model.pt``, or an MLflow run id (looked up in
    ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else the default store).
    """
    return load_model_with_config(run_id_or_path, tracking_uri)[0]


def load_model_with_config(
    run_id_or_path: Union[str, os.PathLike[str]], tracking_uri: Optional[str] = None
) -> tuple[nn.Module, Config]:
    """:func:`load_model` and the config it was saved with (a dataset root that no longer exists is reset to
    the default one, as for rebuilding)."""
    candidate = Path(run_id_or_path).expanduser()
    with tempfile.TemporaryDirectory(prefix="psn-model-") as tmp:
        if candidate.is_dir():
            path = candidate / FILE_NAME
            if not path.is_file():
                raise ModelFileError(f"folder {str(candidate)!r} holds no {FILE_NAME}")
        elif candidate.is_file():
            path = candidate
        else:
            path = _download(str(run_id_or_path), tracking_uri, tmp)
        data = _read(path)
    cfg = _config_for_rebuild(data["config"])
    model = build_model(cfg, **data.get("shape", {}))
    model.load_state_dict(data["state_dict"])
    return model.eval(), cfg
