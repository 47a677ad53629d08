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
from archc.ops.conv import times
from archc.ops.spatial import map_input, window_out


def pool_attrs(nd: int) -> tuple[AttrSpec, ...]:
    """A sliding pool's arguments for ``nd`` spatial axes."""
    return (
        AttrSpec("kernel", "pair", doc="window size", n=nd),
        AttrSpec("stride", "pair", "=kernel", "defaults to the kernel size", n=nd),
        AttrSpec("pad", "pad", 0, n=nd),
        AttrSpec("ceil", "bool", False, "round the output size up (Caffe, ceil_mode)"),
    )


class _Pool(Op):
    """Shared by maxpool and avgpool: identical geometry, different reduction."""

    traits = frozenset({"spatial", "pool"})
    #: spatial axes (the 1d and 3d forms set 1 and 3)
    nd: ClassVar[int] = 2
    attrs: ClassVar[tuple[AttrSpec, ...]] = pool_attrs(2)

    def check(self, a: Attrs) -> None:
        if a["pad"] == "same":
            raise ArgProblem(f'{self.name} takes explicit padding, not "same"', "pad")
        if any(p > k // 2 for p, k in zip(a["pad"], a["kernel"], strict=True)):
            raise ArgProblem("padding must be at most half the kernel size", "pad")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, sizes = map_input(self.name, ins[0], names[0], self.nd)
        try:
            return (
                c,
                *(
                    window_out(size, k, s, p, ceil=a["ceil"])
                    for size, k, s, p in zip(sizes, a["kernel"], a["stride"], a["pad"], strict=True)
                ),
            )
        except ShapeProblem as exc:
            raise ShapeProblem(
                f"{self.name} {times(a['kernel'])} does not fit the {times(sizes)} input from "
                f"{names[0]}: {exc}"
            ) from None

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(ins[0].channels, self.nd + 1)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        return Window(a["kernel"], a["stride"]) if self.nd == 2 else None

    def summary(self, a: Attrs) -> str:
        stride = a["stride"]
        text = f"{self.name} {times(a['kernel'])}"
        if any(s != 1 for s in stride):
            text += f"/{stride[0]}" if len(set(stride)) == 1 else f"/{times(stride)}"
        return text


@register
class MaxPool(_Pool):
    name = "maxpool"
    doc = "Max pooling over a sliding window."
    shape_doc = (
        "as conv, channels kept; `ceil=true` rounds up as Caffe and PyTorch `ceil_mode` do "
        "(a window must start inside the input or left padding)"
    )
    examples: ClassVar[tuple[Example, ...]] = (
        Example("maxpool(2)"),
        Example("maxpool(3, stride=2, ceil=true)", ((4, 11, 10),)),
        Example("maxpool(2, stride=2, pad=1, ceil=true)", ((4, 11, 10),)),  # starts in padding
        Example("maxpool(3, stride=1, pad=1)", ((4, 11, 10),)),
    )

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out) * (elements(a["kernel"]) - 1)


@register
class MaxPool1d(MaxPool):
    name = "maxpool1d"
    family = "maxpool"
    doc = "Max pooling over a sliding window along L (C×L)."
    nd = 1
    attrs = pool_attrs(1)
    shape_doc = "C×L → C×L', L' as maxpool's H'"
    examples = (
        Example("maxpool1d(2)", ((4, 9),)),
        Example("maxpool1d(3, 2, ceil=true)", ((4, 10),)),
    )


@register
class MaxPool3d(MaxPool):
    name = "maxpool3d"
    family = "maxpool"
    doc = "Max pooling over a sliding window in D, H and W (C×D×H×W)."
    nd = 3
    attrs = pool_attrs(3)
    shape_doc = "C×D×H×W → C×D'×H'×W', each as maxpool's H'"
    examples = (
        Example("maxpool3d(2)", ((4, 4, 6, 6),)),
        Example("maxpool3d((1, 3, 3), (1, 2, 2), pad=(0, 1, 1))", ((4, 3, 9, 8),)),
    )


