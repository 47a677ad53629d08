"""The graph IR: a networkx DiGraph with one node per layer instance and one edge per tensor.

Node ids are scope paths (``inception_3a.b2.conv``).  Every node's data holds the elaborated
:class:`Layer` under :data:`LAYER`; the analysis passes add typed results under the other
constant keys (:data:`SHAPE`, :data:`COST`, :data:`MEMORY`, :data:`RF`).  Graph-level facts
(network name, outputs, scopes, evaluation order) live in ``graph.graph`` under the ``G_*`` keys.
:func:`verify` checks the invariants every consumer relies on; tests run it after every pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from archc import nodes as ast
from archc.errors import IRError
from archc.ops import REGISTRY, Attrs, Shape
from archc.source import Span

# node data keys
LAYER = "layer"
SHAPE = "shape"
COST = "cost"
MEMORY = "memory"
RF = "rf"
ANNOTATIONS = (SHAPE, COST, MEMORY, RF)

# graph data keys
G_NAME = "name"
G_FILE = "file"
G_ORDER = "order"  # node ids in evaluation (topological) order
G_INPUTS = "inputs"  # input name -> node id
G_OUTPUTS = "outputs"  # output name -> node id, in declaration order
G_TENSORS = "tensors"  # network-level tensor name -> node id (what the body names)
G_SCOPES = "scopes"  # scope path -> Scope
G_ASSERTS = "asserts"  # list of Assertion
G_BLOCKS = "blocks"  # block name -> ast.BlockDef (for emitters that mirror blocks as classes)
G_NETWORK = "network_ast"  # the ast.NetworkDef the graph was elaborated from
G_CONSTS = "constants"  # file-level constant name -> value, as elaboration evaluated them
G_CONST_DEFS = "constant_defs"  # the file-level constants' ast.ConstDef, in evaluation order
G_SPAN = "span"
G_COST_TOTALS = "cost_totals"  # Network.cost_totals() cache, dropped when costs are counted


@dataclass(frozen=True)
class Layer:
    """One layer instance, as elaboration produced it."""

    name: str  # the scope path, also the node id
    op: str  # canonical registry name
    attrs: Attrs
    inputs: tuple[str, ...]  # producer node ids, in argument order
    input_labels: tuple[str, ...]  # how the spec called those inputs (for messages)
    span: Span
    origin: ast.Link | ast.InputDecl | None = None  # the AST node this layer came from

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Scope:
    """A named group of layers: a block instance, a named chain, a repeat or one iteration."""

    path: str
    kind: str  # "block" | "chain" | "repeat" | "iteration"
    span: Span
    block: str | None = None
    args: tuple[tuple[str, Any], ...] = ()  # a block instance's bound arguments, in order


@dataclass(frozen=True)
class Assertion:
    """A budget assertion from the spec, kept for ``archc check``."""

    test: ast.Expr
    message: str | None
    span: Span
    scope: str  # the scope path it was written in ("" at network level)
    env: Any = field(compare=False, repr=False)  # constants visible at that point


@dataclass(frozen=True)
class Cost:
    params: int
    buffers: int
    macs: int
    flops: int
    #: elements of the tensors above whose type is fixed (an int64 index), and their bytes:
    #: weight memory counts them at their own width, not the network's dtype
    fixed_elements: int = 0
    fixed_bytes: int = 0

    def weight_bytes(self, nbytes: int) -> int:
        """Bytes of this layer's parameters and buffers, ``nbytes`` per element of the dtype."""
        return (self.params + self.buffers - self.fixed_elements) * nbytes + self.fixed_bytes


