"""The design space: axes of values, walked as a full grid or sampled at random.

A candidate is one value per axis.  The grid is the product of the axes in the order they were
given, the last axis changing fastest; a sample draws ``samples`` distinct grid points with a
seeded generator.  Either way a candidate is addressed by its *position* in the sweep (0, 1, ...),
so any engine, any batching and a resumed run all agree on what candidate ``i`` is.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from archc.errors import UsageError
from archc.evaluate import Value
from archc.sweep.values import parse_axis

#: an axis that is not a constant of the spec but sets every 3-D input to C×R×R
RESOLUTION = "resolution"


@dataclass(frozen=True)
class Axis:
    """One swept name and its values, in order."""

    name: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Space:
    """Axes, and optionally a random sample of their grid (``samples`` points, ``seed``)."""

    axes: tuple[Axis, ...]
    samples: int | None = None
    seed: int = 0
    _points: tuple[int, ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = [a.name for a in self.axes]
        for name in names:
            if names.count(name) > 1:
                raise UsageError(f"the axis '{name}' is given twice")
        for axis in self.axes:
            if not axis.values:
                raise UsageError(f"the axis '{axis.name}' has no values")
        if self.samples is not None:
            if self.samples < 1:
                raise UsageError("--samples must be >= 1")
            if self.samples > self.grid_size:
                raise UsageError(
                    f"--samples {self.samples} is more than the {self.grid_size:,} points "
                    "of the grid; sweep the whole grid instead"
                )
            rng = random.Random(self.seed)
            points = tuple(rng.sample(range(self.grid_size), self.samples))
            object.__setattr__(self, "_points", points)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    @property
    def grid_size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    def __len__(self) -> int:
        return self.samples if self.samples is not None else self.grid_size

    def point(self, grid_index: int) -> dict[str, Value]:
        """The grid point ``grid_index`` (mixed radix, last axis fastest)."""
        values: dict[str, Value] = {}
        for axis in reversed(self.axes):
            grid_index, digit = divmod(grid_index, len(axis.values))
            values[axis.name] = axis.values[digit]
        return {a.name: values[a.name] for a in self.axes}

    def candidate(self, position: int) -> dict[str, Value]:
        """The candidate at ``position`` in the sweep order."""
        if self._points is not None:
            return self.point(self._points[position])
        return self.point(position)

    def candidates(self, start: int = 0) -> Iterator[tuple[int, dict[str, Value]]]:
        for position in range(start, len(self)):
            yield position, self.candidate(position)

    def describe(self) -> dict[str, object]:
        """A JSON-able description; two sweeps with equal descriptions have equal candidates."""
        return {
            "axes": {a.name: list(a.values) for a in self.axes},
            "samples": self.samples,
            "seed": self.seed if self.samples is not None else None,
        }


def make_space(
    axes: Mapping[str, str | Sequence[Value] | Value],
    samples: int | None = None,
    seed: int = 0,
) -> Space:
    """Axes from text (``"0.35:1.4:0.05"``, ``"128,160"``), sequences or single values."""
    built = []
    for name, spec in axes.items():
        if isinstance(spec, str):
            values = parse_axis(spec, f"--set {name}")
        elif isinstance(spec, list | range) or (
            isinstance(spec, Sequence) and not isinstance(spec, tuple)
        ):
            values = list(spec)
        else:
            values = [spec]
        built.append(Axis(name, tuple(values)))
    return Space(tuple(built), samples, seed)
