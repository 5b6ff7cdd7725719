"""The config schema: one dataclass per YAML section, and what each key is (its metadata, stated once).

Every key carries three facts in its field's metadata (:func:`key`), read by whoever needs them instead of a list
of their own (:func:`keys_where`):

- ``result``: it can change the numbers a run produces (False: where a run is stored or read from, how many loader
  workers, which device...): sweeps leave the others out of a cell's identity (:mod:`parametricSN.sweeps.spec`);
- ``resume``: it may change when a run is resumed (:mod:`parametricSN.training.resume`);
- ``pack``: it may differ between the members of a pack (:mod:`parametricSN.training.pack`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

MISSING: Any = dataclasses.MISSING


def key(
    default: Any = MISSING, *, factory: Any = MISSING, result: bool = True, resume: bool = False, pack: bool = False
) -> Any:
    """A config field with its facts (see the module docstring); defaults: changes results, fixed on resume, equal
    inside a pack."""
    meta = {"result": result, "resume": resume, "pack": pack}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


DEFAULT_DATA_ROOT = "data"
DEFAULT_TRACKING_URI = "sqlite:///mlruns/store.db"


class ConfigError(ValueError):
    """A config key is unknown, has the wrong type or an impossible value."""


@dataclass
class GeneralConfig:
    seed: int = key(0, pack=True)
    device: str = key("auto", result=False)  # auto | cpu | cuda | cuda:N
    num_workers: int = key(0, result=False, resume=True)
    deterministic: bool = False
    plugins: list = field(default_factory=list)  # modules or .py files imported first (your own heads, datasets)


@dataclass
class MlflowConfig:
    # None: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/store.db
    tracking_uri: Optional[str] = key(None, result=False, resume=True)
    # None: mlruns/artifacts/<experiment> for a new sqlite experiment
    artifact_location: Optional[str] = key(None, result=False)
    experiment_name: str = key("default", result=False)
    run_name: Optional[str] = key(None, result=False, pack=True)
    # seconds a run keeps training while its tracking server does not answer (metrics and checkpoints wait in a
    # local spool, sent when it answers again); past it the run stops with a local checkpoint (default 30 min)
    outage_limit: float = key(1800.0, result=False, resume=True)


@dataclass
class DatasetConfig:
    name: str = "cifar"  # a registered dataset: cifar | kth | covidx | fashion_mnist | imagefolder | your own
    root: str = key(DEFAULT_DATA_ROOT, result=False)
    format: str = "native"  # native | imagefolder (CIFAR-10 exported as train/<class>/*, test/<class>/*)
    download: bool = key(True, result=False)  # CIFAR-10 only: fetch torchvision's archive into root if missing
    train_sample_num: int = 100
    test_sample_num: Optional[int] = None  # None: the whole test split
    val_sample_num: int = 0  # validation images drawn from the training split, disjoint from the training subset
    train_batch_size: int = 128
    test_batch_size: int = 256
    augment: str = "autoaugment-paper"  # autoaugment-paper (the paper's) | autoaugment | resize-crop | noaugment
    subset: str = "paper"  # paper (the original code's selection per seed) | balanced (independent per class)
    height: int = 32
    width: int = 32
    sample: str = "d"  # KTH-TIPS2-b physical sample trained on (a-d, the paper's d); the other three test
    mean: Optional[list] = None  # per-channel mean of the [0, 1] images; null: the dataset's (imagefolder: computed)
    std: Optional[list] = None  # per-channel standard deviation; null: the dataset's (imagefolder: computed)


@dataclass
class ScatteringConfig:
    architecture: str = "scattering"  # scattering | identity (raw pixels, for baselines)
    J: int = 2
    L: int = 8
    max_order: int = 2
    init: str = key("tight-frame", pack=True)  # tight-frame | random
    learnable: bool = key(True, pack=True)
    parameterization: str = "canonical"  # canonical | equivariant | pixelwise
    lr_orientation: float = 0.1
    lr_scattering: float = 0.1
    second_order_only: bool = False
    backend: str = "fast"  # fast | kymatio
    tightness: float = 0.0  # weight of the frame penalty (training/tightness.py); 0: none, the paper's protocol


@dataclass
class ModelConfig:
    name: str = "linear"  # a registered head: linear | hybrid-wrn | mlp | wrn | resnet50 | your own
    width: int = 8  # widening factor k of the wide-ResNet heads
    depth: int = 4  # basic blocks per stage (cnn), hidden layers (mlp)
    hidden: int = 512  # hidden units of the mlp head
    dropout: float = 0.0
    weights: Optional[str] = None  # resnet50: a local state_dict file; never downloaded
    init: str = "default"  # wide-ResNet heads: default (PyTorch's layer init, as the paper) | kaiming (He fan-out)


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd | adam
    lr: float = 0.1
    max_lr: float = 0.06
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    scheduler: str = "onecycle"  # onecycle | cosine | step | multistep | none
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    pct_start: float = 0.3
    three_phase: bool = False
    cycle_momentum: bool = True  # onecycle: momentum (Adam: beta1) goes max -> base -> max against the lr
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    T_max: Optional[int] = None  # cosine: epochs per half period, None = train.epochs
    step_size: int = 30  # step: epochs between decays
    milestones: list = field(default_factory=list)  # multistep: epochs at which the lr decays
    gamma: float = 0.1


@dataclass
class TrainConfig:
    epochs: int = key(10, resume=True)
    test_every: int = key(1, resume=True)
    loss: str = "cross-entropy"  # cross-entropy | cosine
    accum_steps: int = 1
    save_model: bool = key(True, resume=True)
    checkpoint_every: int = key(0, result=False, resume=True)  # 0: no intermediate checkpoints
    evaluate_test: bool = True  # false: never evaluate the test split (a search's trials); needs a validation split


@dataclass
class VizConfig:
    figures: bool = key(True, resume=True)
    animation_every: int = key(0, resume=True)  # epochs between animation frames; 0: no animation


@dataclass
class LogConfig:
    # seconds between progress lines when stderr is no terminal (and at every test epoch)
    every: float = key(60.0, result=False, resume=True)


@dataclass
class Config:
    general: GeneralConfig = field(default_factory=GeneralConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    scattering: ScatteringConfig = field(default_factory=ScatteringConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    viz: VizConfig = field(default_factory=VizConfig)
    log: LogConfig = field(default_factory=LogConfig)

    # ---- derived values -------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Classes of the dataset, as the dataset registry describes it (for ``imagefolder``: from the tree)."""
        return _describe_dataset(self.dataset)[0]

    @property
    def in_channels(self) -> int:
        """Image channels of the dataset (1 grey, 3 RGB), from the dataset registry."""
        return _describe_dataset(self.dataset)[1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Every key as a dotted name, e.g. ``{"scattering.J": 2, ...}``."""
        return {f"{s}.{k}": v for s, sec in self.to_dict().items() for k, v in sec.items()}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


DatasetDescriber = Callable[["DatasetConfig"], tuple[int, int]]
_DESCRIBER: list[DatasetDescriber] = []


def register_dataset_describer(describer: DatasetDescriber) -> None:
    """``describer(cfg.dataset) -> (num_classes, in_channels)``: what ``cfg.num_classes`` / ``cfg.in_channels``
    ask (the dataset registry registers it)."""
    _DESCRIBER[:] = [describer]


def _describe_dataset(d: DatasetConfig) -> tuple[int, int]:
    if not _DESCRIBER:
        raise RuntimeError("num_classes / in_channels come from the dataset registry: import parametricSN.data")
    return _DESCRIBER[0](d)


def dataset_described() -> bool:
    """Whether the dataset registry has registered its describer (``cfg.num_classes`` can be answered)."""
    return bool(_DESCRIBER)


def key_facts() -> dict[str, dict[str, bool]]:
    """``{"scattering.J": {"result": True, "resume": False, "pack": False}, ...}`` for every key, in schema order."""
    facts = {}
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(section.default_factory):  # type: ignore[arg-type]
            facts[f"{section.name}.{f.name}"] = {
                k: f.metadata.get(k, d) for k, d in (("result", True), ("resume", False), ("pack", False))
            }
    return facts


def keys_where(fact: str, value: bool = True) -> tuple[str, ...]:
    """The dotted keys whose ``fact`` (result, resume, pack) is ``value``, in schema order."""
    return tuple(k for k, f in key_facts().items() if f[fact] == value)
