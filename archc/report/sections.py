"""The review sections of the HTML report: budgets, the per-stage roll-up, live memory over
time, the receptive field against the input, and the spec's source with line anchors.

Each function returns an HTML fragment; every text from a spec goes through :func:`escape`.
Charts are HTML bars and inline SVG drawn here, so the page still loads nothing.
"""

from __future__ import annotations

from html import escape

from archc.analysis import Network, Row
from archc.budget import Check
from archc.report.model import ReportData, percent
from archc.report.review import (
    budgets,
    coverage,
    file_label,
    live_memory,
    margin_text,
    row_span,
    show_value,
    source_anchor,
    source_files,
)
from archc.source import visible
from archc.units import human_bytes

#: stage colours (cycled): one per top-level scope in the stacked bars and the memory chart
PALETTE = 10


def line_link(net: Network, row: Row) -> tuple[str, int]:
    """The table's line cell and its sort key: ``<a href="#src-2-17">lib/resnet.arch:17</a>``
    for a line of an included file, the bare number for a line of the spec itself."""
    span = row_span(net, row)
    label = str(span.line) if span.file == net.file else f"{file_label(net, span.file)}:{span.line}"
    files = list(net.files)
    index = files.index(span.file) if span.file in files else len(files)
    return (
        f'<a class="src-link" href="#{source_anchor(net, span)}">{escape(visible(label))}</a>',
        index * 10_000_000 + span.line,
    )


