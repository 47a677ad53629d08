"""Pareto fronts over rows: the candidates no other candidate beats on every objective.

An objective is a column (a metric such as ``macs``, or an axis such as ``width``), minimised by
default; ``width:max`` maximises it.  Only rows whose status is ``ok`` take part.  A row is on
the front when no other row is at least as good on every objective and better on one; rows with
equal objectives are all kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archc.errors import UsageError, did_you_mean
from archc.sweep.candidate import OK


@dataclass(frozen=True)
class Objective:
    """A column to minimise (or maximise)."""

    column: str
    maximize: bool = False

    def __str__(self) -> str:
        return f"{self.column}:max" if self.maximize else self.column


def parse_objectives(text: str | Sequence[str], columns: Sequence[str]) -> list[Objective]:
    """``"params,macs,width:max"`` -> objectives; each must name a numeric column."""
    items = text.split(",") if isinstance(text, str) else list(text)
    objectives = []
    for item in items:
        name, _, direction = item.strip().partition(":")
        if direction not in ("", "min", "max"):
            raise UsageError(f"--pareto {item!r}: the direction is min or max, e.g. width:max")
        if name not in columns:
            raise UsageError(
                f"--pareto names '{name}', which is neither a metric nor an axis",
                None,
                [did_you_mean(name, columns) or f"columns: {', '.join(columns)}"],
            )
        objectives.append(Objective(name, direction == "max"))
    if not objectives:
        raise UsageError("--pareto needs at least one objective")
    return objectives


def _key(row: dict[str, Any], objectives: Sequence[Objective]) -> tuple[float, ...] | None:
    key = []
    for o in objectives:
        value = row.get(o.column)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        key.append(-value if o.maximize else value)
    return tuple(key)


def pareto_front(
    rows: Sequence[dict[str, Any]], objectives: Sequence[Objective]
) -> list[dict[str, Any]]:
    """The non-dominated ``ok`` rows, ordered by the objectives (then by sweep position)."""
    keyed = []
    for i, row in enumerate(rows):
        if row.get("status") != OK:
            continue
        key = _key(row, objectives)
        if key is not None:
            keyed.append((key, i, row))
    # after sorting, a row's dominators all come before it, and a dominated dominator is itself
    # dominated by a front row: comparing with the front found so far is enough
    keyed.sort(key=lambda item: (item[0], item[1]))
    front: list[tuple[tuple[float, ...], dict[str, Any]]] = []
    for key, _, row in keyed:
        if not any(_dominates(f, key) for f, _ in front):
            front.append((key, row))
    return [row for _, row in front]


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a != b and all(x <= y for x, y in zip(a, b, strict=True))
