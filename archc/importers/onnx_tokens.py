"""ONNX nodes that are token ops (vision transformers): how archc and torch write them.

* ``class_token``: the learned 1×1×D token expanded to the batch (Expand of the weight, its
  target shape computed from the input's) and concatenated in front along the tokens;
* ``pos_embed``: an Add of a 1×T×D weight to N×T×D tokens;
* ``select``: a Gather of one token (a scalar index) along the tokens;
* ``linear`` on tokens: a MatMul with a transposed weight, whose Transpose is folded here.

``tokens`` (a Reshape and a Transpose) is in :mod:`~archc.importers.onnx_layout`.  The handlers
take the importer's reader (:mod:`archc.importers.onnx_import`); attention, many nodes, is a
pattern (:mod:`archc.importers.onnx_attention`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archc.importers.onnx_import import _Reader


def weight_view(r: _Reader, node: Any) -> bool:
    """A Transpose or Expand of a weight is that weight (transposed; an Expand keeps the
    parameter's own shape: ViT's class token expanded to the batch).  False for anything
    else (an Expand of integers is shape arithmetic, folded as a constant)."""
    x, out = node.input[0], node.output[0]
    if x in r.values:
        return False
    value = r.consts.get(x)
    shape = r.weights[x]
    if node.op_type == "Transpose":
        default = list(range(len(shape)))[::-1]
        perm = [int(p) for p in r._attrs(node).get("perm", default)]
        r.weights[out] = tuple(shape[p] for p in perm)
        if value is not None:
            r.consts[out] = r.np.transpose(value, perm)
        return True
    if value is not None and value.dtype.kind != "f":
        return False
    r.weights[out] = shape
    return True


def class_token(r: _Reader, node: Any, inputs: list[str]) -> bool:
    """``concat(token, x)`` along the tokens of N×T×D, ``token`` a 1×1×D weight."""
    if len(inputs) != 2 or inputs[0] in r.values or inputs[1] not in r.values:
        return False
    token = r.weights.get(inputs[0])
    shape = r.shape(inputs[1])
    if token is None or shape is None or len(shape) != 3 or tuple(token) != (1, 1, shape[2]):
        return False
    r.add(node, "class_token", {}, inputs[1:])
    return True


def pos_embed(r: _Reader, node: Any, data: str, weight: tuple[int, ...]) -> bool:
    """``x + table``, x N×T×D tokens and the table a 1×T×D weight."""
    shape = r.shape(data)
    if shape is None or len(shape) != 3 or len(weight) != 3 or weight[0] != 1:
        return False
    if any(known not in (-1, size) for known, size in zip(shape[1:], weight[1:], strict=True)):
        return False  # (a size shape inference could not follow is taken to fit)
    r.add(node, "pos_embed", {}, [data])
    return True


def gather(r: _Reader, node: Any) -> None:
    """``x[:, i]`` of N×T×D tokens: ``select(i)``."""
    axis = int(r._attrs(node).get("axis", 0))
    index = r.const(node.input[1])
    rank = len(r.shape(node.input[0]) or ())
    if rank != 3 or axis not in (1, -2) or index is None or getattr(index, "ndim", 1) != 0:
        raise r.error(node, "a gather other than one token of N×T×D tokens (select)")
    t = (r.shape(node.input[0]) or (0, 0))[1]
    i = int(index)
    r.add(node, "select", {"index": i + t if i < 0 else i}, node.input[:1])
