"""``archc fmt``: write specs back in the canonical layout (:mod:`archc.fmt`).

``archc fmt FILE...`` rewrites each file in place; ``--check`` writes nothing and exits 1 when a
file is not formatted (naming it), for CI; ``--diff`` prints what would change.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

DESCRIPTION = """Write .arch specs back in the canonical layout: spacing, operators, parentheses,
argument lists and indentation rebuilt from the parsed spec; comments, blank lines, literals as
written and hand-aligned columns kept. Formatting never changes what a spec means."""

EPILOG = """examples:
  archc fmt specs/resnet50.arch
  archc fmt --check specs/*.arch
  archc fmt --diff model.arch

exit codes: 0 formatted (or already formatted), 1 --check found a file to format, 2 a bad spec"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".arch files to format")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a file is not formatted"
    )
    what.add_argument("--diff", action="store_true", help="print the changes instead of writing")


def run(args: argparse.Namespace) -> int:
    from archc.cli.common import write_stdout
    from archc.fileio import forget_inputs, write_atomic
    from archc.fmt import format_source
    from archc.loader import read_text
    from archc.source import display_name

    unformatted = 0
    for name in args.files:
        path = Path(name)
        shown = display_name(path)
        text = read_text(path)
        formatted = format_source(text, shown)
        if formatted == text.removeprefix("\ufeff"):
            continue
        unformatted += 1
        if args.check:
            sys.stderr.write(f"{shown}: not formatted\n")
        elif args.diff:
            lines = difflib.unified_diff(
                text.splitlines(keepends=True),
                formatted.splitlines(keepends=True),
                shown,
                f"{shown} (formatted)",
            )
            write_stdout("".join(lines))
        else:
            forget_inputs()  # the file this command read is the one it means to write
            write_atomic(path, formatted)
            sys.stderr.write(f"formatted {shown}\n")
    return 1 if args.check and unformatted else 0
