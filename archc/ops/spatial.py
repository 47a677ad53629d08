"""Sliding-window arithmetic shared by convolution and pooling."""

from __future__ import annotations

import math

from archc.ops.base import ShapeProblem, dims


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


def spatial_input(op: str, x: tuple[int, ...], name: str) -> tuple[int, int, int]:
    """``x`` as (C, H, W), or a :class:`ShapeProblem` naming ``op`` and where ``x`` came from."""
    if len(x) != 3:
        raise ShapeProblem(f"{op} needs a C×H×W input, got {dims(x)} from {name}")
    return x[0], x[1], x[2]
