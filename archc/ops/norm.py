"""Normalisation: batch norm (with running statistics) and local response norm."""

from __future__ import annotations

import math
from collections.abc import Sequence

from archc.ops.base import (
    ArgProblem,
    Attrs,
    AttrSpec,
    Example,
    Op,
    Shape,
    ShapeProblem,
    TensorSpec,
    dims,
    elements,
    register,
)


@register
class BatchNorm(Op):
    name = "batchnorm"
    aliases = ("bn",)
    doc = "Batch normalisation per channel (or feature): weight and bias, running mean and var."
    traits = frozenset({"weights", "normalization"})
    attrs = (AttrSpec("eps", "float", 1e-5), AttrSpec("momentum", "float", 0.1))
    shape_doc = "unchanged; per channel (or feature); any rank: F, C×L, C×H×W, C×D×H×W"
    examples = (
        Example("batchnorm"),
        Example("batchnorm(eps=0.001)", ((16,),)),
        Example("batchnorm(momentum=0.01)", ((4, 9),)),
        Example("batchnorm", ((4, 3, 5, 6),)),
    )

    def check(self, a: Attrs) -> None:
        eps = a["eps"]
        if not (math.isfinite(eps) and eps > 0):  # NaN fails both comparisons
            raise ArgProblem(f"eps must be a finite number > 0, got {eps!r}", "eps")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if len(ins[0]) > 4:
            raise ShapeProblem(
                f"batchnorm takes F, C×L, C×H×W or C×D×H×W, got {dims(ins[0])} from {names[0]}"
            )
        return ins[0]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        c = (ins[0][0],)
        return [
            TensorSpec("weight", c),
            TensorSpec("bias", c),
            TensorSpec("running_mean", c, trainable=False),
            TensorSpec("running_var", c, trainable=False),
        ]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * elements(out)  # inference: one scale and one shift per element


@register
class LRN(Op):
    name = "lrn"
    doc = "Local response normalisation across channels (AlexNet, GoogLeNet)."
    traits = frozenset({"normalization"})
    attrs = (
        AttrSpec("size", "count", 5, "channels in the window"),
        AttrSpec("alpha", "float", 1e-4),
        AttrSpec("beta", "float", 0.75),
        AttrSpec("k", "float", 1.0),
    )
    shape_doc = "unchanged; across channels, alpha divided by size (Caffe and PyTorch convention)"
    examples = (
        Example("lrn(3, alpha=0.1, beta=0.75, k=2.0)"),
        Example("lrn(4, alpha=0.1, beta=0.5)", ((6, 5, 5),)),  # even window: off-centre
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if len(ins[0]) < 2:  # across channels at each position: a map, not a flat vector
            raise ShapeProblem(
                f"lrn needs channels and positions (C×L, C×H×W, C×D×H×W), got {dims(ins[0])} "
                f"from {names[0]}"
            )
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # a sum of `size` squares, then scale, power and divide
        return elements(out) * (2 * a["size"] + 3)

    def summary(self, a: Attrs) -> str:
        return f"lrn {a['size']}"