# --------------------------------------------------------------------------- budgets
def budgets_section(data: ReportData) -> str:
    checks = budgets(data.net, data.totals.batch, data.totals.dtype)
    if not checks:
        return (
            '<p class="note">This spec declares no budgets. Add an <code>assert</code> '
            "(<code>assert params &lt;= 30M</code>, <code>assert layer3.macs &lt; 2G</code>) "
            "and the report shows whether each holds and by how much; <code>archc check</code> "
            "gates CI on the same assertions (docs/ci.md).</p>"
        )
    failed = sum(1 for c in checks if not c.passed)
    summary = (
        f'<p class="budget-summary {"fail" if failed else "pass"}">'
        f"{len(checks) - failed} of {len(checks)} budgets hold"
        + (f"; {failed} fail{'s' if failed == 1 else ''}" if failed else "")
        + f" (batch {data.totals.batch}, {escape(data.totals.dtype)})</p>"
    )
    rows = "".join(_budget_row(data.net, c) for c in checks)
    return (
        f'{summary}<div class="budget-wrap"><table class="budgets"><thead><tr>'
        '<th scope="col">result</th><th scope="col">budget</th><th scope="col" class="num">'
        'actual</th><th scope="col" class="num">limit</th><th scope="col" class="num">margin'
        '</th><th scope="col">where</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _budget_row(net: Network, check: Check) -> str:
    status = "pass" if check.passed else "fail"
    where = ""
    if check.span is not None:
        label = f"{file_label(net, check.span.file)}:{check.span.line}"
        where = (
            f'<a class="src-link" href="#{source_anchor(net, check.span)}">'
            f"{escape(visible(label))}</a>"
        )
    name = escape(visible(check.name))
    if check.message:
        name += f'<div class="note">{escape(visible(check.message))}</div>'
    limit = f"{check.op} {show_value(check.limit, check.unit)}" if check.op else ""
    return (
        f'<tr class="{status}"><td><span class="badge {status}">{status}</span></td>'
        f'<td>{name}</td><td class="num">{escape(show_value(check.actual, check.unit))}</td>'
        f'<td class="num">{escape(limit)}</td><td class="num">{escape(margin_text(check))}</td>'
        f"<td>{where}</td></tr>"
    )


# --------------------------------------------------------------------------- stages
def stages_section(data: ReportData) -> str:
    """Stacked bars of params, MACs and memory by top-level scope, and their table."""
    stages = data.net.rows(1, data.totals.batch)
    shares = data.shares
    totals = {s.key: sum(s.value(r) for r in stages) for s in shares}
    bars = []
    for s in shares:
        segments = []
        for i, row in enumerate(stages):
            value = s.value(row)
            if not value or not totals[s.key]:
                continue
            frac = value / totals[s.key]
            text = escape(row.name) if frac >= 0.08 else ""
            segments.append(
                f'<span class="seg s{i % PALETTE}" style="width:{100 * frac:.3f}%" '
                f'title="{escape(row.name)}: {escape(s.text(value))} ({percent(frac)})">'
                f"{text}</span>"
            )
        bars.append(
            f'<div class="stack-row"><span class="stack-label">{escape(s.title)}</span>'
            f'<div class="stack">{"".join(segments)}</div>'
            f'<span class="stack-total">{escape(s.text(totals[s.key]))}</span></div>'
        )
    head = "".join(f'<th scope="col" class="num">{escape(s.title)}</th>' for s in shares)
    body = []
    for i, row in enumerate(stages):
        cells = "".join(
            f'<td class="num">{escape(s.text(s.value(row)))} '
            f'<span class="note">{percent(s.value(row) / totals[s.key] if totals[s.key] else 0)}'
            "</span></td>"
            for s in shares
        )
        body.append(
            f'<tr><td><span class="swatch s{i % PALETTE}"></span>{escape(row.name)}</td>'
            f"{cells}</tr>"
        )
    return (
        f'<div class="stacks">{"".join(bars)}</div>'
        '<div class="stage-wrap"><table class="stage-table"><thead><tr><th scope="col">stage'
        f"</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- live memory
_W, _H, _PAD = 960, 220, 28


def memory_section(data: ReportData) -> str:
    """Live activation memory while each layer runs, with the peak named."""
    lm = live_memory(data.net, data.totals.batch, data.totals.dtype)
    if not lm.live or lm.peak == 0:
        return '<p class="note">No activation memory.</p>'
    n = len(lm.live)
    top = lm.peak

    def x(i: int) -> float:
        return _PAD + (_W - 2 * _PAD) * (i / max(n - 1, 1))

    def y(v: int) -> float:
        return _H - _PAD - (_H - 2 * _PAD) * v / top

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(lm.live))
    area = f"{x(0):.1f},{y(0):.1f} {points} {x(n - 1):.1f},{y(0):.1f}"
    peak_i = lm.live.index(top)
    # stage boundaries: where each top-level scope's first layer runs
    marks = []
    seen: set[str] = set()
    for i, node in enumerate(lm.nodes):
        stage = node.split(".")[0]
        if stage in seen:
            continue
        seen.add(stage)
        marks.append(
            f'<line class="stage-line" x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{_PAD}" '
            f'y2="{_H - _PAD}"><title>{escape(stage)}</title></line>'
        )
    anchor = "end" if x(peak_i) > _W * 0.6 else "start"
    dx = -8 if anchor == "end" else 8
    label = f"peak {human_bytes(top)}: {lm.peak_node}"
    svg = (
        f'<svg class="memory-chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="live activation memory per layer">'
        f'<line class="axis" x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}"/>'
        f"{''.join(marks)}"
        f'<polygon class="area" points="{area}"/><polyline class="curve" points="{points}"/>'
        f'<circle class="peak" cx="{x(peak_i):.1f}" cy="{y(top):.1f}" r="5"/>'
        f'<text class="peak-label" x="{x(peak_i) + dx:.1f}" y="{y(top) + 4:.1f}" '
        f'text-anchor="{anchor}">{escape(visible(label))}</text>'
        f'<text class="tick" x="{_PAD}" y="{_H - 8}">{escape(lm.nodes[0])}</text>'
        f'<text class="tick" x="{_W - _PAD}" y="{_H - 8}" text-anchor="end">'
        f"{escape(lm.nodes[-1])}</text>"
        f'<text class="tick" x="{_PAD}" y="{_PAD - 8}">{escape(human_bytes(top))}</text>'
        "</svg>"
    )
    sentence = (
        f"<p>Peak live activation memory <b>{escape(human_bytes(top))}</b> while "
        f'<b class="peak-layer">{escape(lm.peak_node)}</b> runs (layer {peak_i + 1} of {n}; '
        f"batch {data.totals.batch}, {escape(data.totals.dtype)}). Each point is the memory "
        "held while one layer runs: its inputs, its output and every tensor still to be read; "
        "vertical lines mark where each top-level scope starts.</p>"
    )
    return f'{sentence}<div class="memory-wrap">{svg}</div>'


# --------------------------------------------------------------------------- receptive field
def receptive_field_section(data: ReportData) -> str:
    cov = coverage(data.net)
    if cov is None:
        return '<p class="note">No image input: nothing to compare a receptive field with.</p>'
    ih, iw = cov.input_hw
    if cov.first_full is not None:
        rf = data.net.rf(cov.first_full).size
        sentence = (
            f"The receptive field first covers the whole {ih}×{iw} input "
            f"(<code>{escape(cov.input_name)}</code>) at <b>{escape(cov.first_full)}</b> "
            f"({rf[0]}×{rf[1]} pixels)."
        )
    else:
        largest = max(data.net.rf(n).size[0] for n in data.net.order)
        sentence = (
            f"The receptive field never covers the whole {ih}×{iw} input: the largest is "
            f"{largest} pixels."
        )
    rows = []
    for row in data.net.rows(1, data.totals.batch):
        frac = cov.fraction(row)
        (h, w) = row.rf.size
        size = str(h) if h == w else f"{h}×{w}"
        rows.append(
            f'<tr><td class="name">{escape(row.name)}</td><td class="num">{size}</td>'
            f'<td><div class="bar"><span class="track"><span class="fill rf{" full" if frac >= 1 else ""}"'
            f' style="width:{100 * min(frac, 1.0):.2f}%"></span></span>'
            f'<span class="val">{100 * frac:.0f}%</span></div></td></tr>'
        )
    return (
        f"<p>{sentence}</p>"
        '<div class="chart-wrap"><table class="chart rf-table"><thead><tr>'
        '<th scope="col">stage</th><th scope="col" class="num">RF</th>'
        f'<th scope="col">share of the {ih}×{iw} input</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- source
def source_section(net: Network) -> str:
    parts = []
    for f in source_files(net):
        lines = "".join(
            f'<span class="src-line" id="src-{f.index}-{i}"><span class="ln">{i}</span>'
            f"{escape(visible(text))}\n</span>"
            for i, text in enumerate(f.lines, 1)
        )
        cut = (
            '<p class="note">(cut: the page inlines at most 5,000 lines)</p>' if f.truncated else ""
        )
        parts.append(
            f'<details class="src-file" open><summary><code>{escape(visible(f.label))}</code> '
            f'<span class="note">{len(f.lines)} lines</span></summary>'
            f'<pre class="src">{lines}</pre>{cut}</details>'
        )
    return "".join(parts)


__all__ = [
    "budgets_section",
    "line_link",
    "memory_section",
    "receptive_field_section",
    "source_section",
    "stages_section",
]
