"""``archc report``: a design-review report, as one self-contained HTML page or as Markdown."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from archc.cli.analyze import add_convention_argument
from archc.cli.common import add_batch_dtype, add_spec_arguments, load_spec, write_stdout
from archc.cli.emit import add_diagram_flags, diagram_work
from archc.emit import graphviz
from archc.errors import UsageError
from archc.fileio import write_atomic
from archc.report import ReportOptions, render_html, render_markdown
from archc.report.markdown import DEFAULT_DEPTH
from archc.source import visible

DESCRIPTION = """Write a design-review report of a spec.

--format html (the default) gives one self-contained HTML file (inline SVG, CSS and JavaScript;
it loads nothing from the network): totals, the diagram, a chart of each layer's share of the
parameters, MACs and activation memory, and a sortable per-layer table.  --depth N collapses
scopes deeper than N path segments everywhere (diagram, chart and table).

--format markdown gives the totals, a per-block table (depth 1 unless --depth says otherwise) and
a link to the diagram's SVG, ready to paste into a pull request.  With -o FILE.md the SVG is
written next to it as FILE.svg (or where --svg says)."""
EPILOG = """examples:
  archc report specs/vgg16.arch -o vgg16.html
  archc report specs/resnet50.arch --depth 2 --color-by macs -o resnet50.html
  archc report specs/googlenet.arch --format markdown -o review/googlenet.md
  archc report specs/googlenet.arch --format markdown --svg googlenet.svg > comment.md
"""

FORMATS = ("html", "markdown")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="html", help="report format")
    parser.add_argument("-o", "--output", help="output file (default: standard output)")
    parser.add_argument(
        "--svg",
        metavar="FILE",
        help="markdown: write the diagram here and link to it (default: beside -o, .svg)",
    )
    add_batch_dtype(parser)
    add_convention_argument(parser)
    add_diagram_flags(parser)


def _options(args: argparse.Namespace) -> ReportOptions:
    # --depth N collapses everything; by default (auto) only the diagram is collapsed, to at
    # most 60 nodes, and the HTML table has every layer (the Markdown table one row per block)
    depth = args.depth if isinstance(args.depth, int) else None
    if args.format == "markdown" and args.depth == graphviz.AUTO:
        depth = DEFAULT_DEPTH
    diagram = graphviz.DiagramOptions(
        depth=args.depth,
        fuse=args.fuse,
        dpi=args.dpi,
        rankdir=args.rankdir,
        color_by=args.color_by,
        show=tuple(args.show),
        batch=args.batch,
        dtype=args.dtype,
    )
    return ReportOptions(
        depth=depth,
        batch=args.batch,
        dtype=args.dtype,
        diagram=diagram,
        convention=args.convention,
    )


def _emit_command(args: argparse.Namespace, depth: int | None) -> str:
    words = ["archc", "emit", args.spec, "--target", "svg"]
    if depth is not None:
        words += ["--depth", str(depth)]
    words += ["-o", f"{Path(args.spec).stem}.svg"]
    return " ".join(shlex.quote(w) for w in words)


def _make_parent(path: str) -> None:
    """A report's files may go to a directory that does not exist yet (``-o review/x.md``):
    it is created, and standard error says so."""
    if path == "-":
        return
    parent = Path(path).parent
    if not parent.exists():
        parent.mkdir(parents=True)
        sys.stderr.write(f"archc: created directory {visible(str(parent))}/\n")


def run(args: argparse.Namespace) -> int:
    if args.svg and args.format != "markdown":
        raise UsageError("--svg goes with --format markdown (the HTML report inlines its diagram)")
    net = load_spec(args)
    options = _options(args)
    to_file = bool(args.output) and args.output != "-"  # -o - is standard output
    if to_file:
        _make_parent(args.output)
    if args.format == "html":
        text = diagram_work(net, options.diagram, lambda: render_html(net, options))
    else:
        svg_path = args.svg or (str(Path(args.output).with_suffix(".svg")) if to_file else None)
        link = hint = None
        if svg_path is not None:
            if to_file and Path(svg_path).resolve() == Path(args.output).resolve():
                raise UsageError("the diagram and the Markdown would be the same file; use --svg")
            _make_parent(svg_path)
            svg = diagram_work(
                net, options.diagram, lambda: graphviz.render(net, "svg", options.diagram)
            )
            write_atomic(svg_path, svg)
            base = Path(args.output).parent if to_file else Path(".")
            link = Path(os.path.relpath(svg_path, base)).as_posix()
        else:
            depth = args.depth if isinstance(args.depth, int) else None
            hint = f"`{_emit_command(args, depth)}`"
        text = render_markdown(net, options, link, hint)
    if args.output:
        write_atomic(args.output, text)
    else:
        write_stdout(text)
    return 0
