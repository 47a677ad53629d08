"""``archc diff``: what changed between two architectures, or between a spec and its past."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from archc.analysis import load
from archc.cli.analyze import add_convention_argument
from archc.cli.common import (
    add_batch_dtype,
    add_const_override,
    add_input_override,
    add_trust_arguments,
    const_overrides,
    input_overrides,
    positive_int,
    write_stdout,
)
from archc.diff import FORMATS, Side, diff_networks, load_at_revision, render
from archc.errors import UsageError
from archc.fileio import write_atomic
from archc.formats import color_enabled, paint
from archc.source import display_name, visible

DESCRIPTION = """Compare two architectures: the totals (params, buffers, MACs, FLOPs, weight,
activation and peak memory, layers) with absolute and relative change, then every layer that was
added, removed or changed (op, shape, params, MACs), matched by scope path. Unchanged layers are
hidden unless --all is given.

With --rev REV the first spec is read as it was in git revision REV (its includes too) and
compared with the working tree: archc diff specs/resnet50.arch --rev origin/main"""
EPILOG = """examples:
  archc diff specs/vgg16.arch specs/vgg19.arch
  archc diff specs/resnet50.arch specs/resnet101.arch --depth 2
  archc diff specs/googlenet.arch --rev HEAD~1 --format markdown > diff.md
  archc diff specs/resnet50.arch --rev origin/main --format json
  archc diff specs/resnet50.arch specs/resnet101.arch --format html -o diff.html

exit codes: 0 compared (1 with --exit-code when they differ), 2 bad spec or usage
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_trust_arguments(parser)  # --include-path and --limit, as for every command reading specs
    parser.add_argument("old", metavar="OLD", help="the .arch file to compare from")
    parser.add_argument(
        "new",
        metavar="NEW",
        nargs="?",
        help="the .arch file to compare to (with --rev: defaults to OLD in the working tree)",
    )
    parser.add_argument(
        "--rev",
        metavar="REV",
        help="read OLD (and its includes) from this git revision (a commit, branch or tag)",
    )
    parser.add_argument(
        "--format",
        choices=(*FORMATS, "html"),
        default="text",
        help="output format; html: the two diagrams side by side, coloured by change, and the "
        "per-scope delta table, in one self-contained page (needs Graphviz)",
    )
    parser.add_argument("-o", "--output", help="output file (default: standard output)")
    parser.add_argument(
        "--all", dest="show_all", action="store_true", help="list unchanged layers too"
    )
    parser.add_argument(
        "--depth",
        type=positive_int,
        default=None,
        help="compare scopes collapsed to N path segments instead of single layers",
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit with 1 when the networks differ (as git diff --exit-code)",
    )
    add_input_override(parser, help="override an input's shape on both sides (repeatable)")
    add_const_override(parser, help="override a file-level constant on both sides (repeatable)")
    add_batch_dtype(parser)
    add_convention_argument(parser)


def run(args: argparse.Namespace) -> int:
    overrides = input_overrides(args)
    consts = const_overrides(args)
    if args.rev is not None:
        old_label, old_net = load_at_revision(args.old, args.rev, overrides, consts)
        new_path = args.new or args.old
    else:
        if args.new is None:
            raise UsageError(
                "archc diff needs two specs (OLD NEW), or one spec and --rev REV",
                hints=["e.g. archc diff specs/vgg16.arch specs/vgg19.arch"],
            )
        old_net = load(args.old, inputs=overrides, consts=consts)
        old_label = display_name(Path(args.old))
        new_path = args.new
    new_net = load(new_path, inputs=overrides, consts=consts)
    d = diff_networks(
        Side(old_label, old_net),
        Side(display_name(Path(new_path)), new_net),
        args.batch,
        args.dtype,
        args.depth,
        args.convention,
    )
    if args.format == "html":
        from archc.cli.emit import diagram_work
        from archc.report.diffpage import render_diff_html

        text = diagram_work(new_net, None, lambda: render_diff_html(d))
    else:
        text = render(d, args.format, args.show_all)
    if args.output:
        write_atomic(args.output, text)
    elif args.format == "text" and color_enabled(sys.stdout, os.environ):
        sys.stdout.write(colour_changes(visible(text)))
        sys.stdout.flush()
    else:
        write_stdout(text)
    return 1 if args.exit_code and not d.identical else 0


#: a text diff's layer lines by their mark: added green, removed red, changed yellow
_MARK_STYLE = {"+": "green", "-": "red", "~": "yellow"}


def colour_changes(text: str) -> str:
    """The text diff with its added, removed and changed layer lines coloured (a terminal)."""
    out = []
    for line in text.split("\n"):
        style = _MARK_STYLE.get(line[2:3]) if line.startswith("  ") and line[3:5] == "  " else None
        out.append(paint(line, style) if style else line)
    return "\n".join(out)
