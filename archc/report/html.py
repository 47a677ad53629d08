"""The self-contained HTML report: one file with inline SVG, CSS and JavaScript.

The page fetches nothing: the diagram is Graphviz's SVG inlined, the charts are HTML bars and
inline SVG, the spec's source is inlined with an anchor per line, the styles and the script
(sorting, filtering, zoom) are package data inlined into the page, and a Content-Security-Policy
forbids every network load.  The review sections (budgets, stages, live memory, receptive field,
source) are drawn by :mod:`archc.report.sections`.  Output is deterministic for a given spec and
Graphviz version.
"""

from __future__ import annotations

import re
from html import escape
from importlib import resources
from string import Template

from archc import __version__
from archc.analysis import Network
from archc.emit.graphviz import collapse_note, node_keys, render
from archc.formats import op_label, rf_label
from archc.ops import dims
from archc.report.model import (
    ReportData,
    ReportOptions,
    build,
    facts,
    highlights,
    intensity_text,
    memory_text,
    percent,
)
from archc.report.review import file_label
from archc.report.sections import (
    budgets_section,
    line_link,
    memory_section,
    receptive_field_section,
    source_section,
    stages_section,
)
from archc.units import grouped, human_count

#: the per-row chart shows this many rows, the heaviest by their largest share
CHART_ROWS = 15

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def _asset(name: str) -> str:
    return (
        resources.files("archc.report")
        .joinpath("assets")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def inline_svg(svg: str) -> str:
    """Graphviz's SVG document, made fit to sit inside an HTML page."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = svg.replace("<svg ", '<svg role="img" aria-label="network diagram" ', 1)
    return svg.strip()


# --------------------------------------------------------------------------- sections
def _cards(data: ReportData) -> str:
    out = []
    for fact in facts(data):
        out.append(
            '<div class="card">'
            f'<div class="label">{escape(fact.label)}</div>'
            f'<div class="value">{escape(fact.value)}</div>'
            f'<div class="detail">{escape(fact.detail)}</div>'
            "</div>"
        )
    return "\n".join(out)


def _highlights(data: ReportData) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in highlights(data))
    return f'<ul class="highlights">{items}</ul>' if items else ""


def _chart(data: ReportData) -> str:
    """Bars per row for each share: where the weights, the compute and the memory sit."""
    nonzero = [r for r in data.rows if any(s.value(r) for s in data.shares)]
    heaviest = sorted(nonzero, key=lambda r: -max(data.share(s.key, r) for s in data.shares))[
        :CHART_ROWS
    ]
    keep = {r.name for r in heaviest}
    rows = [r for r in nonzero if r.name in keep]  # in the spec's order
    top = {s.key: max((data.share(s.key, r) for r in rows), default=0.0) for s in data.shares}
    head = "".join(
        f'<th scope="col"><span class="legend-dot {s.key}"></span>{escape(s.title)} '
        f'<span class="note">% of {escape(s.text(data.share_totals[s.key]))}</span></th>'
        for s in data.shares
    )
    body = []
    for row in rows:
        cells = [f'<td class="name" title="{escape(row.name)}">{escape(row.name)}</td>']
        for s in data.shares:
            frac = data.share(s.key, row)
            width = 100 * frac / top[s.key] if top[s.key] else 0.0
            cells.append(
                f'<td><div class="bar" title="{escape(s.title)}: {escape(s.text(s.value(row)))}">'
                f'<span class="track"><span class="fill {s.key}" style="width:{width:.2f}%">'
                f'</span></span><span class="val">{percent(frac) if frac else ""}</span></div></td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    skipped = len(data.rows) - len(rows)
    note = (
        f'<p class="note">The {len(rows)} heaviest of {len(data.rows)} {data.unit}s, by their '
        "largest share, in the spec's order (the table below has them all). Bars are scaled "
        "to the largest row in each column.</p>"
        if skipped
        else '<p class="note">Bars are scaled to the largest row in each column.</p>'
    )
    return (
        f'{note}<div class="chart-wrap"><table class="chart"><thead><tr>'
        f'<th scope="col">{escape(data.unit)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# column: (title, type, first sort direction, css class)
_COLUMNS = (
    ("#", "num", "ascending", "num aux"),
    ("layer", "text", "ascending", "name"),
    ("op", "text", "ascending", "op"),
    ("output", "num", "descending", "num"),
    ("params", "num", "descending", "num"),
    ("% params", "num", "descending", "num pct"),
    ("MACs", "num", "descending", "num"),
    ("% MACs", "num", "descending", "num pct"),
    ("memory", "num", "descending", "num"),
    ("MACs/B", "num", "descending", "num wide"),
    ("RF/jump", "num", "descending", "num wide"),
    ("line", "num", "ascending", "num aux src-col"),
)


def _row_nodes(data: ReportData) -> dict[str, str]:
    """Table row -> the diagram node that draws it (the diagram may be collapsed or fused)."""
    keys = node_keys(data.net, data.options.diagram)
    out = {}
    for row in data.rows:
        first = (
            row.name
            if row.name in keys
            else next(n for n in data.net.order if n.startswith(row.name + "."))
        )
        out[row.name] = keys[first]
    return out


def _table(data: ReportData) -> str:
    nodes = _row_nodes(data)
    head = []
    macs = next(s.title for s in data.shares if s.key == "macs")  # a peer tool's, by convention
    for title, kind, first, css in _COLUMNS:
        shown = macs if title == "MACs" else title
        head.append(
            f'<th scope="col" class="{css}" data-type="{kind}" data-first="{first}">'
            f'<button type="button">{escape(shown)}</button></th>'
        )
    body = []
    for i, row in enumerate(data.rows, 1):
        mem = data.memory_bytes(row)
        cells = [
            (str(i), i),
            (f'<a class="node-link" href="#diagram">{escape(row.name)}</a>', None),
            (escape(op_label(row)), None),
            (escape(dims(row.shape)), row.out_elements),
            (grouped(row.params), row.params),
            (percent(data.share("params", row)), f"{data.share('params', row):.6f}"),
            (grouped(row.macs), row.macs),
            (percent(data.share("macs", row)), f"{data.share('macs', row):.6f}"),
            (escape(memory_text(data, row)), mem),
            (escape(intensity_text(data, row)), f"{data.intensity(row):.6g}"),
            (escape(rf_label(row)), row.rf.size[0] * row.rf.size[1]),  # unknown: 0
            line_link(data.net, row),
        ]
        tds = []
        for (text, value), (_, _, _, css) in zip(cells, _COLUMNS, strict=True):
            attr = f' data-v="{value}"' if value is not None else ""
            tds.append(f'<td class="{css}"{attr}>{text}</td>')
        body.append(
            f'<tr data-key="{escape(row.name)}" data-node="{escape(nodes[row.name])}">'
            f"{''.join(tds)}</tr>"
        )
    return (
        '<div class="table-wrap"><table id="layers" class="layers">'
        f"<thead><tr>{''.join(head)}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(net: Network, options: ReportOptions | None = None) -> str:
    """The whole report page (runs Graphviz's ``dot`` for the diagram)."""
    data = build(net, options)
    diagram = inline_svg(render(net, "svg", data.options.diagram).decode("utf-8"))
    note = collapse_note(net, data.options.diagram)
    diagram_note = f'<p class="note">The {escape(note)}.</p>' if note else ""
    depth = data.options.depth
    scope = "per layer" if depth is None else f"per block, depth {depth}"
    page = Template(_asset("page.html"))
    return page.substitute(
        csp=escape(CSP, quote=False),
        name=escape(net.name),
        file=escape(net.file),
        file_name=escape(file_label(net, net.file)),
        version=escape(__version__),
        batch=data.totals.batch,
        dtype=escape(data.totals.dtype),
        summary=escape(
            f"{human_count(data.totals.params)} params · {human_count(data.totals.macs)} MACs"
        ),
        cards=_cards(data),
        highlights=_highlights(data),
        diagram=diagram,
        diagram_note=diagram_note,
        budgets=budgets_section(data),
        stages=stages_section(data),
        memory=memory_section(data),
        receptive_field=receptive_field_section(data),
        source=source_section(net),
        chart=_chart(data),
        chart_scope=escape(scope),
        table=_table(data),
        table_scope=escape(scope),
        rows=len(data.rows),
        style=_asset("report.css"),
        script=_asset("report.js"),
    )


__all__ = ["ReportOptions", "inline_svg", "render_html"]
