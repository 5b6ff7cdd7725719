"""What a run and an experiment say about themselves in ``mlflow ui``: descriptions, the code version, datasets.

MLflow's conventions, read by its UI:

- an experiment's kind (tag :data:`EXPERIMENT_KIND`): :data:`MODEL_TRAINING` opens the model-training view (runs,
  charts, models) rather than the GenAI one (traces, judges, prompts);
- a description (tag :data:`NOTE`, Markdown) on every experiment and run;
- the code version in the ``mlflow.source.*`` tags (:func:`code_version_tags`): the git commit of the checkout the
  package runs from, with ``psn.git.dirty`` saying whether its working tree had uncommitted changes;
- dataset inputs (:func:`dataset_inputs`): one per split the run reads (training subset, validation split, test
  subset), named by dataset and context, whose digest identifies the selected images (the sorted indices), with
  their count, seed and selection in the profile.

Pure functions of the config and the environment (git is asked once per process); no MLflow import.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import numpy as np

from parametricSN.config import Config

EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"  # MLflow 3's value for the model-training view
NOTE = "mlflow.note.content"
COMMAND_ENV = "PSN_COMMAND"  # the command that started the work: set by psn's CLI, inherited by its workers
SOURCE_NAME, SOURCE_TYPE = "mlflow.source.name", "mlflow.source.type"
GIT_COMMIT, GIT_BRANCH, GIT_REPO = "mlflow.source.git.commit", "mlflow.source.git.branch", "mlflow.source.git.repoURL"
GIT_DIRTY, VERSION = "psn.git.dirty", "psn.version"

_CONTEXTS = {"train": "training", "val": "validation", "test": "test"}


def command() -> str:
    """The command line that started this work: ``$PSN_COMMAND`` (psn's CLI sets it, so a sweep's workers name
    the ``psn sweep`` that started them), else this process's own."""
    return os.environ.get(COMMAND_ENV) or shlex.join([Path(sys.argv[0]).name or "python", *sys.argv[1:]])


def config_description(path: Optional[str | os.PathLike[str]]) -> str:
    """The leading ``#`` comment of a YAML config file (how ``conf/*.yaml`` say what they are), as one paragraph;
    empty when the file has none."""
    if path is None or not Path(path).is_file():
        return ""
    lines = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(x for x in lines if x)


def _describe_model(cfg: Config) -> str:
    s = cfg.scattering
    if s.architecture != "scattering":
        return f"a {cfg.model.name} head on the pixels"
    kind = "learnable" if s.learnable else "fixed"
    return f"{kind} scattering (J={s.J}, L={s.L}, {s.init} init) + {cfg.model.name} head"


def differences(cfg: Config) -> dict[str, Any]:
    """The result-affecting keys whose values differ from psn's defaults (the paper's protocol)."""
    from parametricSN.config import keys_where

    result = set(keys_where("result"))
    default = Config().flat()
    return {k: v for k, v in cfg.flat().items() if k in result and v != default.get(k)}


def what_run(tags: Mapping[str, str], run_name: str = "") -> str:
    """What a run is, from the tags a sweep or a search gives it: ``cell '<name>' of sweep <spec>``, ``trial <id>
    of search <key>``; empty for a run of its own."""
    if "psn.sweep" in tags:
        return f"cell '{run_name}' of sweep {tags['psn.sweep']}" if run_name else f"a cell of sweep {tags['psn.sweep']}"
    if "psn.trial" in tags:
        return f"trial {tags['psn.trial']} of search {tags.get('psn.search', '')[:8]}".rstrip()
    return ""


def run_description(cfg: Config, what: str = "", cmd: Optional[str] = None) -> str:
    """A run's description (Markdown): one sentence saying what it trains (``what`` first: the cell of a sweep,
    the trial of a search), what differs from the paper's protocol, and the command that made it."""
    d = cfg.dataset
    sentence = (
        f"{what + ': ' if what else ''}{_describe_model(cfg)} trained {cfg.train.epochs} epochs on "
        f"{d.train_sample_num} {d.name} images (seed {cfg.general.seed}, {d.subset} selection)."
    )
    diff = differences(cfg)
    changed = ", ".join(f"`{k}={v}`" for k, v in sorted(diff.items())) or "none"
    return f"{sentence}\n\nDiffers from the paper's protocol (psn's defaults) in: {changed}.\n\n" + (
        f"Command: `{cmd or command()}`"
    )


@functools.lru_cache(maxsize=1)
def _git_state() -> Optional[tuple[str, str, bool, str]]:
    """(commit, branch, dirty, remote URL) of the git checkout this package runs from; None when it is not one
    (an installed wheel) or git is missing."""
    here = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel"))
        if not (top / "pyproject.toml").is_file() or here.parent != top:  # the package's own checkout only
            return None
        commit = git("rev-parse", "HEAD")
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        try:
            remote = git("config", "--get", "remote.origin.url")
        except subprocess.CalledProcessError:
            remote = ""
        return commit, branch, dirty, remote
    except (OSError, subprocess.SubprocessError):
        return None


def package_version() -> str:
    """parametricSN's installed version (its distribution's metadata); ``unknown`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parametricSN")
    except PackageNotFoundError:
        return "unknown"


def code_version_tags() -> dict[str, str]:
    """MLflow's ``mlflow.source.*`` tags for this process (source ``psn``, type LOCAL, the git commit and branch of
    the package's checkout) plus ``psn.version`` and ``psn.git.dirty`` (``true`` when the checkout had
    uncommitted changes to tracked files)."""
    tags = {SOURCE_NAME: command().split(" ", 1)[0], SOURCE_TYPE: "LOCAL", VERSION: package_version()}
    state = _git_state()
    if state is not None:
        commit, branch, dirty, remote = state
        tags.update({GIT_COMMIT: commit, GIT_BRANCH: branch, GIT_DIRTY: str(dirty).lower()})
        if remote:
            tags[GIT_REPO] = remote
    return tags


def digest(indices: np.ndarray) -> str:
    """A short digest (MLflow's dataset digests are at most 36 characters) of the sorted selected indices."""
    data = np.ascontiguousarray(np.sort(np.asarray(indices, dtype=np.int64)))
    return hashlib.sha256(data.tobytes()).hexdigest()[:16]


def dataset_inputs(cfg: Config, indices: Mapping[str, Optional[np.ndarray]], source: str = "") -> list[dict]:
    """One dataset input per split the run reads (``indices``: ``train`` / ``val`` / ``test`` -> the selected
    indices, None or empty when the run reads no such split): name, digest, source, context and profile."""
    d = cfg.dataset
    selection = {"train": d.train_sample_num, "val": d.val_sample_num, "test": d.test_sample_num}
    entries = []
    for split, idx in indices.items():
        if idx is None or len(idx) == 0:
            continue
        profile = {
            "num_rows": len(idx),
            "requested": selection[split],
            "seed": cfg.general.seed,
            "selection": d.subset,
            "from_split": "test" if split == "test" else "train",
        }
        entries.append(
            {
                "name": f"{d.name}-{_CONTEXTS[split]}",
                "digest": digest(idx),
                "source_type": "local",
                "source": json.dumps({"uri": source or str(Path(d.root).expanduser())}),
                "context": _CONTEXTS[split],
                "profile": json.dumps(profile),
            }
        )
    return entries
