"""Pooling: windows without weights (max, average, global and adaptive average)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from archc.ops.base import (
    ArgProblem,
    Arithmetic,
    Attrs,
    AttrSpec,
    Example,
    Op,
    Shape,
    ShapeProblem,
    SymbolicShape,
    T,
    Window,
    dims,
    elements,
    register,
)
from archc.ops.spatial import spatial_input, window_out


class _Pool(Op):
    """Shared by maxpool and avgpool: identical geometry, different reduction."""

    traits = frozenset({"spatial", "pool"})
    attrs: ClassVar[tuple[AttrSpec, ...]] = (
        AttrSpec("kernel", "pair", doc="window size"),
        AttrSpec("stride", "pair", "=kernel", "defaults to the kernel size"),
        AttrSpec("pad", "pad", 0),
        AttrSpec("ceil", "bool", False, "round the output size up (Caffe, ceil_mode)"),
    )

    def check(self, a: Attrs) -> None:
        if a["pad"] == "same":
            raise ArgProblem(f'{self.name} takes explicit padding, not "same"', "pad")
        kh, kw = a["kernel"]
        if a["pad"][0] > kh // 2 or a["pad"][1] > kw // 2:
            raise ArgProblem("padding must be at most half the kernel size", "pad")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, h, w = spatial_input(self.name, ins[0], names[0])
        kh, kw = a["kernel"]
        sh, sw = a["stride"]
        ph, pw = a["pad"]
        try:
            return (
                c,
                window_out(h, kh, sh, ph, ceil=a["ceil"]),
                window_out(w, kw, sw, pw, ceil=a["ceil"]),
            )
        except ShapeProblem as exc:
            raise ShapeProblem(
                f"{self.name} {kh}×{kw} does not fit the {h}×{w} input from {names[0]}: {exc}"
            ) from None

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(ins[0].channels, 3)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        return Window(a["kernel"], a["stride"])

    def summary(self, a: Attrs) -> str:
        kh, kw = a["kernel"]
        sh, sw = a["stride"]
        text = f"{self.name} {kh}×{kw}"
        if (sh, sw) != (1, 1):
            text += f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        return text


@register
class MaxPool(_Pool):
    name = "maxpool"
    doc = "Max pooling over a sliding window."
    shape_doc = (
        "as conv, channels kept; `ceil=true` rounds up as Caffe and PyTorch `ceil_mode` do "
        "(a window must start inside the input or left padding)"
    )
    examples = (
        Example("maxpool(2)"),
        Example("maxpool(3, stride=2, ceil=true)", ((4, 11, 10),)),
        Example("maxpool(2, stride=2, pad=1, ceil=true)", ((4, 11, 10),)),  # starts in padding
        Example("maxpool(3, stride=1, pad=1)", ((4, 11, 10),)),
    )

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return elements(out) * (kh * kw - 1)


@register
class AvgPool(_Pool):
    name = "avgpool"
    doc = "Average pooling over a sliding window."
    attrs = (*_Pool.attrs, AttrSpec("count_include_pad", "bool", True))
    shape_doc = "as maxpool"
    examples = (
        Example("avgpool(2)"),
        Example("avgpool(3, stride=2, pad=1, ceil=true)", ((4, 11, 10),)),
        Example("avgpool(3, stride=2, pad=1, ceil=true, count_include_pad=false)", ((4, 11, 10),)),
    )

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return elements(out) * kh * kw


@register
class GlobalAvgPool(Op):
    name = "global_avgpool"
    doc = "Average over the whole height and width: C×H×W -> C×1×1."
    traits = frozenset({"spatial", "pool"})
    shape_doc = "C×H×W → C×1×1"
    examples = (Example("global_avgpool"),)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, _, _ = spatial_input(self.name, ins[0], names[0])
        return (c, 1, 1)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        one = ar.product([])
        return SymbolicShape(ins[0].channels, 3, (one, one))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(ins[0])

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        _, h, w = ins[0]
        return Window((h, w), (h, w))


@register
class AdaptiveAvgPool(Op):
    name = "adaptive_avgpool"
    doc = "Average pooling to a fixed output size (PyTorch AdaptiveAvgPool2d)."
    traits = frozenset({"spatial", "pool"})
    attrs = (AttrSpec("size", "pair", doc="output height and width"),)
    shape_doc = (
        "C×H×W → C×size; output row i averages input rows ⌊i·H/h⌋ to ⌈(i+1)·H/h⌉ − 1 "
        "(bins overlap when H is not a multiple of h), columns likewise"
    )
    examples: ClassVar[tuple[Example, ...]] = (
        Example("adaptive_avgpool(2)"),
        Example("adaptive_avgpool(1)", ((4, 5, 7),)),
        Example("adaptive_avgpool((5, 3))", ((4, 10, 9),)),
        Example("adaptive_avgpool((3, 4))", ((4, 10, 9),)),  # bins overlap
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, _, _ = spatial_input(self.name, ins[0], names[0])
        return (c, *a["size"])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        size = ar.items(a["size"])
        return SymbolicShape(ins[0].channels, 3, (size[0], size[1]) if size else None)

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(ins[0])

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        # PyTorch's bins run from floor(i*H/oh) to ceil((i+1)*H/oh): the widest bin is the
        # kernel, the average step the stride.
        _, h, w = ins[0]
        oh, ow = a["size"]
        return Window((_widest_bin(h, oh), _widest_bin(w, ow)), (max(1, h // oh), max(1, w // ow)))

    def summary(self, a: Attrs) -> str:
        return f"adaptive_avgpool → {dims(a['size'])}"


@register
class AdaptiveMaxPool(AdaptiveAvgPool):
    name = "adaptive_maxpool"
    doc = "Max pooling to a fixed output size (PyTorch AdaptiveMaxPool2d)."
    shape_doc = "C×H×W → C×size; bins as adaptive_avgpool"
    examples = (
        Example("adaptive_maxpool(2)"),
        Example("adaptive_maxpool(1)", ((4, 5, 7),)),
        Example("adaptive_maxpool((3, 4))", ((4, 10, 9),)),  # bins overlap
    )

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # comparisons: one fewer than the bin's elements, per output element
        _, h, w = ins[0]
        oh, ow = a["size"]
        # Σ over bins of (rows · cols − 1) = (Σ rows)(Σ cols) − bins, in closed form: a size of
        # 30,000 pooled to 29,999 costs no loop over its 900 million bins
        return ins[0][0] * (_bin_total(h, oh) * _bin_total(w, ow) - oh * ow)

    def summary(self, a: Attrs) -> str:
        return f"adaptive_maxpool → {dims(a['size'])}"


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling bins along one axis: [⌊i·size/out⌋, ⌈(i+1)·size/out⌉)."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _widest_bin(size: int, out: int) -> int:
    """The widest of ``adaptive_bins(size, out)``, in closed form.

    With ``size = q·out + r``, bin i spans ``q + ⌈(i+1)r/out⌉ − ⌊ir/out⌋`` elements: q when r is
    0, else q + 1, or q + 2 when some ``ir mod out`` exceeds ``out − r``, which happens exactly
    when ``r > gcd(r, out)``.  (tests/test_ops.py checks it against the bins themselves.)"""
    q, r = divmod(size, out)
    if r == 0:
        return q
    return q + 2 if r > math.gcd(r, out) else q + 1


def _bin_total(size: int, out: int) -> int:
    """The widths of ``adaptive_bins(size, out)`` added up, in closed form: ``out·q`` when r is
    0, else ``out·(q + 1) + r − gcd(r, out)`` (the bins of width q + 2 number r − gcd)."""
    q, r = divmod(size, out)
    if r == 0:
        return out * q
    return out * (q + 1) + r - math.gcd(r, out)
