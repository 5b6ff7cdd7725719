"""Run names a reader recognises in ``mlflow ui`` (pure functions: no torch, no MLflow).

    sweep_run_name("cifar10-linear", {"dataset.train_sample_num": 100, "scattering.init": "tight-frame",
                                      "scattering.learnable": True, "general.seed": 207715039})
    -> 'cifar10-linear n=100 tf LS seed=207715039'
    train_run_name(cfg.flat()) -> 'fashion_mnist n=500 tf LS linear seed=0'

Short forms: ``n`` = ``dataset.train_sample_num``; ``tf`` / ``rand`` = ``scattering.init`` tight-frame / random;
``LS`` / ``S`` = learnable / fixed scattering; any other key is ``<last part of the key>=<value>``
(``epochs=5``), prefixed by its section when two varying keys share that last part (``optim.lr=0.1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SHORT_INIT = {"tight-frame": "tf", "random": "rand"}
SEED, SAMPLES = "general.seed", "dataset.train_sample_num"
INIT, LEARNABLE = "scattering.init", "scattering.learnable"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _learnable(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def short_value(key: str, value: Any, label: str) -> str:
    """One varying key in its short form (``n=100``, ``tf``, ``LS``, ``seed=3``, ``label=value``)."""
    if key == SAMPLES:
        return f"n={_text(value)}"
    if key == INIT:
        return SHORT_INIT.get(str(value), f"init={_text(value)}")
    if key == LEARNABLE:
        return "LS" if _learnable(value) else "S"
    return f"{label}={_text(value)}"


def _labels(keys: list[str]) -> dict[str, str]:
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (k if last.count(short) > 1 else short) for k, short in zip(keys, last)}


def sweep_run_name(spec_name: str, varying: Mapping[str, Any]) -> str:
    """``<spec name> <varying values, short>``; the seed last. Example in the module docstring."""
    keys = [k for k in varying if k != SEED] + ([SEED] if SEED in varying else [])
    labels = _labels(keys)
    return " ".join([spec_name, *(short_value(k, varying[k], labels[k]) for k in keys)])


def train_run_name(flat: Mapping[str, Any]) -> str:
    """The default name of a ``psn train`` run from its flat config (``cfg.flat()``): dataset, n, the
    scattering's init and learnable/fixed (omitted for a pixel baseline), head, seed."""
    parts = [_text(flat.get("dataset.name", "?")), short_value(SAMPLES, flat.get(SAMPLES, "?"), "")]
    if flat.get("scattering.architecture", "scattering") == "scattering":
        parts += [short_value(INIT, flat.get(INIT, "?"), ""), short_value(LEARNABLE, flat.get(LEARNABLE), "")]
    else:
        parts.append(_text(flat.get("scattering.architecture")))
    parts += [_text(flat.get("model.name", "?")), f"seed={_text(flat.get(SEED, '?'))}"]
    return " ".join(parts)