@dataclass(frozen=True)
class Memory:
    """Activation memory of one layer's output, in elements per sample.

    ``new_elements`` is 0 when the output reuses another buffer (in-place ops, views);
    ``buffer`` is the node whose allocation holds this tensor.
    """

    elements: int
    new_elements: int
    buffer: str
    #: temporary elements the layer allocates while it runs and frees before the next one
    #: (attention's q, k, v and its heads·T·T scores); counted in the peak, not in outputs
    workspace: int = 0


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field in input pixels: window ``size`` (h, w) and ``jump`` (stride product).

    Tracked through C×H×W maps; ``known`` is False for layers computed from a C×L or C×D×H×W
    map (audio, video), whose fields archc does not track (their size and jump read 0)."""

    size: tuple[int, int]
    jump: tuple[int, int]
    known: bool = True


def new_graph(name: str, file: str, span: Span) -> nx.DiGraph:
    g = nx.DiGraph()
    g.graph.update(
        {
            G_NAME: name,
            G_FILE: file,
            G_ORDER: [],
            G_INPUTS: {},
            G_OUTPUTS: {},
            G_SCOPES: {},
            G_ASSERTS: [],
            G_BLOCKS: {},
            G_NETWORK: None,
            G_CONSTS: {},
            G_CONST_DEFS: [],
            G_SPAN: span,
        }
    )
    return g


def add_layer(g: nx.DiGraph, layer: Layer) -> None:
    """Append a layer; its inputs must already be in the graph (so insertion order is topological)."""
    g.add_node(layer.name, **{LAYER: layer})
    for src in layer.inputs:
        g.add_edge(src, layer.name)
    g.graph[G_ORDER].append(layer.name)


def add_layers(g: nx.DiGraph, new: list[Layer]) -> None:
    """Append many layers at once (networkx's bulk calls are much cheaper than one by one)."""
    g.add_nodes_from((layer.name, {LAYER: layer}) for layer in new)
    g.add_edges_from((src, layer.name) for layer in new for src in layer.inputs)
    g.graph[G_ORDER].extend(layer.name for layer in new)


def layers(g: nx.DiGraph) -> list[Layer]:
    """All layers in evaluation order."""
    return [g.nodes[n][LAYER] for n in g.graph[G_ORDER]]


def consumers(g: nx.DiGraph, node: str) -> list[str]:
    return list(g.successors(node))


def verify(g: nx.DiGraph, annotated: tuple[str, ...] = ()) -> None:
    """Check the IR invariants; raise :class:`IRError` naming the first one that fails.

    Acyclic; the order lists every node once and is topological; every op is registered and
    its attributes are exactly its schema's; node ids are unique scope paths matching their
    layer; edges match layer inputs; outputs name existing nodes; and every node carries the
    annotations in ``annotated``.
    """
    order = g.graph.get(G_ORDER)
    if order is None or len(order) != g.number_of_nodes() or set(order) != set(g.nodes):
        raise IRError("evaluation order does not list every node exactly once")
    if not nx.is_directed_acyclic_graph(g):
        raise IRError("the graph has a cycle")
    position = {n: i for i, n in enumerate(order)}
    for node in order:
        data = g.nodes[node]
        layer = data.get(LAYER)
        if not isinstance(layer, Layer):
            raise IRError(f"node {node!r} has no layer")
        if layer.name != node:
            raise IRError(f"node {node!r} holds layer {layer.name!r}")
        op = REGISTRY.get(layer.op)
        if op is None:
            raise IRError(f"node {node!r} has unknown op {layer.op!r}")
        schema = {s.name for s in op.attrs}
        if not op.internal and set(layer.attrs) != schema:
            raise IRError(f"node {node!r} attributes {sorted(layer.attrs)} != {sorted(schema)}")
        if op.is_merge and len(layer.inputs) < 2:
            raise IRError(f"merge {node!r} has fewer than two inputs")
        if not op.is_merge and len(layer.inputs) != op.arity:
            raise IRError(f"node {node!r} ({layer.op}) has {len(layer.inputs)} inputs")
        if set(g.predecessors(node)) != set(layer.inputs):
            raise IRError(f"node {node!r}: edges do not match its inputs")
        for src in layer.inputs:
            if position[src] >= position[node]:
                raise IRError(f"node {node!r} comes before its input {src!r}")
        for key in annotated:
            if key not in data:
                raise IRError(f"node {node!r} lacks the {key!r} annotation")
    for name, node in g.graph[G_OUTPUTS].items():
        if node not in g:
            raise IRError(f"output {name!r} names a missing node {node!r}")
    if not g.graph[G_OUTPUTS]:
        raise IRError("the network has no outputs")


def shape_of(g: nx.DiGraph, node: str) -> Shape:
    return g.nodes[node][SHAPE]
