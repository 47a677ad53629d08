"""ONNX layout nodes as archc ops: Reshape, Transpose, products of two tensors, and slices,
splits, softmaxes and concatenations along any axis.

* ``tokens``: a Reshape of an N×C×H×W map to N×C×(H·W), then a Transpose to N×(H·W)×C
  (ViT's ``flatten(2).transpose(1, 2)``; torch's ``reshape`` and ``permute`` alike);
* attention written out (archc's ``split_heads``, ``merge_heads``, ``matmul``): a Reshape of
  N×T×D to N×T×h×d then a Transpose to N×h×T×d is ``split_heads(h)``, the two undone
  ``merge_heads``, a MatMul of two tensors ``matmul`` (``transpose=true`` when the second is a
  Transpose of its last two axes);
* any other Reshape or Transpose of the data, the batch axis kept first: ``reshape`` and
  ``permute``; a Slice or Split of one axis ``slice(start, end, axis=)``.

A Reshape or Transpose that may be the first half of a two-node op is a :class:`View` until a
node reads it: the second half takes it whole (:func:`takes_view`), anything else makes it a
``reshape`` or ``permute`` layer (:func:`materialise`).  Whole attention layers are a pattern
(:mod:`archc.importers.onnx_attention`), matched before these run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archc.importers.onnx_import import _Reader

__all__ = [
    "View",
    "materialise",
    "matmul",
    "per_sample_axis",
    "reshape",
    "slice_",
    "split",
    "takes_view",
    "transpose",
]


@dataclass
class View:
    """A Reshape or Transpose not yet a layer: ``kind`` says which op's first half it may be
    (``tokens``, ``split``, ``merge``, ``swap``: a Transpose of the last two axes); ``op`` and
    ``args`` are the layer it is on its own."""

    source: str  # the ONNX value it reads
    kind: str
    op: str
    args: dict[str, Any]
    node: Any
    extra: dict[str, int] = field(default_factory=dict)


#: the node type that takes each kind of view whole (the MatMul only as its second operand)
_TAKERS = {"tokens": "Transpose", "split": "Transpose", "merge": "Reshape", "swap": "MatMul"}


def takes_view(node: Any, value: str, view: View) -> bool:
    """Whether ``node`` may make one layer of the view ``value`` and itself."""
    if _TAKERS.get(view.kind) != node.op_type:
        return False
    return node.op_type != "MatMul" or (len(node.input) > 1 and node.input[1] == value)


def materialise(r: _Reader, value: str) -> None:
    """The view ``value`` as the layer it is on its own."""
    view = r.views.pop(value)
    r.add(view.node, view.op, view.args, [view.source], out=value)


def _target(r: _Reader, node: Any) -> tuple[int, ...] | None:
    """A Reshape's target per sample (ONNX's 0 copies the input's size; the batch first)."""
    target = r.const(node.input[1])
    shape = r.shape(node.input[0])
    if target is None or shape is None or target.size < 2:
        return None
    sizes = [int(t) for t in target.reshape(-1)]
    dims = [shape[i] if t == 0 and i < len(shape) else t for i, t in enumerate(sizes)]
    rest = dims[1:]
    if dims[0] not in (1, shape[0]) and not (dims[0] == -1 and -1 not in rest):
        return None  # the batch folded into another axis
    return tuple(rest)


