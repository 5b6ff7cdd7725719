"""Where the evaluated representations and images come from: saved models, fixed scatterings, test images.

This is the only module of ``parametricSN.deformation`` that imports the rest of the package (config, data,
scattering, tracking, training; besides ``viz.render`` for figures and ``tracking.store`` for logging), so a
change of those entry points is adapted here alone.

A *source* is one RUN argument of ``psn deform``:

- an MLflow run id or a model file / folder: the model reloaded with
  :func:`parametricSN.tracking.load_model_with_config`, with its saved config (which dataset, which size);
- ``tight-frame`` / ``random``: an untrained, fixed :class:`ParametricScattering2D` with J, L, max_order and (for
  ``random``) the seed of the reference config, i.e. where a trained model's filters started.

Layers: ``scattering`` is ``model.scattering(x)``; a model without one (``scattering.architecture: identity``) is
refused, not silently measured on pixels. ``logits`` is ``model(x)``; a fixed scattering has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from mlflow.exceptions import MlflowException
from torch import Tensor, nn

from parametricSN.config import Config, ConfigError, load_config
from parametricSN.data import DatasetError, build_datasets
from parametricSN.deformation.options import FIXED, LAYERS
from parametricSN.scattering import ParametricScattering2D
from parametricSN.tracking import ModelFileError, load_model_with_config, resolve_tracking_uri
from parametricSN.training import resolve_device

__all__ = [
    "FIXED",
    "LAYERS",
    "ConfigError",
    "DatasetError",
    "ModelFileError",
    "Source",
    "load_images",
    "load_sources",
    "reference_config",
    "resolve_device",
    "to_pixels",
]


@dataclass
class Source:
    """One evaluated representation: ``features`` maps a batch (B, C, H, W) to Φ, on the model's device."""

    label: str
    run_id: str
    module: nn.Module
    features: Callable[[Tensor], Tensor]
    cfg: Config


def _describe(cfg: Config) -> str:
    sc = cfg.scattering
    if sc.architecture != "scattering":
        return f"{cfg.model.name} on pixels"
    family = "" if sc.family == "morlet" else f"{sc.family} "
    return f"{family}{sc.init} {'learnable' if sc.learnable else 'fixed'} + {cfg.model.name}"


def _trained(run: str, tracking_uri: Optional[str], layer: str) -> Source:
    try:
        model, cfg = load_model_with_config(run, tracking_uri)
    except (OSError, MlflowException) as exc:  # the store itself cannot be opened or reached
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"cannot look up {run!r} in the tracking store {resolve_tracking_uri(tracking_uri)!r} "
            f"({reason}); check --tracking-uri"
        ) from None
    tag = Path(run).name if Path(run).expanduser().exists() else run[:8]
    if layer == "scattering":
        if getattr(model, "scattering", None) is None:
            raise ConfigError(
                f"--layer scattering: {run} has no scattering layer (scattering.architecture="
                f"{cfg.scattering.architecture}); compare it with --layer logits"
            )
        features = model.scattering
    else:
        features = model
    return Source(f"{_describe(cfg)} [{tag}]", run, model, features, cfg)


def _fixed(init: str, ref: Config, layer: str) -> Source:
    if layer != "scattering":
        raise ConfigError(
            f"--layer {layer}: {init!r} is an untrained scattering without a classifier; use --layer scattering"
        )
    sc = ref.scattering
    S = ParametricScattering2D(
        sc.J,
        shape=(ref.dataset.height, ref.dataset.width),
        L=sc.L,
        max_order=sc.max_order,
        init=init,
        learnable=False,
        seed=ref.general.seed,
        second_order_only=sc.second_order_only,
        family=sc.family,
        periodize=sc.periodize,
    ).eval()
    cfg = replace(ref, scattering=replace(sc, init=init, learnable=False, architecture="scattering"))
    family = "" if sc.family == "morlet" else f"{sc.family} "
    return Source(f"{family}{init} fixed (J={sc.J}, L={sc.L})", init, S, S, cfg)


