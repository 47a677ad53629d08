"""Shape-preserving ops: activations, dropout, identity, softmax."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.base import (
    Attrs,
    AttrSpec,
    Example,
    Op,
    Shape,
    ShapeProblem,
    dims,
    elements,
    register,
    resolve_axis,
)


class _PerElement(Op):
    """An op that keeps the shape and costs ``flops_per_element`` FLOPs per element."""

    flops_per_element = 1

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return self.flops_per_element * elements(out)


@register
class ReLU(_PerElement):
    name = "relu"
    doc = "max(x, 0); in place when it is its input's only consumer."
    traits = frozenset({"elementwise", "activation", "inplace"})
    examples = (Example("relu"), Example("relu", ((10,),)))


@register
class ReLU6(_PerElement):
    name = "relu6"
    doc = "min(max(x, 0), 6) (MobileNet); in place like relu."
    traits = frozenset({"elementwise", "activation", "inplace"})
    examples = (Example("relu6"),)


@register
class HardSwish(_PerElement):
    name = "hardswish"
    doc = "x · relu6(x + 3) / 6 (MobileNetV3); in place like relu."
    traits = frozenset({"elementwise", "activation", "inplace"})
    examples = (Example("hardswish"), Example("hardswish", ((10,),)))


@register
class Sigmoid(_PerElement):
    name = "sigmoid"
    doc = "Logistic function 1 / (1 + e^-x)."
    traits = frozenset({"elementwise", "activation"})
    examples = (Example("sigmoid"),)


@register
class Tanh(_PerElement):
    name = "tanh"
    doc = "Hyperbolic tangent (LeNet-5's squashing function)."
    traits = frozenset({"elementwise", "activation"})
    examples = (Example("tanh"),)


@register
class Softmax(_PerElement):
    name = "softmax"
    doc = "Softmax over channels (features for a flat input), or over the axis given."
    traits = frozenset({"activation"})
    attrs = (
        AttrSpec("axis", "axis", 0, "the per-sample axis normalised: 0 channels, -1 the last"),
    )
    shape_doc = "unchanged; over channels (or features), or `axis` (attention's -1: each row)"
    examples = (
        Example("softmax", ((10,),)),
        Example("softmax"),
        Example("softmax(axis=-1)", ((2, 5, 5),)),
    )
    flops_per_element = 3  # exp, sum, divide

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        if resolve_axis(a["axis"], len(ins[0])) is None:
            raise ShapeProblem(f"softmax: {names[0]} ({dims(ins[0])}) has no axis {a['axis']}")
        return ins[0]

    def summary(self, a: Attrs) -> str:
        return "softmax" if a["axis"] == 0 else f"softmax axis {a['axis']}"


@register
class Dropout(Op):
    name = "dropout"
    doc = "Zeroes activations with probability p in training; identity at inference."
    traits = frozenset({"elementwise", "inplace"})
    attrs = (AttrSpec("p", "prob", 0.5, "drop probability"),)
    shape_doc = "unchanged (identity at inference)"
    diagram_style = "view"  # drawn with reshapes: it moves no data at inference
    examples = (Example("dropout(0.3)"),)

    def summary(self, a: Attrs) -> str:
        return f"dropout {a['p']:g}"


@register
class Identity(Op):
    name = "identity"
    doc = "Passes its input through (a named no-op, e.g. a placeholder branch)."
    traits = frozenset({"elementwise", "inplace"})
    examples = (Example("identity"),)
