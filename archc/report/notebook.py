"""How a :class:`~archc.analysis.Network` shows itself in a notebook (Jupyter, VS Code).

``Network._repr_html_`` is the totals, the highlights and the diagram at the automatic depth as
inline SVG (without Graphviz's ``dot`` the diagram is left out, saying why);
``Network._repr_markdown_`` the Markdown report's totals and per-block table.  The analysis core
reaches these through :mod:`archc.backends`, so importing archc never imports a renderer.
"""

from __future__ import annotations

from html import escape

from archc.analysis import Network
from archc.emit.graphviz import DiagramOptions, collapse_note, render
from archc.errors import ArchError
from archc.report.html import inline_svg
from archc.report.markdown import render_markdown
from archc.report.model import build, facts, highlights
from archc.source import visible

_STYLE = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;max-width:100%;color:#1f2328"
)


def repr_html(net: Network) -> str:
    """The notebook's view: a facts table, the highlights and the collapsed diagram."""
    data = build(net)
    cells = "".join(
        f'<tr><th style="text-align:left;padding:2px 10px 2px 0">{escape(f.label)}</th>'
        f'<td style="text-align:right;padding:2px 10px">{escape(visible(f.value))}</td>'
        f'<td style="color:#59636e;padding:2px 0">{escape(visible(f.detail))}</td></tr>'
        for f in facts(data)
    )
    items = "".join(f"<li>{escape(visible(line))}</li>" for line in highlights(data))
    options = DiagramOptions()
    try:
        svg = inline_svg(render(net, "svg", options).decode("utf-8"))
        note = collapse_note(net, options)
        caption = f'<p style="color:#59636e">The {escape(note)}.</p>' if note else ""
        diagram = (
            f'{caption}<div style="max-height:640px;overflow:auto;border:1px solid #d1d9e0;'
            f'border-radius:6px;padding:4px">{svg}</div>'
        )
    except ArchError as exc:  # no graphviz package or no dot program: the numbers still show
        diagram = f'<p style="color:#59636e">No diagram: {escape(str(exc))}</p>'
    return (
        f'<div class="archc-network" style="{_STYLE}">'
        f"<p><b>{escape(visible(net.name))}</b> <code>{escape(visible(net.file))}</code></p>"
        f'<table style="border-collapse:collapse">{cells}</table>'
        f'<ul style="margin:6px 0">{items}</ul>{diagram}</div>'
    )


def repr_markdown(net: Network) -> str:
    """The Markdown report: totals, highlights and one row per block (depth 1)."""
    return render_markdown(net)


__all__ = ["repr_html", "repr_markdown"]
