"""``psn report``: an experiment's FINISHED runs as mean ± std per cell, beside the published numbers.

Each run counts once: of the FINISHED runs of one (cell, seed) — the same result-defining params — only the newest
is used, with a warning naming how many duplicates were ignored; RUNNING / FAILED / KILLED runs are listed in a
footnote of the markdown report, never averaged.

Runs are grouped by every config key that varies across them except the seed (or by ``--by``); per group:
``n``, the mean and the sample standard deviation (``n - 1`` in the denominator) of the final ``test_acc``,
and, when a published entry matches the group (its ``where`` keys all equal), the published mean ± std and
``diff = mean - published_mean``. A mean outside ``published_mean ± 2·published_std`` is marked ``!``.
The published numbers come from ``--spec`` or, by default, from the experiment tag the sweep stored.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import statistics
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from parametricSN.config import ConfigError
from parametricSN.sweeps.spec import NON_RESULT_KEYS, NON_RESULT_SECTIONS, SEED_KEY, Published
from parametricSN.tags import TAG_PUBLISHED, TAG_REPORT

SIZE_KEY = "dataset.train_sample_num"
# paper-style row labels (Table 1 of the paper): init, learnable or fixed scattering, head
_INIT = {"tight-frame": "TF", "random": "Rand"}
_HEAD = {"linear": "LL", "hybrid-wrn": "WRN", "cnn": "WRN"}


@dataclass
class Group:
    """One cell of the report."""

    key: tuple[str, ...]  # the grouping keys' values (MLflow param text), in ``by`` order
    accs: list[float]
    published: Optional[Published]
    params: dict[str, str]  # the params every run of the group shares
    run_ids: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.accs)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accs)

    @property
    def std(self) -> float:
        return statistics.stdev(self.accs) if self.n > 1 else math.nan

    @property
    def outside(self) -> bool:
        p = self.published
        return p is not None and abs(self.mean - p.mean) > 2 * p.std


def _fmt(x: Optional[float]) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def varying_keys(runs: list[Any]) -> list[str]:
    """Config keys (run params) whose value differs across ``runs``, except the seed and the tracking keys."""
    keys = sorted({k for r in runs for k in r.data.params})
    return [k for k in keys if k != SEED_KEY and _is_result_key(k) and len({r.data.params.get(k) for r in runs}) > 1]


def _is_result_key(key: str) -> bool:
    return key not in NON_RESULT_KEYS and key.split(".", 1)[0] not in NON_RESULT_SECTIONS


@dataclass
class Selection:
    """The runs a report counts: one FINISHED run per (cell, seed), and what it left out."""

    runs: list[Any]  # the newest FINISHED run (with a test_acc) of each (cell, seed)
    duplicates: int  # older FINISHED runs of a (cell, seed) that has a newer one: ignored
    unfinished: list[Any]  # RUNNING / FAILED / KILLED (or FINISHED without test_acc), unless a later run of the
    # same (cell, seed) finished: listed, never averaged


def select_runs(runs: list[Any]) -> Selection:
    """Count each run once: runs with the same result-defining params (every config key but the tracking ones,
    seed included) are one (cell, seed); of its FINISHED runs the newest is kept."""
    newest: dict[tuple, Any] = {}
    finished, unfinished = 0, []
    for r in runs:
        if TAG_REPORT in r.data.tags:
            continue
        if r.info.status != "FINISHED" or "test_acc" not in r.data.metrics:
            unfinished.append(r)
            continue
        finished += 1
        cell = _cell_of(r)
        if cell not in newest or r.info.start_time > newest[cell].info.start_time:
            newest[cell] = r
    # a stopped run whose (cell, seed) a later run finished (the sweep continued it) is superseded, not missing
    unfinished = [
        r for r in unfinished if not (_cell_of(r) in newest and newest[_cell_of(r)].info.start_time > r.info.start_time)
    ]
    return Selection(list(newest.values()), finished - len(newest), unfinished)


def _cell_of(run: Any) -> tuple:
    """A run's (cell, seed): its result-defining params."""
    return tuple(sorted((k, v) for k, v in run.data.params.items() if _is_result_key(k)))


