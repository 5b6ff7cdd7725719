"""The config loader knows the built-in heads and datasets without importing them (config.names reads their
decorators), and the registries agree; the schema's fixed choices are what the code implements."""

import subprocess
import sys

import pytest

import parametricSN.training.run  # noqa: F401  (every registry, as psn train imports them)
from parametricSN.config import HeadFacts, choices
from parametricSN.config import names as config_names
from parametricSN.config.names import builtin_datasets, declared, head_facts
from parametricSN.data import available_datasets
from parametricSN.models import available_heads
from parametricSN.scattering import layer
from parametricSN.training.losses import LOSSES

FRESH = """
import sys
from parametricSN.config import ConfigError, load_config
for override in sys.argv[1:]:
    try:
        load_config(None, [override])
    except ConfigError as exc:
        print(exc)
    else:
        print("accepted", override)
print("torch imported:", "torch" in sys.modules)
"""


@pytest.mark.process
def test_a_fresh_interpreter_rejects_unknown_names_without_importing_torch():
    proc = subprocess.run(
        [sys.executable, "-c", FRESH, "model.name=nosuch", "dataset.name=nosuch", "scattering.init=nosuch"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "model.name: expected one of " + ", ".join(sorted(declared("models", "register_head"))) + (
        ", got 'nosuch'"
    )
    assert lines[1].startswith("dataset.name: expected one of cifar, ") and "kth" in lines[1]
    assert lines[2] == "scattering.init: expected one of tight-frame, random, got 'nosuch'"
    assert lines[3] == "torch imported: False"


def _ours(key: str, names: list) -> list:
    """``names`` less what tests registered in this process (other test files add datasets and heads of their own):
    the built-in ones come from parametricSN's own modules."""
    from parametricSN.data import registry as data_registry
    from parametricSN.models import registry as model_registry

    origin = {
        "dataset.name": lambda n: data_registry._ORIGINS[n],
        "model.name": lambda n: model_registry._HEADS[n].__module__,
    }.get(key)
    return [n for n in names if origin is None or origin(n).startswith("parametricSN.")]


def test_the_builtin_names_agree_with_the_registries():
    heads = declared("models", "register_head")
    assert sorted(_ours("model.name", available_heads())) == sorted(heads)
    for name, (_, kwargs) in heads.items():
        assert head_facts()[name] == HeadFacts(reads=kwargs["reads"], packs=kwargs.get("packs", False)), name
    assert sorted(_ours("dataset.name", available_datasets())) == list(builtin_datasets())
    assert tuple(LOSSES) == choices("train.loss")
    assert (layer.INITS, layer.PARAMETERIZATIONS, layer.BACKENDS) == tuple(
        choices(f"scattering.{k}") for k in ("init", "parameterization", "backend")
    )


def test_a_new_builtin_is_its_file_and_its_decorator(tmp_path, monkeypatch):
    """A module with a decorated builder is found (arguments over several lines); one without is not parsed."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mean.py").write_text(
        'import torch\n\n\n@register_head(\n    "mean",\n    reads=("width",),\n    packs=True,\n)\ndef mean(): ...\n'
    )
    (tmp_path / "models" / "other.py").write_text("def f():\n    return 1\n")
    (tmp_path / "models" / "bad.py").write_text("@register_head(NAME)\ndef bad(): ...\n")
    monkeypatch.setattr(config_names, "PACKAGE", tmp_path)
    with pytest.raises(ValueError, match="bad.py:1: @register_head of a built-in takes literal arguments"):
        config_names.declared.__wrapped__("models", "register_head")
    (tmp_path / "models" / "bad.py").unlink()
    assert config_names.declared.__wrapped__("models", "register_head") == {
        "mean": ("parametricSN.models.mean", {"reads": ("width",), "packs": True})
    }


def test_former_names_still_load_with_one_deprecation_warning():
    import warnings

    from parametricSN.config import load_config
    from parametricSN.config.names import RENAMED, DeprecatedNameWarning

    for key, renames in RENAMED.items():
        for old, new in renames.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cfg = load_config(None, [f"{key}={old}"])
            assert cfg.flat()[key] == new
            messages = [str(w.message) for w in caught if issubclass(w.category, DeprecatedNameWarning)]
            assert messages == [f"{key}: {old!r} is a former name; use {new!r}"]
