"""Graphviz diagrams of a network: ``archc emit --target dot|svg|png|pdf``.

The diagram is built with the ``graphviz`` Python package and, for every format but ``dot``,
rendered by Graphviz's ``dot`` program.  There is one node per row of :meth:`Network.rows`: a
layer at full depth, a whole scope once ``--depth`` collapses it.  Block instances (and repeats)
that stay open are clusters labelled with their instance name; a node inside a cluster is named
relative to it.

How a node looks follows from its op's traits (:data:`STYLES`: a fill colour and legend group
per trait, the first of an op's traits in that order wins, and an op may name another style with
``Op.diagram_style``), plus a table keyed by scope kind for collapsed scopes
(:data:`SCOPE_STYLE`); the text of a node comes from ``Op.summary()`` through the analysis rows,
so nothing here compares op names and a new op needs no entry here.  The dot
source is deterministic: nodes, clusters and edges are written in evaluation order.
"""

from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from archc.analysis import Network, Row, Totals
from archc.errors import EmitError, MissingDependencyError, UsageError
from archc.formats import op_label
from archc.ir import G_OUTPUTS
from archc.ops import REGISTRY, Op, dims
from archc.source import visible
from archc.units import DTYPE_BYTES, human_bytes, human_count

if TYPE_CHECKING:  # pragma: no cover
    import graphviz

FORMATS = ("dot", "svg", "png", "pdf")
BINARY_FORMATS = frozenset({"png", "pdf"})
RANKDIRS = ("TB", "LR")
FONT = "Helvetica,Arial,sans-serif"


# --------------------------------------------------------------------------- style tables
@dataclass(frozen=True)
class NodeStyle:
    """How one kind of node is drawn: its fill colour and the legend group it belongs to."""

    fill: str
    group: str
    shape: str = "box"
    style: str = "rounded,filled"


_CONV = NodeStyle("#cfe2f3", "convolution")
_DENSE = NodeStyle("#d9d2e9", "linear")
_NORM = NodeStyle("#fff2cc", "normalization")
_ACT = NodeStyle("#d9ead3", "activation")
_POOL = NodeStyle("#fce5cd", "pooling")
_MERGE = NodeStyle("#f4cccc", "merge")
_SHAPE = NodeStyle("#eeeeee", "reshape / dropout")
_INPUT = NodeStyle("#ffffff", "input", style="rounded,filled,bold")
_ATTENTION = NodeStyle("#b4a7d6", "attention")

#: style name -> style.  The names are traits (``archc.ops.TRAITS``), most telling first: an op
#: is drawn with the style of the first of its traits listed here, unless its
#: ``Op.diagram_style`` names one (``input``, which has no traits; ``view`` for dropout).
STYLES: dict[str, NodeStyle] = {
    "input": _INPUT,
    "attention": _ATTENTION,  # no trait: attention ops name it as their diagram_style
    "merge": _MERGE,
    "pool": _POOL,
    "normalization": _NORM,
    "activation": _ACT,
    "spatial": _CONV,  # a sliding window with weights (pools matched first)
    "weights": _DENSE,
    "view": _SHAPE,
    "elementwise": _ACT,
}
#: an op none of whose traits has a style
GENERIC_STYLE = NodeStyle("#ffffff", "other")


def style_name(op: Op) -> str | None:
    """The :data:`STYLES` key an op is drawn with: its override, else its first styled trait."""
    if op.diagram_style is not None:
        return op.diagram_style
    return next((name for name in STYLES if name in op.traits), None)


def op_style(op_name: str) -> NodeStyle:
    """How a layer of the op called ``op_name`` is drawn."""
    op = REGISTRY.get(op_name)
    name = style_name(op) if op is not None else None
    return STYLES[name] if name is not None else GENERIC_STYLE


#: a collapsed scope, by scope kind; a collapsed chain is drawn as its main op instead
SCOPE_STYLE: dict[str, NodeStyle] = {
    "block": NodeStyle("#d0e0e3", "block instance", style="filled,bold"),
    "repeat": NodeStyle("#cfd8dc", "repeat", style="filled,bold,dashed"),
    "iteration": NodeStyle("#cfd8dc", "repeat", style="filled,bold,dashed"),
}


