"""Shape inference: every layer's output shape (per sample), from its op's shape rule."""

from __future__ import annotations

import networkx as nx

from archc.errors import SpecShapeError
from archc.ir import G_ORDER, LAYER, SHAPE, Layer
from archc.ops import REGISTRY, ShapeProblem, dims


def infer_shapes(g: nx.DiGraph) -> None:
    """Annotate :data:`~archc.ir.SHAPE`; a misfit becomes a located :class:`SpecShapeError`."""
    nodes = dict(g.nodes(data=True))  # node -> data dict; a NodeView lookup is a call
    for node in g.graph[G_ORDER]:
        layer: Layer = nodes[node][LAYER]
        ins = [nodes[src][SHAPE] for src in layer.inputs]
        try:
            nodes[node][SHAPE] = REGISTRY[layer.op].shape(layer.attrs, ins, layer.input_labels)
        except ShapeProblem as exc:
            notes = [
                (f"{label} ({dims(shape)}) comes from here", nodes[src][LAYER].span)
                for src, label, shape in zip(layer.inputs, layer.input_labels, ins, strict=True)
                if len(layer.inputs) > 1
            ]
            raise SpecShapeError(str(exc), layer.span, notes=notes) from None
