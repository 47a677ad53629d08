"""Receptive field: how many input pixels (h, w) each output position sees, and the jump.

For a window op with kernel k, stride s and dilation d: size' = size + (d(k-1)) * jump and
jump' = jump * s.  Shape-keeping ops pass the field through; where branches merge, the largest
size and jump win.  Flatten and global pooling widen it to the whole map they consume, and
attention (an op with ``global_field``) to the whole input image: every token sees every token.
Fields are tracked on C×H×W maps: a network on C×L or C×D×H×W data (audio, video) has no field
here (``known`` is False, and tables show ``—``).
"""

from __future__ import annotations

import networkx as nx

from archc.ir import G_INPUTS, G_ORDER, LAYER, RF, SHAPE, Layer, ReceptiveField
from archc.ops import REGISTRY

#: the field of a layer computed from a C×L or C×D×H×W map: not tracked
UNKNOWN = ReceptiveField((0, 0), (0, 0), known=False)


def receptive_fields(g: nx.DiGraph) -> None:
    """Annotate :data:`~archc.ir.RF`."""
    nodes = dict(g.nodes(data=True))  # node -> data dict; a NodeView lookup is a call
    images = [s for s in (nodes[n][SHAPE] for n in g.graph[G_INPUTS].values()) if len(s) == 3]
    whole = (max(s[1] for s in images), max(s[2] for s in images)) if images else None
    for node in g.graph[G_ORDER]:
        layer: Layer = nodes[node][LAYER]
        if not layer.inputs:
            shape = nodes[node][SHAPE]
            # fields are tracked on images (C×H×W) and flat inputs, not on C×L or C×D×H×W
            nodes[node][RF] = UNKNOWN if len(shape) in (2, 4) else ReceptiveField((1, 1), (1, 1))
            continue
        if any(not nodes[src][RF].known for src in layer.inputs):
            nodes[node][RF] = UNKNOWN
            continue
        if len(layer.inputs) == 1:  # the common case: no merge to take the widest of
            first: ReceptiveField = nodes[layer.inputs[0]][RF]
            size, jump = first.size, first.jump
        else:
            fields = [nodes[src][RF] for src in layer.inputs]
            size = (max(f.size[0] for f in fields), max(f.size[1] for f in fields))
            jump = (max(f.jump[0] for f in fields), max(f.jump[1] for f in fields))
        ins = [nodes[src][SHAPE] for src in layer.inputs]
        op = REGISTRY[layer.op]
        if op.global_field and whole is not None:  # attention: every token sees every token
            size = (max(size[0], whole[0]), max(size[1], whole[1]))
        window = op.window(layer.attrs, ins) if len(ins[0]) == 3 else None
        if window is not None:
            size = (
                size[0] + window.dilation[0] * (window.kernel[0] - 1) * jump[0],
                size[1] + window.dilation[1] * (window.kernel[1] - 1) * jump[1],
            )
            jump = (jump[0] * window.stride[0], jump[1] * window.stride[1])
        nodes[node][RF] = ReceptiveField(size, jump)
