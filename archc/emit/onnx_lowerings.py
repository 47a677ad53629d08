"""ONNX lowerings of the ops modern CNNs added (issue 11): activations spelt out for opset 13,
group, instance and layer norm, layer scale, transposed convolution, resizing, padding, channel
shuffle, and adaptive pooling with bins of any size.

Each function is one op's entry in :data:`archc.emit.onnx.LOWERINGS` and builds through the
:class:`~archc.emit.onnx._Site` it is given (``s.node`` for the layer's own node, ``s.step`` and
``s.constant`` for helpers).  Every lowering is valid from ``MIN_OPSET`` (13) up: where an ONNX
op changed form (``ReduceMean``'s axes became an input in opset 18) the site's ``opset`` says
which to write, and ops that came later (``Gelu`` 20, ``LayerNormalization`` 17,
``GroupNormalization`` 18) are written out as their definitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archc.ops import Shape
from archc.ops.pool import adaptive_bins

if TYPE_CHECKING:
    from archc.emit.onnx import _Site


# ---------------------------------------------------------------------------------- pooling
def adaptive(pool: str) -> Callable[[_Site], None]:
    """Adaptive pooling, which ONNX lacks: PyTorch's bins (``adaptive_bins``) are pooled axis by
    axis, as average and max are separable over a box (the mean of row means over equal rows
    is the mean).  When every axis's input is a multiple of its output this is one pool with
    kernel = stride; otherwise each axis in turn is one such pool, or, where the bins are
    uneven, a Slice and pool per bin joined by a Concat.  Any spatial rank (1-D to 3-D)."""

    def lower(s: _Site) -> None:
        shape = s.in_shapes[0]
        sizes, outs = shape[1:], tuple(s.attrs["size"])
        if pool == "AveragePool" and all(o == 1 for o in outs):
            s.node("GlobalAveragePool", [s.x])
            return
        if all(size % o == 0 for size, o in zip(sizes, outs, strict=True)):
            kernel = [size // o for size, o in zip(sizes, outs, strict=True)]
            s.node(pool, [s.x], kernel_shape=kernel, strides=kernel)
            return
        x, current = s.x, tuple(shape)
        for axis in range(1, len(shape)):
            last = all(current[i] == outs[i - 1] for i in range(axis + 1, len(shape)))
            x = _adaptive_axis(s, pool, x, axis + 1, current, outs[axis - 1], last)
            current = (*current[:axis], outs[axis - 1], *current[axis + 1 :])
            if last:
                return

    lower.__name__ = f"_adaptive_{pool.lower()}"
    return lower


def _adaptive_axis(
    s: _Site, pool: str, x: str, axis: int, shape: Shape, out: int, last: bool
) -> str:
    """Pool ``x`` (per-sample ``shape``) along ``axis`` (2: the first spatial axis, with the
    batch) to ``out`` bins; ``last`` writes the layer's output node."""
    size = shape[axis - 1]
    result = list(shape)
    result[axis - 1] = out
    tag = f"axis{axis - 1}"

    def emit(name: str, op: str, inputs: list[str], **attrs: Any) -> str:
        if last:
            s.node(op, inputs, **attrs)
            return s.output
        return s.step(name, op, inputs, tuple(result), **attrs)

    def along(k: int) -> list[int]:
        return [k if i == axis else 1 for i in range(2, len(shape) + 1)]

    if size % out == 0:
        if size == out and not last:
            return x  # nothing to pool along this axis
        kernel = along(size // out)
        return emit(tag, pool, [x], kernel_shape=kernel, strides=kernel)
    parts = []
    for i, (start, end) in enumerate(adaptive_bins(size, out)):
        piece = list(shape)
        piece[axis - 1] = end - start
        cell = f"{tag}_{i}"
        bounds = [
            s.constant(f"{cell}_start", value_ints=[start]),
            s.constant(f"{cell}_end", value_ints=[end]),
            s.constant(f"{cell}_axis", value_ints=[axis]),
        ]
        sliced = s.step(f"{cell}_slice", "Slice", [x, *bounds], tuple(piece))
        one = list(shape)
        one[axis - 1] = 1
        parts.append(s.step(cell, pool, [sliced], tuple(one), kernel_shape=along(end - start)))
    return emit(tag, "Concat", parts, axis=axis)


# ---------------------------------------------------------------------------------- the rest
def silu(s: _Site) -> None:
    gate = s.step("gate", "Sigmoid", [s.x], s.out_shape)
    s.node("Mul", [s.x, gate])


def hardsigmoid(s: _Site) -> None:
    # PyTorch's Hardsigmoid is relu6(x + 3) / 6: ONNX's HardSigmoid with alpha 1/6, beta 1/2
    s.node("HardSigmoid", [s.x], alpha=1 / 6, beta=0.5)


def gelu(s: _Site) -> None:
    # ONNX's Gelu needs opset 20: spelt out as PyTorch defines both forms
    shape = s.out_shape
    if s.attrs["approximate"] == "tanh":
        # 0.5 · x · (1 + tanh(sqrt(2/pi) · (x + 0.044715 · x³)))
        cube = s.step("cube", "Mul", [s.x, s.step("square", "Mul", [s.x, s.x], shape)], shape)
        term = s.step("term", "Mul", [cube, s.constant("k", value_float=0.044715)], shape)
        inner = s.step("inner", "Add", [s.x, term], shape)
        root = math.sqrt(2 / math.pi)
        scaled = s.step("scaled", "Mul", [inner, s.constant("root", value_float=root)], shape)
        phi = s.step("tanh", "Tanh", [scaled], shape)
    else:
        # 0.5 · x · (1 + erf(x / sqrt(2)))
        scaled = s.step("scaled", "Mul", [s.x, s.constant("root", value_float=0.5**0.5)], shape)
        phi = s.step("erf", "Erf", [scaled], shape)
    one_plus = s.step("one_plus", "Add", [phi, s.constant("one", value_float=1.0)], shape)
    half = s.step("halved", "Mul", [s.x, s.constant("half", value_float=0.5)], shape)
    s.node("Mul", [half, one_plus])


def leaky_relu(s: _Site) -> None:
    s.node("LeakyRelu", [s.x], alpha=s.attrs["slope"])


def elu(s: _Site) -> None:
    s.node("Elu", [s.x], alpha=s.attrs["alpha"])


def mish(s: _Site) -> None:
    soft = s.step("softplus", "Softplus", [s.x], s.out_shape)
    gate = s.step("tanh", "Tanh", [soft], s.out_shape)
    s.node("Mul", [s.x, gate])


def _channel_param(s: _Site, name: str, weight: str, size: int) -> str:
    """A weight of shape (size,) reshaped to (size, 1, 1) so that it broadcasts over a C×H×W
    map per channel (ONNX broadcasts from the right; (size, 1) over C×L, (size, 1, 1, 1) over
    C×D×H×W); on a flat input it broadcasts as it is."""
    rank = len(s.in_shapes[0])
    if rank == 1:
        return weight
    axes = s.constant(f"{name}_axes", value_ints=list(range(1, rank)))
    return s.step(name, "Unsqueeze", [weight, axes], (size, *[1] * (rank - 1)), batched=False)


def prelu(s: _Site) -> None:
    (slope,) = s.weights
    size = 1 if s.attrs["shared"] else s.in_shapes[0][0]
    s.node("PRelu", [s.x, _channel_param(s, "slope", slope, size)])


def _reduce_mean(s: _Site, name: str, x: str, axes: list[int], shape: Shape) -> str:
    # ReduceMean takes its axes as an attribute up to opset 17 and as an input from opset 18
    if s.opset >= 18:
        axes_in = s.constant(f"{name}_axes", value_ints=axes)
        return s.step(name, "ReduceMean", [x, axes_in], shape, keepdims=1)
    return s.step(name, "ReduceMean", [x], shape, axes=axes, keepdims=1)


def _standardise(s: _Site, x: str, axes: list[int], shape: Shape, stat: Shape, last: bool) -> str:
    """(x − mean) / sqrt(var + eps) over ``axes`` (the batch is axis 0), the variance biased as
    PyTorch's norms compute it; ``stat`` is the statistics' per-sample shape.  ``last``: the
    division is the layer's own node."""
    mean = _reduce_mean(s, "mean", x, axes, stat)
    centred = s.step("centred", "Sub", [x, mean], shape)
    square = s.step("square", "Mul", [centred, centred], shape)
    var = _reduce_mean(s, "var", square, axes, stat)
    shifted = s.step("var_eps", "Add", [var, s.constant("eps", value_float=s.attrs["eps"])], stat)
    std = s.step("std", "Sqrt", [shifted], stat)
    if last:
        s.node("Div", [centred, std])
        return s.output
    return s.step("normed", "Div", [centred, std], shape)


def _affine(s: _Site, normed: str) -> None:
    """The layer's node: ``normed`` · weight + bias, per channel."""
    c = s.in_shapes[0][0]
    weight, bias = s.weights[:2]
    scaled = s.step("scaled", "Mul", [normed, _channel_param(s, "weight", weight, c)], s.out_shape)
    s.node("Add", [scaled, _channel_param(s, "bias", bias, c)])


def groupnorm(s: _Site) -> None:
    shape = s.in_shapes[0]
    groups = s.attrs["groups"]
    grouped = (groups, math.prod(shape) // groups)
    to_groups = s.constant("groups_shape", value_ints=[0, *grouped])
    x = s.step("grouped", "Reshape", [s.x, to_groups], grouped)
    normed = _standardise(s, x, [2], grouped, (groups, 1), last=False)
    back = s.constant("shape", value_ints=[0, *shape])
    if not s.attrs["affine"]:
        s.node("Reshape", [normed, back])
        return
    _affine(s, s.step("ungrouped", "Reshape", [normed, back], shape))


def layernorm(s: _Site) -> None:
    shape = s.in_shapes[0]
    if len(shape) == 2:  # tokens: over each token's D features (the last axis)
        normed = _standardise(s, s.x, [2], shape, (shape[0], 1), last=not s.attrs["affine"])
        if s.attrs["affine"]:
            weight, bias = s.weights[:2]  # D, broadcast from the right
            scaled = s.step("scaled", "Mul", [normed, weight], shape)
            s.node("Add", [scaled, bias])
        return
    stat = (1, *shape[1:])
    normed = _standardise(s, s.x, [1], shape, stat, last=not s.attrs["affine"])
    if s.attrs["affine"]:
        _affine(s, normed)


def instancenorm(s: _Site) -> None:
    import numpy as np

    a = s.attrs
    c = s.in_shapes[0][0]
    affine = (
        list(s.weights[:2])
        if a["affine"]
        else [s.tensor("ones", np.ones(c)), s.tensor("zeros", np.zeros(c))]
    )
    if a["track_running_stats"]:  # inference uses the running statistics: a batch norm
        stats = s.weights[-2:]
        s.node("BatchNormalization", [s.x, *affine, *stats], epsilon=a["eps"])
        return
    s.node("InstanceNormalization", [s.x, *affine], epsilon=a["eps"])


def layer_scale(s: _Site) -> None:
    s.node("Mul", [s.x, *s.weights])


def conv_transpose(s: _Site) -> None:
    a = s.attrs
    ph, pw = a["pad"]
    s.node(
        "ConvTranspose",
        [s.x, *s.weights],
        kernel_shape=a["kernel"],
        strides=a["stride"],
        pads=[ph, pw, ph, pw],
        output_padding=a["output_padding"],
        dilations=a["dilation"],
        group=a["groups"],
    )


def upsample(s: _Site) -> None:
    a = s.attrs
    if a["mode"] == "nearest":  # PyTorch's nearest: source = floor(destination / scale)
        how = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric"}
        how["nearest_mode"] = "floor"
    else:
        transform = "align_corners" if a["align_corners"] else "pytorch_half_pixel"
        how = {"mode": "linear", "coordinate_transformation_mode": transform}
    if a["scale"] is not None:  # PyTorch maps coordinates with the scale as given, as Resize
        scales = s.tensor("scales", [1.0, 1.0, a["scale"], a["scale"]])
        s.node("Resize", [s.x, "", scales], **how)
        return
    if s.opset >= 18:  # Resize's axes (opset 18): the sizes of H and W alone, which shape
        # inference follows (a computed batch size would leave every axis unknown after it)
        size = s.constant("size", value_ints=list(a["size"]))
        s.node("Resize", [s.x, "", "", size], axes=[2, 3], **how)
        return
    # sizes must name the batch too: Shape(x)[:2] ++ (h, w)
    from onnx import TensorProto

    int64 = TensorProto.INT64
    shape = s.step("shape", "Shape", [s.x], (4,), batched=False, elem=int64)
    bounds = [s.constant("lead_start", value_ints=[0]), s.constant("lead_end", value_ints=[2])]
    lead = s.step("lead", "Slice", [shape, *bounds], (2,), batched=False, elem=int64)
    size = s.constant("size", value_ints=list(a["size"]))
    sizes = s.step("sizes", "Concat", [lead, size], (4,), batched=False, elem=int64, axis=0)
    s.node("Resize", [s.x, "", "", sizes], **how)


_PAD_MODES = {"zero": "constant", "reflect": "reflect", "replicate": "edge"}


def pad(s: _Site) -> None:
    left, right, top, bottom = s.attrs["amount"]
    pads = s.constant("pads", value_ints=[0, 0, top, left, 0, 0, bottom, right])
    mode = s.attrs["mode"]
    inputs = [s.x, pads]
    if mode == "zero":
        inputs.append(s.constant("value", value_float=s.attrs["value"]))
    s.node("Pad", inputs, mode=_PAD_MODES[mode])


def channel_shuffle(s: _Site) -> None:
    c, h, w = s.in_shapes[0]
    g = s.attrs["groups"]
    split = s.step(
        "split",
        "Reshape",
        [s.x, s.constant("groups", value_ints=[0, g, c // g, h, w])],
        (g, c // g, h, w),
    )
    swapped = s.step("transpose", "Transpose", [split], (c // g, g, h, w), perm=[0, 2, 1, 3, 4])
    s.node("Reshape", [swapped, s.constant("shape", value_ints=[0, c, h, w])])


def slice_channels(s: _Site) -> None:
    """``x[:, start:end]``: one Slice with constant bounds, on axis 1 (the channels) or the
    one given."""
    a = s.attrs
    axis = a["axis"] + 1 if a["axis"] >= 0 else a["axis"]
    bounds = [
        s.constant("start", value_ints=[a["start"]]),
        s.constant("end", value_ints=[a["end"]]),
        s.constant("axis", value_ints=[axis]),
    ]
    s.node("Slice", [s.x, *bounds])