def group_runs(runs: list[Any], by: list[str], published: list[Published]) -> list[Group]:
    """Group FINISHED runs with a ``test_acc`` by the values of ``by``, in sorted (numeric-aware) order."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for r in runs:
        if r.info.status == "FINISHED" and "test_acc" in r.data.metrics and TAG_REPORT not in r.data.tags:
            groups.setdefault(tuple(r.data.params.get(k, "") for k in by), []).append(r)
    out = []
    for key in sorted(groups, key=lambda k: tuple(_sort_key(v) for v in k)):
        members = groups[key]
        shared = {k: v for k, v in members[0].data.params.items() if all(m.data.params.get(k) == v for m in members)}
        match = next((p for p in published if p.matches(shared)), None)
        accs = [float(m.data.metrics["test_acc"]) for m in members]
        out.append(Group(key, accs, match, shared, [m.info.run_id for m in members]))
    return out


def _sort_key(value: str) -> tuple:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def to_csv(groups: list[Group], by: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*by, "n", "mean", "std", "published_mean", "published_std"])
    for g in groups:
        p = g.published
        w.writerow(
            [
                *g.key,
                g.n,
                f"{g.mean:.4f}",
                "" if math.isnan(g.std) else f"{g.std:.4f}",
                "" if p is None else p.mean,
                "" if p is None else p.std,
            ]
        )
    return buf.getvalue()


def _cell_text(g: Group) -> str:
    text = f"{_fmt(g.mean)} ± {_fmt(g.std) or '–'} (n={g.n})"
    if g.published is not None:
        p = g.published
        text += f" [paper {p.mean:.2f} ± {p.std:.2f}, {g.mean - p.mean:+.2f}{' !' if g.outside else ''}]"
    return text


def row_label(params: dict[str, str], keys: list[str]) -> str:
    """``TF LS+LL`` style when the keys are the paper's (init, learnable, head), else ``k=v, ...``."""
    paper = {"scattering.init", "scattering.learnable", "model.name", "scattering.architecture"}
    if keys and set(keys) <= paper:
        if params.get("scattering.architecture") == "identity":
            return _HEAD.get(params.get("model.name", ""), params.get("model.name", "?"))
        init = _INIT.get(params.get("scattering.init", ""), params.get("scattering.init", ""))
        ls = {"True": "LS", "False": "S"}.get(params.get("scattering.learnable", ""), "")
        head = _HEAD.get(params.get("model.name", ""), params.get("model.name", ""))
        return f"{init} {ls}+{head}".strip()
    return ", ".join(f"{k}={params.get(k, '')}" for k in keys) or "all runs"


def _paper_rank(params: dict[str, str]) -> tuple:
    """The paper's row order: linear before WRN, scattering before pixels, TF before Rand, LS before S."""
    return (
        params.get("model.name") != "linear",
        params.get("scattering.architecture") == "identity",
        params.get("scattering.init") != "tight-frame",
        params.get("scattering.learnable") != "True",
    )


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table, every column padded to its widest cell; every row has the header's number of cells."""
    assert all(len(r) == len(header) for r in rows), (header, rows)
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)]


def to_markdown(groups: list[Group], by: list[str], title: str, unfinished: Sequence[Any] = ()) -> str:
    """A pivot with one column per training-set size when ``dataset.train_sample_num`` is a grouping key (the
    paper's layout), else one row per group; ``unfinished`` runs are listed in a footnote."""
    lines = [f"# {title}", ""]
    if SIZE_KEY in by:
        rest = [k for k in by if k != SIZE_KEY]
        sizes = sorted({g.params[SIZE_KEY] for g in groups}, key=_sort_key)
        rows: dict[tuple[str, ...], dict[str, Group]] = {}
        for g in groups:
            rows.setdefault(tuple(g.params.get(k, "") for k in rest), {})[g.params[SIZE_KEY]] = g
        lines += table(
            ["cell"] + [f"{s} samples" for s in sizes],
            [
                [row_label(next(iter(row.values())).params, rest)]
                + [_cell_text(row[s]) if s in row else "" for s in sizes]
                for row in sorted(rows.values(), key=lambda r: _paper_rank(next(iter(r.values())).params))
            ],
        )
    else:
        body = []
        for g in groups:
            p = g.published
            pub = f"{p.mean:.2f} ± {p.std:.2f}" if p else ""
            diff = f"{g.mean - p.mean:+.2f}{' !' if g.outside else ''}" if p else ""
            body.append(
                [*(g.key if by else ["all runs"]), str(g.n), f"{_fmt(g.mean)} ± {_fmt(g.std) or '–'}", pub, diff]
            )
        lines += table([*(by or ["cell"]), "n", "mean ± std", "published", "diff"], body)
    lines += ["", "mean ± sample std of the final test_acc (%) over seeds; `!`: outside the published mean ± 2·std."]
    if unfinished:
        lines.append(f"Not averaged: {_unfinished_note(unfinished)}.")
    return "\n".join(lines) + "\n"


def _unfinished_note(runs: Sequence[Any], shown: int = 5) -> str:
    """``2 RUNNING (id1, id2), 1 FAILED (id3)``: the runs a report leaves out, by status."""
    by_status: dict[str, list[str]] = {}
    for r in runs:
        status = r.info.status if r.info.status != "FINISHED" else "FINISHED without test_acc"
        by_status.setdefault(status, []).append(r.info.run_id)
    return ", ".join(
        f"{len(ids)} {status} ({', '.join(ids[:shown])}{', ...' if len(ids) > shown else ''})"
        for status, ids in sorted(by_status.items())
    )


