"""Every malformed config and command line is one line naming the key or file, with the right exit status, no
traceback and no MLflow run created (in-process through ``parametricSN.cli.main``; a few as real processes)."""

import contextlib
import gzip
import shutil
import sqlite3
import subprocess
import zlib
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from parametricSN.cli import main
from tests.configs import TINY, make_cfg
from tests.warm import PYTHON

FILES = {  # name -> bytes, written for every case
    "empty.yaml": b"",
    "comments.yaml": b"# nothing but a comment\n",
    "latin1.yaml": "train:\n  epochs: 2 # \u00e9poques\n".encode("latin-1"),
    "dup.yaml": b"optim:\n  lr: 0.1\n  lr: 0.2\n",
    "dupsec.yaml": b"optim:\n  lr: 0.1\noptim:\n  max_lr: 0.2\n",
    "bad.yaml": b"scattering: [J: 2\n",
    "list.yaml": b"- 1\n- 2\n",
    "notmap.yaml": b"optim: 3\n",
    "unknownsec.yaml": b"scatering:\n  J: 2\n",
    "inf.yaml": b"optim:\n  max_lr: .inf\n",
}

# (id, argv with {cfg} {tmp} {uri} {run} {runuri} {dead} {damaged} placeholders, exit status, words in the line)
CASES = [
    ("unknown-key", "train -c {cfg} scattering.K=3", 2, ["scattering.K"]),
    ("zero-epochs", "train -c {cfg} train.epochs=0", 2, ["train.epochs"]),
    ("missing-file", "train -c {tmp}/missing.yaml", 2, ["missing.yaml", "not found"]),
    ("wrong-type", "train -c {cfg} scattering.J=abc", 2, ["scattering.J"]),
    ("lr-inf", "train -c {cfg} optim.lr=inf", 2, ["optim.lr", "finite"]),
    ("max-lr-yaml-inf", "train -c {cfg} optim.max_lr=.inf", 2, ["optim.max_lr", "finite"]),
    ("gamma-nan", "train -c {cfg} optim.gamma=nan", 2, ["optim.gamma", "finite"]),
    ("lr-minus-inf", "train -c {cfg} scattering.lr_orientation=-.inf", 2, ["scattering.lr_orientation"]),
    ("inf-in-file", "train -c {tmp}/inf.yaml", 2, ["optim.max_lr", "finite"]),
    ("empty-tracking-uri", "train -c {cfg} mlflow.tracking_uri=", 2, ["mlflow.tracking_uri"]),
    ("empty-experiment", "train -c {cfg} mlflow.experiment_name=", 2, ["mlflow.experiment_name"]),
    (
        "missing-weights",
        "train -c {cfg} model.name=resnet50 model.weights={tmp}/none.pt",
        2,
        ["model.weights", "none.pt"],
    ),
    ("empty-file", "train -c {tmp}/empty.yaml", 2, ["empty.yaml", "empty"]),
    ("comments-only-file", "config show -c {tmp}/comments.yaml", 2, ["comments.yaml", "empty"]),
    ("not-utf8", "train -c {tmp}/latin1.yaml", 2, ["latin1.yaml", "UTF-8"]),
    ("duplicate-key", "train -c {tmp}/dup.yaml", 2, ["dup.yaml", "duplicate key 'lr'"]),
    ("duplicate-section", "config show -c {tmp}/dupsec.yaml", 2, ["dupsec.yaml", "duplicate key 'optim'"]),
    ("bad-yaml", "train -c {tmp}/bad.yaml", 2, ["bad.yaml", "not valid YAML", "line"]),
    ("yaml-list", "train -c {tmp}/list.yaml", 2, ["list.yaml", "mapping"]),
    ("section-not-mapping", "train -c {tmp}/notmap.yaml", 2, ["optim", "mapping"]),
    ("unknown-section", "train -c {tmp}/unknownsec.yaml", 2, ["scatering", "unknown section"]),
    ("missing-root", "train -c {cfg} dataset.root={tmp}/nowhere", 2, ["dataset.root", "nowhere"]),
    ("bad-device", "train -c {cfg} general.device=gpu", 2, ["general.device"]),
    ("unbalanced", "train -c {cfg} dataset.train_sample_num=15", 2, ["dataset.train_sample_num"]),
    ("no-equals", "train -c {cfg} scattering.J", 2, ["key=value"]),
    ("bad-override-yaml", "train -c {cfg} optim.milestones=[1", 2, ["optim.milestones"]),
    ("bool-type", "train -c {cfg} scattering.learnable=2", 2, ["scattering.learnable"]),
    ("milestones-order", "train -c {cfg} optim.milestones=[5,2]", 2, ["optim.milestones"]),
    ("run-name-bool", "train -c {cfg} mlflow.run_name=no", 2, ["mlflow.run_name", "quote"]),
    ("height-multiple", "train -c {cfg} dataset.height=31", 2, ["dataset.height"]),
    ("resume-and-config", "train -c {cfg} --resume {run}", 2, ["--resume", "-c"]),
    ("neither-config-nor-resume", "train train.epochs=2", 2, ["-c", "--resume"]),
    (
        "resume-unknown-run",
        "train --resume 0123456789abcdef mlflow.tracking_uri={runuri}",
        2,
        ["0123456789abcdef", "no run"],
    ),
    (
        "resume-changes-lr",
        "train --resume {run} mlflow.tracking_uri={runuri} optim.max_lr=0.5",
        2,
        ["optim.max_lr", "cannot change when resuming"],
    ),
    (
        "resume-onecycle-epochs",
        "train --resume {run} mlflow.tracking_uri={runuri} train.epochs=9",
        2,
        ["train.epochs", "onecycle"],
    ),
    ("resume-bad-override", "train --resume {run} mlflow.tracking_uri={runuri} train.epochs=x", 2, ["train.epochs"]),
    ("unknown-option", "train -c {cfg} --bogus", 2, ["--bogus"]),
    ("unknown-command", "fly", 2, ["fly"]),
    ("missing-dataset", "train -c {cfg} dataset.root={tmp}", 1, ["Fashion-MNIST", "no folder holds"]),
    ("damaged-gz", "train -c {cfg} dataset.root={damaged}", 1, ["train-images-idx3-ubyte.gz", "damaged"]),
    ("dead-http", "train -c {cfg} mlflow.tracking_uri={dead}", 1, ["does not answer", "127.0.0.1"]),
    (
        "store-folder-is-a-file",
        "train -c {cfg} mlflow.tracking_uri=sqlite:///{tmp}/empty.yaml/store.db",
        1,
        ["empty.yaml", "not writable"],
    ),
    (
        "artifacts-under-a-file",
        "train -c {cfg} mlflow.artifact_location={tmp}/empty.yaml/art",
        1,
        ["artifact location", "empty.yaml"],
    ),
    (
        "resume-mistyped-store",
        "train --resume {run} mlflow.tracking_uri=sqlite:///{tmp}/typo/store.db",
        1,
        ["typo/store.db", "does not exist"],
    ),
    ("resume-dead-http", "train --resume {run} mlflow.tracking_uri={dead}", 1, ["does not answer"]),
    ("resume-without-checkpoint", "train --resume {nockpt} mlflow.tracking_uri={runuri}", 1, ["no checkpoint"]),
]