@dataclass(frozen=True)
class ClusterStyle:
    """How an open scope of one kind is drawn as a cluster."""

    style: str
    color: str
    fill: str
    #: whether nodes inside are named relative to it ("b1.conv" in "inception_3a")
    relative_names: bool


#: scope kinds drawn as clusters while they stay open; other kinds (chains) are not clusters
CLUSTER_STYLE: dict[str, ClusterStyle] = {
    "block": ClusterStyle("rounded,filled", "#8e7cc3", "#f7f4fb", relative_names=True),
    "repeat": ClusterStyle("rounded,dashed", "#6d9eeb", "#ffffff", relative_names=False),
}


def _activation_bytes(n: int, t: Totals) -> str:
    return human_bytes(n * DTYPE_BYTES[t.dtype] * t.batch)


@dataclass(frozen=True)
class Metric:
    """A per-row quantity a diagram can show (``--show``) and shade by (``--color-by``)."""

    title: str
    value: Callable[[Row], int]
    text: Callable[[int, Totals], str]


METRICS: dict[str, Metric] = {
    "params": Metric("params", lambda r: r.params, lambda n, t: human_count(n)),
    "macs": Metric("MACs", lambda r: r.macs, lambda n, t: human_count(n)),
    "memory": Metric("memory", lambda r: r.activation_elements, _activation_bytes),
}
COLOR_BY = ("op", *METRICS)
#: ``DiagramOptions.depth``: pick the deepest depth that keeps the diagram readable
AUTO = "auto"

#: light to dark (ColorBrewer YlOrRd); a node with none of the metric stays white.  The steps are
#: decades below the largest node (log scale): the darkest holds nodes within 10x of it, the
#: lightest everything under 1/10,000 of it
RAMP = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
DARK_FROM = 3  # ramp steps from here on get white text
ZERO_FILL = "#ffffff"
LEGEND_COLUMNS = 4


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class DiagramOptions:
    """What to draw: collapse depth, direction, shading and the extra numbers on each node."""

    depth: int | str | None = "auto"  # None: every layer; AUTO: at most max_nodes nodes
    rankdir: str = "TB"
    color_by: str = "op"
    show: tuple[str, ...] = ()
    batch: int = 1
    dtype: str = "float32"
    format: str = "dot"  # what emit() renders: one of FORMATS
    #: with ``depth=AUTO``: the deepest depth whose diagram has at most this many nodes
    max_nodes: int = 60
    #: draw a layer and the normalizations and activations that follow it alone as one node
    fuse: bool = True
    #: with ``depth=AUTO``: each iteration of a repeat of :data:`LONG_REPEAT` or more as one
    #: node (off where diagrams must share one depth: ``archc diff``'s two sides)
    collapse_repeats: bool = True
    #: PNG resolution (dots per inch; Graphviz's default is 96)
    dpi: int | None = None
    #: (row name, fill colour) pairs that override the shading (``archc diff --format html``)
    marks: tuple[tuple[str, str], ...] = ()
    #: (colour, meaning) pairs: the legend, when ``marks`` colour the nodes
    legend: tuple[tuple[str, str], ...] = ()


def parse_show(text: str) -> tuple[str, ...]:
    """``"params,macs"`` -> ("params", "macs"), in the order given, duplicates dropped.

    Raises :class:`ValueError` naming the metrics a diagram can show."""
    items: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if name not in METRICS:
            raise ValueError(
                f"--show takes a comma-separated list of {', '.join(METRICS)}; got {part!r}"
            )
        if name not in items:
            items.append(name)
    return tuple(items)


# --------------------------------------------------------------------------- layout model
@dataclass
class _Cluster:
    path: str
    kind: str
    members: list[str] = field(default_factory=list)  # node keys and child clusters, in order


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _scope_kind(net: Network, path: str) -> str:
    scope = net.scopes.get(path)
    return scope.kind if scope is not None else "chain"


