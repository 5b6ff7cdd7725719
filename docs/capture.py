"""Run the commands whose output the documentation shows and write what they print, for the pages to include.

    python docs/capture.py            # run by `make docs`; --force runs everything again

Every block of command output in the docs is a file written here (``docs/_build/captured/<name>.txt``: the
command line, then what it printed), included by the pages with ``literalinclude``: nothing is typed by hand, and
a page always shows what the current code prints. The commands run for real, on Fashion-MNIST (Debian's
``dataset-fashion-mnist``, ``make fashion-mnist``) in a fresh temporary folder that holds copies of ``conf/`` and
the spec files the pages use, so every command is shown exactly as it was run; they are kept tiny (100 training
images, a few epochs) so that the whole capture takes a minute or two on two cores.

The paper's published numbers are tabled from the ``published:`` sections of ``experiments/*.yaml`` (the same
numbers ``psn report`` prints beside a sweep's), into ``published.md``.

The figures of ``psn report --figures`` are copied into ``figures/`` there, and a screenshot of the first run's page
in ``mlflow ui`` (over the store those commands made, rendered by headless Chromium, ``make test-tools``) is
``mlflow-ui-run.png``.

The outputs are kept between builds while nothing they depend on has changed (this file, the package, ``conf/``,
``experiments/``, ``docs/examples/``): a digest of those files is stored beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_build" / "captured"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
SOURCES = ("docs/capture.py", "parametricSN", "conf", "experiments", "docs/examples")
TINY = (
    "dataset.train_sample_num=100",
    "dataset.test_sample_num=500",
    "train.epochs=3",
    "train.test_every=1",
)

# name -> the command as a user types it (``psn`` is this tree's package), run in order in one folder
COMMANDS: list[tuple[str, str]] = [
    ("help", "psn --help"),
    ("train-help", "psn train --help"),
    ("config-show", "psn config show -c conf/fashion_mnist.yaml"),
    ("config-error", "psn train -c conf/fashion_mnist.yaml scattering.J=0"),
    ("first-run", "psn train -c conf/fashion_mnist.yaml " + " ".join(TINY)),
    ("first-report", "psn report --experiment fashion-mnist"),
    ("sweep-dry-run", "psn sweep experiments/fmnist-tiny.yaml --dry-run"),
    ("sweep", "psn sweep experiments/fmnist-tiny.yaml --workers 2"),
    ("sweep-again", "psn sweep experiments/fmnist-tiny.yaml --workers 2"),
    ("sweep-status", "psn sweep experiments/fmnist-tiny.yaml --status"),
    ("sweep-report", "psn report --experiment fmnist-tiny"),
    ("sweep-figures", "psn report --experiment fmnist-tiny --figures figures --log"),
    (
        "paper-dry-run",
        "psn sweep experiments/cifar10-linear.yaml --dry-run --only dataset.train_sample_num=100 --seeds 1",
    ),
    ("tune", "psn tune experiments/fmnist-tiny-search.yaml --output search"),
    ("tune-sweep", "psn sweep search/best.yaml"),
    ("tune-report", "psn report --experiment fmnist-tiny-search-best"),
]
# exit status other than 0 that a command is shown with (the config error is the point of its block)
EXPECTED_STATUS = {"config-error": 2}


def digest() -> str:
    """SHA-256 of every file the outputs depend on, and of the Python that runs them."""
    h = hashlib.sha256(sys.version.encode())
    for source in SOURCES:
        path = ROOT / source
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" not in f.parts:
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


# how a cell's keys are shown in the published tables
LABELS = {
    "dataset.train_sample_num": "training images",
    "scattering.init": "init",
    "scattering.learnable": "filters",
    "dataset.sample": "KTH sample",
}


def published_tables() -> str:
    """One Markdown table per spec of ``experiments/`` with ``published`` numbers: the cell, then mean ± std."""
    import yaml

    parts = []
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        rows = spec.get("published") or []
        if not rows or "search" in spec:
            continue
        keys = list(dict.fromkeys(k for row in rows for k in row["where"]))
        head = [LABELS.get(k, k) for k in keys] or ["cell"]
        head += ["published (mean ± std, %)"]
        lines = [f"**{spec['description']}** (`experiments/{path.name}`)", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        for row in rows:
            cells = []
            for k in keys:
                v = row["where"].get(k, "")
                cells.append({True: "learnable", False: "fixed"}.get(v, v) if k == "scattering.learnable" else str(v))
            lines.append(
                "| " + " | ".join((cells or ["the spec's one cell"]) + [f"{row['mean']:.2f} ± {row['std']:.2f}"]) + " |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def run(name: str, command: str, cwd: Path) -> str:
    """Run ``command`` in ``cwd`` (``psn`` as ``python -m parametricSN``), return ``$ command`` and its output
    (stderr and stdout together, as a terminal shows them)."""
    argv = shlex.split(command)
    if argv[0] == "psn":
        argv = [sys.executable, "-m", "parametricSN", *argv[1:]]
    env = dict(
        os.environ, COLUMNS="100", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != EXPECTED_STATUS.get(name, 0):
        sys.exit(f"docs/capture.py: `{command}` exited with {proc.returncode}:\n{proc.stdout}")
    print(f"capture: {name} ({time.monotonic() - start:.1f} s)", file=sys.stderr, flush=True)
    return f"$ {command}\n{proc.stdout.rstrip()}\n"


def ui_screenshot(work: Path, run_id: str, png: Path) -> None:
    """``mlflow ui`` over ``work``'s store, and headless Chromium's screenshot of run ``run_id``'s page in the
    model-training view."""
    import socket
    import urllib.request

    browser = shutil.which("chromium")
    if browser is None:
        sys.exit("docs/capture.py: the screenshot of mlflow ui needs headless Chromium (make test-tools)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"sqlite:///{work}/mlruns/store.db"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--port", str(port), "--workers", "1"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=10):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("docs/capture.py: mlflow ui did not start")
                time.sleep(0.5)
        import mlflow

        experiment = mlflow.MlflowClient(uri).get_run(run_id).info.experiment_id
        with tempfile.TemporaryDirectory(prefix="psn-chromium-") as profile:
            subprocess.run(
                [
                    browser,
                    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
                    *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
                    *("--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1300,1100"),
                    "--virtual-time-budget=15000",
                    f"--screenshot={png}",
                    f"{url}/#/experiments/{experiment}/runs/{run_id}?workflowType=machine_learning",
                ],
                capture_output=True,
                timeout=180,
                check=True,
            )
        print(f"capture: the run page of mlflow ui ({png.name})", file=sys.stderr, flush=True)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="run every command even if nothing changed")
    args = parser.parse_args(argv)
    key = digest()
    stamp = OUT / ".digest"
    if not args.force and stamp.is_file() and stamp.read_text() == key:
        done = [OUT / f"{name}.txt" for name, _ in COMMANDS] + [OUT / "published.md", OUT / "mlflow-ui-run.png"]
        if all(p.is_file() for p in done):
            print("capture: the captured outputs are up to date", file=sys.stderr)
            return 0
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "published.md").write_text(published_tables())
    if not FASHION_MNIST.is_dir():
        sys.exit(f"docs/capture.py: the docs' runs need Fashion-MNIST in {FASHION_MNIST} (make fashion-mnist)")
    stamp.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="psn-docs-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "conf", work / "conf")
        shutil.copytree(ROOT / "experiments", work / "experiments")
        # the default root data/ holds the four IDX files, one of the layouts data/README.md describes: psn tune
        # resolves the default root to this folder's absolute path, which is then searched as an explicit root
        # (itself only, not Debian's folder)
        (work / "data").mkdir()
        for f in FASHION_MNIST.iterdir():
            (work / "data" / f.name).symlink_to(f)
        for spec in (ROOT / "docs" / "examples").glob("*.yaml"):
            shutil.copy(spec, work / "experiments" / spec.name)
        for name, command in COMMANDS:
            (OUT / f"{name}.txt").write_text(run(name, command, work))
        shutil.copytree(work / "figures", OUT / "figures", dirs_exist_ok=True)
        first = (OUT / "first-run.txt").read_text().split("run_id: ")[1].split()[0]
        ui_screenshot(work, first, OUT / "mlflow-ui-run.png")
    stamp.write_text(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
