"""Merges: ops that take two or more tensors (branches joining, residual connections)."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.base import Attrs, Op, Shape, ShapeProblem, dims, elements, register

_AXES = ("channels", "height", "width")


@register
class Concat(Op):
    name = "concat"
    doc = "Joins tensors along channels (Inception branches)."
    traits = frozenset({"merge"})
    arity = None

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        first, first_name = ins[0], names[0]
        for x, name in zip(ins[1:], names[1:], strict=True):
            if len(x) != len(first):
                raise ShapeProblem(
                    f"concat inputs differ in rank: {first_name} is {dims(first)}, {name} is {dims(x)}"
                )
            if len(x) == 3 and x[1:] != first[1:]:
                axis = "height" if x[1] != first[1] else "width"
                raise ShapeProblem(
                    f"concat inputs differ in {axis}: {first_name} is {dims(first[1:])}, "
                    f"{name} is {dims(x[1:])}"
                )
        return (sum(x[0] for x in ins), *first[1:])


@register
class Add(Op):
    name = "add"
    doc = "Elementwise sum of same-shaped tensors (residual connections)."
    traits = frozenset({"merge", "elementwise"})
    arity = None

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        first, first_name = ins[0], names[0]
        for x, name in zip(ins[1:], names[1:], strict=True):
            if x != first:
                axis = next(
                    (_AXES[i] for i in range(min(len(x), len(first), 3)) if x[i] != first[i]),
                    "rank",
                )
                raise ShapeProblem(
                    f"add inputs differ in {axis}: {first_name} is {dims(first)}, {name} is {dims(x)}"
                )
        return first

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return (len(ins) - 1) * elements(out)


@register
class Input(Op):
    name = "input"
    doc = "A network input (declared with 'input NAME: SHAPE'); not callable."
    internal = True
    arity = 0

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return tuple(a["shape"])
