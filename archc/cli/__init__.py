"""The ``archc`` command line: one sub-command per module, registered in :data:`COMMANDS`.

Exit codes: 0 success, 1 a check failed, 2 a bad spec or bad usage, 3 an internal error (a bug
in archc; ``ARCHC_DEBUG=1`` shows its traceback).  Errors are printed as archc renders them:
``file:line:col: kind: message``, the source line and a caret.  No traceback for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import os
import signal
import sys
import traceback
from collections.abc import Sequence

from archc import __version__
from archc.errors import ArchError
from archc.fileio import forget_inputs
from archc.limits import LimitSyntaxError, from_environment, use_limits, with_settings
from archc.loader import use_include_paths
from archc.source import visible

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
    "sweep": ("archc.cli.sweep", "explore a design space: constants x resolution, Pareto front"),
    "import": ("archc.cli.import_", "import a Caffe prototxt, ONNX model or PyTorch callable"),
    "fmt": ("archc.cli.fmt", "format specs in the canonical layout (--check for CI)"),
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


class _ClosedStream(io.TextIOBase):
    """Stands in for a standard stream the shell closed (``archc ... >&-``): writing to it is an
    I/O error with a message, as for a full disk, not an internal error."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    @property
    def buffer(self) -> _ClosedStream:
        return self

    def isatty(self) -> bool:
        return False


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so temporary files are removed on the way out
    raise SystemExit(128 + signum)


def _report(text: str) -> None:
    """Write an error to stderr, control characters shown visibly (never raw to a terminal)."""
    with contextlib.suppress(Exception):
        sys.stderr.write(visible(text) + "\n")
        sys.stderr.flush()


def _quiet_stdout() -> None:
    """After a failed write to stdout, point it at /dev/null so the exit-time flush is silent."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.stdout = _Discard()


class _Discard(io.TextIOBase):
    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        sys.stderr = _Discard()
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    forget_inputs()  # a new run: only its own inputs are protected from being overwritten
    try:
        limits = with_settings(from_environment(), getattr(args, "limit_settings", None) or [])
    except LimitSyntaxError as exc:
        _report(f"archc: usage error: {exc}")
        return 2
    previous = None
    with contextlib.suppress(ValueError):  # not in the main thread (tests): no handler
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with use_limits(limits), use_include_paths(getattr(args, "include_paths", None) or []):
            code = int(args._run(args))
        sys.stdout.flush()
        return code
    except ArchError as exc:
        _report(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # e.g. "archc analyze ... | head": not an error worth a message
        _quiet_stdout()
        return 0
    except RecursionError:
        _report(
            "archc: error: the spec nests too deeply for archc to follow\n"
            "  hint: lower the nesting, or see the limits in docs/security.md"
        )
        return 2
    except OverflowError:
        _report(
            "archc: error: a number is too large to compute with\n"
            "  hint: the limits in docs/security.md bound the numbers a spec may use"
        )
        return 2
    except MemoryError:
        _report(
            "archc: error: out of memory compiling this spec\n"
            "  hint: the limits in docs/security.md bound a spec's size; lower them with --limit"
        )
        return 2
    except OSError as exc:  # a full disk or a closed stdout; file writes raise EmitError
        _report(f"archc: error: cannot write output: {exc.strerror or exc}")
        _quiet_stdout()
        return 2
    except Exception as exc:  # a bug in archc, not bad input
        if os.environ.get("ARCHC_DEBUG"):
            traceback.print_exc()
        else:
            _report(
                f"archc: internal error: {type(exc).__name__}: {exc}\n"
                "  this is a bug in archc; rerun with ARCHC_DEBUG=1 for the traceback"
            )
        return 3
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
