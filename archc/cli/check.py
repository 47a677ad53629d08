"""``archc check``: gate CI on budgets, from the command line and from ``assert``s in the specs.

Every check prints its actual value, its limit and the margin.  Exit code 0 when every budget
holds, 1 when at least one fails, 2 when a spec cannot be compiled or the command line is wrong
(2 wins over 1: a spec that does not compile cannot be said to be within budget).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from archc.budget import (
    LIMITABLE,
    Limit,
    Metric,
    parse_limit,
)
from archc.check_report import (
    FORMATS,
    check_document,
    check_spec,
    exit_code,
    github_annotations,
    render_junit,
    render_text,
)
from archc.cli.common import (
    add_batch_dtype,
    add_const_override,
    add_input_override,
    add_trust_arguments,
    const_overrides,
    input_overrides,
    write_stdout,
)
from archc.fileio import write_atomic
from archc.formats import color_enabled
from archc.units import QuantityError

DESCRIPTION = """Check each spec against budgets: the limits given on the command line
(--max-params 7M --max-macs 1.6G --max-peak-memory 200MB ...) and the spec's own assert
statements (docs/language.md, "Budget assertions"). Each check prints its actual value, its
limit and the margin; a failing assert points at its line.

Limits take SI suffixes (K M G T = 10^3 ...), binary ones (Ki Mi Gi Ti = 2^10 ...) and, for
memory, bytes (B KB MB GB TB, KiB MiB GiB TiB). Suffixes are case-sensitive; a malformed limit
is a usage error. Memory and compute budgets are at --batch and --dtype.

When GITHUB_ACTIONS=true, every failure is also printed as a ::error workflow command, so it
annotates the pull request. Files that hold only blocks and constants (no network) are parsed
and skipped. CI recipes: docs/ci.md."""
EPILOG = """examples:
  archc check specs/googlenet.arch --max-params 7M
  archc check specs/*.arch --max-macs 20G --max-peak-memory 200MB --batch 8 --dtype float16
  archc check specs/*.arch --format junit -o archc-budgets.xml

exit codes: 0 all budgets hold, 1 at least one fails, 2 bad spec or usage
"""

# --------------------------------------------------------------------------- arguments


def _limit_type(metric: Metric) -> Callable[[str], Limit]:
    def limit(text: str) -> Limit:
        try:
            return Limit(metric, parse_limit(metric, text), text)
        except QuantityError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return limit


_EXAMPLES = {"params": "7M", "buffers": "100K", "macs": "1.6G", "flops": "3.2G", "layers": "200"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="the .arch files to check")
    limits = parser.add_argument_group("budgets (each one: the value must be <= LIMIT)")
    for metric in LIMITABLE:
        flag = "--max-" + metric.name.replace("_", "-")
        limits.add_argument(
            flag,
            dest=f"max_{metric.name}",
            type=_limit_type(metric),
            metavar="LIMIT",
            help=f"{metric.doc} (e.g. {_EXAMPLES.get(metric.name, '200MB')})",
        )
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the --format report to FILE (the text report still goes to stdout)",
    )
    add_input_override(parser, help="override an input's shape in every spec (repeatable)")
    add_const_override(parser, help="override a file-level constant in every spec (repeatable)")
    add_batch_dtype(parser)
    add_trust_arguments(parser)


# --------------------------------------------------------------------------- entry point


def run(args: argparse.Namespace) -> int:
    overrides = input_overrides(args)
    limits: list[Limit] = [
        getattr(args, f"max_{m.name}")
        for m in LIMITABLE
        if getattr(args, f"max_{m.name}") is not None
    ]
    consts = const_overrides(args)
    results = [check_spec(p, limits, args.batch, args.dtype, overrides, consts) for p in args.specs]
    text = render_text(results, args.batch, args.dtype)
    color = color_enabled(sys.stdout, os.environ)
    shown = render_text(results, args.batch, args.dtype, color=True) if color else text
    if args.format == "json":
        document = check_document(results, limits, args.batch, args.dtype)
        report = json.dumps(document, indent=2, allow_nan=False)
        report += "\n"
    elif args.format == "junit":
        report = render_junit(results, args.batch, args.dtype)
    else:
        report = text
    annotations = "".join(
        line + "\n"
        for line in (
            github_annotations(results) if os.environ.get("GITHUB_ACTIONS") == "true" else []
        )
    )
    to_file = bool(args.output) and args.output != "-"  # -o - is standard output
    if to_file:
        write_atomic(args.output, report)
        report = shown
    elif args.format == "text":
        report = shown
    if args.format != "text" and not to_file:
        # a JSON or JUnit report on stdout must stay parseable: annotations go to stderr, where
        # the Actions runner reads workflow commands too
        sys.stderr.write(annotations)
        annotations = ""
    write_stdout(report + annotations)
    return exit_code(results)


__all__ = ["DESCRIPTION", "EPILOG", "add_arguments", "run"]
