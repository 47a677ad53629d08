"""Multi-head self-attention in an ONNX graph: the subgraph around one Softmax, as one layer.

Exporters write attention as dozens of nodes: archc (``archc/emit/onnx_tokens.py``) as the
joint q, k, v projection, Slice and Reshape per head, QKᵀ, a scale, Softmax, the product with V
and the output projection; torch's exporter (``nn.MultiheadAttention``) as a transpose to
sequence-first, the projection, Reshape and Transpose into heads, q and k each scaled by the
fourth root of the depth, QKᵀ, Softmax, the product with V, Transpose and Reshape back, the
output projection as a ``Gemm`` and a transpose to batch-first, with the shapes computed by
Shape, Gather, Unsqueeze and Concat nodes.  Both have the same skeleton, which :func:`attention`
matches from the Softmax outwards:

* the scores: above the Softmax (through scalings) a MatMul of two data tensors;
* the input projection: above the scores, the one MatMul or Gemm with a weight operand (3·D×D);
  its input, through layout nodes (Transpose, Reshape) of the Softmax's scope, is the layer's
  input ``x``;
* the context: the Softmax's reader, a MatMul with V (from the same projection);
* the output projection: below the context through layout nodes, a MatMul or Gemm with a D×D
  weight, then its bias and layout nodes of the Softmax's scope: the layer's output ``y``.

The layer stands for every node between ``x`` and ``y`` (and the weight and shape arithmetic
only they read), and no value inside may be read outside.  Heads are D over the depth of the
context's rows (or the heads axis of N×heads×T×T scores, where shape inference could not follow
the depth); the bias is the projections'.
"""

from __future__ import annotations

from archc.importers.onnx_patterns import Fused, Graph, scope_of

_LAYOUT = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Identity"})
_SCALE = frozenset({"Mul", "Div", "Cast"})
_PROJECTIONS = frozenset({"MatMul", "Gemm"})
_LIMIT = 400  # nodes an attention layer may stand for (torch's: about 120)


def attention(g: Graph, i: int) -> Fused | None:
    """The attention layer whose Softmax is node ``i``: Swin's window attention when the
    Softmax's scope holds a relative position bias, else multi-head self-attention."""
    return window_attention(g, i) or _attention(g, i)


def _attention(g: Graph, i: int) -> Fused | None:
    softmax = g.nodes[i]
    axis = g.attrs(softmax).get("axis", -1)
    rank = len(g.shape(softmax.input[0]) or ())
    if axis not in (-1, rank - 1):
        return None
    scope = scope_of(softmax.name)
    scores = _scores(g, softmax.input[0])
    context = g.only_reader(softmax.output[0], "MatMul")
    if scores is None or context is None:
        return None
    values = [v for v in g.nodes[context].input if v != softmax.output[0]]
    above = {p for v in [*g.nodes[scores].input, *values] for p in _projections_above(g, v)}
    if len(above) != 1 or len(values) != 1:
        return None
    (proj_in,) = above
    x = _walk_up(g, _data_operand(g, proj_in), proj_in, scope)
    down = _projection_below(g, g.nodes[context].output[0])
    if down is None:
        return None
    proj_out, after = down
    bias_out, y = _bias(g, proj_out, after)
    bias_in, _ = _bias(g, proj_in, g.nodes[proj_in].output[0])
    y = _walk_down(g, y, scope)
    w_in, w_out = _weight_of(g, proj_in), _weight_of(g, proj_out)
    if w_in is None or w_out is None or len(w_out) != 2 or w_out[0] != w_out[1]:
        return None
    d = w_out[0]
    if sorted(w_in) != sorted((d, 3 * d)) or bias_in != bias_out:
        return None
    heads = _heads(g, d, g.nodes[context].output[0], softmax.input[0])
    if heads is None:
        return None
    shape_x, shape_y = g.shape(x), g.shape(y)
    if shape_x is not None and shape_y is not None and shape_x[1:] != shape_y[1:]:
        return None
    region = _region(g, x, y)
    if region is None or not _is_attention(g, region, {i, scores, context, proj_in, proj_out}):
        return None
    return Fused(
        "attention",
        {"heads": heads, "bias": bias_in},
        x,
        y,
        frozenset(region),
        at=g.writer[y],
        scope=i,
    )


def _heads(g: Graph, d: int, context: str, scores: str) -> int | None:
    """D over the depth of the context's rows, else (a depth shape inference could not follow,
    as with a dynamic batch) the heads axis of N×heads×T×T scores."""
    depth = (g.shape(context) or (0,))[-1]
    if depth > 0:
        return d // depth if d % depth == 0 else None
    shape = g.shape(scores) or ()
    if len(shape) == 4 and shape[1] > 0 and d % shape[1] == 0:
        return shape[1]
    return None


