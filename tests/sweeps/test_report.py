"""psn report: grouping, mean and sample std checked against numbers worked out by hand, published numbers
and the ±2σ mark, CSV columns, the plot, the summary run that stores them (opt-in, replaced), each run counted
once, and the markdown table's shape for every combination of varying keys."""

import csv
import io
import json
import subprocess
from types import SimpleNamespace

import pytest
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.sweeps.tables import group_runs, select_runs, to_markdown, varying_keys
from parametricSN.tags import TAG_PUBLISHED, TAG_REPORT
from tests.warm import PYTHON

# (init, train_sample_num, seed, test_acc)
RUNS = [
    ("tight-frame", 100, 1, 30.0),
    ("tight-frame", 100, 2, 32.0),
    ("tight-frame", 100, 3, 34.0),
    ("random", 100, 1, 20.0),
    ("random", 100, 2, 21.0),
    ("tight-frame", 500, 1, 50.0),
    ("tight-frame", 500, 2, 54.0),
]
# by hand: TF/100 mean 32, std sqrt((4+0+4)/2) = 2; random/100 mean 20.5, std sqrt(0.5) = 0.7071;
# TF/500 mean 52, std sqrt((4+4)/1) = 2.8284
PUBLISHED = [
    {"where": {"dataset.train_sample_num": 100, "scattering.init": "tight-frame"}, "mean": 33.0, "std": 0.4},
    {"where": {"dataset.train_sample_num": 100, "scattering.init": "random"}, "mean": 20.0, "std": 1.0},
]


@pytest.fixture
def experiment(mlflow_uri, tmp_path):
    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("rep", artifact_location=str(tmp_path / "artifacts"))
    client.set_experiment_tag(exp, TAG_PUBLISHED, json.dumps(PUBLISHED))
    for init, n, seed, acc in RUNS:
        run = client.create_run(exp)
        params = {
            "scattering.init": init,
            "dataset.train_sample_num": n,
            "general.seed": seed,
            "model.name": "linear",
            "scattering.learnable": True,
            "mlflow.run_name": f"r{seed}",
        }
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("test_acc", acc, 0, 1)],
            params=[Param(k, str(v)) for k, v in params.items()],
        )
        client.set_terminated(run.info.run_id, "FINISHED")
    failed = client.create_run(exp)  # a failed run with a wild accuracy must not count
    params = [Param("scattering.init", "random"), Param("dataset.train_sample_num", "100")]
    client.log_batch(failed.info.run_id, metrics=[Metric("test_acc", 99.0, 0, 0)], params=params)
    client.set_terminated(failed.info.run_id, "FAILED")
    return mlflow_uri, client, exp


def test_csv_numbers_match_hand_computed(experiment, capsys):
    uri, client, exp = experiment
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == [
        "dataset.train_sample_num",
        "scattering.init",
        "n",
        "mean",
        "std",
        "published_mean",
        "published_std",
    ]
    got = {(r["scattering.init"], r["dataset.train_sample_num"]): r for r in rows}
    assert set(got) == {("tight-frame", "100"), ("random", "100"), ("tight-frame", "500")}
    expect = {
        ("tight-frame", "100"): (3, 32.0, 2.0, "33.0", "0.4"),
        ("random", "100"): (2, 20.5, 0.7071, "20.0", "1.0"),
        ("tight-frame", "500"): (2, 52.0, 2.8284, "", ""),
    }
    for key, (n, mean, std, pm, ps) in expect.items():
        r = got[key]
        assert int(r["n"]) == n and float(r["mean"]) == pytest.approx(mean, abs=1e-4)
        assert float(r["std"]) == pytest.approx(std, abs=1e-4)
        assert (r["published_mean"], r["published_std"]) == (pm, ps)


def row(md, first):
    """The table row whose first cell is ``first``, as its list of (stripped) cells."""
    return next(cells for cells in map(table_cells, md.splitlines()) if cells and cells[0] == first)


def table_cells(line):
    return [c.strip() for c in line.strip()[1:-1].split("|")] if line.startswith("|") else None


