"""Registry of datasets: everything parametricSN knows about one dataset is one :class:`DatasetSpec`, registered
under its ``dataset.name`` by a decorated function in the dataset's own module::

    @register_dataset("toy")
    def toy() -> DatasetSpec:
        return DatasetSpec(readers={"native": read_toy}, num_classes=2, channels=1, native_size=(8, 8),
                           normalization=((0.5,), (0.25,)), obtain="run make_toy.py")

A reader takes the ``dataset`` section of the config and returns the (train, test) :class:`Split` pair, raising
:class:`DatasetError` that says where it looked and how to obtain the data. The config's valid dataset names and
formats, ``cfg.num_classes`` / ``cfg.in_channels`` and the transforms' sizes and statistics all come from here.
A dataset of your own is one file with one decorated function, imported in ``parametricSN/data/__init__.py``
or listed in ``general.plugins``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Optional

from parametricSN.config import (
    Config,
    ConfigError,
    DatasetConfig,
    register_check,
    register_choices,
    register_dataset_describer,
)
from parametricSN.data.splits import Split

Reader = Callable[[DatasetConfig], tuple[Split, Split]]
Stats = tuple[Sequence[float], Sequence[float]]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset.

    - ``readers``: ``dataset.format`` -> reader (the formats the dataset can be read from);
    - ``num_classes``, ``channels`` (1 grey, 3 RGB): fixed by the dataset; or ``describe(d) -> (num_classes,
      channels)`` when they come from the data (``imagefolder``), called when a config is validated;
    - ``native_size`` (height, width): small datasets, used as they are (resized only when ``dataset.height/width``
      differ; random crops pad by 4 px). Without it images are resized to ``ceil(resize_ratio * size)`` and
      cropped to ``size`` (randomly when training, centred when testing), rotated by up to ``rotation`` degrees
      first when training (textures have no preferred orientation);
    - ``normalization``: per-channel (mean, std) of the [0, 1] images; None: computed from the training subset
      (see :mod:`parametricSN.data.stats`); ``dataset.mean`` / ``dataset.std`` replace either;
    - ``augments``: the ``dataset.augment`` pipelines it supports (None: all of ``transforms.AUGMENTS``);
    - ``obtain``: how to get the data, quoted in errors.
    """

    readers: Mapping[str, Reader]
    obtain: str
    num_classes: Optional[int] = None
    channels: Optional[int] = None
    native_size: Optional[tuple[int, int]] = None
    resize_ratio: float = 1.0
    rotation: float = 0.0
    normalization: Optional[Stats] = None
    augments: Optional[tuple[str, ...]] = None
    describe: Optional[Callable[[DatasetConfig], tuple[int, int]]] = None
    name: str = field(default="", compare=False)  # set by register_dataset

    def __post_init__(self) -> None:
        if self.describe is None and not (self.num_classes and self.channels in (1, 3)):
            raise ValueError("DatasetSpec: give num_classes >= 1 and channels 1 or 3, or a describe function")
        if not self.readers:
            raise ValueError("DatasetSpec: at least one reader (dataset.format -> reader) is needed")

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(self.readers)

    def shape(self, d: DatasetConfig) -> tuple[int, int]:
        """``(num_classes, channels)`` of the data ``d`` describes."""
        return self.describe(d) if self.describe is not None else (int(self.num_classes), int(self.channels))

    def read(self, d: DatasetConfig) -> tuple[Split, Split]:
        """The full (train, test) splits, read with the reader of ``d.format``."""
        if d.format not in self.readers:
            raise ConfigError(f"dataset.format: {self.name} can be read as {', '.join(self.formats)}, not {d.format!r}")
        return self.readers[d.format](d)


_DATASETS: dict[str, DatasetSpec] = {}
_ORIGINS: dict[str, str] = {}  # name -> module.qualname of the function that registered it


def register_dataset(name: str) -> Callable[[Callable[[], DatasetSpec]], Callable[[], DatasetSpec]]:
    """Decorator: register the spec the decorated function returns as the dataset ``name`` (names are unique)."""

    def decorator(make: Callable[[], DatasetSpec]) -> Callable[[], DatasetSpec]:
        origin = f"{make.__module__}.{make.__qualname__}"
        # Re-importing the same module (importlib.reload) re-registers the same function; anything else clashes.
        if name in _ORIGINS and _ORIGINS[name] != origin:
            raise ValueError(f"dataset {name!r} is already registered by {_ORIGINS[name]}")
        _DATASETS[name] = replace(make(), name=name)
        _ORIGINS[name] = origin
        return make

    return decorator


def available_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(_DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec registered as ``name``; :class:`ConfigError` naming ``dataset.name`` otherwise."""
    if name not in _DATASETS:
        raise ConfigError(
            f"dataset.name: unknown dataset {name!r}; registered datasets are {', '.join(available_datasets())}"
        )
    return _DATASETS[name]


def _check_statistics(cfg: Config) -> None:
    d = cfg.dataset
    if (d.mean is None) != (d.std is None):
        raise ConfigError("dataset.mean / dataset.std: give both (one value per channel) or neither")
    if d.mean is None:
        return
    channels = cfg.in_channels
    for key, values in (("dataset.mean", d.mean), ("dataset.std", d.std)):
        ok = len(values) == channels and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not ok or (key == "dataset.std" and min(values) <= 0):
            raise ConfigError(
                f"{key}: expected {channels} number(s), one per channel of {d.name}"
                f"{' (all > 0)' if key == 'dataset.std' else ''}, got {values!r}"
            )


# The config asks the registry (config imports nothing of this package: it is registered from here).
register_choices("dataset.name", lambda cfg: available_datasets())
register_choices("dataset.format", lambda cfg: dataset_spec(cfg.dataset.name).formats)
register_dataset_describer(lambda d: dataset_spec(d.name).shape(d))
register_check("dataset statistics", _check_statistics)
