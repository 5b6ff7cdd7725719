"""Run names: a sweep cell's from the spec and its varying values, a psn train run's from its config."""

from parametricSN.config import Config, apply_overrides
from parametricSN.naming import sweep_run_name, train_run_name


def test_sweep_name_uses_short_forms_and_puts_the_seed_last():
    varying = {
        "general.seed": 207715039,
        "dataset.train_sample_num": 100,
        "scattering.init": "tight-frame",
        "scattering.learnable": True,
    }
    assert sweep_run_name("cifar10-linear", varying) == "cifar10-linear n=100 tf LS seed=207715039"
    assert sweep_run_name("x", {"scattering.init": "random", "scattering.learnable": False}) == "x rand S"
    # other keys: their last part, or the full key when two share it
    assert (
        sweep_run_name("x", {"train.epochs": 5, "optim.lr": 0.1, "scattering.lr": 2.0})
        == "x epochs=5 optim.lr=0.1 scattering.lr=2"
    )


def test_train_name_says_the_cell_and_baselines_omit_the_scattering():
    cfg = apply_overrides(
        Config(),
        ["dataset.name=fashion_mnist", "dataset.train_sample_num=500", "scattering.learnable=false", "general.seed=3"],
    )
    assert train_run_name(cfg.flat()) == "fashion_mnist n=500 tf S linear seed=3"
    pixels = apply_overrides(cfg, ["scattering.architecture=identity"])
    assert train_run_name(pixels.flat()) == "fashion_mnist n=500 identity linear seed=3"
