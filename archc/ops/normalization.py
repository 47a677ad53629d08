"""Normalisation of modern CNNs: group, instance and channel layer norm, layer scale, and
stochastic depth (the residual branch regulariser they are trained with).

Unlike batch norm at inference, group, instance and layer norm compute their statistics from the
input itself, so archc counts 5 FLOPs per element for them (the mean's sum; the deviation, its
square and their sum for the variance; the scale by the inverse deviation; docs/conventions.md)
plus 2 per element for an affine weight and bias.
"""

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

#: FLOPs per element of normalising with statistics computed from the input
STATISTICS_FLOPS = 5


def _check_eps(a: Attrs) -> None:
    eps = a["eps"]
    if not (math.isfinite(eps) and eps > 0):  # NaN fails both comparisons
        raise ArgProblem(f"eps must be a finite number > 0, got {eps!r}", "eps")


def _affine(c: int) -> list[TensorSpec]:
    return [TensorSpec("weight", (c,), init=1.0), TensorSpec("bias", (c,), init=0.0)]


def _normalise_flops(a: Attrs, out: Shape) -> int:
    return (STATISTICS_FLOPS + (2 if a["affine"] else 0)) * elements(out)


@register
class GroupNorm(Op):
    name = "groupnorm"
    doc = (
        "Group normalisation: channels in groups, each normalised over its channels and positions."
    )
    traits = frozenset({"weights", "normalization"})
    attrs = (
        AttrSpec("groups", "count", doc="channel groups (1: over the whole map; C: per channel)"),
        AttrSpec("eps", "float", 1e-5),
        AttrSpec("affine", "bool", True, "a learned weight and bias per channel"),
    )
    shape_doc = "unchanged; channels (features) divisible by groups"
    examples = (
        Example("groupnorm(2)"),
        Example("groupnorm(1, eps=0.001, affine=false)", ((6, 5, 7),)),
        Example("groupnorm(3)", ((6,),)),
        Example("groupnorm(2)", ((6, 9),)),
        Example("groupnorm(3)", ((6, 3, 4, 5),)),
    )

    def check(self, a: Attrs) -> None:
        _check_eps(a)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if ins[0][0] % a["groups"]:
            raise ShapeProblem(
                f"groupnorm: the {ins[0][0]} channels of {names[0]} do not divide into "
                f"{a['groups']} groups"
            )
        return ins[0]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        return _affine(ins[0][0]) if a["affine"] else []

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return _normalise_flops(a, out)

    def summary(self, a: Attrs) -> str:
        return f"groupnorm {a['groups']}"


@register
class InstanceNorm(Op):
    name = "instancenorm"
    doc = (
        "Instance normalisation: each channel over its own positions (nn.InstanceNorm2d; "
        "1d and 3d for C×L and C×D×H×W)."
    )
    traits = frozenset({"weights", "normalization", "spatial"})
    attrs = (
        AttrSpec("eps", "float", 1e-5),
        AttrSpec("affine", "bool", False, "a learned weight and bias per channel"),
        AttrSpec(
            "track_running_stats",
            "bool",
            False,
            "keep running mean and variance (buffers) and use them at inference",
        ),
        AttrSpec("momentum", "float", 0.1),
    )
    shape_doc = "unchanged; needs C×L, C×H×W or C×D×H×W"
    examples = (
        Example("instancenorm"),
        Example("instancenorm(affine=true)", ((4, 9),)),
        Example("instancenorm", ((4, 3, 5, 6),)),
        Example("instancenorm(affine=true)", ((4, 5, 7),)),
        Example("instancenorm(eps=0.001, affine=true, track_running_stats=true)"),
    )

    def check(self, a: Attrs) -> None:
        _check_eps(a)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if not 2 <= len(ins[0]) <= 4:
            raise ShapeProblem(
                "instancenorm needs a C×L, C×H×W or C×D×H×W input, "
                f"got {dims(ins[0])} from {names[0]}"
            )
        return ins[0]

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        c = ins[0][0]
        found = _affine(c) if a["affine"] else []
        if a["track_running_stats"]:
            found += [
                TensorSpec("running_mean", (c,), trainable=False, init=0.0),
                TensorSpec("running_var", (c,), trainable=False, init=1.0),
            ]
        return found

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        if a["track_running_stats"]:  # inference: the running statistics, as batch norm
            return 2 * elements(out)
        return _normalise_flops(a, out)

    def summary(self, a: Attrs) -> str:
        return "instancenorm"


