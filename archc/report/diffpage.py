"""``archc diff A B --format html``: the two diagrams side by side, scopes coloured by what
happened to them, the totals and the per-scope delta table, in one self-contained page.

The comparison is :func:`archc.diff.diff_networks`; this module only draws it (the analysis core
never imports a renderer, so the page lives with the report).  Both diagrams are drawn at the
same depth, the shallower of the two automatic depths unless ``--depth`` says, so a scope has the
same name on both sides.
"""

from __future__ import annotations

from html import escape
from string import Template

from archc import __version__
from archc.diff import ADDED, CHANGED, REMOVED, UNCHANGED, LayerChange, NetworkDiff, diff_networks
from archc.emit.graphviz import DiagramOptions, render, resolve_depth
from archc.formats import op_label
from archc.ops import dims
from archc.report.html import CSP, _asset, inline_svg
from archc.source import visible
from archc.units import grouped, human_bytes, human_count

#: node fill by status (ColorBrewer Pastel1): green added, red removed, amber changed
STATUS_FILL = {ADDED: "#ccebc5", REMOVED: "#fbb4ae", CHANGED: "#fed9a6"}


def _e(text: str) -> str:
    return escape(visible(text))


def diagram_depth(d: NetworkDiff) -> int | None:
    """The depth both diagrams are drawn at: the diff's, else the shallower automatic depth."""
    if d.depth is not None:
        return d.depth
    # both sides are drawn at one explicit depth, so it is chosen without collapsing repeats
    auto = DiagramOptions(collapse_repeats=False)
    depths = [resolve_depth(s.net, auto) for s in (d.old, d.new)]
    known = [x for x in depths if x is not None]
    return min(known) if known else None


def _diagram(d: NetworkDiff, side: str, depth: int | None) -> str:
    scoped = diff_networks(d.old, d.new, d.batch, d.dtype, depth, d.convention)
    keep = {REMOVED, CHANGED} if side == "old" else {ADDED, CHANGED}
    marks = tuple((c.name, STATUS_FILL[c.status]) for c in scoped.layers if c.status in keep)
    legend = tuple((STATUS_FILL[s], s) for s in (ADDED, REMOVED, CHANGED) if s in keep)
    net = d.old.net if side == "old" else d.new.net
    options = DiagramOptions(depth=depth, marks=marks, legend=(*legend, ("#ffffff", UNCHANGED)))
    svg = inline_svg(render(net, "svg", options).decode("utf-8"))
    return svg.replace('aria-label="network diagram"', f'aria-label="{side} network diagram"', 1)


def _sign(value: int, unit: str = "count") -> str:
    if value == 0:
        return "±0"
    text = human_bytes(abs(value)) if unit == "bytes" else grouped(abs(value))
    return ("+" if value > 0 else "−") + text


