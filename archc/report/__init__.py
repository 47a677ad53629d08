"""Design-review reports: a self-contained HTML page and a Markdown summary for pull requests.

Both are built from the same :class:`~archc.report.model.ReportData` (analysis rows, totals and
each row's share of the params, MACs and activation memory), with the diagram from
:mod:`archc.emit.graphviz`.  ``archc report`` is the command line.
"""

from archc.report.html import inline_svg, render_html
from archc.report.markdown import render_markdown
from archc.report.model import ReportData, ReportOptions, build

__all__ = [
    "ReportData",
    "ReportOptions",
    "build",
    "inline_svg",
    "render_html",
    "render_markdown",
]
