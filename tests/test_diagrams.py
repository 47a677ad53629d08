"""Graphviz diagrams: the dot source checked structurally, rendering, options and the CLI.

The dot source is parsed by a small reader below (one statement per line, as the graphviz
package writes it) into nodes, edges and clusters.  Golden dot files for two small specs live in
``tests/golden/diagrams``; after an intended change, regenerate them with
``ARCHC_REGEN_GOLDEN=1 pytest tests/test_diagrams.py`` and review the diff.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import archc
from archc.cli import main
from archc.emit import graphviz as gv
from archc.emit.graphviz import DiagramOptions, dot_source, render
from archc.formats import op_label
from archc.ops import REGISTRY
from tests.conftest import GOOGLENET_INCEPTIONS, ROOT, SPEC_IDS, SPECS_DIR, load_spec

GOLDEN = Path(__file__).parent / "golden" / "diagrams"
REGEN = bool(os.environ.get("ARCHC_REGEN_GOLDEN"))
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")


# --------------------------------------------------------------------------- a dot reader
@dataclass
class Node:
    id: str
    label: list[str]  # the label's lines, tags stripped
    attrs: str
    clusters: tuple[str, ...]  # enclosing clusters, outermost first


@dataclass
class Dot:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (src, dst, label)
    clusters: dict[str, str] = field(default_factory=dict)  # cluster id -> its label
    rankdir: str = ""
    title: str = ""

    def in_cluster(self, cluster: str) -> list[Node]:
        return [n for n in self.nodes.values() if cluster in n.clusters]

    def into(self, node: str) -> list[str]:
        return [s for s, d, _ in self.edges if d == node]


_ID = r'"(?:[^"\\]|\\.)*"|[A-Za-z_]\w*'
_NODE = re.compile(rf"^\t+(?P<id>{_ID}) \[label=<(?P<label>.*?)> (?P<attrs>fillcolor=.*)\]$")
_EDGE = re.compile(
    rf'^\t+(?P<src>{_ID}) -> (?P<dst>{_ID})(?: \[label=(?:"(?P<label>[^"]*)"|(?P<bare>\w+))\])?$'
)
_SUB = re.compile(rf"^\t+subgraph (?P<id>{_ID}) \{{$")
_LABEL = re.compile(rf"\blabel=(?P<label>{_ID})")


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


def _lines(label: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", part)) for part in label.split("<BR/>")]


def read_dot(source: str) -> Dot:
    dot = Dot()
    stack: list[str] = []
    lines = source.splitlines()
    assert lines[0].startswith("digraph ") and lines[-1] == "}", "not one digraph"
    for line in lines[1:-1]:
        if m := _SUB.match(line):
            stack.append(_unquote(m["id"]))
        elif line.strip() == "}":
            stack.pop()
        elif m := _EDGE.match(line):
            dot.edges.append(
                (_unquote(m["src"]), _unquote(m["dst"]), m["label"] or m["bare"] or "")
            )
        elif m := _NODE.match(line):
            node_id = _unquote(m["id"])
            assert node_id not in dot.nodes, f"node {node_id} declared twice"
            dot.nodes[node_id] = Node(node_id, _lines(m["label"]), m["attrs"], tuple(stack))
        elif line.lstrip().startswith("graph [") and stack:
            label = _LABEL.search(line)
            dot.clusters[stack[-1]] = _unquote(label["label"]) if label else ""
        elif line.lstrip().startswith("graph [") and not stack:
            dot.rankdir = re.search(r"rankdir=(\w+)", line)[1]  # type: ignore[index]
            dot.title = html.unescape(re.search(r"<B>(.*?)</B>", line)[1])  # type: ignore[index]
        elif line.lstrip().startswith(("node [", "edge [")):
            continue
        else:
            raise AssertionError(f"unexpected dot line: {line!r}")
    assert not stack, "unbalanced subgraphs"
    return dot


def diagram(name: str, **options: object) -> Dot:
    """The diagram of a shipped spec; every layer, unfused, unless the options say otherwise
    (the defaults, automatic depth and fused chains, have tests of their own)."""
    options = {"depth": None, "fuse": False, **options}
    return read_dot(dot_source(load_spec(name), DiagramOptions(**options)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the op table
def test_node_styles_follow_from_traits() -> None:
    # the guard that every op has a style is in tests/test_emitter_tables.py
    group = {name: gv.op_style(name).group for name in REGISTRY}
    assert group["input"] == "input"  # an override: input has no traits
    assert group["conv"] == "convolution"  # weights + spatial
    assert group["linear"] == "linear"  # weights
    assert group["batchnorm"] == group["lrn"] == "normalization"
    assert group["relu"] == group["softmax"] == group["identity"] == "activation"
    assert group["maxpool"] == group["global_avgpool"] == "pooling"  # pool before spatial
    assert group["concat"] == group["add"] == "merge"  # merge before elementwise
    assert group["flatten"] == group["dropout"] == "reshape / dropout"  # dropout: an override
    assert gv.op_style("no_such_op") is gv.GENERIC_STYLE


def test_every_clustered_scope_kind_is_a_known_kind() -> None:
    kinds = {"block", "chain", "repeat", "iteration"}
    assert set(gv.CLUSTER_STYLE) <= kinds
    assert set(gv.SCOPE_STYLE) <= kinds


# --------------------------------------------------------------------------- structure
def test_googlenet_depth_1_has_nine_inception_nodes() -> None:
    dot = diagram("googlenet", depth=1)
    net = load_spec("googlenet")
    assert list(dot.nodes) == [r.name for r in net.rows(1)]
    inceptions = [n for n in dot.nodes.values() if n.label[1].startswith("inception(")]
    assert [n.id for n in inceptions] == GOOGLENET_INCEPTIONS
    assert inceptions[0].label == [
        "inception_3a",
        "inception(64, 96, 128, 16, 32, 32)",
        "14 layers",
        "256×28×28",
    ]
    assert dot.clusters == {}
    # a chain of nodes: each collapsed block has exactly one edge in and one out
    assert dot.into("inception_3a") == ["pool2"]
    assert ("inception_3a", "inception_3b", "256×28×28") in dot.edges
    assert len(dot.edges) == len(dot.nodes) - 1


def test_googlenet_full_depth_has_nine_clusters_of_four_branches() -> None:
    dot = diagram("googlenet")
    net = load_spec("googlenet")
    assert len(dot.nodes) == len(net.order)  # every layer, the input included
    assert len(dot.clusters) == 9
    assert dot.clusters["cluster_inception_3a"] == "inception_3a: inception"
    for cluster in dot.clusters:
        instance = cluster.removeprefix("cluster_")
        members = dot.in_cluster(cluster)
        assert len(members) == 14, instance
        concat = f"{instance}.out"
        assert dot.nodes[concat].label[:2] == ["out", "concat"]
        assert dot.into(concat) == [
            f"{instance}.b{i}.{op}" for i, op in enumerate(["relu", "relu_2", "relu_2", "relu"], 1)
        ]
        # four branches leave the block's input
        entry = [
            d
            for s, d, _ in dot.edges
            if d.startswith(instance + ".") and not s.startswith(instance + ".")
        ]
        assert sorted(entry) == [
            f"{instance}.b1.conv",
            f"{instance}.b2.conv",
            f"{instance}.b3.conv",
            f"{instance}.b4.maxpool",
        ]
    # nodes inside a block are named relative to it; the tooltip carries the full path
    node = dot.nodes["inception_3a.b2.conv_2"]
    assert node.label == ["b2.conv_2", "conv 3×3, 128", "128×28×28"]
    assert 'tooltip="inception_3a.b2.conv_2\\n' in node.attrs


def test_resnet50_clusters_repeats_and_blocks() -> None:
    dot = diagram("resnet50")
    net = load_spec("resnet50")
    assert len(dot.nodes) == len(net.order)
    blocks = [c for c in dot.clusters if dot.clusters[c].endswith(": bottleneck")]
    repeats = [c for c in dot.clusters if c not in blocks]
    assert len(blocks) == 3 + 4 + 6 + 3
    assert repeats == ["cluster_layer1", "cluster_layer2", "cluster_layer3", "cluster_layer4"]
    assert dot.clusters["cluster_layer2.0"] == "layer2.0: bottleneck"
    first = dot.nodes["layer1.0.y.conv1"]
    assert first.clusters == ("cluster_layer1", "cluster_layer1.0")
    assert first.label == ["y.conv1", "conv 1×1, 64", "64×56×56"]
    # residual merge: two inputs, the main path and the projection shortcut
    assert dot.into("layer1.0.out.add") == ["layer1.0.y.bn3", "layer1.0.shortcut.bn"]
    assert dot.nodes["logits.fc"].label[-1] == "output logits"


def test_resnet50_depth_2_collapses_each_bottleneck() -> None:
    dot = diagram("resnet50", depth=2)
    blocks = [n for n in dot.nodes.values() if n.label[1].startswith("bottleneck(")]
    assert len(blocks) == 16
    assert dot.nodes["layer1.0"].label == [
        "layer1.0",
        "bottleneck(64, 1, true)",
        "12 layers",
        "256×56×56",
    ]
    assert dot.nodes["layer1.0"].clusters == ("cluster_layer1",)
    assert set(dot.clusters) == {f"cluster_layer{i}" for i in range(1, 5)}
    # collapsed blocks are chained; the stem's output feeds layer1.0 once, not twice
    assert dot.into("layer1.0") == ["stem.maxpool"]
    assert dot.into("layer1.1") == ["layer1.0"]


def test_resnet50_depth_1_collapses_the_stages() -> None:
    dot = diagram("resnet50", depth=1)
    assert list(dot.nodes) == [
        "image",
        "stem",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "pool",
        "logits",
    ]
    layer3 = next(r for r in load_spec("resnet50").rows(1) if r.name == "layer3")
    assert dot.nodes["layer3"].label[1:3] == [op_label(layer3), "62 layers"]
    assert dot.clusters == {}


def test_vgg16_labels_and_edge_shapes() -> None:
    dot = diagram("vgg16")
    assert len(dot.nodes) == 40 and dot.clusters == {}
    assert dot.nodes["conv1_1.conv"].label == ["conv1_1.conv", "conv 3×3, 64", "64×224×224"]
    assert dot.nodes["conv1_1.relu"].label == ["conv1_1.relu", "64×224×224"]  # no "relu" twice
    assert dot.nodes["pool1"].label == ["pool1", "maxpool 2×2/2", "64×112×112"]
    assert dot.nodes["fc6.linear"].label == ["fc6.linear", "linear 4096", "4096"]
    assert ("image", "conv1_1.conv", "3×224×224") in dot.edges
    assert ("pool5", "fc6.flatten", "512×7×7") in dot.edges
    assert dot.title == "vgg16: 138.36M params, 15.47G MACs, 39 layers"
    assert dot.rankdir == "TB"


def test_show_adds_numbers_with_their_share() -> None:
    dot = diagram("vgg16", show=("params", "macs", "memory"))
    assert dot.nodes["fc6.linear"].label[3:] == [
        "params 102.76M · 74.3%",
        "MACs 102.76M · 0.7%",
        "memory 16.00 KiB · 0.0%",
    ]
    assert dot.nodes["conv1_1.relu"].label[2:] == ["params 0", "MACs 0", "memory 0 B"]


@pytest.mark.parametrize("metric", ["params", "macs", "memory"])
def test_color_by_shades_by_share_with_a_legend(metric: str) -> None:
    net = load_spec("vgg16")
    source = dot_source(net, DiagramOptions(color_by=metric, depth=None, fuse=False))
    dot = read_dot(source)
    values = {r.name: gv.METRICS[metric].value(r) for r in net.rows()}
    top = max(values, key=values.__getitem__)
    assert f'fillcolor="{gv.RAMP[-1]}"' in dot.nodes[top].attrs
    assert 'fontcolor="#ffffff"' in dot.nodes[top].attrs
    for name, value in values.items():
        if value == 0:
            assert f'fillcolor="{gv.ZERO_FILL}"' in dot.nodes[name].attrs, name
    assert f"share of {gv.METRICS[metric].title} (log scale):" in source
    assert all(colour in source for colour in gv.RAMP)
    # the shaded metric is shown on every node, even without --show
    assert dot.nodes[top].label[-1].startswith(gv.METRICS[metric].title + " ")


def test_color_by_op_legend_lists_the_groups_in_use() -> None:
    source = dot_source(load_spec("lenet5"), DiagramOptions(depth=None, fuse=False))
    legend = re.findall(r'<TD ALIGN="LEFT">([^<]+)</TD>', source)
    assert legend == [
        "input",
        "convolution",
        "activation",
        "pooling",
        "reshape / dropout",
        "linear",
    ]


# --------------------------------------------------------------------------- the defaults
#: what issue 16 asks of the default diagram ("at most ~60 nodes")
MAX_DEFAULT_NODES = 60


def test_default_diagram_of_every_spec_is_small() -> None:
    """Every shipped spec's default diagram (automatic depth, fused chains) has at most 60
    nodes; the ones that fit at full depth are drawn at full depth."""
    sizes = {}
    for spec in SPEC_IDS:
        net = load_spec(spec)
        dot = read_dot(dot_source(net))
        sizes[spec] = len(dot.nodes)
        assert len(dot.nodes) <= MAX_DEFAULT_NODES, spec
        if gv.resolve_depth(net, DiagramOptions()) is not None:  # collapsed: nothing fitted
            assert len(gv.groups(net, None, DiagramOptions())) > MAX_DEFAULT_NODES
    assert max(sizes.values()) >= 50  # the limit is used, not undershot
    assert sizes["vgg16"] == 25 and sizes["resnet34"] == 57  # full depth, fused


def test_fused_chain_nodes_list_their_ops() -> None:
    dot = diagram("vgg16_bn", fuse=True)
    node = dot.nodes["conv1_1.conv"]
    assert node.label[:2] == ["conv1_1", "conv 3×3, 64 → batchnorm → relu"]
    assert "conv1_1.bn" not in dot.nodes and "conv1_1.relu" not in dot.nodes
    # a residual add and its relu fuse too; the branch point (one tensor, two readers) does not
    net = load_spec("resnet18")
    dot = read_dot(dot_source(net, DiagramOptions(depth=None)))
    assert dot.nodes["layer1.0.out.add"].label[1] == "add → relu"
    assert "stem.relu" not in dot.nodes  # conv → batchnorm → relu, the maxpool after it
    edges_into_add = dot.into("layer1.0.out.add")
    assert len(edges_into_add) == 2


def test_edge_labels_only_where_the_shape_changes() -> None:
    dot = diagram("vgg16", fuse=True)
    labels = {(s, d): label for s, d, label in dot.edges}
    assert labels[("conv1_1.conv", "conv1_2.conv")] == ""  # 64×224×224 both sides
    assert labels[("conv1_2.conv", "pool1")] == "64×224×224"  # pooled to 64×112×112
    assert labels[("pool1", "conv2_1.conv")] == "64×112×112"  # 64 -> 128 channels


def test_log_scale_shading() -> None:
    """fc7 (12% of VGG-16's params) shares fc6's colour (74%); conv1_1 (0.001%) does not."""
    dot = diagram("vgg16", color_by="params")
    fill = {k: re.search(r'fillcolor="([^"]+)"', n.attrs)[1] for k, n in dot.nodes.items()}  # type: ignore[index]
    assert fill["fc6.linear"] == fill["fc7.linear"] == gv.RAMP[-1]
    assert fill["conv1_1.conv"] == gv.RAMP[0]
    assert fill["conv5_1.conv"] == gv.RAMP[-2]  # 1.7% of 138M: within 100x of fc6


def test_dpi_and_marks() -> None:
    net = load_spec("lenet5")
    source = dot_source(
        net,
        DiagramOptions(dpi=200, marks=(("c1.tanh", "#00ff00"),), legend=(("#00ff00", "added"),)),
    )
    assert "dpi=200" in source
    dot = read_dot(source)
    assert 'fillcolor="#00ff00"' in dot.nodes["c1.conv"].attrs
    assert ">added<" in source


@needs_dot
def test_graphviz_warnings_are_surfaced() -> None:
    with pytest.warns(gv.GraphvizWarning, match="nosuchcolour"):
        gv.render_source('digraph { a [color="nosuchcolour"] }', "svg")


def test_cli_says_what_the_automatic_depth_collapsed(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS_DIR / "resnet50.arch")
    code, out, err = run_cli(["emit", spec, "--target", "dot"], capsys)
    assert code == 0
    assert err == (
        "archc: diagram of resnet50 collapsed to --depth 3 (175 layers in 42 nodes, at most 60);"
        " --depth all draws every layer\n"
    )
    assert len(read_dot(out).nodes) == 42
    code, out, err = run_cli(["emit", spec, "--target", "dot", "--depth", "all"], capsys)
    assert code == 0 and err == ""
    assert len(read_dot(out).nodes) == 74  # every layer, fused
    code, out, err = run_cli(
        ["emit", spec, "--target", "dot", "--depth", "all", "--no-fuse"], capsys
    )
    assert len(read_dot(out).nodes) == len(load_spec("resnet50").order)


def test_cli_reports_progress_on_slow_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    from archc.cli import emit as emit_cli

    monkeypatch.setattr(emit_cli, "PROGRESS_AFTER", 0.05)
    net = load_spec("lenet5")

    def slow() -> bytes:
        time.sleep(0.2)
        return b"x"

    assert emit_cli.diagram_work(net, DiagramOptions(), slow) == b"x"
    err = capsys.readouterr().err
    assert "archc: drawing lenet5... " in err
    assert re.search(r"archc: drew lenet5 in 0\.\d s", err)


def test_rankdir() -> None:
    assert diagram("lenet5", rankdir="LR").rankdir == "LR"


def test_multiple_outputs_are_marked() -> None:
    net = load_spec("googlenet_aux")
    dot = read_dot(dot_source(net))
    marked = [n.label[-1] for n in dot.nodes.values() if n.label[-1].startswith("output ")]
    assert sorted(marked) == sorted(f"output {name}" for name in net.outputs)


@pytest.mark.parametrize("spec", SPEC_IDS)
def test_dot_source_structure_for_every_spec(spec: str) -> None:
    net = load_spec(spec)
    for depth in (None, 1):
        dot = read_dot(dot_source(net, DiagramOptions(depth=depth, fuse=False)))
        rows = net.rows(depth)
        assert list(dot.nodes) == [r.name for r in rows]
        nodes = set(dot.nodes)
        assert all(s in nodes and d in nodes for s, d, _ in dot.edges)
        assert len(set(dot.edges)) == len(dot.edges)
        if depth is None:  # one edge per tensor use
            assert len(dot.edges) == sum(len(set(net.layer(n).inputs)) for n in net.order)
            blocks = [p for p, s in net.scopes.items() if s.kind == "block"]
            block_clusters = [c for c, label in dot.clusters.items() if ": " in label]
            assert len(block_clusters) == len(blocks)


# --------------------------------------------------------------------------- determinism
DETERMINISM_SPECS = ("googlenet", "resnet50", "inception_v3")


def test_dot_source_is_deterministic_across_processes() -> None:
    code = (
        "import archc, sys; from archc.emit.graphviz import dot_source, DiagramOptions\n"
        f"for spec in {DETERMINISM_SPECS!r}:\n"
        f"    net = archc.load({str(SPECS_DIR)!r} + '/' + spec + '.arch')\n"
        "    sys.stdout.write(dot_source(net))\n"
        "    sys.stdout.write(dot_source(net, DiagramOptions(depth=2, color_by='macs',"
        " show=('params',))))\n"
    )
    outputs = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, env=env, check=True, cwd=ROOT
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    for spec in DETERMINISM_SPECS:
        net = load_spec(spec)
        assert dot_source(net) == dot_source(net)
        assert dot_source(net).encode("utf-8") in next(iter(outputs))


GOLDEN_CASES = {
    "mini": DiagramOptions(show=("params", "macs")),
    "mini.depth1": DiagramOptions(depth=1),
    "mini.depth2": DiagramOptions(depth=2, rankdir="LR", color_by="macs"),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_dot(case: str) -> None:
    """Byte-for-byte dot source of tests/golden/diagrams/mini.arch (independent of specs/)."""
    source = dot_source(archc.load(GOLDEN / "mini.arch"), GOLDEN_CASES[case])
    path = GOLDEN / f"{case}.dot"
    if REGEN:
        path.write_text(source, encoding="utf-8")
    assert source == path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- rendering
def _check_svg(data: bytes, net_rows: int) -> None:
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    nodes = root.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")
    assert len(nodes) == net_rows


@needs_dot
@pytest.mark.parametrize("spec", SPEC_IDS)
def test_svg_renders_for_every_spec(spec: str) -> None:
    net = load_spec(spec)
    options = DiagramOptions()
    _check_svg(render(net, "svg"), len(gv.groups(net, gv.resolve_depth(net, options), options)))


#: png and pdf for every spec: a few seconds in all, dot is fast on these sizes
@needs_dot
@pytest.mark.parametrize(
    "fmt, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-")], ids=["png", "pdf"]
)
@pytest.mark.parametrize("spec", SPEC_IDS)
def test_png_and_pdf_render_for_every_spec(spec: str, fmt: str, magic: bytes) -> None:
    data = render(load_spec(spec), fmt, DiagramOptions(depth=2))
    assert data.startswith(magic)
    assert len(data) > 1000


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_full_depth_large_network_renders(fmt: str) -> None:
    options = DiagramOptions(color_by="macs", depth=None)
    data = render(load_spec("inception_v3_aux"), fmt, options)
    assert len(data) > 10_000


# --------------------------------------------------------------------------- CLI
def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_dot_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS_DIR / "lenet5.arch")
    code, out, err = run_cli(["emit", spec, "--target", "dot", "--depth", "1"], capsys)
    assert code == 0, err
    assert out == dot_source(load_spec("lenet5"), DiagramOptions(depth=1))


@needs_dot
@pytest.mark.parametrize("fmt", ["dot", "svg", "png", "pdf"])
def test_cli_writes_file(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / f"net.{fmt}"
    argv = ["emit", str(SPECS_DIR / "googlenet.arch"), "--target", fmt, "-o", str(out_file)]
    argv += ["--depth", "1", "--rankdir", "LR", "--color-by", "params", "--show", "macs"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out == "" and err == ""
    data = out_file.read_bytes()
    expected = render(
        load_spec("googlenet"),
        fmt,
        DiagramOptions(depth=1, rankdir="LR", color_by="params", show=("macs",)),
    )
    if fmt in ("dot", "svg"):
        assert data == expected
    else:
        assert data[:4] == expected[:4]


@needs_dot
def test_cli_binary_to_redirected_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code = main(["emit", str(SPECS_DIR / "lenet5.arch"), "--target", "png"])
    out, _ = capsysbinary.readouterr()
    assert code == 0
    assert out.startswith(b"\x89PNG")


def test_cli_missing_dot_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    out_file = tmp_path / "x.svg"
    code, out, err = run_cli(
        ["emit", str(SPECS_DIR / "lenet5.arch"), "--target", "svg", "-o", str(out_file)], capsys
    )
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("missing dependency: svg output needs Graphviz's 'dot' program")
    assert "apt-get install graphviz" in err
    assert not out_file.exists()
    # the dot source itself needs no binary
    code, out, err = run_cli(["emit", str(SPECS_DIR / "lenet5.arch"), "--target", "dot"], capsys)
    assert code == 0 and out.startswith("digraph lenet5 {")


def test_missing_graphviz_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from archc.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'archc\[graphviz\]'"):
        dot_source(load_spec("lenet5"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--show", "flops"], "--show takes a comma-separated list of params, macs, memory"),
        (["--rankdir", "BT"], "invalid choice"),
        (["--color-by", "size"], "invalid choice"),
        (["--depth", "0"], "expected a number >= 1"),
    ],
)
def test_cli_bad_options(extra: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emit", str(SPECS_DIR / "lenet5.arch"), "--target", "dot", *extra])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_graphviz_is_imported_lazily() -> None:
    code = (
        "import sys, archc.cli, archc.emit.graphviz; archc.cli.build_parser();"
        "assert 'graphviz' not in sys.modules, 'graphviz imported at start-up'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --------------------------------------------------------------------------- the gallery
def _gallery_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gallery", ROOT / "scripts" / "gallery.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gallery_lists_every_spec() -> None:
    """docs/gallery.md and docs/gallery/*.svg are in step with specs/ (run scripts/gallery.py)."""
    gallery = _gallery_module()
    paths = gallery.spec_paths()
    assert [p.stem for p in paths] == SPEC_IDS
    page = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    for stem in SPEC_IDS:
        assert f"![{stem}](gallery/{stem}.svg)" in page, f"{stem} missing: run scripts/gallery.py"
    assert gallery.check(paths) == [], "docs/gallery is stale: run python scripts/gallery.py"


def test_gallery_depth_keeps_diagrams_readable() -> None:
    gallery = _gallery_module()
    assert gallery.pick_depth(load_spec("vgg16")) is None
    for spec in ("googlenet", "resnet152", "inception_v3"):
        net = load_spec(spec)
        depth = gallery.pick_depth(net)
        assert depth is not None and gallery.node_count(net) <= gallery.MAX_NODES == 60


def test_automatic_depth_of_a_flat_network_says_nothing_fits(tmp_path: Path) -> None:
    lines = [f"    c{i} = conv(8, 3, pad=1) -> relu" for i in range(70)]
    spec = tmp_path / "flat.arch"
    spec.write_text(
        "network flat {\n    input image: 3x8x8\n"
        + "\n".join(lines)
        + "\n    output logits = global_avgpool -> flatten -> linear(10)\n}\n",
        encoding="utf-8",
    )
    net = archc.load(spec)
    assert gv.resolve_depth(net, DiagramOptions()) == 1
    assert gv.collapse_note(net, DiagramOptions()) == (
        "diagram of flat collapsed to --depth 1 (143 layers in 72 nodes, no depth fits in 60);"
        " --depth all draws every layer"
    )