@register
class AvgPool(_Pool):
    name = "avgpool"
    doc = "Average pooling over a sliding window."
    attrs = (*_Pool.attrs, AttrSpec("count_include_pad", "bool", True))
    shape_doc = "as maxpool"
    examples: ClassVar[tuple[Example, ...]] = (
        Example("avgpool(2)"),
        Example("avgpool(3, stride=2, pad=1, ceil=true)", ((4, 11, 10),)),
        Example("avgpool(3, stride=2, pad=1, ceil=true, count_include_pad=false)", ((4, 11, 10),)),
    )

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out) * elements(a["kernel"])


@register
class AvgPool1d(AvgPool):
    name = "avgpool1d"
    family = "avgpool"
    doc = "Average pooling over a sliding window along L (C×L)."
    nd = 1
    attrs = (*pool_attrs(1), AttrSpec("count_include_pad", "bool", True))
    shape_doc = "as maxpool1d"
    examples = (Example("avgpool1d(2)", ((4, 9),)), Example("avgpool1d(3, 2, pad=1)", ((4, 10),)))


@register
class AvgPool3d(AvgPool):
    name = "avgpool3d"
    family = "avgpool"
    doc = "Average pooling over a sliding window in D, H and W (C×D×H×W)."
    nd = 3
    attrs = (*pool_attrs(3), AttrSpec("count_include_pad", "bool", True))
    shape_doc = "as maxpool3d"
    examples = (
        Example("avgpool3d(2)", ((4, 4, 6, 6),)),
        Example("avgpool3d(3, 2, pad=1, ceil=true)", ((4, 5, 7, 6),)),
    )


def _map(op: str, x: Shape, name: str) -> tuple[int, tuple[int, ...]]:
    """A map of any spatial rank (C×L, C×H×W, C×D×H×W) as channels and sizes."""
    if not 2 <= len(x) <= 4:
        raise ShapeProblem(f"{op} needs a C×L, C×H×W or C×D×H×W input, got {dims(x)} from {name}")
    return x[0], tuple(x[1:])