@register
class LayerNorm(Op):
    name = "layernorm"
    doc = (
        "Layer normalisation over channels at each position (ConvNeXt's LayerNorm2d); over the "
        "features of a flat input or of each T×D token (nn.LayerNorm)."
    )
    traits = frozenset({"weights", "normalization"})
    attrs = (
        AttrSpec("eps", "float", 1e-5, "ConvNeXt uses 1e-6"),
        AttrSpec("affine", "bool", True, "a learned weight and bias per channel"),
    )
    shape_doc = (
        "unchanged; statistics over C at each of the H·W positions (C×H×W), over D for each "
        "token (T×D), over the features (F)"
    )
    examples = (
        Example("layernorm"),
        Example("layernorm(eps=0.000001)", ((6, 5, 7),)),
        Example("layernorm(affine=false)", ((10,),)),
        Example("layernorm", ((12,),)),
        Example("layernorm(eps=0.000001)", ((5, 8),)),  # tokens: over D
    )

    def check(self, a: Attrs) -> None:
        _check_eps(a)

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if len(ins[0]) == 2:  # tokens: over each token's features
            return ins[0]
        return _flat_or_map(self.name, ins[0], names[0])

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        x = ins[0]
        return _affine(x[-1] if len(x) == 2 else x[0]) if a["affine"] else []

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return _normalise_flops(a, out)


def _flat_or_map(op: str, x: Shape, name: str) -> Shape:
    """``x`` when it is F or C×H×W: the ranks whose channel axis the op's emissions agree on."""
    if len(x) not in (1, 3):
        raise ShapeProblem(f"{op} takes F or C×H×W, got {dims(x)} from {name}")
    return x


@register
class LayerScale(Op):
    name = "layer_scale"
    doc = "A learned scale per channel (ConvNeXt, CaiT): x · γ, γ starting at init."
    traits = frozenset({"weights", "elementwise"})
    attrs = (AttrSpec("init", "float", 1e-6, "γ's initial value"),)
    shape_doc = "unchanged; γ is C×1×1 (features when flat)"
    examples = (Example("layer_scale"), Example("layer_scale(0.5)", ((10,),)))

    def check(self, a: Attrs) -> None:
        if not math.isfinite(a["init"]):
            raise ArgProblem(f"init must be finite, got {a['init']!r}", "init")

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return _flat_or_map(self.name, ins[0], names[0])

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        x = ins[0]
        shape = (x[0], 1, 1) if len(x) == 3 else (x[0],)
        return [TensorSpec("scale", shape, init=a["init"])]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(out)


@register
class StochasticDepth(Op):
    name = "stochastic_depth"
    doc = (
        "Drops a residual branch at random in training (torchvision's StochasticDepth); the "
        "identity at inference."
    )
    traits = frozenset({"elementwise", "inplace"})
    attrs = (
        AttrSpec("p", "prob", doc="drop probability"),
        AttrSpec(
            "mode",
            "choice",
            "row",
            'drop each sample\'s branch ("row") or the whole batch\'s ("batch")',
            ("row", "batch"),
        ),
    )
    shape_doc = "unchanged (identity at inference)"
    diagram_style = "view"  # drawn with reshapes: it moves no data at inference
    examples = (
        Example("stochastic_depth(0.2)"),
        Example('stochastic_depth(0.5, mode="batch")', ((10,),)),
    )

    def summary(self, a: Attrs) -> str:
        return f"stochastic_depth {a['p']:g}" + (" (batch)" if a["mode"] == "batch" else "")