def _scores(g: Graph, value: str) -> int | None:
    """The MatMul of two data tensors above ``value``, through scalings by constants."""
    for _ in range(8):
        k = g.writer.get(value)
        if k is None:
            return None
        node = g.nodes[k]
        data = [v for v in node.input if v in g.data]
        if node.op_type == "MatMul":
            return k if len(data) == 2 else None
        if node.op_type not in _SCALE or len(data) != 1:
            return None
        value = data[0]
    return None


def _weighted(g: Graph, k: int) -> bool:
    """A MatMul or Gemm of data and a weight: a projection."""
    node = g.nodes[k]
    if node.op_type not in _PROJECTIONS or len(node.input) < 2:
        return False
    return node.input[0] in g.data and g.weight(node.input[1]) is not None


def _weight_of(g: Graph, k: int) -> tuple[int, ...] | None:
    node = g.nodes[k]
    shape = g.weight(node.input[1])
    if shape is not None and node.op_type == "Gemm" and g.attrs(node).get("transB", 0):
        shape = tuple(reversed(shape))
    return shape


def _data_operand(g: Graph, k: int) -> str:
    return str(g.nodes[k].input[0])


def _projections_above(g: Graph, value: str) -> set[int]:
    """The projections found going up from ``value`` through data nodes (stopping at each)."""
    found: set[int] = set()
    stack, seen = [value], set[int]()
    while stack and len(seen) < 64:
        v = stack.pop()
        k = g.writer.get(v)
        if k is None or k in seen or v not in g.data:
            continue
        seen.add(k)
        if _weighted(g, k):
            found.add(k)
            continue
        stack.extend(u for u in g.nodes[k].input if u in g.data)
    return found


def _readers(g: Graph, value: str) -> list[int]:
    """The nodes reading ``value``, its Shape nodes left out."""
    return [k for k in g.readers.get(value, []) if g.nodes[k].op_type != "Shape"]


def _walk_up(g: Graph, value: str, reader: int, scope: str) -> str:
    """``value`` traced up through layout nodes of ``scope`` read by nothing else: the tensor
    the layer reads (torch's transpose to sequence-first belongs to the attention)."""
    while True:
        k = g.writer.get(value)
        if k is None or _readers(g, value) != [reader]:
            return value
        node = g.nodes[k]
        if node.op_type not in _LAYOUT or scope_of(node.name) != scope or not scope:
            return value
        value, reader = str(node.input[0]), k


def _projection_below(g: Graph, value: str) -> tuple[int, str] | None:
    """The projection below ``value`` through layout nodes, and its output."""
    for _ in range(8):
        readers = _readers(g, value)
        if len(readers) != 1:
            return None
        (k,) = readers
        if _weighted(g, k) and g.nodes[k].input[0] == value:
            return k, str(g.nodes[k].output[0])
        if g.nodes[k].op_type not in _LAYOUT:
            return None
        value = str(g.nodes[k].output[0])
    return None


def _bias(g: Graph, proj: int, out: str) -> tuple[bool, str]:
    """Whether the projection adds a bias (Gemm's third input, or an Add of a 1-D weight
    after it), and the value after the bias."""
    node = g.nodes[proj]
    if node.op_type == "Gemm":
        return len(node.input) > 2 and bool(node.input[2]), out
    readers = _readers(g, out)
    if len(readers) == 1 and g.nodes[readers[0]].op_type == "Add":
        add = g.nodes[readers[0]]
        other = [v for v in add.input if v != out]
        if len(other) == 1 and len(g.weight(other[0]) or ()) == 1:
            return True, str(add.output[0])
    return False, out


def _walk_down(g: Graph, value: str, scope: str) -> str:
    """``value`` followed down through layout nodes of ``scope`` (torch's transpose back to
    batch-first)."""
    while scope:
        readers = _readers(g, value)
        if len(readers) != 1:
            return value
        node = g.nodes[readers[0]]
        if node.op_type not in _LAYOUT or scope_of(node.name) != scope:
            return value
        value = str(node.output[0])
    return value


