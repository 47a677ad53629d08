"""Shape inference: every layer's output shape (per sample), from its op's shape rule."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from archc.errors import SpecShapeError
from archc.ir import G_ORDER, LAYER, SHAPE, Layer
from archc.ops import REGISTRY, Shape, ShapeProblem, dims
from archc.source import Span


def layer_shape(layer: Layer, ins: list[Shape], producer_span: Callable[[str], Span]) -> Shape:
    """One layer's output shape from its inputs' shapes; a misfit is a located
    :class:`SpecShapeError` noting where each input of a merge comes from."""
    try:
        return REGISTRY[layer.op].shape(layer.attrs, ins, layer.input_labels)
    except ShapeProblem as exc:
        notes = [
            (f"{label} ({dims(shape)}) comes from here", producer_span(src))
            for src, label, shape in zip(layer.inputs, layer.input_labels, ins, strict=True)
            if len(layer.inputs) > 1
        ]
        raise SpecShapeError(str(exc), layer.span, notes=notes) from None


def infer_shapes(g: nx.DiGraph) -> None:
    """Annotate :data:`~archc.ir.SHAPE`; a misfit becomes a located :class:`SpecShapeError`."""
    nodes = dict(g.nodes(data=True))  # node -> data dict; a NodeView lookup is a call
    for node in g.graph[G_ORDER]:
        layer: Layer = nodes[node][LAYER]
        ins = [nodes[src][SHAPE] for src in layer.inputs]
        nodes[node][SHAPE] = layer_shape(layer, ins, lambda src: nodes[src][LAYER].span)
