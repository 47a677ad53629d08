"""ONNX lowerings of the token ops (issue 12): tokens, class token, position embedding, token
select, and multi-head self-attention written as named MatMul and Softmax nodes.

Attention is spelt out rather than emitted as ONNX's ``Attention`` (opset 23, which ONNX
Runtime's CPU provider does not run from opset 13 up): the graph reads as the paper's formula,
``<path>/scores`` (QKᵀ), ``<path>/softmax`` and ``<path>/context`` (the weights times V), and
every MatMul the analysis counts is one node.  Shapes are per sample; ``N`` is the batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archc.emit.onnx_weights import constant_init, uniform
from archc.ops import TensorSpec

if TYPE_CHECKING:
    import numpy as np

    from archc.emit.onnx import _Site


def tokens(s: _Site) -> None:
    shape = s.in_shapes[0]
    flat = (shape[0], math.prod(shape[1:]))
    to_flat = s.constant("flat_shape", value_ints=[0, shape[0], -1])
    x = s.step("flat", "Reshape", [s.x, to_flat], flat)
    s.node("Transpose", [x], perm=[0, 2, 1])


def _batched_shape(s: _Site, source: str, rank: int, shape: tuple[int, ...], name: str) -> str:
    """``[N, *shape]``, N the batch of ``source`` (``rank`` axes with the batch): the shape a
    learned tensor is expanded to, so that it joins the batch's tensors."""
    batch = s.step("shape", "Shape", [source], (rank,), batched=False, elem=_INT64)
    first = [s.constant("zero", value_ints=[0]), s.constant("one", value_ints=[1])]
    n = s.step("batch", "Slice", [batch, *first], (1,), batched=False, elem=_INT64)
    rest = s.constant(name, value_ints=list(shape))
    full = (len(shape) + 1,)
    return s.step("expand_shape", "Concat", [n, rest], full, batched=False, elem=_INT64, axis=0)


def class_token(s: _Site) -> None:
    (token,) = s.weights
    _, d = s.in_shapes[0]
    target = _batched_shape(s, s.x, 3, (1, d), "token_shape")
    tokens = s.step("tokens", "Expand", [token, target], (1, d))
    s.node("Concat", [tokens, s.x], axis=1)


def param(s: _Site) -> None:
    """The weight (1 × shape) expanded to the batch of the network's first input."""
    (weight,) = s.weights
    rank = len(s.batch_shape()) + 1
    target = _batched_shape(s, s.batch_source(), rank, tuple(s.out_shape), "param_shape")
    s.node("Expand", [weight, target])