def write_config(tmp_path: Path, root: Path, *overrides: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(make_cfg("fashion_mnist", *TINY, *overrides, root=root).to_yaml())
    return path


@pytest.fixture(scope="module")
def resumable(tmp_path_factory, fmnist_root, _empty_store) -> dict:
    """A store with a finished 2-epoch onecycle run that has checkpoints, and one that has none."""
    folder = tmp_path_factory.mktemp("resumable")
    shutil.copy(_empty_store, folder / "store.db")
    uri = f"sqlite:///{folder}/store.db"
    cfg = write_config(folder, fmnist_root, f"mlflow.tracking_uri={uri}")
    ids = {}
    for name, every in (("run", 1), ("nockpt", 0)):
        client_runs = _runs(uri)
        assert main(["train", "-c", str(cfg), f"train.checkpoint_every={every}"]) == 0
        (new,) = [r for r in _runs(uri) if r not in client_runs]
        ids[name] = new
    return {"runuri": uri, **ids}


@pytest.fixture(scope="module")
def damaged_root(tmp_path_factory, fmnist_root) -> Path:
    """A copy of the fake Fashion-MNIST whose training images .gz has damaged compressed data."""
    root = tmp_path_factory.mktemp("damaged")
    for f in fmnist_root.iterdir():
        shutil.copy(f, root / f.name)
    target = root / "train-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[10] = 0x07  # the first deflate block header (after the 10-byte gzip header): reserved block type 11
    target.write_bytes(bytes(data))
    with pytest.raises(zlib.error):  # the case this fixture exists for (not a CRC or truncation error)
        gzip.open(target).read()
    return root


def _runs(uri: str) -> list[str]:
    """The ids of every run in the SQLite store at ``uri`` (read from MLflow's ``runs`` table: opening the store
    through MLflow verifies its schema, a tenth of a second per store)."""
    path = Path(uri[len("sqlite:///") :])
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path)) as db:
        return sorted(row[0] for row in db.execute("SELECT run_uuid FROM runs"))


