"""The typed config: YAML + dotted overrides, typed by the schema, every mistake named."""

import pytest
import yaml

from parametricSN.config import Config, ConfigError, config_from_dict, load_config


@pytest.mark.filterwarnings("ignore::parametricSN.config.NoEffectWarning")  # keys set to test types
def test_defaults_overrides_and_types():
    cfg = load_config(
        None,
        [
            "scattering.J=3",
            "optim.weight_decay=1e-3",
            "optim.lr=1",
            "optim.milestones=[2, 5]",
            "mlflow.run_name=2024",
            "dataset.test_sample_num=null",
            "scattering.learnable=false",
        ],
    )
    assert isinstance(cfg, Config)
    assert cfg.scattering.J == 3 and cfg.optim.weight_decay == 1e-3
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)  # an int where a float is expected
    assert cfg.optim.milestones == [2, 5] and cfg.mlflow.run_name == "2024"
    assert cfg.dataset.test_sample_num is None and cfg.scattering.learnable is False


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("scattering:\n  J: 3\n  L: 6\ntrain:\n  epochs: 7\n")
    cfg = load_config(path, ["scattering.J=1"])
    assert (cfg.scattering.J, cfg.scattering.L, cfg.train.epochs) == (1, 6, 7)


@pytest.mark.parametrize(
    "override,names",
    [
        ("scattering.JJ=3", ["scattering.JJ", "unknown key"]),
        ("scatering.J=3", ["scatering", "unknown section"]),
        ("scattering.J=abc", ["scattering.J", "expected int"]),
        ("scattering.learnable=2", ["scattering.learnable", "expected bool"]),
        ("scattering.J=0", ["scattering.J", ">= 1"]),
        ("scattering.init=xavier", ["scattering.init", "tight-frame"]),
        ("dataset.train_sample_num=15", ["dataset.train_sample_num", "multiple of the 10 classes"]),
        ("dataset.height=30", ["dataset.height", "multiple of 2**scattering.J"]),
        ("dataset.root=/no/such/folder", ["dataset.root", "/no/such/folder", "does not exist"]),
        ("model.name=transformer", ["model.name", "linear"]),
        ("optim.milestones=[5, 2]", ["optim.milestones", "increasing"]),
        ("general.device=gpu", ["general.device", "cuda:N"]),
        ("mlflow.run_name=no", ["mlflow.run_name", "quote"]),
        ("scattering.J", ["key=value"]),
    ],
)
def test_mistakes_are_named(override, names):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    for name in names:
        assert name in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("scattering: [J: 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("scattering:\n  j: 2\n")
    with pytest.raises(ConfigError, match="scattering.j"):
        load_config(typo)


def test_second_order_only_needs_order_two_paths():
    with pytest.raises(ConfigError, match="second_order_only"):
        load_config(None, ["scattering.second_order_only=true", "scattering.max_order=1"])


@pytest.mark.filterwarnings("ignore::parametricSN.config.NoEffectWarning")  # keys set to test types
def test_flat_yaml_and_dict_round_trip():
    cfg = load_config(None, ["scattering.J=3", "optim.milestones=[3]"])
    flat = cfg.flat()
    assert flat["scattering.J"] == 3 and "train.epochs" in flat and all("." in k for k in flat)
    again = config_from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg
