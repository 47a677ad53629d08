"""ONNX lowerings of Swin's ops (issue 12): shifted-window attention and patch merging.

Window attention is spelt out as torchvision's ``shifted_window_attention`` computes it, on
the map turned channels last: ``Pad`` to whole windows, the cyclic shift as ``Slice`` and
``Concat`` (ONNX has no roll), the windows by ``Reshape`` and ``Transpose``, then named nodes
for the formula: ``<path>/qkv``, ``<path>/scores`` (QKᵀ per window and head), ``<path>/
position_bias`` (the learned table gathered through the layer's index buffer), ``<path>/
shift_mask`` (a constant computed here, as torchvision computes it), ``<path>/softmax``,
``<path>/context`` and ``<path>/proj``, and the windows, shift and padding undone.  Every
MatMul the analysis counts is one node.  Shapes are per sample: ``N`` is the batch, and the
windows of one sample stay on an axis of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archc.emit.onnx_weights import uniform
from archc.ops import Shape, TensorSpec
from archc.ops.windows import effective_shift, relative_position_index

if TYPE_CHECKING:
    import numpy as np

    from archc.emit.onnx import _Site

_INT64 = 7  # onnx.TensorProto.INT64, without importing onnx at module load


def _ints(s: _Site, name: str, values: Sequence[int]) -> str:
    return s.constant(name, value_ints=list(values))


def _roll(s: _Site, x: str, shape: Shape, shift: tuple[int, int], tag: str) -> str:
    """``torch.roll(x, shift, dims=(1, 2))`` on N×H×W×C: each shifted axis as the two slices
    that trade places, joined by ``Concat``."""
    current = list(shape)
    for axis, amount in ((1, shift[0]), (2, shift[1])):
        size = current[axis - 1]
        cut = (-amount) % size
        if cut == 0:
            continue
        names = f"{tag}_{'hw'[axis - 1]}"
        axes = _ints(s, f"{names}_axis", [axis])
        cut_at = _ints(s, f"{names}_cut", [cut])
        ends = _ints(s, f"{names}_size", [size])
        tail = s.step(
            f"{names}_tail",
            "Slice",
            [x, cut_at, ends, axes],
            tuple(size - cut if i == axis - 1 else d for i, d in enumerate(current)),
        )
        head = s.step(
            f"{names}_head",
            "Slice",
            [x, _ints(s, f"{names}_zero", [0]), cut_at, axes],
            tuple(cut if i == axis - 1 else d for i, d in enumerate(current)),
        )
        x = s.step(names, "Concat", [tail, head], tuple(current), axis=axis)
    return x


def _project(
    s: _Site, x: str, weight: str, bias: str | None, shape: tuple[int, ...], features: int, tag: str
) -> str:
    """``x · weightᵀ + bias`` over the last axis (an nn.Linear on every token of every window)
    of ``features`` inputs; ``shape`` is the result's per-sample shape."""
    w_t = s.step(f"{tag}_weight_t", "Transpose", [weight], (features, shape[-1]), batched=False)
    if bias is None:
        return s.step(tag, "MatMul", [x, w_t], shape)
    product = s.step(f"{tag}_matmul", "MatMul", [x, w_t], shape)
    return s.step(tag, "Add", [product, bias], shape)


