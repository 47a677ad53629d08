"""Taking part of a tensor's channels: ShuffleNet's channel split, GhostNet's halves.

``slice(start, end)`` keeps channels ``start`` to ``end - 1`` (features, for a flat tensor).  It
is what ``a, b = x -> chunk(2)`` and ``a, b = x -> split((c1, c2))`` become, one slice per named
tensor (docs/language.md), since a layer in archc has one output.  It moves no data: PyTorch's
``x[:, start:end]`` is a view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

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
    dims,
    register,
    resolve_axis,
)

T = TypeVar("T")


@register
class Slice(Op):
    name = "slice"
    doc = "Channels start to end − 1 of its input (features when flat), or of `axis`; a view."
    traits = frozenset({"view"})
    attrs = (
        AttrSpec("start", "nonneg", doc="first channel kept"),
        AttrSpec("end", "count", doc="one past the last channel kept"),
        AttrSpec("axis", "axis", 0, "the per-sample axis cut: 0 channels, -1 a token's features"),
    )
    shape_doc = "C×H×W → (end − start)×H×W; 0 ≤ start < end ≤ C; along `axis` likewise"
    examples = (
        Example("slice(1, 3)"),
        Example("slice(0, 4)", ((10,),)),
        Example("slice(2, 6, axis=-1)", ((5, 8),)),
    )

    def check(self, a: Attrs) -> None:
        if a["start"] >= a["end"]:
            raise ArgProblem(
                f"slice keeps nothing: start ({a['start']}) must be below end ({a['end']})", "end"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        x = ins[0]
        axis = resolve_axis(a["axis"], len(x))
        if axis is None:
            raise ShapeProblem(f"slice: {names[0]} ({dims(x)}) has no axis {a['axis']}")
        if a["end"] > x[axis]:
            what = "channel" if axis == 0 else f"index (axis {a['axis']})"
            raise ShapeProblem(f"slice ends at {what} {a['end']}, but {names[0]} has {x[axis]}")
        return (*x[:axis], a["end"] - a["start"], *x[axis + 1 :])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        kept = ar.difference(a["end"], a["start"])
        axis = ar.known(a["axis"])
        feature_axis = x.rank - 1 if x.last else 0
        if axis is not None and resolve_axis(axis, x.rank) == feature_axis:
            return SymbolicShape(kept, x.rank, x.spatial, x.last)
        return SymbolicShape(x.channels, x.rank, None, x.last)  # another axis: sizes unknown

    def summary(self, a: Attrs) -> str:
        where = "" if a["axis"] == 0 else f" axis {a['axis']}"
        return f"slice {a['start']}:{a['end']}{where}"
