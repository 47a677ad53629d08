"""The ``archc`` command line: one sub-command per module, registered in :data:`COMMANDS`.

Exit codes: 0 success, 1 a check failed, 2 a bad spec or bad usage, 3 an internal error (a bug
in archc; ``ARCHC_DEBUG=1`` shows its traceback).  Errors are printed as archc renders them:
``file:line:col: kind: message``, the source line and a caret.  No traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from archc import __version__
from archc.errors import ArchError

# command name -> (module with add_arguments(parser), run(args) -> int and optional
# DESCRIPTION/EPILOG; one-line help).  Only the command being run is imported, so
# `archc analyze` does not pay for the emitters, the report or the budget checker.
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": (
        "archc.cli.analyze",
        "analyse a spec: shapes, params, MACs, memory, receptive field",
    ),
    "emit": ("archc.cli.emit", "emit PyTorch source, an ONNX model or a Graphviz diagram"),
    "report": (
        "archc.cli.report",
        "write a self-contained HTML (or Markdown) design-review report",
    ),
    "check": (
        "archc.cli.check",
        "check budgets (params, MACs, memory, ...) and the specs' asserts",
    ),
    "diff": ("archc.cli.diff", "compare two specs (or a spec with its version at a git revision)"),
    "ops": ("archc.cli.ops", "list the ops the language knows, with their arguments"),
}

EPILOG = """examples:
  archc analyze specs/vgg16.arch
  archc analyze specs/googlenet.arch --depth 1 --format markdown
  archc analyze specs/resnet50.arch --format json --batch 8 --dtype float16
  archc emit specs/resnet18.arch --target pytorch -o resnet18.py
  archc emit specs/vgg16.arch --target onnx -o vgg16.onnx
  archc emit specs/googlenet.arch --target svg --depth 1 -o googlenet.svg
  archc report specs/vgg16.arch -o vgg16.html
  archc check specs/*.arch --max-params 150M
  archc diff specs/vgg16.arch specs/vgg19.arch
  archc ops

exit codes: 0 ok, 1 a check failed, 2 bad spec or usage, 3 internal error
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as archc does (exit code 2, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: usage error: {message}\n")
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``command``, only that sub-command's module is imported."""
    parser = _Parser(
        prog="archc",
        description="Compile and analyse convolutional network architectures written as .arch specs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"archc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=help_text,
            description=getattr(module, "DESCRIPTION", help_text),
            epilog=getattr(module, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args))
    except ArchError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # e.g. "archc analyze ... | head": not an error worth a message
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug in archc, not bad input
        if os.environ.get("ARCHC_DEBUG"):
            traceback.print_exc()
        else:
            sys.stderr.write(
                f"archc: internal error: {type(exc).__name__}: {exc}\n"
                "  this is a bug in archc; rerun with ARCHC_DEBUG=1 for the traceback\n"
            )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