def _totals(d: NetworkDiff) -> str:
    rows = []
    for t in d.totals:
        show = human_bytes if t.unit == "bytes" else grouped
        rel = f" ({t.relative * 100:+.2f}%)" if t.relative is not None and t.delta else ""
        cls = "up" if t.delta > 0 else "down" if t.delta < 0 else ""
        rows.append(
            f'<tr><td>{_e(t.metric)}</td><td class="num">{show(t.old)}</td>'
            f'<td class="num">{show(t.new)}</td>'
            f'<td class="num {cls}">{_sign(t.delta, t.unit)}{rel}</td></tr>'
        )
    return (
        '<table class="budgets"><thead><tr><th scope="col">total</th>'
        f'<th scope="col" class="num">{_e(d.old.label)}</th>'
        f'<th scope="col" class="num">{_e(d.new.label)}</th>'
        '<th scope="col" class="num">change</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _value(change: LayerChange, field: str) -> tuple[int, int]:
    old = getattr(change.old, field) if change.old is not None else 0
    new = getattr(change.new, field) if change.new is not None else 0
    return old, new


def _scope_table(d: NetworkDiff) -> str:
    """One row per top-level scope: its status and its params and MACs before and after."""
    scoped = diff_networks(d.old, d.new, d.batch, d.dtype, 1, d.convention)
    rows = []
    for c in scoped.layers:
        cells = [
            f'<td><span class="status {c.status}">{c.status}</span></td>',
            f"<td><code>{_e(c.name)}</code></td>",
        ]
        for field in ("params", "macs"):
            old, new = _value(c, field)
            cells.append(f'<td class="num">{human_count(old)}</td>')
            cells.append(f'<td class="num">{human_count(new)}</td>')
            cells.append(f'<td class="num">{_sign(new - old)}</td>')
        rows.append(f'<tr class="{c.status}">{"".join(cells)}</tr>')
    return (
        '<div class="table-wrap"><table class="layers delta"><thead><tr>'
        '<th scope="col">status</th><th scope="col">scope</th>'
        '<th scope="col" class="num">params before</th><th scope="col" class="num">after</th>'
        '<th scope="col" class="num">Δ params</th><th scope="col" class="num">MACs before</th>'
        '<th scope="col" class="num">after</th><th scope="col" class="num">Δ MACs</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _arrow(old: str, new: str) -> str:
    return _e(old) if old == new else f"{_e(old)} → {_e(new)}"


def _layer_table(d: NetworkDiff) -> str:
    """Every layer (or scope at ``--depth``) that was added, removed or changed."""
    rows = []
    for c in d.layers:
        if c.status == UNCHANGED:
            continue
        sides = [r for r in (c.old, c.new) if r is not None]
        op = _arrow(op_label(sides[0]), op_label(sides[-1]))
        shape = _arrow(dims(sides[0].shape), dims(sides[-1].shape))
        params = _value(c, "params")
        macs = _value(c, "macs")
        rows.append(
            f'<tr class="{c.status}"><td><span class="status {c.status}">{c.status}</span></td>'
            f"<td><code>{_e(c.name)}</code></td><td>{op}</td><td>{shape}</td>"
            f'<td class="num">{_sign(params[1] - params[0])}</td>'
            f'<td class="num">{_sign(macs[1] - macs[0])}</td></tr>'
        )
    if not rows:
        return '<p class="note">No layer was added, removed or changed.</p>'
    what = "scope" if d.depth else "layer"
    return (
        '<div class="table-wrap"><table class="layers delta"><thead><tr>'
        f'<th scope="col">status</th><th scope="col">{what}</th><th scope="col">op</th>'
        '<th scope="col">shape</th><th scope="col" class="num">Δ params</th>'
        f'<th scope="col" class="num">Δ MACs</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )


_EXTRA_CSS = """
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.sides h3 { margin: 4px 0; font-size: 15px; }
.sides .diagram-frame { max-height: 85vh; }
@media (max-width: 900px) { .sides { grid-template-columns: 1fr; } }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; }
.status.added { background: #ccebc5; } .status.removed { background: #fbb4ae; }
.status.changed { background: #fed9a6; } .status.unchanged { background: #eeeeee; }
td.up { color: #cf222e; } td.down { color: #1a7f37; }
table.delta tr.unchanged { color: var(--muted); }
.key span { margin-right: 12px; }
"""


def render_diff_html(d: NetworkDiff) -> str:
    """The whole page (runs Graphviz's ``dot`` twice)."""
    depth = diagram_depth(d)
    drawn = "every layer" if depth is None else f"depth {depth}"
    counts = ", ".join(f"{d.count(s)} {s}" for s in (ADDED, REMOVED, CHANGED, UNCHANGED))
    what = "scopes" if d.depth else "layers"
    page = Template(_asset("diff.html"))
    return page.substitute(
        csp=escape(CSP, quote=False),
        version=escape(__version__),
        old=_e(d.old.label),
        new=_e(d.new.label),
        old_name=_e(d.old.net.name),
        new_name=_e(d.new.net.name),
        batch=d.batch,
        dtype=escape(d.dtype),
        summary=escape(f"{what}: {counts} (matched by scope path)"),
        totals=_totals(d),
        drawn=escape(drawn),
        old_svg=_diagram(d, "old", depth),
        new_svg=_diagram(d, "new", depth),
        scopes=_scope_table(d),
        layers=_layer_table(d),
        style=_asset("report.css") + _EXTRA_CSS,
    )


__all__ = ["STATUS_FILL", "diagram_depth", "render_diff_html"]
