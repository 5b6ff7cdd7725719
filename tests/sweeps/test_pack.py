"""``psn sweep --pack N``: the cells of a spec that differ only in their seed train as packs of at most N (one
worker process each), and every member is still its own MLflow run of its cell."""

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.sweeps.runner import pack_groups
from parametricSN.sweeps.spec import load_spec
from parametricSN.tags import TAG_CELL
from tests.sweeps.test_run import tiny_base

SPEC = """
name: tiny-pack
base: {base}
grid:
  general.seed: [1, 2, 3]
  scattering.learnable: [true, false]
"""


def write_spec(tmp_path, fmnist_root, extra=""):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(base=tiny_base(tmp_path, fmnist_root)) + extra)
    return spec


def test_cells_differing_only_in_the_seed_are_packed(tmp_path, fmnist_root):
    cells = load_spec(write_spec(tmp_path, fmnist_root)).cells([])
    packs = pack_groups(cells, 2)
    # 2 x 3 seeds -> per learnable value one pack of 2 and one of 1; every cell exactly once
    assert sorted(len(p) for p in packs) == [1, 1, 2, 2]
    assert sorted(c.index for p in packs for c in p) == list(range(6))
    for p in packs:
        assert len({c.config.scattering.learnable for c in p}) == 1
    assert [[c] for c in cells] == pack_groups(cells, 1)


@pytest.mark.process
def test_psn_sweep_pack_logs_every_member_as_its_own_run_and_skips_on_rerun(
    tmp_path, fmnist_root, capsys, warm_workers
):
    uri = f"sqlite:///{tmp_path}/store.db"
    spec = write_spec(tmp_path, fmnist_root)
    assert main(["sweep", str(spec), "--only", "scattering.learnable=true", "--pack", "3", "--tracking-uri", uri]) == 0
    assert "3 finished, 0 skipped, 0 failed" in capsys.readouterr().out
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("tiny-pack").experiment_id])
    assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["pack_id"] for r in runs}) == 1 and {r.data.tags["pack_size"] for r in runs} == {"3"}
    assert len({r.data.tags[TAG_CELL] for r in runs}) == 3
    assert sorted(r.data.params["general.seed"] for r in runs) == ["1", "2", "3"]
    assert main(["sweep", str(spec), "--only", "scattering.learnable=true", "--pack", "3", "--tracking-uri", uri]) == 0
    assert "0 to run" in capsys.readouterr().out


@pytest.mark.process
def test_a_head_that_cannot_be_packed_is_one_line_before_anything_runs(tmp_path, fmnist_root, capsys):
    uri = f"sqlite:///{tmp_path}/store.db"
    spec = write_spec(tmp_path, fmnist_root, "overrides: [model.name=resnet50]\n")
    assert main(["sweep", str(spec), "--pack", "3", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resnet50" in err and "cannot be packed" in err
    assert not (tmp_path / "store.db").exists()  # nothing ran, no store was created
