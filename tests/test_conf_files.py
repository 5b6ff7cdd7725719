"""conf/*.yaml, the schema's defaults and the protocol table of the docs' "Reproducing the paper" page agree: the
defaults are the paper's protocol, and a conf file holds only what differs from them; the user guide names the keys
the schema marks as resumable and packable."""

import re
import warnings
from pathlib import Path

import pytest

from parametricSN.config import Config, load_config, read_config_file
from parametricSN.config.no_effect import no_effect

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFS = sorted((ROOT / "conf").glob("*.yaml"))
# the protocol table's rows whose value is not the schema default, and the conf files that use it instead
OTHER_ROWS = {"dataset.augment": ("resize-crop", {"kth.yaml", "covidx.yaml"})}
# protocol keys a conf file sets otherwise, each with its reason in the file: Fashion-MNIST is no paper dataset;
# KTH trains on a whole sample either way and keeps its cells' identity
DEVIATIONS = {
    ("fashion_mnist.yaml", "dataset.subset"),
    ("fashion_mnist.yaml", "dataset.augment"),
    ("kth.yaml", "dataset.subset"),
}


def protocol_table() -> dict[str, list[str]]:
    """``key -> [values]`` from the table's last column (`key` (`value`) pairs), in row order."""
    text = (DOCS / "paper.md").read_text().split("## The protocol", 1)[1].split("\n## ", 1)[0]
    found: dict[str, list[str]] = {}
    for row in (line for line in text.splitlines() if line.startswith("|")):
        for key, quoted, plain in re.findall(r"`([a-z_]+\.[A-Za-z_]+)` \((?:`([^`]+)`|([^`);]+))", row.split("|")[-2]):
            if quoted or re.fullmatch(r"[0-9.e+-]+", plain.strip()):  # a value (not a remark such as "in [0, ...")
                found.setdefault(key, []).append((quoted or plain).strip())
    return found


def test_the_schema_defaults_are_the_protocol_table():
    protocol = protocol_table()
    assert {"dataset.subset", "dataset.augment", "dataset.sample", "optim.scheduler"} <= set(protocol)
    defaults = Config().flat()
    for key, values in protocol.items():
        assert str(defaults[key]).lower() == values[0].lower() or float(defaults[key]) == float(values[0]), key
        for other in values[1:]:
            assert OTHER_ROWS[key][0] == other, key


@pytest.mark.parametrize("path", CONFS, ids=[p.name for p in CONFS])
def test_a_conf_file_holds_only_what_differs_from_the_defaults(path):
    data, defaults = read_config_file(path), Config().flat()
    given = {f"{s}.{k}": v for s, body in data.items() for k, v in body.items()}
    assert [k for k, v in given.items() if v == defaults[k]] == [], "repeats a default"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = load_config(path)
    assert no_effect(cfg, set(given)) == []  # and nothing that has no effect
    protocol = protocol_table()
    for key in set(given) & set(protocol):  # a protocol key differs only where the table says so
        table_row = key in OTHER_ROWS and path.name in OTHER_ROWS[key][1] and given[key] == OTHER_ROWS[key][0]
        assert table_row or (path.name, key) in DEVIATIONS, key


def test_the_guide_names_the_keys_the_schema_marks():
    from parametricSN.config import keys_where

    text = (DOCS / "guide" / "runs.md").read_text()
    resume = text.split("**`psn train --resume RUN_ID [key=value ...]`**", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`([a-z_]+\.[A-Za-z_*]+)`", resume))
    expanded = {k for k in keys_where("resume") if k in named or f"{k.split('.')[0]}.*" in named}
    assert expanded == set(keys_where("resume")) and {k for k in named if "*" not in k} <= set(keys_where("resume"))
    text = (DOCS / "guide" / "packs.md").read_text()
    pack = text.split("Inside a pack only", 1)[1].split("may differ", 1)[0]
    assert set(re.findall(r"`([a-z_]+\.[A-Za-z_]+)`", pack)) == set(keys_where("pack"))