def _style_of(net: Network, row: Row) -> NodeStyle:
    if row.name not in net.graph:  # a collapsed scope
        kind = _scope_kind(net, row.name)
        if kind in SCOPE_STYLE:
            return SCOPE_STYLE[kind]
    return op_style(row.op)


def _dedupe_groups(styles: Sequence[NodeStyle]) -> list[NodeStyle]:
    out: list[NodeStyle] = []
    for s in styles:
        if all(s.group != o.group for o in out):
            out.append(s)
    return out


class _Shading:
    """Maps a row to its fill (and font colour) under ``--color-by``, and says so in a legend."""

    def __init__(self, net: Network, rows: Sequence[Row], color_by: str) -> None:
        self.net = net
        self.metric = METRICS.get(color_by)
        values = [self.metric.value(r) for r in rows] if self.metric else []
        self.total = sum(values)
        self.top = max(values, default=0)
        self.groups = _dedupe_groups([_style_of(net, r) for r in rows])

    def step(self, row: Row) -> int | None:
        """The ramp index for a row: how many decades below the largest its value is (log
        scale, so 12% and 74% share a colour and 0.01% does not), None for zero."""
        assert self.metric is not None
        value = self.metric.value(row)
        if value <= 0 or self.top <= 0:
            return None
        decades = math.floor(math.log10(self.top / value) + 1e-9)
        return max(0, len(RAMP) - 1 - decades)

    def fill(self, row: Row) -> tuple[str, str]:
        """(fill colour, font colour)."""
        if self.metric is None:
            return _style_of(self.net, row).fill, "#000000"
        step = self.step(row)
        if step is None:
            return ZERO_FILL, "#000000"
        return RAMP[step], "#ffffff" if step >= DARK_FROM else "#000000"

    def legend(self) -> tuple[str, list[tuple[str, str]]]:
        """The legend's title and its (colour, meaning) entries."""
        if self.metric is None:
            return "op", [(s.fill, s.group) for s in self.groups]
        entries = [(ZERO_FILL, "none")]
        n = len(RAMP)
        top = 100 * self.top / self.total if self.total else 0.0
        for i, colour in enumerate(RAMP):
            hi = top / 10 ** (n - 1 - i)
            text = f"≤{_pct(hi)}" if i == 0 else f"{_pct(hi / 10)}–{_pct(hi)}"
            entries.append((colour, text))
        return f"share of {self.metric.title} (log scale)", entries


def _pct(value: float) -> str:
    """A legend bound in percent, with as many decimals as a small one needs."""
    if value >= 10:
        return f"{value:.0f}%"
    decimals = min(6, 1 - math.floor(math.log10(value))) if value > 0 else 1
    return f"{value:.{decimals}f}%"


# --------------------------------------------------------------------------- labels
def _esc(text: str) -> str:
    # control characters from a spec's strings as visible symbols: dot rejects them in labels
    return html.escape(visible(text), quote=True)


def _wrap(text: str, width: int = 38) -> list[str]:
    """Split a long ``a → b → c`` chain description into lines at the arrows."""
    lines: list[str] = []
    for piece in text.split(" → "):
        if lines and len(lines[-1]) + 3 + len(piece) <= width:
            lines[-1] += " → " + piece
        else:
            lines.append("→ " + piece if lines else piece)
    return lines


