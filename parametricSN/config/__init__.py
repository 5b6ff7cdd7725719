"""Typed configuration: schema, YAML loading, dotted overrides and validation.

    from parametricSN.config import load_config, ConfigError
    cfg = load_config("conf/cifar.yaml", overrides=["scattering.J=3", "train.epochs=10"])

- :mod:`~parametricSN.config.schema`: one dataclass per YAML section; each key's facts (changes results, may change
  on resume, may differ in a pack) and its choices or bounds, stated once in its field (``key()``);
- :mod:`~parametricSN.config.load`: reading a file, typing overrides, :func:`validate` (the schema's per-key rules,
  the choices the registries add, and the rules that span keys);
- :mod:`~parametricSN.config.names`: what the config knows of the built-in heads and datasets without importing
  them (read from their decorators), and former names;
- :mod:`~parametricSN.config.no_effect`: keys that do nothing with the chosen options, one warning each;
- :mod:`~parametricSN.config.strict_yaml`: YAML with duplicate keys refused and one-line errors.

Light: PyYAML only (``psn config show`` imports no torch).
"""

from parametricSN.config.load import (
    apply_overrides,
    config_from_dict,
    import_plugins,
    load_config,
    parse_override,
    read_config_file,
    register_check,
    register_choices,
    validate,
)
from parametricSN.config.names import DeprecatedNameWarning, HeadFacts
from parametricSN.config.no_effect import NoEffectWarning, no_effect, warn_no_effect
from parametricSN.config.schema import (
    DEFAULT_DATA_ROOT,
    DEFAULT_TRACKING_URI,
    Config,
    ConfigError,
    DatasetConfig,
    GeneralConfig,
    LogConfig,
    MlflowConfig,
    ModelConfig,
    OptimConfig,
    Rule,
    ScatteringConfig,
    TrainConfig,
    VizConfig,
    choices,
    dataset_described,
    key_facts,
    key_rules,
    keys_where,
    register_dataset_describer,
)
from parametricSN.config.strict_yaml import UniqueKeyLoader, shown, yaml_problem

__all__ = [
    "DEFAULT_DATA_ROOT",
    "DEFAULT_TRACKING_URI",
    "Config",
    "ConfigError",
    "DatasetConfig",
    "DeprecatedNameWarning",
    "GeneralConfig",
    "HeadFacts",
    "LogConfig",
    "MlflowConfig",
    "ModelConfig",
    "NoEffectWarning",
    "OptimConfig",
    "Rule",
    "ScatteringConfig",
    "TrainConfig",
    "UniqueKeyLoader",
    "VizConfig",
    "apply_overrides",
    "choices",
    "config_from_dict",
    "dataset_described",
    "import_plugins",
    "key_facts",
    "key_rules",
    "keys_where",
    "load_config",
    "no_effect",
    "parse_override",
    "read_config_file",
    "register_check",
    "register_choices",
    "register_dataset_describer",
    "shown",
    "validate",
    "warn_no_effect",
    "yaml_problem",
]
