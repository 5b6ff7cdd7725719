"""Every shipped YAML config loads and carries the published defaults of its dataset."""

from pathlib import Path

import pytest

from parametricSN.config import load_config

CONF = Path(__file__).resolve().parents[2] / "conf"
DATASET_FILES = {
    "cifar.yaml": "cifar",
    "kth.yaml": "kth",
    "covidx.yaml": "covidx",
    "fashion_mnist.yaml": "fashion_mnist",
}


def test_dataset_configs_exist():
    assert set(DATASET_FILES) <= {p.name for p in CONF.glob("*.yaml")}


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_loads(path):
    cfg = load_config(path)
    if path.name in DATASET_FILES:
        assert cfg.dataset.name == DATASET_FILES[path.name]
        assert cfg.dataset.root == "data"  # the default root, so that the files load without the data


def test_published_defaults():
    c = load_config(CONF / "cifar.yaml")
    assert (c.scattering.J, c.dataset.train_sample_num, c.dataset.train_batch_size, c.dataset.augment) == (
        2,
        100,
        128,
        "autoaugment-paper",
    )
    assert c.dataset.subset == "paper" and c.optim.cycle_momentum and c.model.init == "default"
    assert (c.optim.name, c.optim.lr, c.optim.momentum, c.optim.weight_decay) == ("sgd", 0.1, 0.9, 5e-4)
    assert (c.optim.scheduler, c.optim.max_lr, c.optim.div_factor) == ("onecycle", 0.06, 25.0)
    assert (c.scattering.init, c.scattering.learnable, c.model.name) == ("tight-frame", True, "linear")
    assert (c.train.epochs, c.train.test_every) == (5000, 25)
    k = load_config(CONF / "kth.yaml")
    assert (k.scattering.J, k.dataset.height, k.dataset.width, k.dataset.sample) == (4, 128, 128, "d")
    assert k.dataset.train_sample_num == 11 * 108  # one whole physical sample
    x = load_config(CONF / "covidx.yaml")
    assert (x.scattering.J, x.dataset.height, x.dataset.width, x.dataset.train_sample_num) == (4, 224, 224, 100)
    assert (x.dataset.subset, x.dataset.augment, k.dataset.subset) == ("paper", "resize-crop", "balanced")
    f = load_config(CONF / "fashion_mnist.yaml")
    assert (f.scattering.J, f.dataset.height, f.dataset.width, f.dataset.train_sample_num) == (2, 28, 28, 1000)
    assert f.dataset.augment == "noaugment" and f.model.name == "linear"
