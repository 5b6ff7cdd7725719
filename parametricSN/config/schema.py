"""The config schema: one dataclass per YAML section, and what each key is (its metadata, stated once).

Every key carries its facts in its field's metadata (:func:`key`), read by whoever needs them instead of a list of
their own (:func:`keys_where`, :func:`choices`, :func:`key_rules`):

- ``result``: it can change the numbers a run produces (False: where a run is stored or read from, how many loader
  workers, which device...): sweeps leave the others out of a cell's identity (:mod:`parametricSN.sweeps.spec`);
- ``resume``: it may change when a run is resumed (:mod:`parametricSN.training.resume`);
- ``pack``: it may differ between the members of a pack (:mod:`parametricSN.training.pack`);
- ``choices`` or ``rule``: the values it accepts beyond its type (:func:`parametricSN.config.validate` checks them;
  rules that span keys are written there).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

MISSING: Any = dataclasses.MISSING


@dataclass(frozen=True)
class Rule:
    """What one key accepts: ``test(value)`` is true for a possible value (a null of an optional key is not
    tested); otherwise the error is ``message`` formatted with ``key``, ``expected``, the ``value`` shown (cut to a
    readable size) and the ``raw`` value."""

    test: Callable[[Any], bool]
    expected: str
    message: str = "{key}: expected {expected}, got {value}"


def at_least(bound: float, what: str = "a value") -> Rule:
    """``value >= bound``: "expected an integer >= 1"."""
    return Rule(lambda v: v >= bound, f"{what} >= {bound}")


def above(bound: float, what: str = "a value") -> Rule:
    """``value > bound``."""
    return Rule(lambda v: v > bound, f"{what} > {bound}")


def one_of(choices: Sequence[Any]) -> Rule:
    """``value in choices``: "expected one of sgd, adam"."""
    return Rule(lambda v: v in choices, "one of " + ", ".join(map(str, choices)))


def key(
    default: Any = MISSING,
    *,
    factory: Any = MISSING,
    result: bool = True,
    resume: bool = False,
    pack: bool = False,
    choices: Optional[Sequence[Any]] = None,
    rule: Optional[Rule] = None,
) -> Any:
    """A config field with its facts (see the module docstring); defaults: changes results, fixed on resume, equal
    inside a pack, any value of its type. ``choices``: the values it takes (a fixed list; keys whose values come
    from a registry, such as ``model.name``, are checked by it); ``rule``: any other test of its value alone."""
    meta: dict[str, Any] = {"result": result, "resume": resume, "pack": pack}
    if choices is not None:
        meta["choices"] = tuple(choices)
        rule = one_of(meta["choices"])
    if rule is not None:
        meta["rule"] = rule
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _device(value: str) -> bool:
    return value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit())


def _increasing(values: list) -> bool:
    ints = all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in values)
    return ints and list(values) == sorted(set(values))


INTEGER_1 = at_least(1, "an integer")
POSITIVE = above(0)
NON_NEGATIVE = at_least(0)
NAMED = Rule(lambda v: str(v).strip() != "", "a non-empty name (leave tracking_uri out for the default store)")
WEIGHTS = Rule(
    lambda v: Path(v).expanduser().is_file(),
    "a local state_dict file",
    "{key}: no file at {raw!r}; give a local state_dict file or model.weights=null for random initialisation",
)

LEARNING_RATES = Rule(
    lambda v: all(
        isinstance(k, str) and isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < float("inf")
        for k, r in v.items()
    ),
    "a mapping of learning-rate group names to positive numbers, e.g. {orientation: 0.1, scattering: 0.05}",
)

DEFAULT_DATA_ROOT = "data"
DEFAULT_TRACKING_URI = "sqlite:///mlruns/store.db"


class ConfigError(ValueError):
    """A config key is unknown, has the wrong type or an impossible value."""


@dataclass
class GeneralConfig:
    seed: int = key(0, pack=True)
    device: str = key("auto", result=False, rule=Rule(_device, "auto, cpu, cuda or cuda:N"))
    num_workers: int = key(0, result=False, resume=True, rule=at_least(0, "an integer"))
    deterministic: bool = False
    # modules or .py files imported first (your own heads, datasets)
    plugins: list = key(
        factory=list,
        rule=Rule(lambda v: all(isinstance(p, str) and p for p in v), "a list of module names or .py files"),
    )


@dataclass
class MlflowConfig:
    # None: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/store.db
    tracking_uri: Optional[str] = key(None, result=False, resume=True, rule=NAMED)
    # None: mlruns/artifacts/<experiment> for a new sqlite experiment
    artifact_location: Optional[str] = key(None, result=False)
    experiment_name: str = key("default", result=False, rule=NAMED)
    run_name: Optional[str] = key(None, result=False, pack=True)
    # seconds a run keeps training while its tracking server does not answer (metrics and checkpoints wait in a
    # local spool, sent when it answers again); past it the run stops with a local checkpoint (default 30 min)
    outage_limit: float = key(1800.0, result=False, resume=True, rule=above(0, "a number of seconds"))


@dataclass
class DatasetConfig:
    name: str = "cifar"  # a registered dataset: cifar | kth | covidx | fashion_mnist | imagefolder | your own
    root: str = key(DEFAULT_DATA_ROOT, result=False)
    format: str = "native"  # native | imagefolder (CIFAR-10 exported as train/<class>/*, test/<class>/*)
    download: bool = key(True, result=False)  # CIFAR-10 only: fetch torchvision's archive into root if missing
    train_sample_num: int = 100
    test_sample_num: Optional[int] = None  # None: the whole test split
    # validation images drawn from the training split, disjoint from the training subset
    val_sample_num: int = key(0, rule=NON_NEGATIVE)
    train_batch_size: int = key(128, rule=INTEGER_1)
    test_batch_size: int = key(256, rule=INTEGER_1)
    augment: str = "autoaugment-paper"  # autoaugment-paper (the paper's) | autoaugment | resize-crop | noaugment
    # paper (the original code's selection per seed) | balanced (independent per class)
    subset: str = key("paper", choices=("paper", "balanced"))
    height: int = key(32, rule=INTEGER_1)
    width: int = key(32, rule=INTEGER_1)
    # KTH-TIPS2-b physical sample trained on (a-d, the paper's d); the other three test
    sample: str = key("d", choices=("a", "b", "c", "d"))
    mean: Optional[list] = None  # per-channel mean of the [0, 1] images; null: the dataset's (imagefolder: computed)
    std: Optional[list] = None  # per-channel standard deviation; null: the dataset's (imagefolder: computed)


@dataclass
class ScatteringConfig:
    architecture: str = key("scattering", choices=("scattering", "identity"))  # identity: raw pixels (baselines)
    J: int = key(2, rule=INTEGER_1)
    L: int = key(8, rule=INTEGER_1)
    max_order: int = key(2, rule=Rule(lambda v: v in (1, 2), "1 or 2"))
    init: str = key("tight-frame", pack=True, choices=("tight-frame", "random"))
    learnable: bool = key(True, pack=True)
    parameterization: str = key("canonical", choices=("canonical", "equivariant", "pixelwise"))
    # a registered wavelet family: morlet | gabor | cauchy | your own (scattering/families, general.plugins)
    family: str = "morlet"
    # true: the envelope periodised on the padded grid (kymatio); false: one period, the paper-era construction
    periodize: bool = True
    lr_orientation: float = key(0.1, rule=POSITIVE)  # the family's learning-rate group `orientation`
    lr_scattering: float = key(0.1, rule=POSITIVE)  # every other group (Morlet: {xi, sigma, slant}; pixelwise)
    # learning rate per group of the family, by name, e.g. {shape: 0.05}; replaces lr_orientation / lr_scattering
    lr: dict = key(factory=dict, rule=LEARNING_RATES)
    second_order_only: bool = False
    backend: str = key("fast", choices=("fast", "kymatio"))
    # weight of the frame penalty (training/tightness.py); 0: none, the paper's protocol
    tightness: float = key(0.0, rule=NON_NEGATIVE)


@dataclass
class ModelConfig:
    name: str = "linear"  # a registered head: linear | hybrid-wrn | mlp | wrn | resnet50 | your own
    width: int = key(8, rule=INTEGER_1)  # widening factor k of the wide-ResNet heads
    depth: int = key(4, rule=INTEGER_1)  # basic blocks per stage (cnn), hidden layers (mlp)
    hidden: int = key(512, rule=INTEGER_1)  # hidden units of the mlp head
    dropout: float = key(0.0, rule=Rule(lambda v: 0 <= v < 1, "a value in [0, 1)"))
    weights: Optional[str] = key(None, rule=WEIGHTS)  # resnet50: a local state_dict file; never downloaded
    # wide-ResNet heads: default (PyTorch's layer init, as the paper) | kaiming (He fan-out)
    init: str = key("default", choices=("default", "kaiming"))


@dataclass
class OptimConfig:
    name: str = key("sgd", choices=("sgd", "adam"))
    lr: float = key(0.1, rule=POSITIVE)
    max_lr: float = key(0.06, rule=POSITIVE)
    momentum: float = key(0.9, rule=NON_NEGATIVE)
    nesterov: bool = False
    weight_decay: float = key(5e-4, rule=NON_NEGATIVE)
    scheduler: str = key("onecycle", choices=("onecycle", "cosine", "step", "multistep", "none"))
    div_factor: float = key(25.0, rule=POSITIVE)
    final_div_factor: float = key(1e4, rule=POSITIVE)
    pct_start: float = key(0.3, rule=Rule(lambda v: 0 < v < 1, "a value in (0, 1)"))
    three_phase: bool = False
    cycle_momentum: bool = True  # onecycle: momentum (Adam: beta1) goes max -> base -> max against the lr
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    # cosine: epochs per half period, None = train.epochs
    T_max: Optional[int] = key(None, rule=Rule(lambda v: v >= 1, "null or an integer >= 1"))
    step_size: int = key(30, rule=INTEGER_1)  # step: epochs between decays
    # multistep: epochs at which the lr decays
    milestones: list = key(factory=list, rule=Rule(_increasing, "increasing integers >= 1"))
    gamma: float = key(0.1, rule=POSITIVE)


@dataclass
class TrainConfig:
    epochs: int = key(10, resume=True, rule=INTEGER_1)
    test_every: int = key(1, resume=True, rule=INTEGER_1)
    loss: str = key("cross-entropy", choices=("cross-entropy", "cosine"))
    accum_steps: int = key(1, rule=INTEGER_1)
    save_model: bool = key(True, resume=True)
    checkpoint_every: int = key(0, result=False, resume=True, rule=NON_NEGATIVE)  # 0: no intermediate checkpoints
    evaluate_test: bool = True  # false: never evaluate the test split (a search's trials); needs a validation split


@dataclass
class VizConfig:
    figures: bool = key(True, resume=True)
    animation_every: int = key(0, resume=True, rule=NON_NEGATIVE)  # epochs between animation frames; 0: no animation


@dataclass
class LogConfig:
    # seconds between progress lines when stderr is no terminal (and at every test epoch)
    every: float = key(60.0, result=False, resume=True, rule=above(0, "a number of seconds"))


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


@functools.cache
def _fields() -> dict[str, dataclasses.Field]:
    return {
        f"{section.name}.{f.name}": f
        for section in dataclasses.fields(Config)
        for f in dataclasses.fields(section.default_factory)  # type: ignore[arg-type]
    }


def choices(dotted: str) -> tuple:
    """The values the schema lists for ``dotted`` (e.g. ``optim.name``); () when a registry holds them."""
    return _fields()[dotted].metadata.get("choices", ())


def key_rules() -> dict[str, Rule]:
    """``{"scattering.J": Rule(...), ...}``: every key's own rule (its choices or bounds), in schema order."""
    return {k: f.metadata["rule"] for k, f in _fields().items() if "rule" in f.metadata}
