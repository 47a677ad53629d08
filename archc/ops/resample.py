"""Ops that change a map's size or channel order: transposed convolution, upsampling, padding and
channel shuffle (U-Net decoders, FPNs, ShuffleNet).

None of them slides a window the receptive-field pass can follow with whole-pixel jumps (an
upsampling step divides the jump), so they keep the receptive field of their input.
"""

from __future__ import annotations

import math
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
    dims,
    elements,
    register,
)
from archc.ops.spatial import spatial_input


@register
class ConvTranspose(Op):
    name = "conv_transpose"
    doc = "Transposed 2-D convolution (learned upsampling, nn.ConvTranspose2d)."
    traits = frozenset({"weights", "spatial"})
    attrs = (
        AttrSpec("out", "count", doc="output channels"),
        AttrSpec("kernel", "pair", doc="kernel size"),
        AttrSpec("stride", "pair", 1),
        AttrSpec("pad", "pad", 0, "removed from each side of the full output"),
        AttrSpec(
            "output_padding", "pad", 0, "added to the bottom and right (< stride or dilation)"
        ),
        AttrSpec("groups", "count", 1),
        AttrSpec("dilation", "pair", 1),
        AttrSpec("bias", "bool", True),
    )
    shape_doc = (
        "C×H×W → out×H'×W', H' = (H − 1)·s − 2p + d(k − 1) + output_padding + 1; "
        "output_padding < stride or dilation"
    )
    examples = (
        Example("conv_transpose(6, 2, stride=2)"),
        Example("conv_transpose(6, 3, stride=2, pad=1, output_padding=1)", ((4, 5, 7),)),
        Example(
            "conv_transpose(4, (3, 2), stride=(2, 3), pad=(1, 0), output_padding=(0, 2), "
            "groups=2, dilation=(1, 2), bias=false)",
            ((4, 5, 6),),
        ),
    )

    def check(self, a: Attrs) -> None:
        for attr in ("pad", "output_padding"):
            if a[attr] == "same":
                raise ArgProblem(f'conv_transpose takes an explicit {attr}, not "same"', attr)
        for i, axis in enumerate(("height", "width")):
            if a["output_padding"][i] >= max(a["stride"][i], a["dilation"][i]):
                raise ArgProblem(
                    f"output_padding ({a['output_padding'][i]}, {axis}) must be smaller than "
                    "the stride or the dilation",
                    "output_padding",
                )
        if a["out"] % a["groups"]:
            raise ArgProblem(
                f"out ({a['out']}) must be divisible by groups ({a['groups']})", "groups"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, h, w = spatial_input(self.name, ins[0], names[0])
        if c % a["groups"]:
            raise ShapeProblem(
                f"input channels ({c}, from {names[0]}) are not divisible by groups ({a['groups']})"
            )
        sizes = []
        for i, size in enumerate((h, w)):
            k, s, p = a["kernel"][i], a["stride"][i], a["pad"][i]
            d, op = a["dilation"][i], a["output_padding"][i]
            out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
            if out < 1:
                raise ShapeProblem(
                    f"conv_transpose: padding {p} removes the whole {size}-pixel input from "
                    f"{names[0]} (output size {out})"
                )
            sizes.append(out)
        return (a["out"], sizes[0], sizes[1])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(a["out"], 3)

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        kh, kw = a["kernel"]
        weight = TensorSpec("weight", (ins[0][0], a["out"] // a["groups"], kh, kw))
        return [weight, TensorSpec("bias", (a["out"],))] if a["bias"] else [weight]

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # every input element is multiplied into out/groups · kh · kw outputs
        kh, kw = a["kernel"]
        return elements(ins[0]) * (a["out"] // a["groups"]) * kh * kw

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (elements(out) if a["bias"] else 0)

    def summary(self, a: Attrs) -> str:
        kh, kw = a["kernel"]
        sh, sw = a["stride"]
        text = f"conv_transpose {kh}×{kw}"
        if (sh, sw) != (1, 1):
            text += f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        return text + f", {a['out']}"


@register
class Upsample(Op):
    name = "upsample"
    doc = (
        "Resizes a map by a scale factor or to a size: nearest neighbour or bilinear (nn.Upsample)."
    )
    traits = frozenset({"spatial"})
    attrs = (
        AttrSpec("scale", "positive", None, "scale factor for height and width"),
        AttrSpec("size", "pair", None, "output height and width"),
        AttrSpec("mode", "choice", "nearest", "interpolation", ("nearest", "bilinear")),
        AttrSpec("align_corners", "bool", False, "bilinear only: corner pixels stay aligned"),
    )
    shape_doc = "C×H×W → C×⌊H·scale⌋×⌊W·scale⌋, or C×size; give exactly one of `scale` and `size`"
    diagram_style = "pool"
    examples = (
        Example("upsample(2)"),
        Example('upsample(size=(12, 17), mode="bilinear")', ((4, 5, 7),)),
        Example('upsample(1.5, mode="bilinear", align_corners=true)', ((4, 6, 5),)),
        Example("upsample(size=(13, 9))", ((4, 5, 7),)),
    )

    def check(self, a: Attrs) -> None:
        if (a["scale"] is None) == (a["size"] is None):
            raise ArgProblem("upsample takes exactly one of 'scale' and 'size'", None)
        if a["align_corners"] and a["mode"] == "nearest":
            raise ArgProblem('align_corners applies to mode="bilinear" only', "align_corners")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, h, w = spatial_input(self.name, ins[0], names[0])
        if a["size"] is not None:
            return (c, *a["size"])
        oh, ow = math.floor(h * a["scale"]), math.floor(w * a["scale"])
        if min(oh, ow) < 1:
            raise ShapeProblem(f"upsample by {a['scale']:g} leaves nothing of the {h}×{w} input")
        return (c, oh, ow)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        size = ar.items(a["size"]) if a["size"] is not None else None
        return SymbolicShape(ins[0].channels, 3, (size[0], size[1]) if size else None)

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # nearest copies; bilinear weighs 4 neighbours: 4 multiplies and 3 adds per output
        return 7 * elements(out) if a["mode"] == "bilinear" else 0

    def summary(self, a: Attrs) -> str:
        target = f"×{a['scale']:g}" if a["scale"] is not None else f"→ {dims(a['size'])}"
        return f"upsample {target}" + (" bilinear" if a["mode"] == "bilinear" else "")


@register
class Pad(Op):
    name = "pad"
    doc = "Pads a map's height and width: zeros (or value), reflection or replication."
    traits = frozenset({"spatial"})
    attrs = (
        AttrSpec("amount", "sides", doc="n, (h, w) or (left, right, top, bottom)"),
        AttrSpec(
            "mode", "choice", "zero", "what fills the border", ("zero", "reflect", "replicate")
        ),
        AttrSpec("value", "float", 0.0, 'the fill of mode="zero"'),
    )
    shape_doc = "C×H×W → C×(H + top + bottom)×(W + left + right); reflect needs each pad < the size"
    diagram_style = "view"
    examples = (
        Example("pad(1)"),
        Example('pad((1, 2, 0, 3), mode="reflect")', ((4, 5, 7),)),
        Example('pad((2, 1), mode="replicate")', ((4, 5, 7),)),
        Example("pad((0, 1, 1, 0), value=-1.5)", ((4, 5, 7),)),
    )

    def check(self, a: Attrs) -> None:
        if a["mode"] != "zero" and a["value"] != 0.0:
            raise ArgProblem(f'a fill value needs mode="zero", not "{a["mode"]}"', "value")
        if not math.isfinite(a["value"]):
            raise ArgProblem(f"value must be finite, got {a['value']!r}", "value")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, h, w = spatial_input(self.name, ins[0], names[0])
        left, right, top, bottom = a["amount"]
        if a["mode"] == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
            raise ShapeProblem(
                f"reflect padding {a['amount']} needs each side smaller than the {h}×{w} input "
                f"from {names[0]}"
            )
        return (c, h + top + bottom, w + left + right)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        return SymbolicShape(ins[0].channels, 3)

    def summary(self, a: Attrs) -> str:
        left, right, top, bottom = a["amount"]
        amount = str(left) if len({left, right, top, bottom}) == 1 else dims(a["amount"])
        return f"pad {amount}" + ("" if a["mode"] == "zero" else f" {a['mode']}")


@register
class ChannelShuffle(Op):
    name = "channel_shuffle"
    doc = "Interleaves the channels of groups (ShuffleNet): C = g·n → n·g, transposed."
    traits = frozenset({"spatial"})
    attrs = (AttrSpec("groups", "count", doc="channel groups"),)
    shape_doc = "unchanged; channels divisible by groups"
    diagram_style = "view"
    examples = (Example("channel_shuffle(2)"), Example("channel_shuffle(3)", ((6, 5, 7),)))

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c, _, _ = spatial_input(self.name, ins[0], names[0])
        if c % a["groups"]:
            raise ShapeProblem(
                f"channel_shuffle: the {c} channels of {names[0]} do not divide into "
                f"{a['groups']} groups"
            )
        return ins[0]

    def summary(self, a: Attrs) -> str:
        return f"channel_shuffle {a['groups']}"
