"""Convolution: the op that carries almost all of a CNN's parameters and compute."""

from __future__ import annotations

from collections.abc import Sequence

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
    TensorSpec,
    Window,
    dims,
    elements,
    register,
)
from archc.ops.spatial import same_padding, window_out


def resolved_padding(a: Attrs) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) padding, with ``"same"`` worked out."""
    if a["pad"] == "same":
        kh, kw = a["kernel"]
        dh, dw = a["dilation"]
        return same_padding(kh, dh), same_padding(kw, dw)
    ph, pw = a["pad"]
    return (ph, ph), (pw, pw)


@register
class Conv(Op):
    name = "conv"
    aliases = ("conv2d",)
    doc = "2-D convolution (grouped and depthwise with groups=)."
    traits = frozenset({"weights", "spatial"})
    attrs = (
        AttrSpec("out", "count", doc="output channels"),
        AttrSpec("kernel", "pair", doc="kernel size: k, (kh, kw) or khxkw"),
        AttrSpec("stride", "pair", 1),
        AttrSpec("pad", "pad", 0, 'zero padding on each side, or "same" (stride 1)'),
        AttrSpec("dilation", "pair", 1),
        AttrSpec("groups", "count", 1, "channel groups; groups = channels is depthwise"),
        AttrSpec("bias", "bool", True),
    )
    shape_doc = (
        "C×H×W → out×H'×W', H' = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1; "
        '`pad="same"` (stride 1 only) keeps height and width'
    )
    examples = (
        Example("conv(6, 3, pad=1)"),
        Example("conv(6, 3, stride=2, pad=1, dilation=2, groups=2)", ((4, 11, 10),)),
        Example('conv(5, 4, pad="same", bias=false)', ((4, 11, 10),)),  # asymmetric padding
        Example("conv(8, (3, 2), stride=(2, 1), pad=(1, 0), groups=4)", ((4, 11, 10),)),
    )

    def check(self, a: Attrs) -> None:
        if a["pad"] == "same" and a["stride"] != (1, 1):
            raise ArgProblem('pad="same" needs stride 1; give the padding explicitly', "pad")
        if a["out"] % a["groups"]:
            raise ArgProblem(
                f"out ({a['out']}) must be divisible by groups ({a['groups']})", "groups"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        (x,) = ins
        if len(x) != 3:
            raise ShapeProblem(f"conv needs a C×H×W input, got {dims(x)} from {names[0]}")
        c, h, w = x
        if c % a["groups"]:
            raise ShapeProblem(
                f"input channels ({c}, from {names[0]}) are not divisible by groups ({a['groups']})"
            )
        (pt, pb), (pl, pr) = resolved_padding(a)
        kh, kw = a["kernel"]
        sh, sw = a["stride"]
        dh, dw = a["dilation"]
        try:
            if pt == pb and pl == pr:
                oh = window_out(h, kh, sh, pt, dh)
                ow = window_out(w, kw, sw, pl, dw)
            else:  # "same" with an even kernel: asymmetric, stride 1
                oh, ow = h, w
        except ShapeProblem as exc:
            raise ShapeProblem(
                f"kernel {kh}×{kw} does not fit the {h}×{w} input from {names[0]}: {exc}"
            ) from None
        return (a["out"], oh, ow)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(a["out"], 3)

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        kh, kw = a["kernel"]
        weight = TensorSpec("weight", (a["out"], ins[0][0] // a["groups"], kh, kw))
        return [weight, TensorSpec("bias", (a["out"],))] if a["bias"] else [weight]

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return elements(out) * (ins[0][0] // a["groups"]) * kh * kw

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (elements(out) if a["bias"] else 0)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        return Window(a["kernel"], a["stride"], a["dilation"])

    def summary(self, a: Attrs) -> str:
        kh, kw = a["kernel"]
        sh, sw = a["stride"]
        text = f"conv {kh}×{kw}"
        if (sh, sw) != (1, 1):
            text += f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        text += f", {a['out']}"
        if a["groups"] > 1:
            text += f", groups {a['groups']}"
        if a["dilation"] != (1, 1):
            text += f", dilation {dims(a['dilation'])}"
        return text