def _graph_label(title: str, legend_title: str, entries: list[tuple[str, str]]) -> str:
    """The title over the diagram with the colour legend under it (an HTML-like label)."""
    span = 2 * LEGEND_COLUMNS + 1
    rows = [
        f'<TR><TD COLSPAN="{span}" ALIGN="LEFT"><FONT POINT-SIZE="14"><B>{_esc(title)}</B>'
        "</FONT></TD></TR>"
    ]
    for start in range(0, len(entries), LEGEND_COLUMNS):
        head = f"{_esc(legend_title)}:" if start == 0 else ""
        cells = [f'<TD ALIGN="RIGHT">{head}</TD>']
        for colour, text in entries[start : start + LEGEND_COLUMNS]:
            cells.append(f'<TD BGCOLOR="{colour}" BORDER="1" WIDTH="14"> </TD>')
            cells.append(f'<TD ALIGN="LEFT">{_esc(text)}</TD>')
        rows.append("<TR>" + "".join(cells) + "</TR>")
    table = "".join(rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">{table}</TABLE>>'


def _display_name(path: str, base: str | None) -> str:
    """A name as drawn: relative to the block cluster it sits in (whose label says the rest)."""
    return path[len(base) + 1 :] if base else path


def _share(value: int, total: int) -> str:
    return f" · {100 * value / total:.1f}%" if total > 0 and value > 0 else ""


def _node_label(
    row: Row,
    name: str,
    options: DiagramOptions,
    totals: Totals,
    metric_totals: dict[str, int],
    output: str | None,
    fused: bool = False,
) -> str:
    small = '<FONT POINT-SIZE="9">{}</FONT>'
    lines = [f"<B>{_esc(name)}</B>"]
    op_text = op_label(row)
    local = name.rsplit(".", 1)[-1]
    # "b1.relu" needs no second line saying "relu"
    if row.layers > 1 or not re.fullmatch(rf"{re.escape(op_text)}(_\d+)?", local):
        lines.extend(_esc(text) for text in _wrap(op_text))
    if row.layers > 1 and not fused:
        lines.append(small.format(f"{row.layers} layers"))
    lines.append(small.format(_esc(dims(row.shape))))
    shown = list(options.show)
    if options.color_by in METRICS and options.color_by not in shown:
        shown.append(options.color_by)
    for key in shown:
        metric = METRICS[key]
        value = metric.value(row)
        text = f"{metric.title} {metric.text(value, totals)}{_share(value, metric_totals[key])}"
        lines.append(small.format(_esc(text)))
    if output is not None:
        lines.append(f"<I>output {_esc(output)}</I>")
    return "<" + "<BR/>".join(lines) + ">"


def _spec_line(net: Network, row: Row) -> str:
    """``spec line 17``, or ``spec lib/resnet.arch:17`` for a line of an included file."""
    if row.name in net.graph:
        span = net.layer(row.name).span
    elif row.name in net.scopes:
        span = net.scopes[row.name].span
    else:
        return f"spec line {row.line}"
    if span.file == net.file:
        return f"spec line {span.line}"
    base = PurePosixPath(Path(net.file).parent.as_posix())
    path = PurePosixPath(Path(span.file).as_posix())
    name = str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
    return f"spec {name}:{span.line}"


def _tooltip(row: Row, totals: Totals, where: str = "") -> str:
    parts = [
        row.name,
        op_label(row),
        dims(row.shape),
        f"params {row.params:,}, MACs {row.macs:,}",
        f"memory {_activation_bytes(row.activation_elements, totals)}",
        where or f"spec line {row.line}",
    ]
    return "\\n".join(visible(p) for p in parts)  # dot's escString newline


def _cluster_label(net: Network, cluster: _Cluster) -> str:
    block = net.scopes[cluster.path].block
    return f"{cluster.path}: {block}" if block else cluster.path


# --------------------------------------------------------------------------- what is drawn
#: a layer with one of these traits joins the node of the layer it follows (conv → bn → relu)
FUSE_TRAITS = frozenset({"normalization", "activation"})


@dataclass(frozen=True)
class Group:
    """One drawn node: an analysis row, or a row and the normalizations and activations fused
    into it (``members`` are the rows' names, the first is the node's key)."""

    row: Row
    members: tuple[str, ...]

    @property
    def fused(self) -> bool:
        return len(self.members) > 1


def _joins(net: Network, prev: Row, row: Row, outputs: set[str]) -> bool:
    """Whether ``row`` fuses into the node that ends with ``prev``: a single normalization or
    activation layer whose one input is ``prev``'s layer, which nothing else reads."""
    if row.layers != 1 or prev.name not in net.graph or row.name not in net.graph:
        return False
    layer = net.layer(row.name)
    op = REGISTRY[layer.op]
    return (
        bool(op.traits & FUSE_TRAITS)
        and layer.inputs == (prev.name,)
        and net.graph.out_degree(prev.name) == 1
        and prev.name not in outputs
        and net.layer(prev.name).op != "input"
        and prev.name.rpartition(".")[0] == row.name.rpartition(".")[0]
    )


def _merge(rows: list[Row]) -> Row:
    head, tail = rows[0], rows[-1]
    return replace(
        head,
        detail=" → ".join(op_label(r) for r in rows),
        shape=tail.shape,
        params=sum(r.params for r in rows),
        buffers=sum(r.buffers for r in rows),
        macs=sum(r.macs for r in rows),
        flops=sum(r.flops for r in rows),
        out_elements=tail.out_elements,
        activation_elements=sum(r.activation_elements for r in rows),
        rf=tail.rf,
        layers=sum(r.layers for r in rows),
        moved_elements=sum(r.moved_elements for r in rows),
    )


#: a repeat of at least this many iterations draws each iteration as one node by default: a
#: stack of twelve identical transformer blocks (ViT-B) or 36 bottlenecks (ResNet-152's layer3)
#: reads as a column of blocks, the first of which ``--depth all`` opens
LONG_REPEAT = 8


def long_repeat_iterations(net: Network) -> frozenset[str]:
    """The scopes of the iterations of every repeat with :data:`LONG_REPEAT` or more."""
    found: set[str] = set()
    for path, scope in net.scopes.items():
        if scope.kind != "repeat":
            continue
        inner = [
            p for p in net.scopes if p.startswith(path + ".") and "." not in p[len(path) + 1 :]
        ]
        if len(inner) >= LONG_REPEAT:
            found.update(inner)
    return frozenset(found)


def groups(net: Network, depth: int | None, options: DiagramOptions) -> list[Group]:
    """The nodes of the diagram at ``depth``, fused as ``options.fuse`` says; by default
    (``depth=AUTO``) the iterations of long repeats are one node each."""
    auto = options.depth == AUTO and options.collapse_repeats
    collapse = long_repeat_iterations(net) if auto else frozenset()
    rows = net.rows(depth, options.batch, collapse)
    if not options.fuse:
        return [Group(r, (r.name,)) for r in rows]
    outputs = set(net.graph.graph[G_OUTPUTS].values())
    runs: list[list[Row]] = []
    for row in rows:
        if runs and _joins(net, runs[-1][-1], row, outputs):
            runs[-1].append(row)
        else:
            runs.append([row])
    return [
        Group(_merge(run) if len(run) > 1 else run[0], tuple(r.name for r in run)) for run in runs
    ]


def resolve_depth(net: Network, options: DiagramOptions) -> int | None:
    """The depth drawn: ``options.depth``, or for :data:`AUTO` every layer when that fits in
    ``max_nodes`` nodes, else the deepest depth that does (1 when none does)."""
    if options.depth != AUTO:
        return options.depth if isinstance(options.depth, int) else None
    deepest = max(len(node.split(".")) for node in net.order)
    for depth in (None, *range(deepest - 1, 0, -1)):
        if len(groups(net, depth, options)) <= options.max_nodes:
            return depth
    return 1


def collapse_note(net: Network, options: DiagramOptions) -> str | None:
    """What the automatic depth collapsed, for standard error; None when nothing was."""
    if options.depth != AUTO:
        return None
    depth = resolve_depth(net, options)
    if depth is None:
        repeated = long_repeat_iterations(net) if options.collapse_repeats else frozenset()
        if not repeated:
            return None
        return (
            f"diagram of {net.name}: the {len(repeated)} iterations of repeats of "
            f"{LONG_REPEAT} or more drawn as one node each; --depth all draws every layer"
        )
    nodes = len(groups(net, depth, options))
    layers = net.totals().layers
    limit = (
        f"at most {options.max_nodes}"
        if nodes <= options.max_nodes
        else f"no depth fits in {options.max_nodes}"
    )
    return (
        f"diagram of {net.name} collapsed to --depth {depth} ({layers} layers in {nodes} "
        f"nodes, {limit}); --depth all draws every layer"
    )


def _keys(net: Network, drawn: list[Group]) -> dict[str, str]:
    group_of = {member: g.row.name for g in drawn for member in g.members}
    key_of: dict[str, str] = {}
    for node in net.order:
        row_name = (
            node
            if node in group_of
            else next(p for p in reversed(_prefixes(node)) if p in group_of)
        )
        key_of[node] = group_of[row_name]
    return key_of


def node_keys(net: Network, options: DiagramOptions | None = None) -> dict[str, str]:
    """Layer node -> the id of the diagram node that draws it (the SVG node's ``<title>``)."""
    options = options or DiagramOptions()
    return _keys(net, groups(net, resolve_depth(net, options), options))


# --------------------------------------------------------------------------- building
def build(net: Network, options: DiagramOptions | None = None) -> graphviz.Digraph:
    """The diagram as a ``graphviz.Digraph`` (needs the graphviz package, not the binary)."""
    gv = _import_graphviz()
    options = options or DiagramOptions()
    totals = net.totals(options.batch, options.dtype)
    drawn = groups(net, resolve_depth(net, options), options)
    rows = [g.row for g in drawn]
    row_of = {r.name: r for r in rows}
    fused = {g.row.name for g in drawn if g.fused}
    key_of = _keys(net, drawn)  # layer node -> the displayed node that holds it
    # a fused node that is a whole named chain (conv1_1 = conv -> relu) takes the chain's name
    under: dict[str, int] = {}
    for node in net.order:
        for prefix in _prefixes(node):
            under[prefix] = under.get(prefix, 0) + 1
    named: dict[str, str] = {}
    for g in drawn:
        parent = g.row.name.rpartition(".")[0]
        chain = parent and _scope_kind(net, parent) not in CLUSTER_STYLE
        if g.fused and chain and under.get(parent) == g.row.layers:
            named[g.row.name] = parent
    marks = dict(options.marks)
    mark_of = {g.row.name: next((marks[m] for m in g.members if m in marks), None) for g in drawn}
    outputs: dict[str, str] = {}
    for out_name, node in net.graph.graph[G_OUTPUTS].items():
        outputs.setdefault(key_of[node], out_name)

    # clusters: the open scopes of a clustered kind, nested, members in evaluation order
    clusters: dict[str, _Cluster] = {}
    base_of: dict[str, str | None] = {}  # displayed node -> the cluster its name is relative to
    top: list[str] = []
    for key in row_of:
        members, base = top, None
        for prefix in _prefixes(key):
            kind = _scope_kind(net, prefix)
            if kind not in CLUSTER_STYLE:
                continue
            if prefix not in clusters:
                clusters[prefix] = _Cluster(prefix, kind)
                members.append(prefix)
            members = clusters[prefix].members
            if CLUSTER_STYLE[kind].relative_names:
                base = prefix
        members.append(key)
        base_of[key] = base

    shading = _Shading(net, rows, options.color_by)
    legend = ("change", list(options.legend)) if options.legend else shading.legend()
    metric_totals = {key: sum(m.value(r) for r in rows) for key, m in METRICS.items()}
    title = (
        f"{net.name}: {human_count(totals.params)} params, {human_count(totals.macs)} MACs, "
        f"{totals.layers} layers"
    )

    dot = gv.Digraph(name=net.name, engine="dot")
    dot.attr(
        "graph",
        rankdir=options.rankdir,
        fontname=FONT,
        fontsize="11",
        labelloc="t",
        labeljust="l",
        label=_graph_label(title, *legend),
        nodesep="0.25",
        ranksep="0.35",
        newrank="true",
        **({"dpi": str(options.dpi)} if options.dpi else {}),
    )
    dot.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=FONT,
        fontsize="10",
        margin="0.12,0.05",
    )
    dot.attr(
        "edge", fontname=FONT, fontsize="8", color="#666666", fontcolor="#444444", arrowsize="0.6"
    )

    def add_node(graph: graphviz.Digraph, key: str) -> None:
        row = row_of[key]
        style = _style_of(net, row)
        fill, font = shading.fill(row)
        if options.legend:  # coloured by marks (a diff): what is not marked stays white
            fill, font = mark_of[key] or ZERO_FILL, "#000000"
        name = _display_name(named.get(key, key), base_of[key])
        graph.node(
            key,
            label=_node_label(
                row, name, options, totals, metric_totals, outputs.get(key), key in fused
            ),
            shape=style.shape,
            style=style.style,
            fillcolor=fill,
            fontcolor=font,
            tooltip=_tooltip(row, totals, _spec_line(net, row)),
        )

    def add_members(graph: graphviz.Digraph, members: list[str]) -> None:
        for member in members:
            if member not in clusters:
                add_node(graph, member)
                continue
            cluster = clusters[member]
            look = CLUSTER_STYLE[cluster.kind]
            sub = gv.Digraph(name=f"cluster_{member}")
            sub.attr(
                "graph",
                label=_cluster_label(net, cluster),
                style=look.style,
                color=look.color,
                fillcolor=look.fill,
                fontsize="11",
                labeljust="l",
                tooltip=member,
            )
            add_members(sub, cluster.members)
            graph.subgraph(sub)

    add_members(dot, top)

    seen: set[tuple[str, str]] = set()
    for node in net.order:
        dst = key_of[node]
        for src in net.layer(node).inputs:
            if key_of[src] == dst or (src, dst) in seen:
                continue
            seen.add((src, dst))
            # the tensor's shape only where it changes: into a node with another output shape,
            # or out of a node that shows another shape (a collapsed scope's inner tensor)
            shape = net.shape(src)
            changes = shape != row_of[dst].shape or shape != row_of[key_of[src]].shape
            if changes:
                dot.edge(key_of[src], dst, label=dims(shape))
            else:
                dot.edge(key_of[src], dst)
    return dot


