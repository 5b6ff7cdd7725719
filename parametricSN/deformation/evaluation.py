"""The evaluation: every representation × deformation × strength, on fixed images, into CSV rows.

Randomness is a function of ``seed`` alone and is the same for every representation, so that curves compare
like with like: the baseline's image pairs come from ``Generator(seed)``; the random-diffeo fields of
deformation ``kind`` from ``Generator(seed + offset(kind))``, re-seeded at every strength so that one image gets
the same field shape at every temperature (only its amplitude √T changes); the matched noise of G likewise.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from parametricSN.deformation.metrics import (
    baseline,
    matched_noise,
    median_squared_distance,
    relative_distances,
    relative_stability,
)
from parametricSN.deformation.warps import DEFAULT_CUTOFF, deform, strengths, typical_displacement

BATCH = 256
COLUMNS = ("model", "run_id", "deformation", "strength", "distance", "baseline", "D", "G", "R", "displacement_px")


@dataclass
class Row:
    """One CSV row: mean relative distance at one strength, its baseline, and for ``random-diffeo`` the relative
    stability D, G, R and the typical displacement in pixels (None elsewhere; R is NaN at strength 0)."""

    model: str
    run_id: str
    deformation: str
    strength: float
    distance: float
    baseline: float
    D: Optional[float] = None
    G: Optional[float] = None
    R: Optional[float] = None
    displacement_px: Optional[float] = None


@dataclass
class Example:
    """The first image before and after the largest strength of one deformation (normalised tensors)."""

    before: Tensor
    after: Tensor
    strength: float


def _stream(seed: int, kind: str, purpose: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed + zlib.crc32(f"{kind}/{purpose}".encode()))


@torch.no_grad()
def representation(features: Callable[[Tensor], Tensor], x: Tensor, device: torch.device, batch: int = BATCH) -> Tensor:
    """Φ of ``x`` computed in batches on ``device``, returned on the CPU."""
    return torch.cat([features(x[i : i + batch].to(device)).cpu() for i in range(0, x.shape[0], batch)])


def evaluate_representation(
    features: Callable[[Tensor], Tensor],
    images: Tensor,
    kind: str,
    levels: int,
    seed: int,
    device: torch.device,
    padding: str = "reflection",
    cutoff: int = DEFAULT_CUTOFF,
) -> tuple[list[dict], Example]:
    """Metrics of one representation under one deformation at ``strengths(kind, levels)``: a list of dicts
    (strength, distance, baseline[, D, G, R, displacement_px]) and the example at the largest strength."""
    phi = representation(features, images, device)
    base = baseline(phi, torch.Generator().manual_seed(seed))
    median = median_squared_distance(phi) if kind == "random-diffeo" else None
    out, example = [], None
    for s in strengths(kind, levels, tuple(images.shape[-2:]), cutoff):
        warped = deform(images, kind, s, _stream(seed, kind, "field"), padding, cutoff)
        phi_w = representation(features, warped, device)
        row = dict(strength=s, distance=float(relative_distances(phi, phi_w).mean()), baseline=base)
        if median is not None:
            noisy = matched_noise(images, warped, _stream(seed, kind, "noise"))
            D, G, R = relative_stability(phi, phi_w, representation(features, noisy, device), median)
            row.update(D=D, G=G, R=R, displacement_px=typical_displacement(s, cutoff))
        out.append(row)
        example = Example(images[0], warped[0], s)
    return out, example


def evaluate(
    sources: Sequence,
    images_of: Callable,
    kinds: Sequence[str],
    levels: int,
    seed: int,
    device: torch.device,
    padding: str = "reflection",
    cutoff: int = DEFAULT_CUTOFF,
    progress: Optional[Callable[[str], None]] = None,
) -> tuple[list[Row], dict[str, Example]]:
    """Rows for every source × kind × strength, and per kind the example of the first source's images.

    ``sources``: objects with ``label``, ``run_id``, ``features`` and ``cfg`` (see ``sources.Source``);
    ``images_of(cfg)`` -> the (N, C, H, W) test images of that config; ``progress(message)`` is called after
    each source × kind.
    """
    rows, examples = [], {}
    for src in sources:
        images = images_of(src.cfg)
        for kind in kinds:
            results, example = evaluate_representation(
                src.features, images, kind, levels, seed, device, padding, cutoff
            )
            rows += [Row(src.label, src.run_id, kind, **r) for r in results]
            examples.setdefault(kind, example)
            if progress is not None:
                progress(f"{src.label}: {kind}")
    return rows, examples


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.10g}" if isinstance(value, float) else value


def write_csv(rows: Iterable[Row], path: Path) -> Path:
    """Write ``rows`` with the header :data:`COLUMNS`; undefined values (None, NaN) are empty cells."""
    assert tuple(f.name for f in fields(Row)) == COLUMNS
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(v) for v in asdict(row).values()])
    return path
