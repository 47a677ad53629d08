"""Parameters, buffers, MACs and FLOPs per layer, from the op's counting rules."""

from __future__ import annotations

import networkx as nx

from archc.ir import COST, G_COST_TOTALS, G_ORDER, LAYER, SHAPE, Cost, Layer
from archc.ops import REGISTRY, Op, elements
from archc.ops.base import FIXED_BYTES


def count_costs(g: nx.DiGraph) -> None:
    """Annotate :data:`~archc.ir.COST` (per sample; batch scaling happens in reports)."""
    nodes = dict(g.nodes(data=True))  # node -> data dict; a NodeView lookup is a call
    g.graph.pop(G_COST_TOTALS, None)  # Network.cost_totals() sums what this pass writes
    for node in g.graph[G_ORDER]:
        layer: Layer = nodes[node][LAYER]
        op = REGISTRY[layer.op]
        ins = [nodes[src][SHAPE] for src in layer.inputs]
        out = nodes[node][SHAPE]
        a = layer.attrs
        fixed_elements = fixed_bytes = 0
        if type(op).params is Op.params and type(op).buffers is Op.buffers:
            # both derive from the op's tensors: list them once
            params = buffers = 0
            for tensor in op.tensors(a, ins, out):
                size = elements(tensor.shape)
                if tensor.trainable:
                    params += size
                else:
                    buffers += size
                if tensor.dtype is not None:
                    fixed_elements += size
                    fixed_bytes += size * FIXED_BYTES[tensor.dtype]
        else:
            params, buffers = op.params(a, ins, out), op.buffers(a, ins, out)
        nodes[node][COST] = Cost(
            params=params,
            buffers=buffers,
            macs=op.macs(a, ins, out),
            flops=op.flops(a, ins, out),
            fixed_elements=fixed_elements,
            fixed_bytes=fixed_bytes,
        )
