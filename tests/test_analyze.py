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


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables here are compared whole: the terminal running pytest must not narrow them."""
    monkeypatch.delenv("COLUMNS", raising=False)


def analyze(capsys, *argv: str) -> str:
    code = main(["analyze", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    # nothing but the spec's warnings (SqueezeNet's first conv never sees the last row)
    assert err == "" or (": warning: " in err.splitlines()[0] and " error" not in err), err
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


def _width(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_columns_80_fits_resnet50_depth_1() -> None:
    """The acceptance check of issue 16, as a user runs it."""
    env = {**__import__("os").environ, "COLUMNS": "80"}
    proc = subprocess.run(
        [sys.executable, "-m", "archc", "analyze", "specs/resnet50.arch", "--depth", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert _width(proc.stdout) <= 80
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["layer", "op", "params", "MACs"]
    assert "layer3  6× bottleneck" in proc.stdout
    assert " 7,098,368  1,464,336,384" in proc.stdout  # numbers whole, right-aligned
    assert "stem    conv 7×7/2, 64 → batchnorm → rel…" in proc.stdout  # op elided
    assert lines[-1] == "(output, activations, RF/jump hidden to fit 80 columns; --wide shows all)"


@pytest.mark.parametrize("width", [60, 100, 120])
def test_tables_fit_the_width_they_are_given(
    width: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    for spec in ("googlenet", "inception_v3", "lenet5"):
        out = analyze(capsys, str(ROOT / "specs" / f"{spec}.arch"), "--depth", "1")
        assert _width(out) <= width, spec


def test_wide_and_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = str(ROOT / "specs" / "googlenet.arch")
    full = analyze(capsys, spec, "--depth", "1")
    monkeypatch.setenv("COLUMNS", "70")
    assert analyze(capsys, spec, "--depth", "1", "--wide") == full
    out = analyze(capsys, spec, "--columns", "layer,macs,op")
    assert out.splitlines()[0].split() == ["layer", "op", "MACs"]  # table order
    assert _width(out) <= 70
    assert "hidden" not in out  # chosen columns are never dropped
    with pytest.raises(SystemExit) as exc:
        main(["analyze", spec, "--columns", "layer,flops"])
    assert exc.value.code == 2
    assert "--columns takes a comma-separated list of layer, op" in capsys.readouterr().err


def test_colour_only_on_a_terminal_without_no_color() -> None:
    from archc.formats import color_enabled, paint, terminal_width

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert color_enabled(Tty(), {})
    assert not color_enabled(Tty(), {"NO_COLOR": "1"})
    assert not color_enabled(io.StringIO(), {})
    assert paint("x", "red") == "\x1b[31mx\x1b[0m"
    assert terminal_width(io.StringIO(), {"COLUMNS": "77"}) == 77
    assert terminal_width(io.StringIO(), {}) is None  # a pipe gets every column


def test_json_names_an_op_passed_as_an_argument() -> None:
    """A block called with an op (r3d_18's conv builder, EfficientNet's activation) shows the
    op's name in the JSON rows of collapsed scopes."""
    import json

    from archc.formats import render

    doc = json.loads(render(load_spec("r3d_18"), "json", depth=2))
    args = [row for row in doc["layers"] if row["name"] == "layer1.0"]
    assert args and "conv3x3x3" in json.dumps(args[0])