def _region(g: Graph, x: str, y: str) -> set[int] | None:
    """Every node ``y`` depends on below ``x``, less constants and the weight or shape
    arithmetic that nodes outside read too; None when it reads data other than ``x``, or when
    a value computed from ``x`` inside is read outside."""
    start = g.writer.get(y)
    if start is None:
        return None
    region: set[int] = set()
    stack = [start]
    while stack:
        k = stack.pop()
        if k in region:
            continue
        region.add(k)
        if len(region) > _LIMIT:
            return None
        for v in g.nodes[k].input:
            if not v or v == x:
                continue
            w = g.writer.get(v)
            if w is None:
                if v in g.inputs:
                    return None  # another data input: not attention over x alone
                continue
            stack.append(w)
    region = {k for k in region if g.nodes[k].op_type != "Constant"}
    outside = _read_outside(g, region, y)
    if any(any(v in g.data or g.nodes[k].op_type == "Shape" for v in g.nodes[k].input)
           for k in outside):  # fmt: skip
        return None
    while outside:  # shared weight or shape arithmetic stays outside, with what feeds it
        region -= outside
        outside = _read_outside(g, region, y)
        if any(any(v in g.data for v in g.nodes[k].input) for k in outside):
            return None
    return region


def _read_outside(g: Graph, region: set[int], y: str) -> set[int]:
    """Nodes of ``region`` with an output other than ``y`` that a node outside reads."""
    return {
        k
        for k in region
        for v in g.nodes[k].output
        if v != y and any(r not in region for r in g.readers.get(v, []))
    }


def _is_attention(g: Graph, region: set[int], anchors: set[int]) -> bool:
    """One Softmax, two products of data tensors and two projections: the ones found."""
    if not anchors <= region:
        return False
    softmaxes = [k for k in region if g.nodes[k].op_type == "Softmax"]
    products = [
        k
        for k in region
        if g.nodes[k].op_type == "MatMul" and all(v in g.data for v in g.nodes[k].input)
    ]
    projections = [k for k in region if _weighted(g, k)]
    return len(softmaxes) == 1 and len(products) == 2 and len(projections) == 2


def window_attention(g: Graph, i: int) -> Fused | None:
    """Swin's shifted-window attention as archc writes it (``archc/emit/onnx_windows.py``):
    the nodes of the Softmax's scope, entered by one map and leaving one map, with a
    relative position bias (a Gather of a ((2w - 1)², heads) table) and two projections.  The
    window is w; the shift is where the first cyclic roll cuts (none: 0)."""
    scope = scope_of(g.nodes[i].name)
    if not scope:
        return None
    members = g.scope(scope)
    entering = {v for k in members for v in g.nodes[k].input if v in g.data} - {
        v for k in members for v in g.nodes[k].output
    }
    leaving = {
        v
        for k in members
        for v in g.nodes[k].output
        if v in g.data and any(r not in members for r in g.readers.get(v, [v]))
    }
    if len(entering) != 1 or len(leaving) != 1:
        return None
    ((x,), (y,)) = (tuple(entering), tuple(leaving))
    tables = [
        g.weight(g.nodes[k].input[0])
        for k in members
        if g.nodes[k].op_type == "Gather" and g.weight(g.nodes[k].input[0]) is not None
    ]
    if len(tables) != 1 or len(tables[0] or ()) != 2:
        return None
    rows, heads = tables[0] or (0, 0)
    side = round(rows**0.5)
    if side * side != rows or side % 2 == 0:
        return None
    projections = sorted((k for k in members if _weighted(g, k)), key=lambda k: k)
    if len(projections) != 2:
        return None
    qkv, proj = projections
    w_qkv, w_proj = _weight_of(g, qkv), _weight_of(g, proj)
    if w_qkv is None or w_proj is None or len(w_proj) != 2 or w_proj[0] != w_proj[1]:
        return None
    c = w_proj[0]
    if sorted(w_qkv) != sorted((c, 3 * c)) or c % heads:
        return None
    region = _region(g, x, y)
    if region is None or not _is_attention(g, region, {i, qkv, proj}):
        return None
    args = {
        "heads": heads,
        "window": (side + 1) // 2,
        "shift": _shift(g, members),
        "bias": _bias(g, qkv, g.nodes[qkv].output[0])[0],
        "proj_bias": _bias(g, proj, g.nodes[proj].output[0])[0],
    }
    return Fused("window_attention", args, x, y, frozenset(region), at=g.writer[y], scope=i)


def _shift(g: Graph, members: list[int]) -> int:
    """Where the first roll cuts: a Concat of two Slices of one tensor, the first starting at
    the cut (torch.roll by -s puts rows s.. first)."""
    for k in members:
        node = g.nodes[k]
        if node.op_type != "Concat" or len(node.input) != 2:
            continue
        first, second = (g.writer.get(v) for v in node.input)
        if first is None or second is None:
            continue
        a, b = g.nodes[first], g.nodes[second]
        if a.op_type == b.op_type == "Slice" and a.input[0] == b.input[0] and len(a.input) > 1:
            start = g.const(a.input[1])
            if start is not None:
                return int(start.reshape(-1)[0])
    return 0
