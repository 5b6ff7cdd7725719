"""``psn deform RUN [RUN ...]``: deformation stability of trained models, side by side.

    psn deform 3f2a... 9bc1... tight-frame --num-images 100 --levels 10 --output deform-out

Writes ``deformation.csv`` and one ``<deformation>.png`` per deformation to ``--output``, logs them to a new
MLflow run in experiment ``deformation``, prints that run's id. Errors print one line: a bad RUN (unknown id,
run without a saved model, missing file) or an unreachable store exits 1, a bad option exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from parametricSN.config import ConfigError
from parametricSN.deformation.options import DEFAULT_CUTOFF, EXPERIMENT, FIXED, KINDS, LAYERS, PADDINGS

# The parser imports only the options above: every ``psn`` call builds it. What ``run`` uses (torch, MLflow) is
# imported when it runs.

CSV_NAME = "deformation.csv"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``deform`` on the ``psn`` sub-command parser."""
    p = subparsers.add_parser(
        "deform",
        help="measure how stable trained representations are to deformations",
        description="Distances between the representations of test images and of their deformations, per model, "
        "deformation and strength, with the random-pair baseline and (random-diffeo) the relative "
        "stability R = D/G; writes a CSV and one figure per deformation and logs them to MLflow "
        f"(experiment {EXPERIMENT!r}).",
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help=f"an MLflow run id, a saved model file (or folder holding model.pt), or {' / '.join(FIXED)} "
        "for an untrained fixed scattering",
    )
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store of the runs and of the result (default: $MLFLOW_TRACKING_URI, else "
        "sqlite:///mlruns/store.db)",
    )
    p.add_argument("--deformations", default=",".join(KINDS), help=f"comma list of {', '.join(KINDS)} (default: all)")
    p.add_argument("--num-images", type=int, default=100, help="test images, chosen by --seed (default 100)")
    p.add_argument("--levels", type=int, default=10, help="strengths after the identity (default 10)")
    p.add_argument(
        "--layer",
        choices=LAYERS,
        default="scattering",
        help="compare the scattering coefficients (default) or the logits",
    )
    p.add_argument("--output", default="deformation-results", help="folder for the CSV and PNGs")
    p.add_argument("--seed", type=int, default=0, help="chooses the images, random diffeos and noise (default 0)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument(
        "--padding",
        choices=PADDINGS,
        default="reflection",
        help="values outside the image when warping (default reflection)",
    )
    p.add_argument("--cutoff", type=int, default=DEFAULT_CUTOFF, help="random-diffeo cut-off c (default 3)")
    p.add_argument("--data-root", default=None, help="read the models' dataset from here instead of their config's")
    p.add_argument("--J", type=int, default=None, help="J of tight-frame/random (default: the first model's)")
    p.add_argument("--L", type=int, default=None, help="L of tight-frame/random (default: the first model's)")
    p.add_argument("--dataset", default=None, help="dataset when only tight-frame/random are given")
    p.add_argument("--height", type=int, default=None, help="image height for --dataset (default 32)")
    p.add_argument("--width", type=int, default=None, help="image width for --dataset (default 32)")
    p.set_defaults(func=run)
    return p


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ConfigError(
            f"--deformations: unknown {', '.join(map(repr, unknown)) or 'empty list'}; expected a "
            f"comma list of {', '.join(KINDS)}"
        )
    return list(dict.fromkeys(kinds))


def _check(args: argparse.Namespace) -> None:
    for name in ("levels", "cutoff", "J", "L", "height", "width"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {value}")


def _check_ranges(kinds: list[str], levels: int, shape: tuple[int, int], cutoff: int) -> None:
    from parametricSN.deformation.warps import strengths

    for kind in kinds:
        try:
            strengths(kind, levels, shape, cutoff)
        except ValueError as exc:  # a cut-off too large for the image side leaves no natural temperatures
            raise ConfigError(f"--cutoff: {exc}") from None


def _write_outputs(out: Path, rows: list, examples: dict, kinds: list[str], cfg) -> list[Path]:
    """The CSV and one PNG per deformation (example images shown in the pixel range of ``cfg``'s dataset)."""
    from parametricSN.deformation.evaluation import write_csv
    from parametricSN.deformation.figures import deformation_figure
    from parametricSN.deformation.sources import to_pixels
    from parametricSN.viz.render import figure_to_png

    out.mkdir(parents=True, exist_ok=True)
    files = [write_csv(rows, out / CSV_NAME)]
    for kind in kinds:
        ex = examples[kind]
        fig = deformation_figure(
            kind, [r for r in rows if r.deformation == kind], ex, to_pixels(ex.before, cfg), to_pixels(ex.after, cfg)
        )
        files.append(out / f"{kind}.png")
        files[-1].write_bytes(figure_to_png(fig))
    return files


def run(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException
    from tqdm import tqdm

    from parametricSN.deformation.evaluation import evaluate
    from parametricSN.deformation.record import log_evaluation
    from parametricSN.deformation.sources import (
        ModelFileError,
        dataset_key,
        load_images,
        load_sources,
        reference_config,
        resolve_device,
    )

    _check(args)
    # our own bar reports progress; MLflow's per-download bars would interleave with it and with error lines
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    kinds = _kinds(args.deformations)
    runs = list(dict.fromkeys(args.runs))  # the same RUN twice would be one curve drawn twice
    try:
        device = resolve_device(args.device)
    except ConfigError as exc:
        raise ConfigError(f"--device: {str(exc).split(': ', 1)[-1]}") from None

    def fallback():
        return reference_config(args.dataset, args.data_root, args.height, args.width, args.J, args.L, args.seed)

    try:
        sources = load_sources(runs, args.tracking_uri, args.layer, device, args.data_root, fallback, args.J, args.L)
    except ModelFileError as exc:
        print(f"psn: {exc}", file=sys.stderr)
        return 1
    # every dataset is read and every strength range checked before the progress bar starts, so that a data
    # or range error is one clean line
    images = {}
    for s in sources:
        key = dataset_key(s.cfg)
        if key not in images:
            images[key] = load_images(s.cfg, args.num_images, args.seed)
            _check_ranges(kinds, args.levels, tuple(images[key].shape[-2:]), args.cutoff)
    with tqdm(total=len(sources) * len(kinds), desc="psn deform", unit="curve", file=sys.stderr) as bar:

        def progress(message: str) -> None:
            bar.set_postfix_str(message[:48])
            bar.update()

        rows, examples = evaluate(
            sources,
            lambda cfg: images[dataset_key(cfg)],
            kinds,
            args.levels,
            args.seed,
            device,
            args.padding,
            args.cutoff,
            progress,
        )
    out = Path(args.output)
    try:
        files = _write_outputs(out, rows, examples, kinds, sources[0].cfg)
    except OSError as exc:
        print(f"psn: --output: cannot write the results to {str(out)!r} ({exc})", file=sys.stderr)
        return 1
    print(f"results: {out.resolve()}")
    params = {
        "deformations": ",".join(kinds),
        "num_images": args.num_images,
        "levels": args.levels,
        "layer": args.layer,
        "seed": args.seed,
        "padding": args.padding,
        "cutoff": args.cutoff,
        "device": str(device),
        "labels": " | ".join(s.label for s in sources),
    }
    try:
        run_id = log_evaluation(files, runs, params, args.tracking_uri)
    except (MlflowException, OSError) as exc:
        print(
            f"psn: could not log the results to the MLflow store ({str(exc).splitlines()[0]}); they are "
            f"in {out.resolve()}",
            file=sys.stderr,
        )
        return 1
    print(f"run_id: {run_id}")
    return 0