def plot(groups: list[Group], by: list[str], path: Path, title: str) -> None:
    """Accuracy vs training-set size (:func:`parametricSN.sweeps.figures.accuracy_vs_size`)."""
    from parametricSN.sweeps.figures import accuracy_vs_size

    accuracy_vs_size(groups, by, path, title, row_label)


def load_published(client: Any, experiment: Any, spec_path: Optional[str]) -> list[Published]:
    if spec_path:
        from parametricSN.sweeps.spec import load_spec

        return load_spec(spec_path).published
    raw = experiment.tags.get(TAG_PUBLISHED)
    return [Published(p["where"], p["mean"], p["std"]) for p in json.loads(raw)] if raw else []


def report(
    experiment: str,
    tracking_uri: Optional[str] = None,
    fmt: str = "markdown",
    by: Optional[list[str]] = None,
    plot_file: Optional[str] = None,
    spec_path: Optional[str] = None,
    log: bool = False,
    figures_dir: Optional[str] = None,
) -> str:
    """The report text (markdown or CSV) of ``experiment``; ``figures_dir``: every figure of the report written
    there (:func:`parametricSN.sweeps.figures.write_figures`); with ``log`` also stored (markdown, CSV, the
    ``plot_file`` PNG and the figures, under ``figures/``) as artifacts of a summary run tagged ``psn.report`` in
    the experiment, which replaces (deletes) the previous one. Reading never creates a store: a missing SQLite
    file is a TrackingError."""
    from parametricSN.commands import absolute_uri
    from parametricSN.tracking.store import client_for

    uri = absolute_uri(tracking_uri)
    client = client_for(uri, create=False)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise ConfigError(f"--experiment: no experiment {experiment!r} in {uri}")
    chosen = select_runs(client.search_runs([exp.experiment_id], max_results=50000))
    if not chosen.runs:
        raise ConfigError(f"--experiment: {experiment!r} has no FINISHED run with a test_acc yet")
    if chosen.duplicates:
        warnings.warn(
            f"{chosen.duplicates} duplicate FINISHED run(s) ignored: a (cell, seed) was trained more "
            "than once; the newest run of each is counted",
            stacklevel=2,
        )
    finished = chosen.runs
    keys = by or varying_keys(finished)
    known = {k for r in finished for k in r.data.params}
    for k in keys:
        if k not in known:
            raise ConfigError(f"--by {k}: not a param of the runs; use a dotted config key such as scattering.init")
    groups = group_runs(finished, keys, load_published(client, exp, spec_path))
    md, table_csv = to_markdown(groups, keys, experiment, chosen.unfinished), to_csv(groups, keys)
    if plot_file:
        plot(groups, keys, Path(plot_file), experiment)
    with contextlib.ExitStack() as stack:
        if figures_dir is None and log:  # the report run holds the figures even when none were asked for
            figures_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="psn-report-"))
        figures = []
        if figures_dir is not None:
            from parametricSN.sweeps.figures import write_figures

            figures = write_figures(client, groups, keys, Path(figures_dir), experiment, row_label)
        if log:
            _log_report(client, exp, uri, md, table_csv, plot_file, figures)
    return md if fmt == "markdown" else table_csv


def _log_report(
    client: Any, exp: Any, uri: str, md: str, table_csv: str, plot_file: Optional[str], figures: list[Path]
) -> None:
    """:func:`_log_summary`, a failure reported as a warning."""
    try:  # MLflow prints a "View run at" link to stdout for a server: keep stdout the report alone
        with contextlib.redirect_stdout(sys.stderr):
            _log_summary(client, exp.experiment_id, md, table_csv, plot_file, figures)
    except Exception as exc:  # noqa: BLE001 - the table is the result; storing it is the extra
        from parametricSN.tracking.store import sql_error

        warnings.warn(f"--log: the report was not stored in {uri}: {sql_error(exc)[:300]}", stacklevel=3)


def _log_summary(
    client: Any, exp_id: str, md: str, table_csv: str, plot_file: Optional[str], figures: Sequence[Path] = ()
) -> None:
    """A ``report`` run (tag ``psn.report``) holding report.md, report.csv, the plot and the figures (under
    ``figures/``); earlier report runs of the experiment are deleted (a new one replaces them)."""
    old = client.search_runs([exp_id], filter_string=f"tags.`{TAG_REPORT}` = '1'", max_results=1000)
    run = client.create_run(exp_id, run_name="report", tags={TAG_REPORT: "1"})
    try:
        client.log_text(run.info.run_id, md, "report.md")
        client.log_text(run.info.run_id, table_csv, "report.csv")
        if plot_file:
            client.log_artifact(run.info.run_id, plot_file)
        for figure in figures:
            client.log_artifact(run.info.run_id, str(figure), "figures")
    except Exception:
        with contextlib.suppress(Exception):  # no half-stored report run beside the previous, complete one
            client.delete_run(run.info.run_id)
        raise
    client.set_terminated(run.info.run_id, "FINISHED")
    for r in old:
        client.delete_run(r.info.run_id)
