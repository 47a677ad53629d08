"""Fully connected layers and the flatten that feeds them."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.base import (
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
    features_last,
    leading_axes,
    register,
)


@register
class Linear(Op):
    name = "linear"
    aliases = ("fc",)
    doc = "Fully connected layer: F -> out features; on T×D tokens, each token's D -> out."
    traits = frozenset({"weights"})
    attrs = (AttrSpec("out", "count", doc="output features"), AttrSpec("bias", "bool", True))
    shape_doc = "F → out; T×D → T×out (the last axis, as nn.Linear); a map needs `flatten` first"
    examples = (
        Example("linear(10)", ((16,),)),
        Example("linear(7, bias=false)", ((16,),)),
        Example("linear(6)", ((5, 8),)),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        (x,) = ins
        if len(x) > 2:
            raise ShapeProblem(
                f"linear needs a flat input, got {dims(x)} from {names[0]}: add 'flatten' before "
                "it (or 'tokens' to apply it to each position)"
            )
        return (*x[:-1], a["out"])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        return features_last(x, a["out"], leading_axes(x))

    def tensors(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[TensorSpec]:
        weight = TensorSpec("weight", (a["out"], ins[0][-1]))
        return [weight, TensorSpec("bias", (a["out"],))] if a["bias"] else [weight]

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return elements(ins[0]) * a["out"]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (elements(out) if a["bias"] else 0)

    def summary(self, a: Attrs) -> str:
        return f"linear {a['out']}"


@register
class Flatten(Op):
    name = "flatten"
    doc = "C×H×W -> C·H·W features, any rank (a view: no new memory)."
    traits = frozenset({"view"})
    shape_doc = "C×H×W → C·H·W; any rank: every axis into one"
    examples = (Example("flatten", ((4, 3, 3),)), Example("flatten", ((4, 5),)))

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return (elements(ins[0]),)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        if x.rank == 1:
            return x
        if x.channels is None or x.spatial is None:
            return SymbolicShape(None, 1)
        return SymbolicShape(ar.product([x.channels, *x.spatial]), 1)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        # Every output feature sees the whole map: the receptive field grows to cover it.
        x = ins[0]
        if len(x) != 3:
            return None
        return Window((x[1], x[2]), (x[1], x[2]))
