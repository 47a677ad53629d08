"""``archc analyze``: formats, options, the JSON schema, and the import hygiene of the path."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from archc.cli import main
from tests.conftest import ROOT, SPEC_PATHS, load_spec

SCHEMA = json.loads(resources.files("archc").joinpath("schema/analysis-v2.json").read_text())


def analyze(capsys, *argv: str) -> str:
    code = main(["analyze", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return out


@pytest.mark.parametrize("path", SPEC_PATHS, ids=[p.stem for p in SPEC_PATHS])
def test_json_matches_schema_and_totals(path, capsys) -> None:
    doc = json.loads(analyze(capsys, str(path), "--format", "json"))
    jsonschema.validate(doc, SCHEMA)
    net = load_spec(path.stem)
    t = net.totals()
    assert doc["totals"]["params"] == t.params == sum(r["params"] for r in doc["layers"])
    assert doc["totals"]["macs"] == t.macs == sum(r["macs"] for r in doc["layers"])
    assert [o["shape"] for o in doc["outputs"]] == [list(s) for s in net.outputs.values()]
    depth1 = json.loads(analyze(capsys, str(path), "--format", "json", "--depth", "1"))
    jsonschema.validate(depth1, SCHEMA)
    assert sum(r["params"] for r in depth1["layers"]) == t.params
    assert sum(r["buffers"] for r in depth1["layers"]) == t.buffers


def test_table_is_aligned_with_totals(capsys) -> None:
    out = analyze(capsys, str(ROOT / "specs" / "vgg16.arch"))
    lines = out.splitlines()
    header, rule = lines[0], lines[1]
    assert header.split() == [
        "layer",
        "op",
        "output",
        "params",
        "MACs",
        "activations",
        "memory",
        "RF/jump",
    ]
    assert set(rule.replace(" ", "")) == {"-"}
    widths = {
        len(line)
        for line in lines[2:]
        if line
        and not line.startswith(("network", "params", "MACs", "weights", "activations", "outputs"))
    }
    assert max(widths) <= len(rule)
    assert "conv1_1.conv  conv 3×3, 64" in out
    assert "params      138,357,544 (138.36M), no buffers" in out
    assert "MACs        15,470,264,320 (15.47G)" in out


def test_depth_collapses_block_instances(capsys) -> None:
    out = analyze(capsys, str(ROOT / "specs" / "googlenet.arch"), "--depth", "1")
    rows = [line for line in out.splitlines() if line.startswith("inception_")]
    assert len(rows) == 9
    assert rows[0].split()[:2] == ["inception_3a", "inception(64,"]
    assert "96, 128, 16, 32, 32)" in rows[0]


def test_csv_and_markdown(capsys) -> None:
    text = analyze(capsys, str(ROOT / "specs" / "resnet50.arch"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sum(int(r["params"]) for r in rows) == 25_557_032
    assert sum(int(r["buffers"]) for r in rows) == 53_120
    md = analyze(
        capsys, str(ROOT / "specs" / "resnet50.arch"), "--format", "markdown", "--depth", "1"
    )
    assert md.startswith("### resnet50\n\n| layer | op |")
    assert "| layer1 | repeat |" in md or "| layer1 |" in md


def test_batch_and_dtype(capsys) -> None:
    doc = json.loads(
        analyze(
            capsys,
            str(ROOT / "specs" / "resnet50.arch"),
            "--format",
            "json",
            "--batch",
            "4",
            "--dtype",
            "int8",
        )
    )
    t = doc["totals"]
    assert t["macs"] == 4 * 4_089_184_256
    assert t["weight_bytes"] == 25_557_032 + 53_120
    assert (t["batch"], t["dtype"]) == (4, "int8")


def test_input_override_changes_shapes(capsys) -> None:
    doc = json.loads(
        analyze(
            capsys,
            str(ROOT / "specs" / "resnet50.arch"),
            "--format",
            "json",
            "--input",
            "image=3x320x320",
        )
    )
    assert doc["inputs"] == [{"name": "image", "shape": [3, 320, 320]}]
    assert doc["totals"]["params"] == 25_557_032  # global pooling makes the head size-agnostic
    assert doc["totals"]["macs"] > 4_089_184_256


def test_version_and_help(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("archc ")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "archc analyze specs/vgg16.arch" in out


def test_ops_lists_the_registry(capsys) -> None:
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert (
        "conv(out, kernel, stride=1, pad=0, dilation=1, groups=1, bias=true)  (also: conv2d)" in out
    )
    assert not any(line.startswith("input") for line in out.splitlines())


def test_analyze_never_imports_torch_or_onnx() -> None:
    """The analyze path stays light: no torch, onnx, onnxruntime or graphviz in sys.modules."""
    code = (
        "import sys, runpy\n"
        "sys.argv = ['archc', 'analyze', 'specs/resnet50.arch', '--format', 'json']\n"
        "from archc.cli import main\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(sys.argv[1:]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'onnx', 'onnxruntime', 'graphviz'))\n"
        "print(heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_analyze_works_when_torch_and_onnx_cannot_be_imported() -> None:
    code = (
        "import sys\n"
        "for m in ('torch', 'onnx', 'onnxruntime', 'graphviz'):\n"
        "    sys.modules[m] = None\n"
        "from archc.cli import main\n"
        "sys.exit(main(['analyze', 'specs/googlenet.arch']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "6,998,552" in proc.stdout