def test_markdown_pivot_marks_cells_outside_two_sigma_and_logs_a_summary_run(experiment, capsys, tmp_path):
    uri, client, exp = experiment
    png = tmp_path / "acc.png"
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--plot", str(png), "--log"]) == 0
    md = capsys.readouterr().out
    header = row(md, "cell")
    assert "100 samples" in header and "500 samples" in header
    tf, rand = " | ".join(row(md, "TF LS+LL")), " | ".join(row(md, "Rand LS+LL"))
    assert "32.00 ± 2.00 (n=3) [paper 33.00 ± 0.40, -1.00 !]" in tf and "52.00 ± 2.83 (n=2)" in tf
    assert "20.50 ± 0.71 (n=2) [paper 20.00 ± 1.00, +0.50]" in rand and "!" not in rand
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = client.search_runs([exp], filter_string=f"tags.`{TAG_REPORT}` = '1'")
    assert len(summary) == 1
    names = {a.path for a in client.list_artifacts(summary[0].info.run_id)}
    assert names == {"report.md", "report.csv", "acc.png", "figures"}  # figures: tests/sweeps/test_figures.py
    # the summary run is not a result: a second report sees the same groups; it replaces the first summary run
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--format", "csv", "--log"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    again = client.search_runs([exp], filter_string=f"tags.`{TAG_REPORT}` = '1'")
    assert len(again) == 1 and again[0].info.run_id != summary[0].info.run_id
    # without --log nothing is stored
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri]) == 0
    assert [r.info.run_id for r in client.search_runs([exp], filter_string=f"tags.`{TAG_REPORT}` = '1'")] == [
        again[0].info.run_id
    ]


