"""Sliding-window arithmetic shared by convolution and pooling."""

from __future__ import annotations

import math

from archc.ops.base import REGISTRY, ShapeProblem, dims


def window_out(
    size: int, kernel: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False
) -> int:
    """Output length of a window sliding over ``size`` with ``pad`` on both sides.

    ``ceil=True`` is Caffe's and PyTorch's ``ceil_mode``: round up, but drop a last window that
    would start entirely in the right padding.
    """
    span = dilation * (kernel - 1) + 1
    room = size + 2 * pad - span
    out = (math.ceil(room / stride) if ceil else room // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    # ceil mode lets the last window hang over the edge; a window must still start inside
    if out < 1 or (room < 0 and not ceil):
        raise ShapeProblem(
            f"a {span}-wide window does not fit in {size}"
            + (f" (with padding {pad} on each side)" if pad else "")
        )
    return out


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """Padding (before, after) that keeps the size at stride 1; the odd pixel goes after."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


_MAP_WORDS = {1: "C×L", 2: "C×H×W", 3: "C×D×H×W"}


def map_input(op: str, x: tuple[int, ...], name: str, nd: int) -> tuple[int, tuple[int, ...]]:
    """``x`` as channels and ``nd`` spatial sizes, or a :class:`ShapeProblem` naming ``op``,
    where ``x`` came from, and the op of the same family that takes ``x``'s rank."""
    if len(x) != nd + 1:
        hint = ""
        if len(x) - 1 in _MAP_WORDS:
            base = op.removesuffix("1d").removesuffix("3d")
            other = base if len(x) == 3 else f"{base}{len(x) - 1}d"
            if other in REGISTRY:
                hint = f": use {other} for a {_MAP_WORDS[len(x) - 1]} input"
        words = _MAP_WORDS.get(nd, f"rank-{nd + 1}")
        raise ShapeProblem(f"{op} needs a {words} input, got {dims(x)} from {name}{hint}")
    return x[0], tuple(x[1:])


def spatial_input(op: str, x: tuple[int, ...], name: str) -> tuple[int, int, int]:
    """``x`` as (C, H, W), or a :class:`ShapeProblem` naming ``op`` and where ``x`` came from."""
    c, (h, w) = map_input(op, x, name, 2)
    return c, h, w
