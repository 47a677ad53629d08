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
    register,
)

T = TypeVar("T")


@register
class Slice(Op):
    name = "slice"
    doc = "Channels start to end − 1 of its input (features when flat); a view."
    traits = frozenset({"view"})
    attrs = (
        AttrSpec("start", "nonneg", doc="first channel kept"),
        AttrSpec("end", "count", doc="one past the last channel kept"),
    )
    shape_doc = "C×H×W → (end − start)×H×W; 0 ≤ start < end ≤ C"
    examples = (Example("slice(1, 3)"), Example("slice(0, 4)", ((10,),)))

    def check(self, a: Attrs) -> None:
        if a["start"] >= a["end"]:
            raise ArgProblem(
                f"slice keeps nothing: start ({a['start']}) must be below end ({a['end']})", "end"
            )

    def shape(self, a: Attrs, ins: Sequence[Shape], names: Sequence[str]) -> Shape:
        c = ins[0][0]
        if a["end"] > c:
            raise ShapeProblem(f"slice ends at channel {a['end']}, but {names[0]} has {c}")
        return (a["end"] - a["start"], *ins[0][1:])

    def symbolic_shape(
        self, a: Attrs, ins: Sequence[SymbolicShape[T]], ar: Arithmetic[T]
    ) -> SymbolicShape[T]:
        x = ins[0]
        return SymbolicShape(ar.difference(a["end"], a["start"]), x.rank, x.spatial)

    def summary(self, a: Attrs) -> str:
        return f"slice {a['start']}:{a['end']}"