def learned_init(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """A param's start: zeros, or normal with standard deviation 0.02."""
    if spec.init is not None:
        return constant_init(rng, spec, siblings)
    return position_init(rng, spec, siblings)


def pos_embed(s: _Site) -> None:
    s.node("Add", [s.x, *s.weights])


def select(s: _Site) -> None:
    import numpy as np
    from onnx import numpy_helper

    index = s.constant("index", value=numpy_helper.from_array(np.array(s.attrs["index"], np.int64)))
    s.node("Gather", [s.x, index], axis=1)


def linear_tokens(
    s: _Site, x: str, weight: str, bias: str | None, shape: tuple[int, int, int], tag: str
) -> str:
    """``x · weightᵀ + bias`` on N×T×D tokens (``Gemm`` takes matrices only), ``shape`` being
    (T, D, out); the layer's own node when ``tag`` is empty."""
    t, d, out = shape
    w_t = s.step(f"{tag or 'linear'}_weight_t", "Transpose", [weight], (d, out), batched=False)
    if bias is None:
        if not tag:
            s.node("MatMul", [x, w_t])
            return s.output
        return s.step(tag, "MatMul", [x, w_t], (t, out))
    product = s.step(f"{tag or 'linear'}_matmul", "MatMul", [x, w_t], (t, out))
    if not tag:
        s.node("Add", [product, bias])
        return s.output
    return s.step(tag, "Add", [product, bias], (t, out))


def linear(s: _Site) -> None:
    """``linear`` on T×D tokens; a flat input takes ``Gemm`` (archc.emit.onnx)."""
    t, d = s.in_shapes[0]
    weight, *bias = s.weights
    linear_tokens(s, s.x, weight, bias[0] if bias else None, (t, d, s.out_shape[-1]), "")


def attention(s: _Site) -> None:
    t, d = s.in_shapes[0]
    heads = s.attrs["heads"]
    depth = d // heads
    if s.attrs["bias"]:
        w_in, b_in, w_out, b_out = s.weights
    else:
        (w_in, w_out), b_in, b_out = s.weights, None, None
    qkv = linear_tokens(s, s.x, w_in, b_in, (t, d, 3 * d), "qkv")
    axis = s.constant("axis", value_ints=[2])
    to_heads = s.constant("heads_shape", value_ints=[0, 0, heads, depth])
    parts = []
    for i, name in enumerate(("q", "k", "v")):
        start = s.constant(f"{name}_start", value_ints=[i * d])
        end = s.constant(f"{name}_end", value_ints=[(i + 1) * d])
        part = s.step(name, "Slice", [qkv, start, end, axis], (t, d))
        parts.append(s.step(f"{name}_heads", "Reshape", [part, to_heads], (t, heads, depth)))
    q = s.step("q_t", "Transpose", [parts[0]], (heads, t, depth), perm=[0, 2, 1, 3])
    k = s.step("k_t", "Transpose", [parts[1]], (heads, depth, t), perm=[0, 2, 3, 1])
    v = s.step("v_t", "Transpose", [parts[2]], (heads, t, depth), perm=[0, 2, 1, 3])
    scores = s.step("scores", "MatMul", [q, k], (heads, t, t))
    scale = s.constant("scale", value_float=1.0 / math.sqrt(depth))
    scaled = s.step("scaled", "Mul", [scores, scale], (heads, t, t))
    weights = s.step("softmax", "Softmax", [scaled], (heads, t, t), axis=-1)
    context = s.step("context", "MatMul", [weights, v], (heads, t, depth))
    merged = s.step("context_t", "Transpose", [context], (t, heads, depth), perm=[0, 2, 1, 3])
    to_tokens = s.constant("tokens_shape", value_ints=[0, 0, d])
    joined = s.step("context_tokens", "Reshape", [merged, to_tokens], (t, d))
    linear_tokens(s, joined, w_out, b_out, (t, d, d), "")


def reshape(s: _Site) -> None:
    # the output's shape is known here: no -1 left for ONNX to work out
    s.node("Reshape", [s.x, s.constant("shape", value_ints=[0, *s.out_shape])])


def permute(s: _Site) -> None:
    s.node("Transpose", [s.x], perm=[0, *(axis + 1 for axis in s.attrs["order"])])


def onnx_axis(axis: int) -> int:
    """A per-sample axis as ONNX's: one more for the batch; from the end as is."""
    return axis + 1 if axis >= 0 else axis


def split_heads(s: _Site) -> None:
    t, d = s.in_shapes[0]
    heads = s.attrs["heads"]
    to_heads = s.constant("heads_shape", value_ints=[0, 0, heads, d // heads])
    x = s.step("unflat", "Reshape", [s.x, to_heads], (t, heads, d // heads))
    s.node("Transpose", [x], perm=[0, 2, 1, 3])


def merge_heads(s: _Site) -> None:
    heads, t, depth = s.in_shapes[0]
    x = s.step("tokens_first", "Transpose", [s.x], (t, heads, depth), perm=[0, 2, 1, 3])
    s.node("Reshape", [x, s.constant("tokens_shape", value_ints=[0, 0, heads * depth])])


def matmul(s: _Site) -> None:
    left, right = s.inputs
    if s.attrs["transpose"]:
        shape = s.in_shapes[1]
        rank = len(shape) + 1  # with the batch
        perm = [*range(rank - 2), rank - 1, rank - 2]
        right = s.step("b_t", "Transpose", [right], (*shape[:-2], shape[-1], shape[-2]), perm=perm)
    s.node("MatMul", [left, right])


def rescale(s: _Site) -> None:
    s.node("Mul", [s.x, s.constant("factor", value_float=s.attrs["factor"])])


def attention_init(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """nn.MultiheadAttention's start: the joint q, k, v projection Xavier-uniform, the output
    projection as nn.Linear draws it, biases zero."""
    if spec.init is not None:
        return constant_init(rng, spec, siblings)
    rows, cols = spec.shape
    if spec.role == "in_proj_weight":
        return uniform(rng, spec.shape, math.sqrt(6.0 / (rows + cols)))
    return uniform(rng, spec.shape, 1.0 / math.sqrt(cols))


def position_init(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """ViT's position embedding start: normal with standard deviation 0.02."""
    import numpy as np

    return rng.normal(0.0, 0.02, spec.shape).astype(np.float32)


_INT64 = 7  # onnx.TensorProto.INT64, without importing onnx at module load

__all__ = [
    "attention",
    "attention_init",
    "class_token",
    "learned_init",
    "linear",
    "linear_tokens",
    "matmul",
    "merge_heads",
    "onnx_axis",
    "param",
    "permute",
    "pos_embed",
    "position_init",
    "rescale",
    "reshape",
    "select",
    "split_heads",
    "tokens",
]