# --------------------------------------------------------------------------- rendering
def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise MissingDependencyError(
            "diagrams need the graphviz Python package: pip install 'archc[graphviz]'"
        ) from None
    return graphviz


def dot_source(net: Network, options: DiagramOptions | None = None) -> str:
    """The deterministic dot source of the diagram."""
    return str(build(net, options).source)


def render(net: Network, fmt: str, options: DiagramOptions | None = None) -> bytes:
    """The diagram in ``fmt`` (dot, svg, png, pdf); all but dot run Graphviz's ``dot``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown diagram format {fmt!r}: expected one of {', '.join(FORMATS)}")
    source = dot_source(net, options)
    if fmt == "dot":
        return source.encode("utf-8")
    return render_source(source, fmt)


class GraphvizWarning(UserWarning):
    """A warning Graphviz's ``dot`` printed while rendering (a bitmap scaled down to fit, a
    font not found): issued with :func:`warnings.warn`, never swallowed."""


def render_source(source: str, fmt: str) -> bytes:
    """Run ``dot -T<fmt>`` on ``source``; a missing binary or a failure is a one-line error,
    and each warning ``dot`` prints is issued as a :class:`GraphvizWarning`."""
    program = shutil.which("dot")
    if program is None:
        raise MissingDependencyError(
            f"{fmt} output needs Graphviz's 'dot' program, which is not on PATH: install "
            "Graphviz (Debian/Ubuntu: apt-get install graphviz) or emit --target dot instead"
        )
    proc = subprocess.run(
        [program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    messages = [
        line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()
    ]
    if proc.returncode != 0:
        reason = messages[-1] if messages else f"exit status {proc.returncode}"
        raise EmitError(f"Graphviz's dot failed to render {fmt}: {reason}")
    for message in messages:
        warnings.warn(f"Graphviz: {message}", GraphvizWarning, stacklevel=2)
    return proc.stdout


def emit(net: Network, options: DiagramOptions | None = None) -> bytes:
    """``archc emit --target dot|svg|png|pdf`` as a library call: the diagram's bytes in
    ``options.format``."""
    options = options or DiagramOptions()
    return render(net, options.format, options)
