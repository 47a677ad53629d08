"""The Markdown report: totals, the per-block table and the diagram, for a pull request comment.

GitHub does not render SVG inlined in a comment, so the diagram is linked: the CLI writes it
next to the Markdown file (or where ``--svg`` says) and the Markdown points at it.
"""

from __future__ import annotations

from urllib.parse import quote

from archc.analysis import Network
from archc.formats import op_label
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
from archc.report.review import budgets, margin_text, show_value
from archc.source import markdown_code, markdown_text
from archc.units import grouped

#: the depth of the per-block table when none is given
DEFAULT_DEPTH = 1


def _esc(text: str) -> str:
    """Text from a spec or a path, safe in a table cell: no raw HTML, no ``|``, one line."""
    return markdown_text(text)


def _code(text: str) -> str:
    return markdown_code(text).replace("|", "\\|")


def _table(data: ReportData) -> list[str]:
    macs = next(s.title for s in data.shares if s.key == "macs")
    head = ["block", "op", "output", "params", "% params", macs, "% MACs", "memory", "MACs/B"]
    out = [
        "| " + " | ".join(head) + " |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in data.rows:
        cells = [
            _code(row.name),
            _esc(op_label(row)),
            _esc(dims(row.shape)),
            grouped(row.params),
            percent(data.share("params", row)),
            grouped(row.macs),
            percent(data.share("macs", row)),
            _esc(memory_text(data, row)),
            intensity_text(data, row),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _budgets(data: ReportData) -> list[str]:
    """The spec's asserts, as ``archc check`` checks them (nothing when it has none)."""
    checks = budgets(data.net, data.totals.batch, data.totals.dtype)
    if not checks:
        return []
    failed = sum(1 for c in checks if not c.passed)
    out = [
        f"#### Budgets: {len(checks) - failed} of {len(checks)} hold",
        "",
        "| | budget | actual | limit | margin |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for c in checks:
        limit = f"{c.op} {show_value(c.limit, c.unit)}" if c.op else ""
        out.append(
            f"| {'✅' if c.passed else '❌'} | {_code(c.name)} | "
            f"{_esc(show_value(c.actual, c.unit))} | {_esc(limit)} | {_esc(margin_text(c))} |"
        )
    return [*out, ""]


def render_markdown(
    net: Network,
    options: ReportOptions | None = None,
    diagram: str | None = None,
    diagram_hint: str | None = None,
) -> str:
    """The report as Markdown; ``diagram`` is the link to the SVG, ``diagram_hint`` the text
    shown instead when there is none (how to make one)."""
    options = options or ReportOptions(depth=DEFAULT_DEPTH)
    data = build(net, options)
    t = data.totals
    out = [
        f"### {net.name}",
        "",
        f"{markdown_code(net.file)} · {t.layers} layers · batch {t.batch} · {t.dtype}",
        "",
        "| total | value | detail |",
        "| --- | ---: | --- |",
    ]
    for fact in facts(data):
        out.append(f"| {_esc(fact.label)} | {_esc(fact.value)} | {_esc(fact.detail)} |")
    out.append("")
    out.extend(f"- {_esc(line)}" for line in highlights(data))
    out.append("")
    out.extend(_budgets(data))
    depth = options.depth
    title = "Per layer" if depth is None else f"Per block (depth {depth})"
    out.extend([f"#### {title}", ""])
    out.extend(_table(data))
    out.append("")
    if diagram is not None:
        out.append(f"![{net.name} diagram]({quote(diagram)})")
        out.append("")
    elif diagram_hint:
        out.append(f"_Diagram: {_esc(diagram_hint)}_")
        out.append("")
    return "\n".join(out)
