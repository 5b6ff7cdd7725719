"""Commands psn prints for the user (parametricSN/commands.py) carry the store they need and work when pasted
into another folder: the report command a sweep suggests is run here as printed; reading commands never create a
store. (The resume command printed after a signal is run in tests/test_reliability_processes.py.)"""

import shlex
import subprocess

import pytest

from parametricSN.cli import main
from parametricSN.commands import absolute_uri, mlflow_ui_command, report_command, resume_command, sweep_command
from tests.sweeps.test_run import tiny_base
from tests.warm import PYTHON


def test_builders_name_the_store_as_an_absolute_uri_and_quote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = f"sqlite:///{tmp_path}/mlruns/store.db"
    assert absolute_uri(None) == store and absolute_uri("sqlite:///a b/s.db") == f"sqlite:///{tmp_path}/a b/s.db"
    assert resume_command("abc", None) == f"psn train --resume abc mlflow.tracking_uri={store}"
    assert mlflow_ui_command("sqlite:///mlruns/store.db") == f"mlflow ui --backend-store-uri {store}"
    assert mlflow_ui_command("http://host:5000") is None  # a server's address is its UI
    assert shlex.split(report_command("my exp", "sqlite:///a b/s.db", "spec.yaml")) == [
        "psn",
        "report",
        "--experiment",
        "my exp",
        "--tracking-uri",
        f"sqlite:///{tmp_path}/a b/s.db",
        "--spec",
        f"{tmp_path}/spec.yaml",
    ]
    assert (
        sweep_command("s.yaml", "http://h:1", ["train.epochs=2"], ["--workers", "2"])
        == f"psn sweep {tmp_path}/s.yaml train.epochs=2 --workers 2 --tracking-uri http://h:1"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:1")
    assert resume_command("abc", None).endswith("mlflow.tracking_uri=http://env:1")


@pytest.mark.process
def test_the_report_command_a_sweep_prints_works_from_another_folder(
    tmp_path, fmnist_root, monkeypatch, capsys, warm_workers
):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    spec = here / "spec.yaml"
    spec.write_text(
        f"name: suggested\nbase: {tiny_base(here, fmnist_root)}\noverrides: [train.epochs=1]\n"
        "grid:\n  general.seed: [1]\n"
    )
    monkeypatch.chdir(here)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["sweep", str(spec), "--tracking-uri", "sqlite:///rel/store.db"]) == 0  # a relative store
    out = capsys.readouterr().out
    command = out.split("table: ")[1].rsplit(")", 1)[0]
    assert command == f"psn report --experiment suggested --tracking-uri sqlite:///{here}/rel/store.db"
    # the printed command, as printed, in a real shell-less process from another folder
    proc = subprocess.run(
        [PYTHON, "-m", "parametricSN", *shlex.split(command)[1:]],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    table = proc.stdout
    assert table.startswith("# suggested") and "| all runs | 1 " in table
    assert list(elsewhere.iterdir()) == []  # it created nothing there


def test_reading_commands_never_create_a_store(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for argv in (
        ["report", "--experiment", "x"],
        ["train", "--resume", "abc"],
        ["deform", "0123456789abcdef0123456789abcdef", "tight-frame"],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{tmp_path}/mlruns/store.db" in err and "does not exist" in err, err
    assert list(tmp_path.iterdir()) == []
