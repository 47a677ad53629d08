"""The seed network zoo: every spec reproduces its published numbers exactly.

``tests/reference/zoo.csv`` holds the published params, buffers, MACs and output shapes, typed
from the papers, torchvision and the zoo issue (rows whose source says "computed by archc" were
not published).  Also here: the examples' parameter drops, the VGG-16 memory table of the CNN
lecture, and GoogLeNet beside Table 1 of its paper (``docs/googlenet-table1.md``).
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

import archc
from archc.cli import main
from archc.formats import render
from tests.conftest import EXAMPLE_PATHS, ROOT, SPEC_IDS, SPECS_DIR, load_spec

ZOO_CSV = ROOT / "tests" / "reference" / "zoo.csv"
REGEN = bool(os.environ.get("ARCHC_REGEN_GOLDEN"))


def _read_zoo() -> list[dict[str, str]]:
    with ZOO_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ZOO = _read_zoo()


def _shapes(text: str) -> list[tuple[int, ...]]:
    """``"1000;1000"`` -> ``[(1000,), (1000,)]``: the outputs in declaration order."""
    return [tuple(int(d) for d in shape.split("x")) for shape in text.split(";")]


def _header(path: Path) -> str:
    """The comment block a spec opens with."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines[: next(i for i, x in enumerate(lines) if x == "")])


# ---------------------------------------------------------------------------- the zoo


@pytest.mark.parametrize("row", ZOO, ids=[r["spec"] for r in ZOO])
def test_spec_reproduces_published_numbers(row: dict[str, str]) -> None:
    net = load_spec(row["spec"])
    t = net.totals()
    assert t.params == int(row["params"])
    assert t.buffers == int(row["buffers"])
    assert t.macs == int(row["macs"])
    assert list(net.outputs.values()) == _shapes(row["output_shape"])


@pytest.mark.parametrize("row", ZOO, ids=[r["spec"] for r in ZOO])
def test_spec_header_states_source_and_numbers(row: dict[str, str]) -> None:
    header = _header(SPECS_DIR / f"{row['spec']}.arch")
    assert header.startswith("# ")
    assert "Reproduces" in header or "Computed by archc" in header
    numbers = [int(row["params"]), int(row["macs"])]
    if int(row["buffers"]):
        numbers.append(int(row["buffers"]))
    for n in numbers:
        assert f"{n:,}" in header, f"{row['spec']}.arch's header does not state {n:,}"


def test_zoo_csv_covers_every_spec_and_nothing_else() -> None:
    names = [r["spec"] for r in ZOO]
    assert len(names) == len(set(names)), "a spec is listed twice"
    assert sorted(names) == SPEC_IDS


def test_zoo_doc_lists_every_row() -> None:
    """docs/zoo.md shows each row of zoo.csv with its numbers, and no other spec."""
    text = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    listed = [line for line in text.splitlines() if line.startswith("| [`")]
    assert len(listed) == len(ZOO)
    for row in ZOO:
        buffers = f"{int(row['buffers']):,}"
        cells = f"| {int(row['params']):,} | {buffers} | {int(row['macs']):,} | {row['source']} |"
        assert f"| [`{row['spec']}`](../specs/{row['spec']}.arch) {cells}" in listed, row["spec"]


def test_computed_rows_say_so() -> None:
    """Rows not published anywhere are marked; the rest cite a source."""
    computed = {r["spec"] for r in ZOO if "computed by archc" in r["source"]}
    assert computed == {
        "lenet5",
        "zfnet",
        "vgg11_lrn",
        "vgg16_c",
        "googlenet_aux",
        "inception_v3_aux",
    }
    assert all(r["source"].strip() for r in ZOO)


@pytest.mark.parametrize("name", SPEC_IDS)
def test_spec_analyzes_well_under_a_second(name: str) -> None:
    archc.load(SPECS_DIR / "lenet5.arch")  # the grammar and the registry are loaded once
    start = time.perf_counter()
    archc.load(SPECS_DIR / f"{name}.arch")
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------------- examples

#: per example: output row -> (params, MACs) as its header states them, then the stated drop
EXAMPLES = {
    "stacked_3x3": {"conv5x5": (102_400, 321_126_400), "stacked": (73_728, 231_211_008)},
    "depthwise_separable": {
        "standard": (147_456, 115_605_504),
        "separable": (17_536, 13_748_224),
    },
}
DROPS = {"stacked_3x3": (28_672, 28.0), "depthwise_separable": (129_920, 88.1)}