def test_by_and_errors(experiment, capsys):
    uri, _, _ = experiment
    assert (
        main(
            [
                "report",
                "--experiment",
                "rep",
                "--tracking-uri",
                uri,
                "--by",
                "scattering.init",
                "--no-log",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    rows = {r["scattering.init"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert int(rows["tight-frame"]["n"]) == 5 and float(rows["tight-frame"]["mean"]) == pytest.approx(40.0)
    assert main(["report", "--experiment", "nope", "--tracking-uri", uri]) == 2
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--by", "scattering.bogus"]) == 2
    assert "scattering.bogus" in capsys.readouterr().err


@pytest.mark.process
def test_each_run_counts_once_and_unfinished_runs_are_a_footnote(experiment):
    uri, client, exp = experiment
    # two older FINISHED duplicates of (tight-frame, 100, seed 1) with wild accuracies, a newer one that counts,
    # and a RUNNING run of the same cell
    params = {
        "scattering.init": "tight-frame",
        "dataset.train_sample_num": "100",
        "general.seed": "1",
        "model.name": "linear",
        "scattering.learnable": "True",
        "mlflow.run_name": "other-name",
    }
    ids = []
    for acc, status in ((90.0, "FINISHED"), (80.0, "FINISHED"), (36.0, "FINISHED"), (70.0, "RUNNING")):
        run = client.create_run(exp, start_time=10**13 + len(ids))  # newer than the fixture's runs, in order
        ids.append(run.info.run_id)
        for k, v in params.items():
            client.log_param(run.info.run_id, k, v)
        client.log_metric(run.info.run_id, "test_acc", acc, step=1)
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status)
    proc = subprocess.run(
        [PYTHON, "-m", "parametricSN", "report", "--experiment", "rep", "--tracking-uri", uri],
        capture_output=True,
        text=True,
        timeout=300,
    )  # a real process: what a user sees
    assert proc.returncode == 0, proc.stderr
    out, err = proc.stdout, proc.stderr
    # TF/100: seeds 1 (newest: 36), 2 (32), 3 (34) -> n = 3, mean 34, std 2
    assert "34.00 ± 2.00 (n=3)" in " | ".join(row(out, "TF LS+LL"))
    assert err.count("\n") == 1 and "psn: warning: 3 duplicate FINISHED run(s) ignored" in err
    note = next(line for line in out.splitlines() if line.startswith("Not averaged:"))
    assert f"1 RUNNING ({ids[3]})" in note and "1 FAILED (" in note
    assert client.search_runs([exp], filter_string=f"tags.`{TAG_REPORT}` = '1'") == []  # no --log: nothing stored


def _run(status="FINISHED", acc=50.0, start=0, **params):
    params = {"general.seed": "0", "model.name": "linear", "mlflow.run_name": "x", **params}
    return SimpleNamespace(
        info=SimpleNamespace(status=status, start_time=start, run_id=f"id{start}"),
        data=SimpleNamespace(params=params, metrics={"test_acc": acc}, tags={}),
    )


SHAPES = {  # name -> (runs, --by)
    "only the seed varies": ([_run(**{"general.seed": str(s)}, acc=40.0 + s) for s in range(3)], None),
    "one key": (
        [_run(**{"general.seed": str(s), "scattering.init": i}) for s in range(2) for i in ("random", "tight-frame")],
        None,
    ),
    "several keys": (
        [
            _run(**{"general.seed": str(s), "scattering.init": i, "optim.lr": lr})
            for s in range(2)
            for i in ("random", "tight-frame")
            for lr in ("0.1", "0.01")
        ],
        None,
    ),
    "sizes only": ([_run(**{"dataset.train_sample_num": n}) for n in ("100", "500")], None),
    "sizes and keys": (
        [
            _run(**{"dataset.train_sample_num": n, "scattering.init": i, "model.name": h})
            for n in ("100", "500")
            for i in ("random", "tight-frame")
            for h in ("linear", "cnn")
        ],
        None,
    ),
    "--by": (
        [
            _run(**{"general.seed": str(s), "scattering.init": i, "optim.lr": lr})
            for s in range(2)
            for i in ("random", "tight-frame")
            for lr in ("0.1", "0.01")
        ],
        ["optim.lr"],
    ),
    "--by the seed": ([_run(**{"general.seed": str(s)}) for s in range(3)], ["general.seed"]),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_markdown_table_rows_have_the_header_cell_count(shape):
    runs, by = SHAPES[shape]
    runs = runs + [_run(status="FAILED", start=99)]
    chosen = select_runs(runs)
    keys = by or varying_keys(chosen.runs)
    md = to_markdown(group_runs(chosen.runs, keys, []), keys, "t", chosen.unfinished)
    table = [table_cells(line) for line in md.splitlines() if line.startswith("|")]
    assert len(table) >= 3 and len({len(cells) for cells in table}) == 1, md
    assert len({len(line) for line in md.splitlines() if line.startswith("|")}) == 1, md  # padded columns
    assert all(set(c) <= {"-"} and c for c in table[1]), md
    assert md.count("1 FAILED (id99)") == 1


@pytest.fixture
def read_only(tmp_path):
    """A read-only view of ``tmp_path`` (a read-only bind mount: root writes through file permissions)."""
    import subprocess

    view = tmp_path.parent / f"{tmp_path.name}-ro"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(tmp_path), str(view)], capture_output=True).returncode == 0
    if mounted and subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True).returncode:
        subprocess.run(["umount", str(view)])
        mounted = False
    if not mounted:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    yield view
    subprocess.run(["umount", "--lazy", str(view)], check=True)  # this process's MLflow engine keeps it open


def test_report_log_on_a_read_only_store_prints_the_table_and_one_line(experiment, tmp_path, read_only, capsys):
    from parametricSN.tracking.store import checkpoint_wal

    assert checkpoint_wal(tmp_path / "store.db")  # every run in the file before it is seen read-only
    assert main(["report", "--experiment", "rep", "--tracking-uri", f"sqlite:///{read_only}/store.db", "--log"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# rep") and "| 100 samples" in out, out
    assert err.count("\n") == 1 and err.startswith("psn: warning: --log: the report was not stored in"), err
    assert err.rstrip().endswith("attempt to write a readonly database"), err


def test_a_stopped_run_that_a_later_run_finished_is_superseded_not_missing():
    stopped, continued = _run("KILLED", start=1), _run("FINISHED", acc=42.0, start=2)
    other = _run("KILLED", start=3, **{"general.seed": "1"})  # its (cell, seed) never finished: still listed
    late = _run("KILLED", start=4)  # stopped after the finished one (a rerun of a finished cell): listed
    chosen = select_runs([stopped, continued, other, late])
    assert chosen.runs == [continued] and chosen.unfinished == [other, late]
