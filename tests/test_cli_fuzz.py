"""A fuzz test over the command line: random subcommands, flags and values, damaged YAML files and odd tracking
URIs, drawn from a fixed seed (the same list every time). Every case must end in one line on stderr (after any
``psn: warning:`` lines), exit status 1 or 2, no traceback — and no command creates a store while failing.

In-process through ``parametricSN.cli.main`` (fast); two cases as real processes."""

import random
import subprocess
from pathlib import Path

import pytest

from parametricSN.cli import main
from tests.sweeps.test_run import tiny_base
from tests.warm import PYTHON

# 5 levels of 5 aliases: 3125 leaves, and a 100-character string in each
BOMB = "x: [&d [&c [&b [&a [yes, {long}, x, x, x], *a, *a, *a, *a], *b, *b, *b, *b], *c, *c, *c, *c], *d, *d, *d, *d]"
YAML = {  # name -> text of a damaged or wrong config / spec
    "bomb-value.yaml": BOMB.replace("x: ", "dataset: {name: ", 1) + "}\n",
    "bomb-section.yaml": BOMB.replace("x: ", "train: ", 1) + "\n",
    "bomb-list.yaml": BOMB.replace("x: ", "optim: {milestones: ", 1) + "}\n",
    "tabs.yaml": "train:\n\tepochs: 2\n",
    "indent.yaml": "train:\n  epochs: 2\n   test_every: 1\n",
    "undefined-alias.yaml": "train: {epochs: *nothing}\n",
    "python-tag.yaml": "train: !!python/object/apply:os.system [echo]\n",
    "two-docs.yaml": "train: {epochs: 1}\n---\ntrain: {epochs: 2}\n",
    "binary.yaml": "\x00\x01\x02train",
    "key-list.yaml": "? [a, b]\n: 1\n",
    "huge-int.yaml": "train: {epochs: " + "9" * 400 + "}\n",
    "string-for-map.yaml": "optim: {milestones: {a: 1}}\n",
    "unclosed.yaml": "scattering: {J: [2\n",
    "version.yaml": "%YAML 9.9\n---\ntrain: {}\n",
    "long-key.yaml": "train: {" + "k" * 3000 + ": 1}\n",
    "spec-no-name.yaml": "base: nowhere.yaml\ngrid: {general.seed: [0, 1]}\n",
    "spec-bad-grid.yaml": "name: s\ngrid: [1, 2]\n",
}
URIS = [
    "file:///proc/x",
    "file:relative",
    "mlruns",
    "/tmp/psn-fuzz-plain",
    "sqlite://",
    "foo://bar",
    "http://127.0.0.1:9",
    "sqlite:///{tmp}/none/store.db",
    "",
    "C:\\mlruns",
]
VALUES = [
    "",
    "-",
    "=",
    "a=b",
    "x" * 3000,
    "é",
    "0,0",
    "-1",
    "1e999",
    "nan",
    "train.epochs=-1",
    "scattering.J=1e999",
    "optim.lr=nan",
    "log.every=0",
    "log.every=-5",
    "general.seed=x",
    "train.epochs=[1",
    "dataset.name=*e",
    "no.such=1",
    "{tmp}",
    "{tmp}/missing.yaml",
    "bad\x00byte",
    "0123456789abcdef",
]
FLAGS = [
    "-c",
    "--config",
    "--resume",
    "--seeds",
    "--quiet",
    "--experiment",
    "--tracking-uri",
    "--by",
    "--format",
    "--plot",
    "--spec",
    "--log",
    "--no-log",
    "--only",
    "--workers",
    "--pack",
    "--dry-run",
    "--launcher",
    "--num-images",
    "--levels",
    "--layer",
    "--bogus",
]
COMMANDS = [
    ["train"],
    ["train", "-c"],
    ["train", "--resume"],
    ["sweep"],
    ["sweep", "--dry-run"],
    ["report"],
    ["report", "--experiment"],
    ["config", "show"],
    ["config", "show", "-c"],
    ["deform"],
    ["config"],
    [],
]


def _cases(n: int = 160, seed: int = 16) -> list[list[str]]:
    rng = random.Random(seed)
    files = [f"{{tmp}}/{name}" for name in YAML]
    uris = [f"mlflow.tracking_uri={u}" for u in URIS] + URIS
    pool = FLAGS * 2 + VALUES + files * 3 + uris
    cases = []
    for _ in range(n):
        argv = list(rng.choice(COMMANDS))
        if argv and argv[-1] in ("-c", "--experiment", "--resume"):  # the option's value: mostly a damaged file
            argv.append(rng.choice(files + VALUES))
        elif argv[:1] == ["sweep"]:
            argv.append(rng.choice(files))
        argv += [rng.choice(pool) for _ in range(rng.randint(0, 4))]
        cases.append(argv)
    # the cases the issue names, always included
    cases += [
        ["train", "-c", "{tmp}/bomb-value.yaml"],
        ["config", "show", "-c", "{tmp}"],
        ["report", "--experiment", "e", "--tracking-uri", "file:///proc/x"],
        ["sweep", "{tmp}/spec-no-name.yaml", "--tracking-uri", "file:///proc/x"],
        ["train", "--resume", "abc", "mlflow.tracking_uri=file:///proc/x"],
    ]
    return cases