def _argv(template: str, tmp_path: Path, cfg: Path, extra: dict) -> list[str]:
    for name, content in FILES.items():
        (tmp_path / name).write_bytes(content)
    return template.format(cfg=cfg, tmp=tmp_path, **extra).split()


@pytest.mark.parametrize("case,template,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_named_line(
    case, template, status, words, tmp_path, fmnist_root, mlflow_uri, resumable, damaged_root, capsys
):
    cfg = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    extra = {**resumable, "dead": "http://127.0.0.1:9", "damaged": damaged_root}
    before = _runs(resumable["runuri"])
    assert main(_argv(template, tmp_path, cfg, extra)) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("psn"), err
    for word in words:
        assert word in err, (word, err)
    assert _runs(mlflow_uri) == [] and _runs(resumable["runuri"]) == before
    assert not (tmp_path / "typo").exists()  # reading a mistyped store creates nothing


def test_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.process
@pytest.mark.parametrize("case", ["missing-dataset"])  # the exit status and one line through a real process
def test_bad_input_in_a_real_process(case, tmp_path, fmnist_root, mlflow_uri):
    ((template, status, words),) = [c[1:] for c in CASES if c[0] == case]
    cfg = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    argv = _argv(template, tmp_path, cfg, {})
    proc = subprocess.run(
        [PYTHON, "-m", "parametricSN", *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == status and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert all(w in proc.stderr for w in words) and _runs(mlflow_uri) == []


def test_divergence_fails_the_run_and_keeps_the_last_good_checkpoint(tmp_path, fmnist_root, mlflow_uri, capsys):
    """lr 0.1 in epoch 1, then x1e30 from epoch 2: epoch 2 diverges, the checkpoint of epoch 1 stays."""
    cfg = write_config(tmp_path, fmnist_root, f"mlflow.tracking_uri={mlflow_uri}")
    argv = [
        "train",
        "-c",
        str(cfg),
        "optim.scheduler=multistep",
        "optim.milestones=[1]",
        "optim.gamma=1e30",
        "train.epochs=3",
        "train.checkpoint_every=1",
    ]
    assert main(argv + ["--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err  # --quiet: the error line alone
    assert "diverged in epoch 2" in err and "loss is nan" in err and "last good checkpoint is epoch 1" in err
    (run_id,) = _runs(mlflow_uri)
    assert run_id in err
    client = MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and "diverged" in run.data.tags["error"]
    assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == [1]  # nothing of epoch 2
    assert [f.path for f in client.list_artifacts(run_id, "checkpoints")] == ["checkpoints/epoch_0001.pt"]


@pytest.mark.parametrize(
    "override,key",
    [
        ("optim.lr=0.3", "optim.lr"),
        ("model.dropout=0.2", "model.dropout"),
        ("optim.momentum=0.5", "optim.momentum"),
        ("optim.T_max=4", "optim.T_max"),
        ("scattering.lr_scattering=0.2", None),
    ],
)
def test_keys_without_effect_warn_once(override, key, tmp_path, fmnist_root, capsys):
    cfg = write_config(tmp_path, fmnist_root)
    extra = ["optim.name=adam"] if key == "optim.momentum" else []
    assert main(["config", "show", "-c", str(cfg), override, *extra]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("psn: warning:")]
    if key is None:  # a key that does have an effect: silence
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith(f"psn: warning: {key} has no effect: ")


def test_load_model_says_when_the_store_is_unreachable_or_missing(tmp_path):
    from parametricSN.tracking import ModelFileError, load_model

    with pytest.raises(ModelFileError, match="does not answer"):
        load_model("0123456789abcdef", tracking_uri="http://127.0.0.1:9")
    typo = tmp_path / "typo" / "store.db"
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model("0123456789abcdef", tracking_uri=f"sqlite:///{typo}")
    assert not typo.parent.exists()  # reading never creates an empty store at a mistyped path
