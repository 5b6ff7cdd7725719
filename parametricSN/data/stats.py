"""Normalisation statistics of a run's images: given, published, or computed once and cached next to the data.

Precedence: ``dataset.mean`` / ``dataset.std`` from the config, else the spec's published ``normalization``, else
the statistics of the training subset itself, each image brought to ``(height, width)`` by the deterministic
(test) geometry and scaled to [0, 1]:

    mean_c = (1/N) sum_i x_ic,    std_c = sqrt((1/N) sum_i x_ic^2 - mean_c^2)

over all N pixels of channel c of all the subset's images (a channel with std 0 gets std 1: only its mean is
removed). The result is cached in ``<dataset.root>/.psn-normalization.json`` under a key that hashes what it
depends on (the chosen items: file, size and modification time, or the pixels of in-memory images; the geometry,
as each transform's class and parameters; the colour mode), so a second run on the same subset reads it instead of
decoding every image again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import torch
from torchvision import transforms as T

from parametricSN.config import DatasetConfig
from parametricSN.data.registry import DatasetSpec, Stats
from parametricSN.data.splits import Split
from parametricSN.data.transforms import geometry

CACHE_FILE = ".psn-normalization.json"


def normalization(spec: DatasetSpec, d: DatasetConfig, train: Split) -> Stats:
    """(mean, std) per channel for a run on the training subset ``train`` of dataset ``spec`` (see module doc)."""
    if d.mean is not None:
        return tuple(float(v) for v in d.mean), tuple(float(v) for v in d.std)
    if spec.normalization is not None:
        return spec.normalization
    root = Path(d.root).expanduser()
    return cached_statistics(
        train, geometry(spec, "noaugment", (d.height, d.width), train=False), root if root.is_dir() else None
    )


def _item_key(split: Split, i: int) -> str:
    key = split.key(i)
    if split.lazy:
        st = os.stat(split.images[i])
        key += f":{st.st_size}:{st.st_mtime_ns}"
    return key


def step_parameters(step: object) -> str:
    """``Resize(antialias=True, interpolation=..., max_size=None, size=(32, 32))``: a transform's class and its
    public attributes, sorted (its parameters, whatever its ``repr`` shows)."""
    params = {k: v for k, v in vars(step).items() if not k.startswith("_") and k != "training"}  # nn.Module's flag
    return f"{type(step).__name__}({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))})"


def cache_key(split: Split, steps: list) -> str:
    """sha1 of everything the statistics of ``split`` under ``steps`` depend on."""
    h = hashlib.sha1()
    h.update(f"{split.mode}|{'|'.join(map(step_parameters, steps))}|{len(split)}".encode())
    for i in range(len(split)):
        h.update(_item_key(split, i).encode())
    return h.hexdigest()


def compute_statistics(split: Split, steps: list) -> Stats:
    """Per-channel mean and std of ``split``'s images after ``steps`` + ``ToTensor`` (float64 sums)."""
    tf = T.Compose([*steps, T.ToTensor()])
    total = total_sq = None
    count = 0
    for i in range(len(split)):
        x = tf(split.image(i)).double().flatten(1)  # (C, H*W)
        s, sq = x.sum(dim=1), (x * x).sum(dim=1)
        total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
        count += x.shape[1]
    if total is None:
        raise ValueError(f"{split.name}: no images to compute normalisation statistics from")
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return tuple(mean.tolist()), tuple(std.tolist())


def cached_statistics(split: Split, steps: list, cache_dir: Optional[Path]) -> Stats:
    """:func:`compute_statistics`, read from / written to ``cache_dir/CACHE_FILE`` when ``cache_dir`` is given
    (a read-only folder only means the statistics are computed again next time)."""
    key = cache_key(split, steps)
    path = cache_dir / CACHE_FILE if cache_dir is not None else None
    cache: dict = {}
    if path is not None and path.is_file():
        try:
            cache = json.loads(path.read_text())
            hit = cache[key]
            return tuple(hit["mean"]), tuple(hit["std"])
        except (ValueError, KeyError, TypeError, AttributeError):
            cache = cache if isinstance(cache, dict) else {}
    mean, std = compute_statistics(split, steps)
    if path is not None:
        cache[key] = {"mean": list(mean), "std": list(std), "images": len(split), "split": split.name}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(cache, indent=1))
            os.replace(tmp, path)  # atomic: parallel runs never see half a file
        except OSError:
            tmp.unlink(missing_ok=True)
    return mean, std
