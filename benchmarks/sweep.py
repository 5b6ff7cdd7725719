"""Sweep benchmark: what running cells through ``psn sweep`` costs beyond the training itself.

(a) ``workers``: the same ``--runs`` runs (seeds) of a small Fashion-MNIST cell (``--samples`` images, linear head,
    ``--epochs`` epochs) with ``--workers 1`` and then ``--workers 2``: wall time of each sweep (goal: 2 workers
    at least as fast as 1 on a 2-core machine).
(b) ``overhead``: a ``--overhead-runs``-run tiny sweep (100 images, 2 epochs) with ``--workers 1``: per-run
    overhead = (sweep wall time - the runs' own durations, MLflow start to end) / runs (goal: <= 2 s per run).

Each sweep is a real ``python -m parametricSN sweep`` process on a fresh SQLite store in a temporary folder, on
the real Fashion-MNIST (``--root``, default Debian's ``/usr/share/datasets/fashion-mnist``). ``--repo`` runs
another checkout's package (e.g. main, for the "before" numbers: both use only ``--workers`` and
``--tracking-uri``).

    python benchmarks/sweep.py [--which workers,overhead] [--runs 4] [--epochs 8] [--samples 500]
                               [--overhead-runs 12] [--repo PATH] [--out FILE.json]
    python benchmarks/sweep.py --runs 2 --epochs 1 --samples 100 --overhead-runs 2     # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = "/usr/share/datasets/fashion-mnist"
SPEC = """name: bench-sweep
overrides: [dataset.name=fashion_mnist, dataset.root={root}, dataset.train_sample_num={samples},
            dataset.test_sample_num=1000, model.name=linear, train.epochs={epochs}, train.save_model=false,
            viz.figures=false, general.device=cpu]
grid:
  general.seed: {seeds}
"""


def sweep(folder: Path, repo: Path, root: str, samples: int, epochs: int, runs: int, workers: int) -> dict:
    """One sweep in a fresh store: its wall time and its runs' own durations (seconds)."""
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True)
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(root=root, samples=samples, epochs=epochs, seeds=list(range(runs))))
    uri = f"sqlite:///{folder}/store.db"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "parametricSN", "sweep", str(spec), "--workers", str(workers), "--tracking-uri", uri],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("bench-sweep")
    done = [r for r in client.search_runs([exp.experiment_id]) if r.info.status == "FINISHED"]
    durations = [(r.info.end_time - r.info.start_time) / 1000.0 for r in done]
    return {"workers": workers, "runs": len(done), "wall_s": round(wall, 2), "run_s": [round(d, 2) for d in durations]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--which", default="workers,overhead")
    p.add_argument("--root", default=ROOT)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--overhead-runs", type=int, default=12)
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    which = args.which.split(",")
    result: dict = {"machine": platform.platform(), "cpus": os.cpu_count(), "repo": str(args.repo)}
    with tempfile.TemporaryDirectory(prefix="psn-bench-sweep-") as tmp:
        if "workers" in which:
            rows = [
                sweep(Path(tmp) / f"w{w}", args.repo, args.root, args.samples, args.epochs, args.runs, w)
                for w in (1, 2)
            ]
            result["workers"] = rows
            print(f"(a) {args.runs} runs, {args.samples} images, linear, {args.epochs} epochs:")
            for r in rows:
                print(
                    f"    --workers {r['workers']}: {r['wall_s']:.1f} s wall, runs "
                    f"{sum(r['run_s']) / max(1, len(r['run_s'])):.1f} s each"
                )
            print(f"    workers 2 / workers 1 wall time: {rows[1]['wall_s'] / rows[0]['wall_s']:.2f}")
        if "overhead" in which:
            r = sweep(Path(tmp) / "overhead", args.repo, args.root, 100, 2, args.overhead_runs, 1)
            r["overhead_per_run_s"] = round((r["wall_s"] - sum(r["run_s"])) / max(1, r["runs"]), 2)
            result["overhead"] = r
            print(
                f"(b) {r['runs']} tiny runs, --workers 1: {r['wall_s']:.1f} s wall, {sum(r['run_s']):.1f} s in "
                f"the runs: {r['overhead_per_run_s']:.2f} s overhead per run"
            )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
