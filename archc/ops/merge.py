"""Merges: ops that take two or more tensors (branches joining, residual connections)."""

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
    dims,
    elements,
    register,
    resolve_axis,
)

#: axis names by rank, for messages (a flat tensor's one axis is its features)
_AXES = {
    1: ("features",),
    2: ("channels", "length"),
    3: ("channels", "height", "width"),
    4: ("channels", "depth", "height", "width"),
}


def _axis(i: int, rank: int) -> str:
    names = _AXES.get(rank)
    return names[i] if names else f"axis {i}"


@register
class Concat(Op):
    name = "concat"
    doc = "Joins tensors along channels (Inception branches), or along the axis given."
    traits = frozenset({"merge"})
    attrs = (
        AttrSpec("axis", "axis", 0, "the per-sample axis joined: 0 channels (tokens), -1 the last"),
    )
    shape_doc = (
        "channels add up; the other axes (height and width, or L, or D×H×W) must agree; with "
        "`axis`, that axis adds up"
    )
    examples = (
        Example("concat(a, b)", ((3, 8, 8), (5, 8, 8))),
        Example("concat(a, b, c)", ((4, 11, 10), (3, 11, 10), (4, 11, 10))),
        Example("concat(a, b)", ((6,), (4,))),
        Example("concat(a, b)", ((3, 9), (2, 9))),
        Example("concat(a, b)", ((3, 2, 4, 4), (2, 2, 4, 4))),
        Example("concat(a, b, axis=-1)", ((5, 8), (5, 4))),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        first, first_name = ins[0], names[0]
        axis = resolve_axis(a["axis"], len(first))
        if axis is None:
            raise ShapeProblem(f"concat: {first_name} ({dims(first)}) has no axis {a['axis']}")
        for x, name in zip(ins[1:], names[1:], strict=True):
            if len(x) != len(first):
                raise ShapeProblem(
                    f"concat inputs differ in rank: {first_name} is {dims(first)}, {name} is {dims(x)}"
                )
            differ = [i for i in range(len(x)) if i != axis and x[i] != first[i]]
            if differ:
                what = _axis(differ[0], len(x))
                rest = [first[:axis] + first[axis + 1 :], x[:axis] + x[axis + 1 :]]
                raise ShapeProblem(
                    f"concat inputs differ in {what}: {first_name} is {dims(rest[0])}, "
                    f"{name} is {dims(rest[1])}"
                )
        return (*first[:axis], sum(x[axis] for x in ins), *first[axis + 1 :])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        axis = ar.known(a["axis"])
        joined = resolve_axis(axis, x.rank) if axis is not None else None
        if joined == (x.rank - 1 if x.last else 0):  # along the features: they add up
            sizes = [i.channels for i in ins]
            known = [c for c in sizes if c is not None]
            total = ar.total(known) if len(known) == len(sizes) else None
            return SymbolicShape(total, x.rank, x.spatial, x.last)
        # along another axis (tokens along T): the features kept, that axis's size unknown here
        return SymbolicShape(x.channels, x.rank, None, x.last)


def broadcast(op: str, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
    """The shape elementwise merges give: same rank; along each axis the sizes agree, or one
    of them is 1 and is repeated to the other's (PyTorch's and ONNX's broadcasting, the batch
    dimension left out)."""
    first, first_name = ins[0], names[0]
    out = list(first)
    for x, name in zip(ins[1:], names[1:], strict=True):
        if len(x) != len(first):
            raise ShapeProblem(
                f"{op} inputs differ in rank: {first_name} is {dims(first)}, {name} is {dims(x)}"
            )
        for i, size in enumerate(x):
            if size != out[i] and 1 not in (size, out[i]):
                axis = _axis(i, len(x))
                raise ShapeProblem(
                    f"{op} inputs differ in {axis}: {first_name} is {dims(first)}, {name} is "
                    f"{dims(x)} (sizes must agree, or one must be 1 to broadcast)"
                )
            out[i] = max(out[i], size)
    return tuple(out)


def _wider(values: Sequence[T | None]) -> T | None:
    """The size that is not 1 among broadcasting sizes (the first when none is known to be 1)."""
    for v in values:
        if v is None:
            return None
        if not (v == 1 or getattr(v, "value", None) == 1):
            return v
    return values[0]


_BROADCAST_DOC = (
    "same rank; along each axis the sizes agree or one is 1, repeated to the other's "
    "(C×H×W with C×1×1, 1×H×W or 1×1×1); the output has the larger size on each axis"
)


class _Elementwise(Op):
    """A merge that combines its inputs element by element, with broadcasting."""

    shape_doc = _BROADCAST_DOC

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        return broadcast(self.name, ins, names)

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        channels = _wider([x.channels for x in ins])
        known = [x.spatial for x in ins if x.spatial is not None]
        spatial = None
        if len(known) == len(ins) and len({len(k) for k in known}) == 1:
            sizes = [_wider([k[i] for k in known]) for i in range(len(known[0]))]
            found = [v for v in sizes if v is not None]
            spatial = tuple(found) if len(found) == len(sizes) else None
        return SymbolicShape(channels, ins[0].rank, spatial, ins[0].last)

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return (len(ins) - 1) * elements(out)


@register
class Add(_Elementwise):
    name = "add"
    doc = "Elementwise sum (residual connections), broadcasting sizes of 1."
    traits = frozenset({"merge", "elementwise"})
    examples = (
        Example("add(a, b)", ((4, 8, 8), (4, 8, 8))),
        Example("add(a, b, c)", ((3, 5, 6), (3, 5, 6), (3, 5, 6))),
        Example("add(a, b)", ((4, 8, 8), (4, 1, 1))),
        Example("add(a, b)", ((1, 5, 6), (3, 5, 1))),
        Example("add(a, b)", ((4, 9), (4, 9))),
    )


@register
class Mul(_Elementwise):
    name = "mul"
    doc = "Elementwise product, broadcasting sizes of 1 (squeeze-excitation: mul(x, s))."
    traits = frozenset({"merge", "elementwise"})
    examples = (
        Example("mul(a, b)", ((4, 8, 8), (4, 1, 1))),
        Example("mul(a, b)", ((4, 8, 8), (4, 8, 8))),
        Example("mul(a, b, c)", ((4, 5, 6), (1, 5, 6), (4, 1, 1))),
        Example("mul(a, b)", ((6,), (6,))),
        Example("mul(a, b)", ((4, 3, 5, 6), (4, 1, 1, 1))),  # 3-D squeeze-excitation
    )


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
        return SymbolicShape(shape[0], len(shape), tuple(shape[1:]) if len(shape) > 1 else None)
