"""Activation memory: what each layer allocates, and the peak live memory of one inference.

A layer's output normally gets a new buffer.  Two kinds of op reuse one instead: views (the
``view`` trait: ``flatten``) always alias their input; in-place ops (the ``inplace`` trait:
``relu``, ``dropout`` ...) overwrite their input's buffer when no tensor living in that buffer
has another reader, is a network input or is an output (what PyTorch's ``inplace=True`` does; a
chain of in-place ops shares one buffer).  A buffer is freed after the last layer that reads any
tensor living in it; network outputs live to the end.  The peak is the
largest total of live buffers while any layer runs (its inputs and its output both live), with
the layer's workspace (``Op.workspace``: attention's q, k, v and score matrices) on top.
"""

from __future__ import annotations

import networkx as nx

from archc.ir import G_ORDER, G_OUTPUTS, LAYER, MEMORY, SHAPE, Layer, Memory
from archc.ops import REGISTRY, elements

G_PEAK = "peak_elements"


def plan_memory(g: nx.DiGraph) -> None:
    """Annotate :data:`~archc.ir.MEMORY` and set ``g.graph[G_PEAK]`` (elements per sample)."""
    nodes = dict(g.nodes(data=True))  # node -> data dict; a NodeView lookup is a call
    order = g.graph[G_ORDER]
    outputs = set(g.graph[G_OUTPUTS].values())
    buffer_of: dict[str, str] = {}
    shared: set[str] = set()  # buffers that an in-place op must not overwrite
    for node in order:
        layer: Layer = nodes[node][LAYER]
        op = REGISTRY[layer.op]
        size = elements(nodes[node][SHAPE])
        owner = node
        if layer.inputs:
            src = layer.inputs[0]
            if op.is_view or (op.is_inplace and buffer_of[src] not in shared):
                owner = buffer_of[src]
        buffer_of[node] = owner
        if g.out_degree(node) > 1 or node in outputs or not layer.inputs:  # inputs are kept
            shared.add(owner)
        ins = [nodes[src][SHAPE] for src in layer.inputs]
        work = op.workspace(layer.attrs, ins, nodes[node][SHAPE]) if layer.inputs else 0
        nodes[node][MEMORY] = Memory(size, size if owner == node else 0, owner, work)
    g.graph[G_PEAK] = _peak(g, order, buffer_of, outputs)


def _peak(g: nx.DiGraph, order: list[str], buffer_of: dict[str, str], outputs: set[str]) -> int:
    position = {node: i for i, node in enumerate(order)}
    end = len(order)
    last_use: dict[str, int] = {}
    for node in order:
        buf = buffer_of[node]
        use = max((position[c] for c in g.successors(node)), default=position[node])
        if node in outputs:
            use = end
        last_use[buf] = max(last_use.get(buf, 0), use)
    frees: dict[int, list[str]] = {}
    for buf, at in last_use.items():
        frees.setdefault(at, []).append(buf)
    nodes = dict(g.nodes(data=True))
    live = peak = 0
    for i, node in enumerate(order):
        mem: Memory = nodes[node][MEMORY]
        live += mem.new_elements
        peak = max(peak, live + mem.workspace)
        for buf in frees.get(i, ()):
            live -= nodes[buf][MEMORY].new_elements
    return peak