def reference_config(
    dataset: Optional[str],
    data_root: Optional[str],
    height: Optional[int],
    width: Optional[int],
    J: Optional[int],
    L: Optional[int],
    seed: int,
) -> Config:
    """The config a fixed scattering uses when no trained model precedes it: ``--dataset`` (required then),
    ``--height/--width`` (default 32), ``--J/--L`` (default 2, 8), ``--seed``."""
    if dataset is None:
        raise ConfigError(
            "--dataset: tight-frame/random alone need a dataset (e.g. --dataset fashion_mnist "
            "--height 28 --width 28), or list a trained run first to use its dataset"
        )
    overrides = [f"dataset.name={dataset}", f"general.seed={seed}", "scattering.learnable=false"]
    overrides += [
        f"{k}={v}"
        for k, v in (
            ("dataset.root", data_root),
            ("dataset.height", height),
            ("dataset.width", width),
            ("scattering.J", J),
            ("scattering.L", L),
        )
        if v is not None
    ]
    # any class-balanced train size will do (the images come from the test split): one per class
    probe = Config()
    probe.dataset.name = dataset
    try:
        num_classes = probe.num_classes
    except (LookupError, ValueError):  # an unknown name: load_config reports it by key
        num_classes = 1
    return load_config(None, overrides + [f"dataset.train_sample_num={num_classes}"])


def load_sources(
    runs: list[str],
    tracking_uri: Optional[str],
    layer: str,
    device: torch.device,
    data_root: Optional[str] = None,
    fallback: Optional[Callable[[], Config]] = None,
    J: Optional[int] = None,
    L: Optional[int] = None,
) -> list[Source]:
    """One :class:`Source` per RUN, moved to ``device``. Fixed scatterings take J, L (``--J/--L`` first), the
    image size and the dataset of the first trained model, else of ``fallback()``."""
    if layer not in LAYERS:
        raise ConfigError(f"--layer: expected one of {', '.join(LAYERS)}, got {layer!r}")
    trained = {run: _trained(run, tracking_uri, layer) for run in dict.fromkeys(runs) if run not in FIXED}
    sources = []
    for run in runs:
        if run in FIXED:
            ref = next(iter(trained.values())).cfg if trained else fallback()
            sc = replace(ref.scattering, J=J or ref.scattering.J, L=L or ref.scattering.L)
            sources.append(_fixed(run, replace(ref, scattering=sc), layer))
        else:
            sources.append(trained[run])
    for s in sources:
        if data_root is not None:
            s.cfg = replace(s.cfg, dataset=replace(s.cfg.dataset, root=data_root))
        s.module.to(device)
    return sources


def dataset_key(cfg: Config) -> tuple:
    """What fixes the test images of a config (models with equal keys see the same images)."""
    d = cfg.dataset
    return d.name, d.root, d.format, d.height, d.width, d.sample


_TEST_SETS: dict = {}  # one build per dataset and normalisation: images and figures read the same test set


def _test_set(cfg: Config):
    """The whole test split of ``cfg.dataset`` with the run's deterministic test transform (its normalisation is
    the run's own: fixed, given, or computed from the run's training subset), built once per process."""
    d = cfg.dataset
    key = (dataset_key(cfg), d.subset, d.train_sample_num, cfg.general.seed, str(d.mean), str(d.std))
    if key not in _TEST_SETS:
        try:
            _TEST_SETS[key] = build_datasets(replace(cfg, dataset=replace(d, test_sample_num=None)))[1]
        except DatasetError as exc:
            raise DatasetError(
                f"{exc} (psn deform reads the dataset of the model's config; --data-root DIR points it elsewhere)"
            ) from None
    return _TEST_SETS[key]


def load_images(cfg: Config, n: int, seed: int) -> Tensor:
    """``n`` test images (N, C, H, W) of ``cfg.dataset`` with its deterministic test transform, chosen uniformly
    without replacement by ``numpy.random.default_rng(seed)`` and kept in index order."""
    test = _test_set(cfg)
    if not 2 <= n <= len(test):
        raise ConfigError(f"--num-images: expected 2..{len(test)} (the size of {test.split.name}), got {n}")
    indices = np.sort(np.random.default_rng(seed).choice(len(test), size=n, replace=False))
    return torch.stack([test[int(i)][0] for i in indices])


def _normalization(cfg: Config) -> tuple:
    """(mean, std) of the test transform the images went through: its ``Normalize`` step."""
    normalize = next(t for t in _test_set(cfg).transform.transforms if hasattr(t, "std"))
    return tuple(normalize.mean), tuple(normalize.std)


def to_pixels(x: Tensor, cfg: Config) -> np.ndarray:
    """One normalised image (C, H, W) back to pixel range [0, 1] as (H, W) or (H, W, 3) for display."""
    mean, std = _normalization(cfg)
    std, mean = (torch.tensor(v, dtype=torch.float64).reshape(-1, 1, 1) for v in (std, mean))
    img = (x.detach().cpu().double() * std + mean).clamp(0, 1).numpy()
    return img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))
