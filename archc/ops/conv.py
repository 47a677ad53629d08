"""Convolution: the op that carries almost all of a CNN's parameters and compute."""

from __future__ import annotations

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
    TensorSpec,
    Window,
    dims,
    elements,
    register,
)
from archc.ops.spatial import map_input, same_padding, window_out


def resolved_padding(a: Attrs) -> tuple[tuple[int, int], ...]:
    """(before, after) padding per spatial axis (top/bottom, then left/right for 2-D), with
    ``"same"`` worked out."""
    if a["pad"] == "same":
        return tuple(same_padding(k, d) for k, d in zip(a["kernel"], a["dilation"], strict=True))
    return tuple((p, p) for p in a["pad"])


def conv_attrs(nd: int) -> tuple[AttrSpec, ...]:
    """A convolution's arguments for ``nd`` spatial axes (sizes are ``nd``-tuples)."""
    sizes = {1: "k or (k,)", 2: "k, (kh, kw) or khxkw", 3: "k or (kd, kh, kw)"}[nd]
    return (
        AttrSpec("out", "count", doc="output channels"),
        AttrSpec("kernel", "pair", doc=f"kernel size: {sizes}", n=nd),
        AttrSpec("stride", "pair", 1, n=nd),
        AttrSpec("pad", "pad", 0, 'zero padding on each side, or "same" (stride 1)', n=nd),
        AttrSpec("dilation", "pair", 1, n=nd),
        AttrSpec("groups", "count", 1, "channel groups; groups = channels is depthwise"),
        AttrSpec("bias", "bool", True),
    )


def times(sizes: Sequence[int]) -> str:
    """``(3, 3)`` -> ``"3×3"``; one size stays one number."""
    return "×".join(str(v) for v in sizes)


@register
class Conv(Op):
    name = "conv"
    aliases: ClassVar[tuple[str, ...]] = ("conv2d",)
    doc = "2-D convolution (grouped and depthwise with groups=)."
    traits = frozenset({"weights", "spatial"})
    #: spatial axes: conv1d and conv3d are this class with 1 and 3
    nd: ClassVar[int] = 2
    attrs = conv_attrs(2)
    shape_doc: ClassVar[str] = (
        "C×H×W → out×H'×W', H' = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1; "
        '`pad="same"` (stride 1 only) keeps height and width'
    )
    examples: ClassVar[tuple[Example, ...]] = (
        Example("conv(6, 3, pad=1)"),
        Example("conv(6, 3, stride=2, pad=1, dilation=2, groups=2)", ((4, 11, 10),)),
        Example('conv(5, 4, pad="same", bias=false)', ((4, 11, 10),)),  # asymmetric padding
        Example("conv(8, (3, 2), stride=(2, 1), pad=(1, 0), groups=4)", ((4, 11, 10),)),
    )

    def check(self, a: Attrs) -> None:
        if a["pad"] == "same" and any(s != 1 for s in a["stride"]):
            raise ArgProblem('pad="same" needs stride 1; give the padding explicitly', "pad")
        if a["out"] % a["groups"]:
            raise ArgProblem(
                f"out ({a['out']}) must be divisible by groups ({a['groups']})", "groups"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        (x,) = ins
        c, sizes = map_input(self.name, x, names[0], self.nd)
        if c % a["groups"]:
            raise ShapeProblem(
                f"input channels ({c}, from {names[0]}) are not divisible by groups ({a['groups']})"
            )
        out = []
        try:
            for size, k, s, d, (before, after) in zip(
                sizes, a["kernel"], a["stride"], a["dilation"], resolved_padding(a), strict=True
            ):
                # "same" with an even kernel pads asymmetrically, at stride 1: the size stays
                out.append(window_out(size, k, s, before, d) if before == after else size)
        except ShapeProblem as exc:
            raise ShapeProblem(
                f"kernel {times(a['kernel'])} does not fit the {times(sizes)} input from "
                f"{names[0]}: {exc}"
            ) from None
        return (a["out"], *out)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(a["out"], self.nd + 1)

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        weight = TensorSpec("weight", (a["out"], ins[0][0] // a["groups"], *a["kernel"]))
        return [weight, TensorSpec("bias", (a["out"],))] if a["bias"] else [weight]

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out) * (ins[0][0] // a["groups"]) * elements(a["kernel"])

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (elements(out) if a["bias"] else 0)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        return Window(a["kernel"], a["stride"], a["dilation"]) if self.nd == 2 else None

    def summary(self, a: Attrs) -> str:
        stride = a["stride"]
        text = f"{self.name if self.nd != 2 else 'conv'} {times(a['kernel'])}"
        if any(s != 1 for s in stride):
            text += f"/{stride[0]}" if len(set(stride)) == 1 else f"/{times(stride)}"
        text += f", {a['out']}"
        if a["groups"] > 1:
            text += f", groups {a['groups']}"
        if any(d != 1 for d in a["dilation"]):
            text += f", dilation {dims(a['dilation'])}"
        return text


@register
class Conv1d(Conv):
    name = "conv1d"
    aliases = ()
    family = "conv"
    doc = "1-D convolution over C×L sequences (audio, signals); as conv otherwise."
    nd = 1
    attrs = conv_attrs(1)
    shape_doc = "C×L → out×L', L' as conv's H'"
    examples = (
        Example("conv1d(6, 3, pad=1)", ((4, 16),)),
        Example("conv1d(8, 5, stride=2, pad=2, dilation=2, groups=2, bias=false)", ((4, 23),)),
        Example('conv1d(5, 4, pad="same")', ((4, 11),)),
    )


@register
class Conv3d(Conv):
    name = "conv3d"
    aliases = ()
    family = "conv"
    doc = "3-D convolution over C×D×H×W volumes and clips (video, medical); as conv otherwise."
    nd = 3
    attrs = conv_attrs(3)
    shape_doc = "C×D×H×W → out×D'×H'×W', each as conv's H'"
    examples = (
        Example("conv3d(6, 3, pad=1)", ((4, 5, 8, 8),)),
        Example(
            "conv3d(8, (3, 1, 1), stride=(1, 2, 2), pad=(1, 0, 0), groups=4, bias=false)",
            ((4, 5, 9, 8),),
        ),
    )
