"""``archc sweep --report``: one self-contained HTML page (no scripts, no network).

The page shows the counts, the Pareto front as an inline SVG scatter plot of the first two
objectives (every ``ok`` candidate grey, rejected ones faint red, the front blue and joined), the
front as a table, and the spec's source.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archc.fileio import write_atomic
from archc.sweep.api import SweepResult
from archc.sweep.candidate import OK, REJECTED

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 90, 20, 20, 50

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f4f4f4; }
pre { background: #f8f8f8; padding: 1em; overflow-x: auto; font-size: 12px; }
.muted { color: #666; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
"""


def write_report(result: SweepResult, path: Path) -> None:
    write_atomic(path, render_report(result))


def render_report(result: SweepResult) -> str:
    counts = result.counts()
    objectives = ", ".join(str(o) for o in result.objectives)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>archc sweep: {_e(result.network)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>archc sweep: {_e(result.network)}</h1>",
        f"<p>{_e(result.spec)}: {len(result.rows):,} candidates over "
        f"{_e(', '.join(result.axes) or 'no axes')}; {counts[OK]:,} ok, "
        f"{counts[REJECTED]:,} rejected, {counts['error']:,} errors."
        + (f" Constraint: <code>{_e(result.where)}</code>." if result.where else "")
        + f" Pareto front over {_e(objectives)}: {len(result.front)} candidates.</p>",
        _plot(result),
        "<h2>Pareto front</h2>",
        _table(result),
        "<h2>Spec</h2>",
    ]
    for name, text in result.sources:
        parts.append(f'<p class="muted">{_e(name)}</p><pre>{_e(text)}</pre>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def _short(value: float) -> str:
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _table(result: SweepResult) -> str:
    columns = list(
        dict.fromkeys(
            ["index", *result.axes, *(o.column for o in result.objectives), *result.metrics]
        )
    )
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(_num(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in result.front
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plot(result: SweepResult) -> str:
    objectives = result.objectives
    x_col = objectives[0].column
    y_col = objectives[1].column if len(objectives) > 1 else "index"
    points = [r for r in result.rows if r["status"] in (OK, REJECTED)]
    xy = _numeric_points(points, x_col, y_col)
    if not xy:
        return '<p class="muted">No candidate to plot.</p>'
    xs = [float(x) for _, x, _ in xy]
    ys = [float(y) for _, _, y in xy]
    sx = _scale(xs, LEFT, WIDTH - RIGHT)
    sy = _scale(ys, HEIGHT - BOTTOM, TOP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Pareto front">',
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#bbb"/>',
    ]
    out += _ticks(xs, sx, horizontal=True) + _ticks(ys, sy, horizontal=False)
    out.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"{_e(str(objectives[0]))}</text>"
    )
    label = str(objectives[1]) if len(objectives) > 1 else "index"
    out.append(
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">{_e(label)}</text>'
    )
    front_ids = {id(r) for r in result.front}
    for row, x, y in xy:
        if id(row) in front_ids:
            continue
        color = "#bbb" if row["status"] == OK else "#f3b0b0"
        out.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}">'
            f"<title>{_e(_tooltip(row, result))}</title></circle>"
        )
    front = sorted(_numeric_points(result.front, x_col, y_col), key=lambda p: (p[1], p[2]))
    if len(front) > 1:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for _, x, y in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="#2563eb" stroke-width="1.5"/>')
    for row, x, y in front:
        out.append(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#2563eb">'
            f"<title>{_e(_tooltip(row, result))}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _numeric_points(
    rows: Sequence[dict[str, Any]], x_col: str, y_col: str
) -> list[tuple[dict[str, Any], float, float]]:
    """(row, x, y) for the rows whose two plotted columns are numbers."""
    return [
        (r, float(r[x_col]), float(r[y_col]))
        for r in rows
        if _is_number(r.get(x_col)) and _is_number(r.get(y_col))
    ]


def _tooltip(row: dict[str, Any], result: SweepResult) -> str:
    axes = ", ".join(f"{a}={_num(row.get(a))}" for a in result.axes)
    objectives = ", ".join(f"{o.column} {_num(row.get(o.column))}" for o in result.objectives)
    return f"#{row['index']} {axes}: {objectives} ({row['status']})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Scale:
    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        if hi == lo:
            lo, hi = lo - 1, hi + 1
        self.lo, self.hi, self.a, self.b = lo, hi, a, b

    def __call__(self, value: float) -> float:
        return self.a + (value - self.lo) / (self.hi - self.lo) * (self.b - self.a)


def _scale(values: Sequence[float], a: float, b: float) -> _Scale:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.04
    return _Scale(lo - pad, hi + pad, a, b)


def _ticks(values: Sequence[float], scale: _Scale, horizontal: bool) -> list[str]:
    lo, hi = min(values), max(values)
    count = 5 if hi > lo else 1
    out = []
    for i in range(count):
        value = lo + (hi - lo) * i / max(1, count - 1)
        pos = scale(value)
        if horizontal:
            out.append(
                f'<text x="{pos:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{_short(value)}</text>"
            )
        else:
            out.append(
                f'<text x="{LEFT - 6}" y="{pos + 4:.1f}" text-anchor="end">{_short(value)}</text>'
            )
    return out
