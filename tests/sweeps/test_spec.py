"""Sweep specs: parsing, expansion, cell identity, and one clear error (exit 2) per kind of mistake."""

import subprocess
from pathlib import Path

import pytest

from parametricSN.cli import main
from parametricSN.sweeps import SpecError, load_spec
from parametricSN.sweeps.spec import cell_hash
from tests.warm import PYTHON

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "experiments").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


CIFAR = REPO / "conf" / "cifar.yaml"
GOOD = """
name: demo
base: CIFAR
overrides: [model.name=linear]
cases:
  - {dataset.train_sample_num: 100, train.epochs: 5}
  - {dataset.train_sample_num: 500, train.epochs: 2}
grid:
  scattering.init: [tight-frame, random]
  general.seed: [1, 2, 3]
published:
  - {where: {dataset.train_sample_num: 100, scattering.init: random}, mean: 30.5, std: 0.5}
""".replace("CIFAR", str(CIFAR))


def test_expansion_is_cases_times_grid_with_varying_keys(tmp_path):
    (tmp_path / "experiments").mkdir()
    spec = load_spec(write(tmp_path / "experiments", GOOD))
    assert spec.base == CIFAR
    cells = spec.cells()
    assert len(cells) == 2 * 2 * 3
    assert spec.varying_keys == ["dataset.train_sample_num", "train.epochs", "scattering.init", "general.seed"]
    first, last = cells[0], cells[-1]
    assert first.config.dataset.train_sample_num == 100 and first.config.train.epochs == 5
    assert first.config.scattering.init == "tight-frame" and first.seed == 1 and first.config.model.name == "linear"
    assert last.config.dataset.train_sample_num == 500 and last.config.scattering.init == "random" and last.seed == 3
    assert first.config.mlflow.experiment_name == "demo"
    assert len({c.hash for c in cells}) == len(cells)
    assert spec.published[0].matches({"dataset.train_sample_num": "100", "scattering.init": "random"})
    assert not spec.published[0].matches({"dataset.train_sample_num": "500", "scattering.init": "random"})


def test_cell_hash_ignores_tracking_and_non_result_keys(tmp_path):
    (tmp_path / "experiments").mkdir()
    spec = load_spec(write(tmp_path / "experiments", GOOD))
    plain = spec.cells()[0]
    moved = spec.cells(["mlflow.tracking_uri=sqlite:///elsewhere.db", "general.num_workers=4", "general.device=cpu"])[0]
    changed = spec.cells(["scattering.J=3"])[0]
    assert cell_hash(moved.config) == plain.hash
    assert changed.hash != plain.hash


BASE = f"name: x\nbase: {CIFAR}\n"


@pytest.mark.parametrize(
    "body, words",
    [
        ("bogus: 1\n", ["bogus", "unknown top-level key"]),
        ("grid:\n  scattering.bogus: [1, 2]\n", ["grid: scattering.bogus", "unknown config key"]),
        ("cases:\n  - {model.nmae: linear}\n", ["cases[0]: model.nmae", "unknown config key"]),
        ("grid:\n  scattering.J: [2, many]\n", ["scattering.J", "expected int", "many"]),
        ("grid:\n  general.seed: [1]\n  general.seed: [2]\n", ["general.seed", "duplicate key"]),
        ("cases:\n  - {general.seed: 1}\ngrid:\n  general.seed: [2]\n", ["grid: general.seed", "both cases and grid"]),
        ("overrides: [general.seed=1]\ngrid:\n  general.seed: [2]\n", ["general.seed", "both overrides"]),
        ("grid:\n  general.seed: 3\n", ["grid: general.seed", "non-empty list"]),
        ("published:\n  - {where: {scattering.inti: random}, mean: 1, std: 1}\n", ["published[0].where", "inti"]),
        ("published:\n  - {mean: high, std: 1}\n", ["published[0].mean", "number"]),
    ],
)
def test_spec_errors_name_file_and_key(tmp_path, body, words):
    (tmp_path / "experiments").mkdir()
    path = write(tmp_path / "experiments", BASE + body)
    with pytest.raises(SpecError) as info:
        load_spec(path).cells()
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message


def test_missing_base_is_an_error(tmp_path):
    with pytest.raises(SpecError, match="base: config file 'conf/nope.yaml' not found"):
        load_spec(write(tmp_path, "name: x\nbase: conf/nope.yaml\n"))


@pytest.mark.process
def test_sweep_cli_exits_2_with_one_line_before_running(tmp_path):
    (tmp_path / "experiments").mkdir()
    path = write(tmp_path / "experiments", BASE + "grid:\n  train.epochs: [1, two]\n")
    proc = subprocess.run(
        [PYTHON, "-m", "parametricSN", "sweep", str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "train.epochs" in proc.stderr and str(path) in proc.stderr
    assert not (tmp_path / "mlruns").exists()  # nothing ran, no store was created


@pytest.mark.process
@pytest.mark.parametrize("spec", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_spec_dry_runs(spec, capsys):
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    count = int(lines[-1].split()[0])
    runs = [line.split() for line in lines[:-1] if not line.startswith("every run:")]
    assert count == len(runs) >= 6
    assert [int(r[0]) for r in runs] == list(range(1, count + 1)) and all(len(r[1]) == 16 for r in runs)


def test_shipped_specs_cover_the_paper_families():
    names = {load_spec(p).name for p in SHIPPED}
    assert {
        "cifar10-linear",
        "cifar10-wrn",
        "cifar10-wrn-pixels",
        "kth-linear",
        "kth-wrn",
        "covidx-linear",
        "covidx-wrn",
        "cifar10-filter-monitoring",
        "cifar10-100sample",
    } <= names
    linear = load_spec(REPO / "experiments" / "cifar10-linear.yaml")
    assert len(linear.published) == 16
    cell = next(c for c in linear.cells() if c.config.dataset.train_sample_num == 500)
    protocol = (cell.config.train.epochs, cell.config.dataset.train_batch_size, cell.config.optim.max_lr)
    assert protocol == (1000, 500, 0.13)


@pytest.mark.process
def test_only_selects_cells(capsys):
    assert (
        main(
            [
                "sweep",
                str(REPO / "experiments" / "cifar10-linear.yaml"),
                "--dry-run",
                "--only",
                "dataset.train_sample_num=100",
                "--only",
                "scattering.learnable=true",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("20 runs")


@pytest.mark.process
def test_ray_options_need_the_ray_launcher(capsys):
    assert main(["sweep", str(SHIPPED[0]), "--address", "auto"]) == 2
    assert "--launcher ray" in capsys.readouterr().err