def reshape(r: _Reader, node: Any) -> None:
    """A Reshape: the first half of ``tokens`` (N×C×... to N×C×L) or of ``split_heads``
    (N×T×D to N×T×h×d), the second of ``merge_heads``, else ``reshape``."""
    target = _target(r, node)
    source = node.input[0]
    view = r.views.get(source)
    if view is not None and view.kind == "merge" and target is not None:  # h×T×d -> T×(h·d)
        heads, t, depth = view.extra["heads"], view.extra["t"], view.extra["depth"]
        if target in ((t, heads * depth), (t, -1), (-1, heads * depth)):
            del r.views[source]
            r.add(node, "merge_heads", {}, [view.source])
            return
    if view is not None:
        materialise(r, source)
    if target is None:
        raise r.error(node, "a reshape whose target is not constant, or folds in the batch")
    out = node.output[0]
    args = {"shape": target}
    sample = (r.shape(source) or ())[1:]
    if (
        2 <= len(sample) <= 4
        and len(target) == 2
        and target[0] == sample[0] > 0
        and target[1] in (-1, math.prod(sample[1:]))
    ):
        r.views[out] = View(source, "tokens", "reshape", args, node)
        return
    if len(sample) == 2 and len(target) == 3 and target[0] in (-1, sample[0]):
        d, heads, depth = sample[1], target[1], target[2]
        if heads > 0 and d % heads == 0 and depth in (-1, d // heads):
            r.views[out] = View(source, "split", "reshape", args, node, {"heads": heads})
            return
    r.add(node, "reshape", args, [source])


def transpose(r: _Reader, node: Any) -> None:
    """A Transpose: the second half of ``tokens`` or ``split_heads``, the first of
    ``merge_heads`` or of ``matmul(transpose=true)``, else ``permute``."""
    source = node.input[0]
    view = r.views.get(source)
    rank = len(r.shape(source) or ())
    perm = [int(p) for p in r._attrs(node).get("perm", list(range(rank))[::-1])]
    if view is not None and (view.kind, perm) in (("tokens", [0, 2, 1]), ("split", [0, 2, 1, 3])):
        del r.views[source]
        if view.kind == "tokens":
            r.add(node, "tokens", {}, [view.source])
        else:
            r.add(node, "split_heads", {"heads": view.extra["heads"]}, [view.source])
        return
    if view is not None:
        materialise(r, source)
    if not perm or perm[0] != 0:
        raise r.error(node, f"a transpose {perm} that moves the batch axis")
    args = {"order": tuple(p - 1 for p in perm[1:])}
    out = node.output[0]
    shape = r.shape(source) or ()
    n = len(perm)
    if perm == [0, 2, 1, 3] and len(shape) == 4 and all(d > 0 for d in shape[1:]):
        extra = {"heads": shape[1], "t": shape[2], "depth": shape[3]}
        r.views[out] = View(source, "merge", "permute", args, node, extra)
    elif n >= 3 and perm == [*range(n - 2), n - 1, n - 2]:
        r.views[out] = View(source, "swap", "permute", args, node)
    else:
        r.add(node, "permute", args, [source])


def matmul(r: _Reader, node: Any) -> bool:
    """A product of two data tensors: ``matmul`` (``transpose=true`` when the second is a
    Transpose of its last two axes); False for a product with a weight (a linear layer)."""
    a, b = node.input[0], node.input[1]
    view = r.views.get(b)
    if view is not None and view.kind == "swap" and a in r.values:
        del r.views[b]
        r.add(node, "matmul", {"transpose": True}, [a, view.source])
        return True
    if a in r.values and b in r.values:
        r.add(node, "matmul", {}, [a, b])
        return True
    return False


def per_sample_axis(r: _Reader, node: Any, axis: int, value: str | None = None) -> int:
    """An ONNX axis as archc's per-sample one: 0 channels (or features), -1 the last of three
    or more; the batch axis is an error."""
    rank = len(r.shape(value or node.input[0]) or ())
    if axis < 0:
        if not rank:
            return axis  # from the end, the rank unknown
        axis += rank
    if axis == 0:
        raise r.error(node, "an op along the batch axis")
    if rank > 2 and axis == rank - 1:
        return -1
    return axis - 1


def _size(r: _Reader, node: Any, axis: int) -> int:
    """The input's size along ONNX ``axis`` (with the batch)."""
    shape = r.shape(node.input[0])
    if not shape or len(shape) <= axis or shape[axis] <= 0:
        raise r.error(node, f"the input's size along axis {axis} is unknown")
    return int(shape[axis])


def _axis_arg(r: _Reader, node: Any, axis: int) -> dict[str, int]:
    per_sample = per_sample_axis(r, node, axis)
    return {"axis": per_sample} if per_sample else {}


def slice_(r: _Reader, node: Any) -> None:
    """A Slice of one axis with step 1: ``slice(start, end)``, ``axis=`` unless channels."""
    a = r._attrs(node)
    parts = [r.const(v) if v else None for v in list(node.input[1:5])]
    starts = a.get("starts", parts[0] if parts else None)
    ends = a.get("ends", parts[1] if len(parts) > 1 else None)
    axes = a.get("axes", parts[2] if len(parts) > 2 else None)
    steps = parts[3] if len(parts) > 3 else None
    if starts is None or ends is None:
        raise r.error(node, "a slice with bounds computed at run time")
    starts, ends = [int(s) for s in starts], [int(e) for e in ends]
    axes = [int(x) for x in axes] if axes is not None else list(range(len(starts)))
    if len(starts) != 1 or (steps is not None and int(steps[0]) != 1):
        raise r.error(node, "a slice of more than one axis, or with steps", "archc's slice")
    rank = len(r.shape(node.input[0]) or ())
    axis = axes[0] + rank if axes[0] < 0 else axes[0]
    size = _size(r, node, axis)
    start, end = (s + size if s < 0 else s for s in (starts[0], ends[0]))
    args = {"start": max(0, start), "end": min(end, size), **_axis_arg(r, node, axis)}
    r.add(node, "slice", args, node.input[:1])


def split(r: _Reader, node: Any) -> None:
    """A Split: one ``slice`` per output."""
    a = r._attrs(node)
    rank = len(r.shape(node.input[0]) or ())
    axis = int(a.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    size = _size(r, node, axis)
    sizes = a.get("split")
    if sizes is None and len(node.input) > 1 and node.input[1]:
        sizes = r.const(node.input[1])
    count = len(node.output)
    sizes = [int(s) for s in sizes] if sizes is not None else [size // count] * count
    where = _axis_arg(r, node, axis)
    start = 0
    for length, out in zip(sizes, node.output, strict=True):
        r.add(
            node, "slice", {"start": start, "end": start + length, **where}, node.input[:1], out=out
        )
        start += length
