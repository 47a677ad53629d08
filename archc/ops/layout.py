"""Reshaping ops: a per-sample tensor given another shape, or its axes in another order.

``reshape`` and ``permute`` are what a network written after PyTorch code needs between its
layers (heads split off a token's features, channels moved last); both move no data in PyTorch
(views; ``reshape`` copies only what ``permute`` left out of order), cost nothing, and are drawn
with the other reshapes.  Shapes and orders are per sample: the batch axis is never written.
"""

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
    dims,
    elements,
    register,
)


def _known(sizes: tuple[T, ...] | None, ar: Arithmetic[T]) -> list[int] | None:
    """The sizes as numbers when every one is known, else None."""
    if sizes is None:
        return None
    found = [ar.known(v) for v in sizes]
    return None if any(v is None for v in found) else [v for v in found if v is not None]


def _features_last(shape: Sequence[T]) -> SymbolicShape[T]:
    """A known shape as a symbolic one, its last axis the features (tokens' layout)."""
    if len(shape) == 1:
        return SymbolicShape(shape[0], 1)
    return SymbolicShape(shape[-1], len(shape), tuple(shape[:-1]), last=True)


@register
class Reshape(Op):
    name = "reshape"
    doc = "The same elements in another per-sample shape (one size may be -1: the rest)."
    traits = frozenset({"view"})
    attrs = (AttrSpec("shape", "dims", doc="the per-sample shape, e.g. (-1, 12, 64)"),)
    shape_doc = "any shape of as many elements; -1 takes what the others leave"
    examples = (
        Example("reshape((-1, 2, 4))", ((5, 8),)),
        Example("reshape((4, 12))", ((3, 4, 4),)),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        total, shape = elements(ins[0]), a["shape"]
        rest = elements(tuple(v for v in shape if v != -1))
        if -1 in shape:
            if total % rest:
                raise ShapeProblem(
                    f"reshape: the {total:,} elements of {names[0]} ({dims(ins[0])}) do not "
                    f"divide into {dims(shape)}"
                )
            shape = tuple(total // rest if v == -1 else v for v in shape)
        elif rest != total:
            raise ShapeProblem(
                f"reshape: {names[0]} ({dims(ins[0])}) has {total:,} elements, {dims(shape)} "
                f"has {rest:,}"
            )
        return tuple(shape)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        sizes = ar.items(a["shape"])
        if sizes is None:
            return SymbolicShape(None, 2, None, last=True)
        numbers = [ar.known(v) for v in sizes]
        if -1 in numbers:  # what -1 stands for needs the input's size: known when built
            last = None if numbers[-1] == -1 else sizes[-1]
            return SymbolicShape(last, len(sizes), None, last=len(sizes) > 1)
        return _features_last(sizes)

    def summary(self, a: Attrs) -> str:
        return f"reshape {dims(a['shape'])}"


@register
class Permute(Op):
    name = "permute"
    doc = "The axes in another order: permute((1, 2, 0)) makes C×H×W into H×W×C (a view)."
    traits = frozenset({"view"})
    attrs = (AttrSpec("order", "order", doc="where each output axis comes from (0 = channels)"),)
    shape_doc = "output axis i is input axis order[i]; order is a permutation of the axes"
    examples = (
        Example("permute((1, 2, 0))", ((4, 3, 5),)),
        Example("permute((1, 0))", ((5, 8),)),
    )

    def check(self, a: Attrs) -> None:
        order = a["order"]
        if sorted(order) != list(range(len(order))):
            raise ArgProblem(
                f"order must list the axes 0 to {len(order) - 1} once each, got {order}", "order"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        x, order = ins[0], a["order"]
        if len(order) != len(x):
            raise ShapeProblem(
                f"permute: {names[0]} has {len(x)} axes ({dims(x)}), the order {order} has "
                f"{len(order)}"
            )
        return tuple(x[i] for i in order)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        order = _known(ar.items(a["order"]), ar)
        if x.spatial is None or x.channels is None or order is None:
            return SymbolicShape(None, x.rank, None, last=True)
        full = (*x.spatial, x.channels) if x.last else (x.channels, *x.spatial)
        return _features_last([full[i] for i in order])

    def summary(self, a: Attrs) -> str:
        return f"permute {a['order']}"
