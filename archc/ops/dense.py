"""Fully connected layers and the flatten that feeds them."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.base import (
    Attrs,
    AttrSpec,
    Op,
    Shape,
    ShapeProblem,
    TensorSpec,
    Window,
    dims,
    elements,
    register,
)


@register
class Linear(Op):
    name = "linear"
    aliases = ("fc",)
    doc = "Fully connected layer: F -> out features."
    traits = frozenset({"weights"})
    attrs = (AttrSpec("out", "count", doc="output features"), AttrSpec("bias", "bool", True))

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        (x,) = ins
        if len(x) != 1:
            raise ShapeProblem(
                f"linear needs a flat input, got {dims(x)} from {names[0]}: add 'flatten' before it"
            )
        return (a["out"],)

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        weight = TensorSpec("weight", (a["out"], ins[0][0]))
        return [weight, TensorSpec("bias", (a["out"],))] if a["bias"] else [weight]

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return ins[0][0] * a["out"]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (a["out"] if a["bias"] else 0)

    def summary(self, a: Attrs) -> str:
        return f"linear {a['out']}"


@register
class Flatten(Op):
    name = "flatten"
    doc = "C×H×W -> C·H·W features (a view: no new memory)."
    traits = frozenset({"view"})

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return (elements(ins[0]),)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        # Every output feature sees the whole map: the receptive field grows to cover it.
        x = ins[0]
        if len(x) != 3:
            return None
        return Window((x[1], x[2]), (x[1], x[2]))