@register
class GlobalAvgPool(Op):
    name = "global_avgpool"
    doc = "Average over every spatial axis: C×H×W -> C×1×1 (C×L -> C×1, C×D×H×W -> C×1×1×1)."
    traits = frozenset({"spatial", "pool"})
    shape_doc = "C×H×W → C×1×1; any spatial rank: C×L → C×1, C×D×H×W → C×1×1×1"
    examples = (
        Example("global_avgpool"),
        Example("global_avgpool", ((4, 9),)),
        Example("global_avgpool", ((4, 3, 5, 6),)),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, sizes = _map(self.name, ins[0], names[0])
        return (c, *(1 for _ in sizes))

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        one = ar.product([])
        x = ins[0]
        return SymbolicShape(x.channels, x.rank, tuple(one for _ in range(x.rank - 1)))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(ins[0])

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        if len(ins[0]) != 3:
            return None
        _, h, w = ins[0]
        return Window((h, w), (h, w))


class _Adaptive(Op):
    """Adaptive pooling: PyTorch's bins along each axis (see :func:`adaptive_bins`)."""

    traits = frozenset({"spatial", "pool"})
    nd: ClassVar[int] = 2

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, _ = map_input(self.name, ins[0], names[0], self.nd)
        return (c, *a["size"])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        size = ar.items(a["size"])
        return SymbolicShape(ins[0].channels, self.nd + 1, tuple(size) if size else None)

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(ins[0])

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        # PyTorch's bins run from floor(i*H/oh) to ceil((i+1)*H/oh): the widest bin is the
        # kernel, the average step the stride.
        if self.nd != 2:
            return None
        _, h, w = ins[0]
        oh, ow = a["size"]
        return Window((_widest_bin(h, oh), _widest_bin(w, ow)), (max(1, h // oh), max(1, w // ow)))

    def summary(self, a: Attrs) -> str:
        return f"{self.name} → {dims(a['size'])}"


class _AdaptiveMax(_Adaptive):
    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # comparisons: one fewer than the bin's elements, per output element.  Σ over bins of
        # (rows · cols − 1) = (Σ rows)(Σ cols) − bins, in closed form: a size of 30,000 pooled
        # to 29,999 costs no loop over its 900 million bins
        totals = [_bin_total(size, o) for size, o in zip(ins[0][1:], a["size"], strict=True)]
        return ins[0][0] * (elements(tuple(totals)) - elements(a["size"]))


_BINS = (
    "output row i averages input rows ⌊i·H/h⌋ to ⌈(i+1)·H/h⌉ − 1 (bins overlap when H is not "
    "a multiple of h), columns likewise"
)


@register
class AdaptiveAvgPool(_Adaptive):
    name = "adaptive_avgpool"
    doc = "Average pooling to a fixed output size (PyTorch AdaptiveAvgPool2d)."
    attrs = (AttrSpec("size", "pair", doc="output height and width"),)
    shape_doc = f"C×H×W → C×size; {_BINS}"
    examples: ClassVar[tuple[Example, ...]] = (
        Example("adaptive_avgpool(2)"),
        Example("adaptive_avgpool(1)", ((4, 5, 7),)),
        Example("adaptive_avgpool((5, 3))", ((4, 10, 9),)),
        Example("adaptive_avgpool((3, 4))", ((4, 10, 9),)),  # bins overlap
    )


@register
class AdaptiveAvgPool1d(_Adaptive):
    name = "adaptive_avgpool1d"
    family = "adaptive_avgpool"
    doc = "Average pooling to a fixed length (PyTorch AdaptiveAvgPool1d)."
    nd = 1
    attrs = (AttrSpec("size", "pair", doc="output length", n=1),)
    shape_doc = "C×L → C×size; bins as adaptive_avgpool"
    examples = (
        Example("adaptive_avgpool1d(3)", ((4, 10),)),
        Example("adaptive_avgpool1d(1)", ((4, 7),)),
    )


@register
class AdaptiveAvgPool3d(_Adaptive):
    name = "adaptive_avgpool3d"
    family = "adaptive_avgpool"
    doc = "Average pooling to a fixed D×H×W (PyTorch AdaptiveAvgPool3d)."
    nd = 3
    attrs = (AttrSpec("size", "pair", doc="output depth, height and width", n=3),)
    shape_doc = "C×D×H×W → C×size; bins as adaptive_avgpool"
    examples = (
        Example("adaptive_avgpool3d(1)", ((4, 3, 5, 6),)),
        Example("adaptive_avgpool3d((2, 3, 4))", ((4, 3, 5, 6),)),  # bins overlap
    )


@register
class AdaptiveMaxPool(_AdaptiveMax):
    name = "adaptive_maxpool"
    doc = "Max pooling to a fixed output size (PyTorch AdaptiveMaxPool2d)."
    attrs = (AttrSpec("size", "pair", doc="output height and width"),)
    shape_doc = "C×H×W → C×size; bins as adaptive_avgpool"
    examples = (
        Example("adaptive_maxpool(2)"),
        Example("adaptive_maxpool(1)", ((4, 5, 7),)),
        Example("adaptive_maxpool((3, 4))", ((4, 10, 9),)),  # bins overlap
    )


@register
class AdaptiveMaxPool1d(_AdaptiveMax):
    name = "adaptive_maxpool1d"
    family = "adaptive_maxpool"
    doc = "Max pooling to a fixed length (PyTorch AdaptiveMaxPool1d)."
    nd = 1
    attrs = (AttrSpec("size", "pair", doc="output length", n=1),)
    shape_doc = "C×L → C×size; bins as adaptive_avgpool"
    examples = (Example("adaptive_maxpool1d(3)", ((4, 10),)),)


@register
class AdaptiveMaxPool3d(_AdaptiveMax):
    name = "adaptive_maxpool3d"
    family = "adaptive_maxpool"
    doc = "Max pooling to a fixed D×H×W (PyTorch AdaptiveMaxPool3d)."
    nd = 3
    attrs = (AttrSpec("size", "pair", doc="output depth, height and width", n=3),)
    shape_doc = "C×D×H×W → C×size; bins as adaptive_avgpool"
    examples = (Example("adaptive_maxpool3d((2, 3, 4))", ((4, 3, 5, 6),)),)


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
