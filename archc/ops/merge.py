"""Merges: ops that take two or more tensors (branches joining, residual connections)."""

from __future__ import annotations

from collections.abc import Sequence

from archc.ops.base import (
    Arithmetic,
    Attrs,
    Example,
    Op,
    Shape,
    ShapeProblem,
    SymbolicShape,
    T,
    dims,
    elements,
    register,
)

_AXES = ("channels", "height", "width")


@register
class Concat(Op):
    name = "concat"
    doc = "Joins tensors along channels (Inception branches)."
    traits = frozenset({"merge"})
    shape_doc = "channels add up; heights and widths must agree"
    examples = (
        Example("concat(a, b)", ((3, 8, 8), (5, 8, 8))),
        Example("concat(a, b, c)", ((4, 11, 10), (3, 11, 10), (4, 11, 10))),
        Example("concat(a, b)", ((6,), (4,))),
    )

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

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        channels = [x.channels for x in ins]
        known = [c for c in channels if c is not None]
        total = ar.total(known) if len(known) == len(channels) else None
        return SymbolicShape(total, ins[0].rank, ins[0].spatial)


@register
class Add(Op):
    name = "add"
    doc = "Elementwise sum of same-shaped tensors (residual connections)."
    traits = frozenset({"merge", "elementwise"})
    shape_doc = "all shapes equal"
    examples = (
        Example("add(a, b)", ((4, 8, 8), (4, 8, 8))),
        Example("add(a, b, c)", ((3, 5, 6), (3, 5, 6), (3, 5, 6))),
    )

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
    n_inputs = 0
    diagram_style = "input"
    shape_doc = "the declared shape"

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return tuple(a["shape"])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        shape = ar.items(a["shape"])
        if shape is None:
            raise ShapeProblem("an input's shape must be known")
        return SymbolicShape(
            shape[0], len(shape), (shape[1], shape[2]) if len(shape) == 3 else None
        )
