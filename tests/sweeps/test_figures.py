"""The report's figures (``parametricSN/sweeps/figures.py``): seed means and spreads, the panels that put learnable
and fixed cells together, and ``psn report --figures DIR`` (and ``--log``) writing and storing both PNGs."""

import json

import numpy as np
import pytest
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from parametricSN.sweeps import figures
from parametricSN.sweeps.runner import TAG_PUBLISHED
from parametricSN.sweeps.tables import TAG_REPORT, Group

PNG = b"\x89PNG\r\n\x1a\n"


def test_mean_curve_averages_the_seeds_at_their_common_epochs():
    epochs, mean, std = figures.mean_curve([{1: 10.0, 2: 20.0, 3: 30.0}, {1: 14.0, 2: 24.0}])
    assert epochs.tolist() == [1, 2]
    assert mean.tolist() == [12.0, 22.0]
    assert std == pytest.approx([np.sqrt(8.0)] * 2)  # sample std over the two seeds
    assert figures.mean_curve([{1: 5.0}])[2].tolist() == [0.0]


def test_learnable_and_fixed_cells_that_differ_only_in_that_share_a_panel(tmp_path, monkeypatch):
    def group(init, learnable, ids):
        params = {"scattering.init": init, "scattering.learnable": learnable}
        return Group((init, learnable), [50.0] * len(ids), None, params, ids)

    groups = [group("tight-frame", "True", ["a", "b"]), group("tight-frame", "False", ["c"])]
    groups.append(group("random", "True", ["d"]))
    histories = {r: {1: 10.0, 2: 20.0} for r in "abcd"}
    panels = []
    real = figures._pyplot

    def spy():
        plt = real()
        original = plt.subplots

        def subplots(rows, cols, **kw):
            panels.append((rows, cols))
            return original(rows, cols, **kw)

        monkeypatch.setattr(plt, "subplots", subplots)
        return plt

    monkeypatch.setattr(figures, "_pyplot", spy)
    by = ["scattering.init", "scattering.learnable"]
    path = figures.accuracy_curves(groups, by, histories, tmp_path / "c.png", "t")
    assert path.read_bytes()[:8] == PNG
    assert panels == [(1, 2)]  # tight-frame (learnable + fixed) and random


def test_report_figures_writes_both_pngs_and_log_stores_them(mlflow_uri, tmp_path, capsys):
    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("fig", artifact_location=str(tmp_path / "artifacts"))
    published = [{"where": {"dataset.train_sample_num": 100, "scattering.learnable": True}, "mean": 40, "std": 1}]
    client.set_experiment_tag(exp, TAG_PUBLISHED, json.dumps(published))
    for n in (100, 200):
        for learnable in (True, False):
            for seed in (1, 2):
                run = client.create_run(exp)
                params = {"dataset.train_sample_num": n, "scattering.learnable": learnable, "general.seed": seed}
                curve = [Metric("test_acc", 10.0 * e + seed + learnable, 0, e) for e in (1, 2, 3)]
                client.log_batch(run.info.run_id, metrics=curve, params=[Param(k, str(v)) for k, v in params.items()])
                client.set_terminated(run.info.run_id, "FINISHED")
    out = tmp_path / "figs"
    assert main(["report", "--experiment", "fig", "--tracking-uri", mlflow_uri, "--figures", str(out), "--log"]) == 0
    assert "| cell" in capsys.readouterr().out
    for name in (figures.SIZE_FIGURE, figures.CURVES_FIGURE):
        assert (out / name).read_bytes()[:8] == PNG
    (summary,) = client.search_runs([exp], filter_string=f"tags.`{TAG_REPORT}` = '1'")
    stored = {a.path for a in client.list_artifacts(summary.info.run_id, "figures")}
    assert stored == {f"figures/{figures.SIZE_FIGURE}", f"figures/{figures.CURVES_FIGURE}"}