def window_attention(s: _Site) -> None:
    import numpy as np
    from onnx import numpy_helper

    c, height, width = s.in_shapes[0]
    a = s.attrs
    w, heads = a["window"], a["heads"]
    t, depth = w * w, c // heads
    padded_h, padded_w = -(-height // w) * w, -(-width // w) * w
    rows, cols = padded_h // w, padded_w // w
    windows = rows * cols
    table, index, qkv_w, *rest = s.weights
    qkv_b = rest.pop(0) if a["bias"] else None
    proj_w = rest.pop(0)
    proj_b = rest.pop(0) if a["proj_bias"] else None

    x = s.step("channels_last", "Transpose", [s.x], (height, width, c), perm=[0, 2, 3, 1])
    if (padded_h, padded_w) != (height, width):
        pads = _ints(s, "pads", [0, 0, 0, 0, 0, padded_h - height, padded_w - width, 0])
        x = s.step("pad", "Pad", [x, pads], (padded_h, padded_w, c))
    shift = effective_shift(a, height, width)
    padded = (padded_h, padded_w, c)
    x = _roll(s, x, padded, (-shift[0], -shift[1]), "shift")
    split = _ints(s, "window_split_shape", [0, rows, w, cols, w, c])
    x = s.step("window_split", "Reshape", [x, split], (rows, w, cols, w, c))
    x = s.step("window_order", "Transpose", [x], (rows, cols, w, w, c), perm=[0, 1, 3, 2, 4, 5])
    x = s.step(
        "windows", "Reshape", [x, _ints(s, "windows_shape", [0, windows, t, c])], (windows, t, c)
    )

    qkv = _project(s, x, qkv_w, qkv_b, (windows, t, 3 * c), c, "qkv")
    axis = _ints(s, "qkv_axis", [3])
    to_heads = _ints(s, "heads_shape", [0, 0, 0, heads, depth])
    parts = []
    for i, name in enumerate(("q", "k", "v")):
        start, end = _ints(s, f"{name}_start", [i * c]), _ints(s, f"{name}_end", [(i + 1) * c])
        part = s.step(name, "Slice", [qkv, start, end, axis], (windows, t, c))
        parts.append(
            s.step(f"{name}_heads", "Reshape", [part, to_heads], (windows, t, heads, depth))
        )
    q = s.step("q_t", "Transpose", [parts[0]], (windows, heads, t, depth), perm=[0, 1, 3, 2, 4])
    k = s.step("k_t", "Transpose", [parts[1]], (windows, heads, depth, t), perm=[0, 1, 3, 4, 2])
    v = s.step("v_t", "Transpose", [parts[2]], (windows, heads, t, depth), perm=[0, 1, 3, 2, 4])
    scale = s.constant("scale", value_float=depth**-0.5)
    q = s.step("q_scaled", "Mul", [q, scale], (windows, heads, t, depth))
    score_shape = (windows, heads, t, t)
    scores = s.step("scores", "MatMul", [q, k], score_shape)

    # the relative position bias: table rows through the index, heads first
    rows_of = s.step("index", "Cast", [index], (t * t,), batched=False, elem=_INT64, to=_INT64)
    gathered = s.step("bias_rows", "Gather", [table, rows_of], (t * t, heads), batched=False)
    square = _ints(s, "bias_shape", [t, t, heads])
    bias = s.step("bias_square", "Reshape", [gathered, square], (t, t, heads), batched=False)
    bias = s.step(
        "position_bias", "Transpose", [bias], (heads, t, t), batched=False, perm=[2, 0, 1]
    )
    scores = s.step("biased", "Add", [scores, bias], score_shape)
    if any(shift):
        mask = shift_mask(w, padded_h, padded_w, shift)
        value = numpy_helper.from_array(mask.astype(np.float32))
        scores = s.step(
            "masked", "Add", [scores, s.constant("shift_mask", value=value)], score_shape
        )
    weights = s.step("softmax", "Softmax", [scores], score_shape, axis=-1)
    context = s.step("context", "MatMul", [weights, v], (windows, heads, t, depth))
    context = s.step(
        "context_t", "Transpose", [context], (windows, t, heads, depth), perm=[0, 1, 3, 2, 4]
    )
    merged = _ints(s, "merged_shape", [0, 0, 0, c])
    context = s.step("context_tokens", "Reshape", [context, merged], (windows, t, c))
    out = _project(s, context, proj_w, proj_b, (windows, t, c), c, "proj")

    grid = _ints(s, "grid_shape", [0, rows, cols, w, w, c])
    out = s.step("window_grid", "Reshape", [out, grid], (rows, cols, w, w, c))
    out = s.step("map_order", "Transpose", [out], (rows, w, cols, w, c), perm=[0, 1, 3, 2, 4, 5])
    out = s.step("map", "Reshape", [out, _ints(s, "map_shape", [0, padded_h, padded_w, c])], padded)
    out = _roll(s, out, padded, shift, "unshift")
    if (padded_h, padded_w) != (height, width):
        starts, ends = _ints(s, "crop_start", [0, 0]), _ints(s, "crop_end", [height, width])
        crop_axes = _ints(s, "crop_axes", [1, 2])
        out = s.step("crop", "Slice", [out, starts, ends, crop_axes], (height, width, c))
    s.node("Transpose", [out], perm=[0, 3, 1, 2])


def shift_mask(window: int, height: int, width: int, shift: tuple[int, int]) -> np.ndarray:
    """torchvision's attention mask for a shifted window: windows × 1 × T × T, -100 between
    tokens from regions of the padded map that the roll brought together, 0 elsewhere."""
    import numpy as np

    region = np.zeros((height, width), np.float32)
    count = 0
    w = window
    for top, bottom in ((0, -w), (-w, -shift[0]), (-shift[0], None)):
        for left, right in ((0, -w), (-w, -shift[1]), (-shift[1], None)):
            region[top:bottom, left:right] = count
            count += 1
    region = region.reshape(height // w, w, width // w, w).transpose(0, 2, 1, 3).reshape(-1, w * w)
    apart = region[:, None, :] - region[:, :, None]
    return np.where(apart != 0, np.float32(-100.0), np.float32(0.0))[:, None]


def patch_merge(s: _Site) -> None:
    c, height, width = s.in_shapes[0]
    x = s.x
    padded_h, padded_w = height + height % 2, width + width % 2
    if (padded_h, padded_w) != (height, width):
        pads = _ints(s, "pads", [0, 0, 0, 0, 0, 0, padded_h - height, padded_w - width])
        x = s.step("pad", "Pad", [x, pads], (c, padded_h, padded_w))
    axes, steps = _ints(s, "axes", [2, 3]), _ints(s, "steps", [2, 2])
    ends = _ints(s, "ends", [padded_h, padded_w])
    half = (c, padded_h // 2, padded_w // 2)
    parts = []
    for row, col in ((0, 0), (1, 0), (0, 1), (1, 1)):
        start = _ints(s, f"start_{row}{col}", [row, col])
        parts.append(s.step(f"patch_{row}{col}", "Slice", [x, start, ends, axes, steps], half))
    s.node("Concat", parts, axis=1)


def window_init(
    rng: np.random.Generator, spec: TensorSpec, siblings: Sequence[TensorSpec]
) -> np.ndarray:
    """torchvision's ShiftedWindowAttention start: the bias table truncated-normal (std 0.02),
    the index its fixed table of offsets, qkv and proj as nn.Linear draws them."""
    import numpy as np

    if spec.role == "relative_position_bias_table":
        return np.clip(rng.normal(0.0, 0.02, spec.shape), -2.0, 2.0).astype(np.float32)
    if spec.role == "relative_position_index":
        window = round(spec.shape[0] ** 0.25)
        return np.asarray(relative_position_index(window), np.float32)
    layer = spec.role.split(".")[0]
    weight = next(t for t in siblings if t.role == f"{layer}.weight")
    return uniform(rng, spec.shape, 1.0 / math.sqrt(weight.shape[1]))


__all__ = ["patch_merge", "shift_mask", "window_attention", "window_init"]