CASES = _cases()


def _write(tmp: Path) -> None:
    for name, text in YAML.items():
        (tmp / name).write_text(text.replace("{long}", "y" * 100), encoding="utf-8", errors="surrogatepass")


def _check_one_line(err: str, status: int, argv: list[str]) -> None:
    assert "Traceback" not in err, (argv, err)
    lines = [line for line in err.splitlines() if not line.startswith("psn: warning:")]
    assert status in (1, 2) and len(lines) == 1 and err.endswith("\n"), (argv, status, err[:2000])
    assert len(lines[0]) <= 1510 and lines[0].startswith("psn"), (argv, lines[0][:2000])


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: " ".join(CASES[i])[:60])
def test_fuzzed_command_line_is_one_line_error(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _write(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in CASES[index]]
    status = main(argv)
    _check_one_line(capsys.readouterr().err, status, argv)
    assert not list(tmp_path.rglob("*.db")) and not (tmp_path / "mlruns").exists()  # no store was created


@pytest.mark.process
def test_the_issue_cases_give_short_named_lines(tmp_path, monkeypatch, capsys, fmnist_root):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: s\nbase: {tiny_base(tmp_path, fmnist_root)}\ngrid:\n  general.seed: [1]\n")
    assert main(["config", "show", "-c", str(tmp_path / "bomb-value.yaml")]) == 2
    err = capsys.readouterr().err
    assert "dataset.name: expected str" in err and len(err) < 250 and "quote" not in err, err
    assert main(["config", "show", "-c", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "x.yaml").write_text("train: {epochs: 1}\n")
    for uri, fix in (("file:///proc/x", "sqlite:////proc/x/store.db"), ("runs/here", "sqlite:///runs/here/store.db")):
        for argv in (
            ["train", "-c", str(tmp_path / "x.yaml"), f"mlflow.tracking_uri={uri}"],
            ["sweep", str(spec), "--tracking-uri", uri],
            ["report", "--experiment", "e", "--tracking-uri", uri],
        ):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert f"{uri!r}" in err and "file store" in err and f"mlflow.tracking_uri={fix}" in err, (argv, err)
            assert err.count("\n") == 1 and not (tmp_path / "runs").exists()


@pytest.mark.process
def test_a_grid_value_that_is_not_there_and_zero_workers_are_usage_errors(tmp_path, capsys, fmnist_root):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: s\nbase: {tiny_base(tmp_path, fmnist_root)}\ngrid:\n  optim.max_lr: [0.01, 0.03]\n")
    for option in ("--workers", "--pack", "--seeds"):
        assert main(["sweep", str(spec), option, "0"]) == 2
        err = capsys.readouterr().err
        assert f"argument {option}: expected a value >= 1, got 0" in err and err.count("\n") == 1, err
    assert main(["sweep", str(spec), "--only", "optim.max_lr=0.5", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--only optim.max_lr=0.5: no cell has that value; optim.max_lr is 0.01, 0.03 here" in err, err
    assert main(["sweep", str(spec), "--only", "optim.max_lr=0.03", "--dry-run"]) == 0
    assert "1 runs (s)" in capsys.readouterr().out


@pytest.mark.process
@pytest.mark.parametrize("option", ["--dry-run", "--status"])
def test_output_piped_into_head_ends_quietly(tmp_path, fmnist_root, option):
    # 3000 cells: more lines than a pipe holds, so psn is still writing when head has gone
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: s\nbase: {tiny_base(tmp_path, fmnist_root)}\ngrid:\n  general.seed: {list(range(3000))}\n")
    uri = f"sqlite:///{tmp_path}/store.db"
    if option == "--status":  # an empty store: every cell is listed as pending
        from parametricSN.tracking.store import client_for

        client_for(uri)
    proc = subprocess.run(
        f"{PYTHON} -m parametricSN sweep {spec} {option} --tracking-uri {uri} | head -2",
        shell=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 2 and proc.stderr == "", proc.stderr[-2000:]


@pytest.mark.process
@pytest.mark.parametrize(
    "argv",
    [["config", "show", "-c", "{tmp}/bomb-section.yaml"], ["report", "--experiment", "e", "--tracking-uri", "mlruns"]],
)
def test_fuzz_cases_in_a_real_process(argv, tmp_path):
    _write(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run(
        [PYTHON, "-m", "parametricSN", *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    _check_one_line(proc.stderr, proc.returncode, argv)
    assert proc.stdout == "" and not (tmp_path / "mlruns").exists()
