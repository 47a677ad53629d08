"""Parameters, buffers, MACs and FLOPs per layer, from the op's counting rules."""

from __future__ import annotations

import networkx as nx

from archc.ir import COST, G_ORDER, LAYER, SHAPE, Cost, Layer
from archc.ops import REGISTRY


def count_costs(g: nx.DiGraph) -> None:
    """Annotate :data:`~archc.ir.COST` (per sample; batch scaling happens in reports)."""
    nodes = dict(g.nodes(data=True))  # node -> data dict; a NodeView lookup is a call
    for node in g.graph[G_ORDER]:
        layer: Layer = nodes[node][LAYER]
        op = REGISTRY[layer.op]
        ins = [nodes[src][SHAPE] for src in layer.inputs]
        out = nodes[node][SHAPE]
        a = layer.attrs
        nodes[node][COST] = Cost(
            params=op.params(a, ins, out),
            buffers=op.buffers(a, ins, out),
            macs=op.macs(a, ins, out),
            flops=op.flops(a, ins, out),
        )
