"""psn report: grouping, mean and sample std checked against numbers worked out by hand, published numbers
and the ±2σ mark, CSV columns, the plot, and the summary run that stores them."""
import csv
import io
import json

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.sweeps.report import TAG_REPORT
from parametricSN.sweeps.runner import TAG_PUBLISHED

# (init, train_sample_num, seed, test_acc)
RUNS = [("tight-frame", 100, 1, 30.0), ("tight-frame", 100, 2, 32.0), ("tight-frame", 100, 3, 34.0),
        ("random", 100, 1, 20.0), ("random", 100, 2, 21.0),
        ("tight-frame", 500, 1, 50.0), ("tight-frame", 500, 2, 54.0)]
# by hand: TF/100 mean 32, std sqrt((4+0+4)/2) = 2; random/100 mean 20.5, std sqrt(0.5) = 0.7071;
# TF/500 mean 52, std sqrt((4+4)/1) = 2.8284
PUBLISHED = [{"where": {"dataset.train_sample_num": 100, "scattering.init": "tight-frame"}, "mean": 33.0, "std": 0.4},
             {"where": {"dataset.train_sample_num": 100, "scattering.init": "random"}, "mean": 20.0, "std": 1.0}]


@pytest.fixture
def experiment(mlflow_uri, tmp_path):
    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("rep", artifact_location=str(tmp_path / "artifacts"))
    client.set_experiment_tag(exp, TAG_PUBLISHED, json.dumps(PUBLISHED))
    for init, n, seed, acc in RUNS:
        run = client.create_run(exp)
        for k, v in {"scattering.init": init, "dataset.train_sample_num": n, "general.seed": seed,
                     "model.name": "linear", "scattering.learnable": True, "mlflow.run_name": f"r{seed}"}.items():
            client.log_param(run.info.run_id, k, str(v))
        client.log_metric(run.info.run_id, "test_acc", acc, step=1)
        client.set_terminated(run.info.run_id, "FINISHED")
    failed = client.create_run(exp)  # a failed run with a wild accuracy must not count
    client.log_param(failed.info.run_id, "scattering.init", "random")
    client.log_param(failed.info.run_id, "dataset.train_sample_num", "100")
    client.log_metric(failed.info.run_id, "test_acc", 99.0)
    client.set_terminated(failed.info.run_id, "FAILED")
    return mlflow_uri, client, exp


def test_csv_numbers_match_hand_computed(experiment, capsys):
    uri, client, exp = experiment
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == ["dataset.train_sample_num", "scattering.init", "n", "mean", "std", "published_mean",
                             "published_std"]
    got = {(r["scattering.init"], r["dataset.train_sample_num"]): r for r in rows}
    assert set(got) == {("tight-frame", "100"), ("random", "100"), ("tight-frame", "500")}
    expect = {("tight-frame", "100"): (3, 32.0, 2.0, "33.0", "0.4"),
              ("random", "100"): (2, 20.5, 0.7071, "20.0", "1.0"),
              ("tight-frame", "500"): (2, 52.0, 2.8284, "", "")}
    for key, (n, mean, std, pm, ps) in expect.items():
        r = got[key]
        assert int(r["n"]) == n and float(r["mean"]) == pytest.approx(mean, abs=1e-4)
        assert float(r["std"]) == pytest.approx(std, abs=1e-4)
        assert (r["published_mean"], r["published_std"]) == (pm, ps)


def test_markdown_pivot_marks_cells_outside_two_sigma_and_logs_a_summary_run(experiment, capsys, tmp_path):
    uri, client, exp = experiment
    png = tmp_path / "acc.png"
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--plot", str(png)]) == 0
    md = capsys.readouterr().out
    header = next(line for line in md.splitlines() if line.startswith("| cell"))
    assert "100 samples" in header and "500 samples" in header
    tf = next(line for line in md.splitlines() if line.startswith("| TF LS+LL |"))
    rand = next(line for line in md.splitlines() if line.startswith("| Rand LS+LL |"))
    assert "32.00 ± 2.00 (n=3) [paper 33.00 ± 0.40, -1.00 !]" in tf and "52.00 ± 2.83 (n=2)" in tf
    assert "20.50 ± 0.71 (n=2) [paper 20.00 ± 1.00, +0.50]" in rand and "!" not in rand
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = client.search_runs([exp], filter_string=f"tags.`{TAG_REPORT}` = '1'")
    assert len(summary) == 1
    names = {a.path for a in client.list_artifacts(summary[0].info.run_id)}
    assert names == {"report.md", "report.csv", "acc.png"}
    # the summary run is not a result: a second report sees the same groups
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--format", "csv", "--no-log"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4


def test_by_and_errors(experiment, capsys):
    uri, _, _ = experiment
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--by", "scattering.init", "--no-log",
                 "--format", "csv"]) == 0
    rows = {r["scattering.init"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert int(rows["tight-frame"]["n"]) == 5 and float(rows["tight-frame"]["mean"]) == pytest.approx(40.0)
    assert main(["report", "--experiment", "nope", "--tracking-uri", uri]) == 2
    assert main(["report", "--experiment", "rep", "--tracking-uri", uri, "--by", "scattering.bogus"]) == 2
    assert "scattering.bogus" in capsys.readouterr().err