def test_every_example_is_pinned() -> None:
    assert sorted(p.stem for p in EXAMPLE_PATHS) == sorted(EXAMPLES) == sorted(DROPS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_parameter_drop(name: str) -> None:
    path = SPECS_DIR / "examples" / f"{name}.arch"
    rows = {r.name: r for r in archc.load(path).rows(depth=1)}
    header = " ".join(_header(path).replace("#", " ").split())
    for row, (params, macs) in EXAMPLES[name].items():
        assert (rows[row].params, rows[row].macs) == (params, macs)
        assert f"{row} {params:,} params, {macs:,} MACs" in " ".join(header.split()), row
    (before, macs_before), (after, macs_after) = EXAMPLES[name].values()
    drop, percent = DROPS[name]
    assert before - after == drop
    assert round(100 * drop / before, 1) == percent
    assert round(100 * (macs_before - macs_after) / macs_before, 1) == percent  # MACs drop alike
    assert f"a drop of {drop:,} params ({percent:g} %" in header


def test_example_drops_follow_the_formulas() -> None:
    """25·C² against 18·C²; 9·C² against 9·C + C² (no biases)."""
    c = 64
    assert EXAMPLES["stacked_3x3"]["conv5x5"][0] == 25 * c * c
    assert EXAMPLES["stacked_3x3"]["stacked"][0] == 18 * c * c
    c = 128
    assert EXAMPLES["depthwise_separable"]["standard"][0] == 9 * c * c
    assert EXAMPLES["depthwise_separable"]["separable"][0] == 9 * c + c * c


# ---------------------------------------------------------------------------- VGG-16 lecture

#: the CNN lecture's VGG-16 table: (row, memory as the lecture writes it, exact elements)
VGG16_LECTURE = [
    ("INPUT", "150K", 224 * 224 * 3),
    ("CONV3-64", "3.2M", 224 * 224 * 64),
    ("CONV3-64", "3.2M", 224 * 224 * 64),
    ("POOL2", "800K", 112 * 112 * 64),
    ("CONV3-128", "1.6M", 112 * 112 * 128),
    ("CONV3-128", "1.6M", 112 * 112 * 128),
    ("POOL2", "400K", 56 * 56 * 128),
    ("CONV3-256", "800K", 56 * 56 * 256),
    ("CONV3-256", "800K", 56 * 56 * 256),
    ("CONV3-256", "800K", 56 * 56 * 256),
    ("POOL2", "200K", 28 * 28 * 256),
    ("CONV3-512", "400K", 28 * 28 * 512),
    ("CONV3-512", "400K", 28 * 28 * 512),
    ("CONV3-512", "400K", 28 * 28 * 512),
    ("POOL2", "100K", 14 * 14 * 512),
    ("CONV3-512", "100K", 14 * 14 * 512),
    ("CONV3-512", "100K", 14 * 14 * 512),
    ("CONV3-512", "100K", 14 * 14 * 512),
    ("POOL2", "25K", 7 * 7 * 512),
    ("FC", "4096", 4096),
    ("FC", "4096", 4096),
    ("FC", "1000", 1000),
]


def _approx(text: str) -> float:
    scale = {"K": 1e3, "M": 1e6}.get(text[-1], 1)
    return float(text.rstrip("KM")) * scale


def test_vgg16_lecture_memory_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SPECS_DIR / "vgg16.arch"), "--depth", "1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["layers"]
    assert [r["activation_elements"] for r in rows] == [n for _, _, n in VGG16_LECTURE]
    kinds = {"input": "INPUT", "conv": "CONV3-", "maxpool": "POOL2", "linear": "FC"}
    for r, (label, shown, n) in zip(rows, VGG16_LECTURE, strict=True):
        assert label.startswith(kinds[r["op"]])
        assert abs(_approx(shown) - n) / n < 0.05  # the lecture's rounding
    total = sum(n for _, _, n in VGG16_LECTURE)
    assert total == 15_237_608  # "about 15.2M", not the lecture's "TOTAL memory: 24M"
    assert doc["totals"]["activation_bytes"] == total * 4 == 60_950_432
    assert doc["totals"]["peak_activation_bytes"] == 2 * 224 * 224 * 64 * 4


# ---------------------------------------------------------------------------- GoogLeNet

#: Table 1's ops column (millions) for the inception rows
TABLE1_OPS = {
    "inception_3a": 128,
    "inception_3b": 304,
    "inception_4a": 73,
    "inception_4b": 88,
    "inception_4c": 100,
    "inception_4d": 119,
    "inception_4e": 170,
    "inception_5b": 71,
}


def test_googlenet_inception_rows_match_table1_ops() -> None:
    rows = {r.name: r for r in load_spec("googlenet").rows(depth=1)}
    for name, ops in TABLE1_OPS.items():
        assert abs(rows[name].macs - ops * 1e6) / (ops * 1e6) < 0.01, name


def test_googlenet_table1_disagreements() -> None:
    """Two rows of Table 1 do not match their own layer sizes; archc keeps the sizes."""
    rows = {r.name: r for r in load_spec("googlenet").rows(depth=1)}
    assert rows["inception_5a"].macs == 51_079_168  # Table 1: 54M
    assert rows["conv1"].macs == 64 * 112 * 112 * 3 * 7 * 7 == 118_013_952  # Table 1: 34M
    assert round(rows["inception_5a"].macs / 1e6, 1) == 51.1
    assert abs(rows["inception_5a"].macs - 54e6) / 54e6 > 0.05


DOC = ROOT / "docs" / "googlenet-table1.md"
BEGIN = "<!-- BEGIN archc analyze specs/googlenet.arch --depth 1 --format markdown -->\n"
END = "<!-- END archc analyze -->"


def test_googlenet_table1_doc_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    committed, tail = rest.split(END)
    current = render(load_spec("googlenet"), "markdown", depth=1)
    if REGEN and committed != current:
        DOC.write_text(head + BEGIN + current + END + tail, encoding="utf-8")
        return
    assert committed == current, (
        "docs/googlenet-table1.md is stale: regenerate with "
        "ARCHC_REGEN_GOLDEN=1 pytest tests/test_zoo.py and review the diff"
    )
