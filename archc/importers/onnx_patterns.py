"""ONNX subgraphs that are one archc op: found before the importer walks the nodes.

Exporters spell some layers as several nodes: a layer norm over channels (or over a token's
features) as ReduceMean, Sub, Mul, ReduceMean, Add, Sqrt, Div (and a Mul and an Add for its
weight and bias), GELU as Erf with a scale, a channel shuffle as Reshape, Transpose, Reshape,
and multi-head self-attention as a whole subgraph around one Softmax
(:mod:`~archc.importers.onnx_attention`).  :func:`find` matches them by their wiring, constants
and shapes (not by node names, so archc's own lowerings and torch's exports are read alike) and
says, for the node where each goes, the op, its arguments, its input and output, and which
nodes it stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def scope_of(node_name: str) -> str:
    """A node's scope: ``/layer1/layer1.0/conv1/Conv`` (torch) is ``layer1.0.conv1``;
    ``conv1.relu`` and its helper ``conv1.relu/gate`` (archc) are ``conv1.relu``."""
    if node_name.startswith("/"):
        # torch writes each module's name under its parent's, dotted paths extending the one
        # before: /features/features.1/features.1.0/block/block.0/Conv
        path: list[str] = []
        for part in [p for p in node_name.split("/") if p][:-1]:
            if path and part.startswith(path[-1] + "."):
                path[-1] = part
            else:
                path.append(part)
        return ".".join(path)
    if "/" in node_name:
        return node_name.split("/", 1)[0]
    return node_name


def f32(value: Any) -> float:
    """A float stored as float32 (ONNX's attributes) as the shortest decimal that rounds to it:
    1e-06, not 9.999999974752427e-07."""
    import numpy as np

    return float(str(np.float32(value)))


@dataclass(frozen=True)
class Fused:
    op: str
    args: dict[str, Any]
    source: str  # the ONNX value it reads
    output: str  # the ONNX value it writes
    nodes: frozenset[int]  # indices of the nodes it stands for
    at: int | None = None  # the node where the layer goes (its first node when None)
    scope: int | None = None  # the node whose name names the layer (the one at ``at``: None)


class Graph:
    """The nodes with their readers and writers, and what the importer knows of the values."""

    def __init__(
        self,
        nodes: Sequence[Any],
        const: Callable[[str], Any],
        attrs: Callable[[Any], dict[str, Any]],
        shapes: Mapping[str, tuple[int, ...] | None] | None = None,
        weights: Mapping[str, tuple[int, ...]] | None = None,
        inputs: Sequence[str] = (),
    ) -> None:
        self.nodes = nodes
        self.const = const
        self.attrs = attrs
        self.shapes = shapes or {}
        self.weights = weights or {}
        self.inputs = frozenset(inputs)  # the graph's data inputs
        self.readers: dict[str, list[int]] = {}
        self.writer: dict[str, int] = {}
        self._scopes: dict[str, list[int]] | None = None
        #: values computed from the data (not weights, constants or shapes)
        self.data: set[str] = set(inputs)
        for i, node in enumerate(nodes):
            for value in dict.fromkeys(node.input):  # x * x reads x once here
                self.readers.setdefault(value, []).append(i)
            for value in node.output:
                self.writer[value] = i
            if node.op_type != "Shape" and any(v in self.data for v in node.input):
                self.data.update(node.output)

    def shape(self, value: str) -> tuple[int, ...] | None:
        return self.shapes.get(value)

    def scope(self, name: str) -> list[int]:
        """The nodes whose names put them in scope ``name``, in order."""
        if self._scopes is None:
            self._scopes = {}
            for k, node in enumerate(self.nodes):
                self._scopes.setdefault(scope_of(node.name), []).append(k)
        return self._scopes.get(name, [])

    def weight(self, value: str) -> tuple[int, ...] | None:
        """The shape of the weight ``value`` is, through Identity and Transpose nodes."""
        if value in self.weights:
            return self.weights[value]
        k = self.writer.get(value)
        if k is None or value in self.data:
            return None
        node = self.nodes[k]
        if node.op_type == "Identity":
            return self.weight(node.input[0])
        if node.op_type == "Transpose":
            shape = self.weight(node.input[0])
            if shape is None:
                return None
            perm = self.attrs(node).get("perm", list(range(len(shape)))[::-1])
            return tuple(shape[int(p)] for p in perm)
        return None

    def only_reader(self, value: str, op_type: str) -> int | None:
        readers = self.readers.get(value, [])
        if len(readers) == 1 and self.nodes[readers[0]].op_type == op_type:
            return readers[0]
        return None

    def readers_of(self, value: str, op_type: str) -> list[int]:
        return [i for i in self.readers.get(value, []) if self.nodes[i].op_type == op_type]

    def other(self, node: Any, value: str) -> str | None:
        rest = [v for v in node.input if v != value]
        return rest[0] if len(rest) == 1 else None

    def scalar(self, value: str | None) -> float | None:
        c = self.const(value) if value else None
        if c is None or getattr(c, "size", 1) != 1:
            return None
        return float(c.reshape(-1)[0]) if hasattr(c, "reshape") else float(c)

    def axes(self, i: int) -> list[int] | None:
        node = self.nodes[i]
        axes = self.attrs(node).get("axes")
        if axes is None and len(node.input) > 1:
            c = self.const(node.input[1])
            axes = None if c is None else [int(a) for a in c.reshape(-1)]
        return None if axes is None else [int(a) for a in axes]


def _norm_axes(g: Graph, x: str) -> list[list[int]]:
    """The axes a layer norm of ``x`` reduces: channels (1), or a token's features (the last
    axis of N×T×D)."""
    shape = g.shape(x)
    return [[2], [-1]] if shape is not None and len(shape) == 3 else [[1]]


def _layernorm(g: Graph, i: int) -> Fused | None:
    """mean over channels (or features), x - mean, its square's mean, + eps, sqrt, divide
    (then * w + b)."""
    mean = g.nodes[i]
    x = mean.input[0]
    axes = _norm_axes(g, x)
    if g.axes(i) not in axes or not g.attrs(mean).get("keepdims", 1):
        return None
    subs = [k for k in g.readers_of(mean.output[0], "Sub") if g.nodes[k].input[0] == x]
    if len(subs) != 1:
        return None
    sub = subs[0]
    centred = g.nodes[sub].output[0]
    squares = [k for k in g.readers_of(centred, "Mul") if list(g.nodes[k].input) == [centred] * 2]
    squares += [k for k in g.readers_of(centred, "Pow")]
    divs = [k for k in g.readers_of(centred, "Div") if g.nodes[k].input[0] == centred]
    if len(squares) != 1 or len(divs) != 1:
        return None
    var = g.only_reader(g.nodes[squares[0]].output[0], "ReduceMean")
    if var is None or g.axes(var) not in axes:
        return None
    add = g.only_reader(g.nodes[var].output[0], "Add")
    if add is None:
        return None
    eps = g.scalar(g.other(g.nodes[add], g.nodes[var].output[0]))
    sqrt = g.only_reader(g.nodes[add].output[0], "Sqrt")
    div = divs[0]
    if eps is None or sqrt is None or g.nodes[div].input[1] != g.nodes[sqrt].output[0]:
        return None
    nodes = {i, sub, squares[0], var, add, sqrt, div}
    out = g.nodes[div].output[0]
    affine = False
    scale = g.only_reader(out, "Mul")
    if scale is not None:
        bias = g.only_reader(g.nodes[scale].output[0], "Add")
        if bias is not None:
            nodes |= {scale, bias}
            nodes |= _weight_feeders(g, g.nodes[scale]) | _weight_feeders(g, g.nodes[bias])
            out, affine = g.nodes[bias].output[0], True
    return Fused("layernorm", {"eps": f32(eps), "affine": affine}, x, out, frozenset(nodes))


def _weight_feeders(g: Graph, node: Any) -> set[int]:
    """Unsqueeze or Reshape nodes that shape a weight for a broadcast (not data)."""
    found = set()
    for value in node.input:
        k = g.writer.get(value)
        if k is not None and g.nodes[k].op_type in ("Unsqueeze", "Reshape"):
            found.add(k)
    return found


def _gelu(g: Graph, i: int) -> Fused | None:
    """x · (1 + erf(x / √2)) / 2, with the scale as Mul or Div and the half before or after."""
    erf = g.nodes[i]
    pre_index = g.writer.get(erf.input[0])
    if pre_index is None or g.nodes[pre_index].op_type not in ("Mul", "Div"):
        return None
    pre = g.nodes[pre_index]
    x = pre.input[0] if g.const(pre.input[0]) is None else pre.input[1]
    one = g.only_reader(erf.output[0], "Add")
    if one is None:
        return None
    nodes = {pre_index, i, one}
    after = g.only_reader(g.nodes[one].output[0], "Mul")
    if after is None:
        return None
    other = g.other(g.nodes[after], g.nodes[one].output[0])
    if other == x:  # torch: (x * (1 + erf)) * 0.5
        half = g.only_reader(g.nodes[after].output[0], "Mul")
        if half is None:
            return None
        nodes |= {after, half}
        out = g.nodes[half].output[0]
    else:  # archc: (x * 0.5) * (1 + erf)
        k = g.writer.get(other or "")
        if k is None or g.nodes[k].op_type != "Mul" or x not in g.nodes[k].input:
            return None
        nodes |= {after, k}
        out = g.nodes[after].output[0]
    # the first node in order is where the layer goes
    return Fused("gelu", {}, x, out, frozenset(nodes))


def _shuffle(g: Graph, i: int) -> Fused | None:
    """Reshape to (N, g, C/g, H, W), swap the two channel axes, reshape back."""
    split = g.nodes[i]
    target = g.const(split.input[1]) if len(split.input) > 1 else None
    if target is None or len(target.reshape(-1)) != 5:
        return None
    transpose = g.only_reader(split.output[0], "Transpose")
    if transpose is None or list(g.attrs(g.nodes[transpose]).get("perm", [])) != [0, 2, 1, 3, 4]:
        return None
    back = g.only_reader(g.nodes[transpose].output[0], "Reshape")
    if back is None:
        return None
    groups = int(target.reshape(-1)[1])
    nodes = frozenset({i, transpose, back})
    return Fused(
        "channel_shuffle", {"groups": groups}, split.input[0], g.nodes[back].output[0], nodes
    )


def _patch_merge(g: Graph, i: int) -> Fused | None:
    """Swin's patch merging: the four Slices of a map with steps 2 along height and width,
    starting at (0, 0), (1, 0), (0, 1), (1, 1), joined along channels (after a Pad of odd
    sizes of the same scope)."""
    concat = g.nodes[i]
    if len(concat.input) != 4 or g.attrs(concat).get("axis") not in (1, -3):
        return None
    slices = [g.writer.get(v) for v in concat.input]
    if any(k is None or g.nodes[k].op_type != "Slice" for k in slices):
        return None
    nodes = [g.nodes[k] for k in slices if k is not None]
    source = nodes[0].input[0]
    starts = []
    for node in nodes:
        found = [g.const(v) if v else None for v in list(node.input[1:5])]
        consts = [c for c in found if c is not None]
        if node.input[0] != source or len(consts) != 4:
            return None
        start, _, axes, steps = ([int(v) for v in c.reshape(-1)] for c in consts)
        if [a % 4 for a in axes] != [2, 3] or steps != [2, 2]:
            return None
        if g.readers.get(node.output[0]) != [i]:
            return None
        starts.append(tuple(start))
    if starts != [(0, 0), (1, 0), (0, 1), (1, 1)]:
        return None
    covered = {i, *(k for k in slices if k is not None)}
    pad = g.writer.get(source)
    if (
        pad is not None
        and g.nodes[pad].op_type == "Pad"
        and scope_of(g.nodes[pad].name) == scope_of(concat.name)
        and sorted(g.readers.get(source, [])) == sorted(k for k in slices if k is not None)
    ):
        covered.add(pad)
        source = g.nodes[pad].input[0]
    return Fused("patch_merge", {}, source, concat.output[0], frozenset(covered))


_STARTS: dict[str, Callable[[Graph, int], Fused | None]] = {
    "ReduceMean": _layernorm,
    "Erf": _gelu,
    "Reshape": _shuffle,
    "Concat": _patch_merge,
}


def find(
    nodes: Sequence[Any],
    const: Callable[[str], Any],
    attrs: Callable[[Any], dict[str, Any]],
    shapes: Mapping[str, tuple[int, ...] | None] | None = None,
    weights: Mapping[str, tuple[int, ...]] | None = None,
    inputs: Sequence[str] = (),
) -> dict[int, Fused]:
    """Node index -> the fused layer that goes there (every node it covers is skipped).
    ``shapes`` are the values' inferred shapes, ``weights`` the weights' shapes, ``inputs`` the
    graph's data inputs."""
    from archc.importers.onnx_attention import attention

    starts = {**_STARTS, "Softmax": attention}
    g = Graph(nodes, const, attrs, shapes, weights, inputs)
    found: dict[int, Fused] = {}
    taken: set[int] = set()
    for i, node in enumerate(nodes):
        match = starts.get(node.op_type)
        if match is None or i in taken:
            continue
        fused = match(g, i)
        if fused is None or fused.nodes & taken:
            continue
        taken |= fused.nodes
        found[min(fused.nodes) if fused.at is None else fused.at] = fused
    return found
