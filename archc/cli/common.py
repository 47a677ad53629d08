"""Arguments and helpers shared by sub-commands: loading a spec, --input, --batch, --dtype."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from archc.analysis import Network, load
from archc.elaborate import MAX_INPUT_RANK
from archc.errors import UsageError
from archc.limits import check_network
from archc.source import visible
from archc.units import DTYPE_BYTES


def parse_input_override(text: str) -> tuple[str, tuple[int, ...]]:
    """``image=3x299x299`` -> ("image", (3, 299, 299))."""
    name, sep, shape = text.partition("=")
    parts = shape.replace("×", "x").split("x") if sep else []
    if not name.isidentifier() or not parts or not all(_whole(p) for p in parts):
        raise argparse.ArgumentTypeError(
            f"malformed --input {text!r}: expected NAME=CxHxW, e.g. image=3x299x299"
        )
    if not 1 <= len(parts) <= MAX_INPUT_RANK:
        raise argparse.ArgumentTypeError(f"--input {text!r}: a shape is CxHxW (or F, CxL, CxDxHxW)")
    return name, tuple(int(p) for p in parts)


_MAX_INT = 2**63 - 1  # command-line numbers fit in int64, as the language's integers do


def _whole(text: str) -> bool:
    """ASCII digits only (``int()`` would also take '৪' and ' 5'), from 1 to 2**63 - 1."""
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= _MAX_INT


def positive_int(text: str) -> int:
    stripped = text.strip()
    if not (stripped.isascii() and stripped.lstrip("+-").isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if stripped.startswith("-") or not stripped.strip("+0"):
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {stripped}")
    if not _whole(stripped.lstrip("+")):
        shown = stripped if len(stripped) <= 30 else stripped[:27] + "..."
        raise argparse.ArgumentTypeError(f"expected a number at most {_MAX_INT:,}, got {shown}")
    return int(stripped)


def add_input_override(
    parser: argparse.ArgumentParser,
    help: str = "override an input's shape (repeatable), e.g. image=3x299x299",
) -> None:
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        type=parse_input_override,
        default=[],
        metavar="NAME=CxHxW",
        help=help,
    )


def input_overrides(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    """The ``--input`` values as a mapping; naming an input twice is a usage error."""
    overrides = dict(args.inputs)
    if len(overrides) != len(args.inputs):
        raise UsageError("--input names the same input twice")
    return overrides


def add_const_override(
    parser: argparse.ArgumentParser,
    help: str = "override a file-level constant (repeatable), e.g. width=0.75",
) -> None:
    parser.add_argument(
        "--set",
        dest="consts",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=help,
    )


def const_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--set`` values as a mapping; setting a constant twice is a usage error."""
    from archc.sweep.values import parse_value, split_assignment

    overrides: dict[str, Any] = {}
    for text in getattr(args, "consts", None) or []:
        name, value = split_assignment(text)
        if name in overrides:
            raise UsageError(f"--set names '{name}' twice")
        overrides[name] = parse_value(value)
    return overrides


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the .arch file")
    add_input_override(parser)
    add_const_override(parser)
    add_trust_arguments(parser)
    add_strict(parser)


def add_strict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (unused tensors, strides that skip pixels) as errors: exit 2",
    )


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """``--include-path`` and ``--limit``: what a spec may include, how big it may grow
    (docs/security.md).  ``archc.cli.main`` applies them around the command."""
    parser.add_argument(
        "--include-path",
        dest="include_paths",
        action="append",
        default=[],
        metavar="DIR",
        help="also allow includes from DIR (repeatable; default: the spec's directory only)",
    )
    parser.add_argument(
        "--limit",
        dest="limit_settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="raise or lower a resource limit, e.g. layers=5000000 (repeatable; docs/security.md)",
    )


def add_batch_dtype(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    parser.add_argument(
        "--dtype",
        choices=sorted(DTYPE_BYTES),
        default="float32",
        help="element type for memory figures (default float32)",
    )


def load_spec(args: argparse.Namespace) -> Network:
    net = load(args.spec, inputs=input_overrides(args), consts=const_overrides(args))
    check_network(net)  # tensor sizes within archc.limits (docs/security.md)
    report_warnings(net, getattr(args, "strict", False))
    return net


def report_warnings(net: Network, strict: bool) -> None:
    """The spec's warnings (archc.lint) on standard error; with ``--strict``, the first as an
    error (exit 2)."""
    from archc.lint import enforce, lint

    found = lint(net)
    if strict:
        enforce(found)
    for warning in found:
        sys.stderr.write(f"{visible(str(warning))}\n")


def write_stdout(text: str) -> None:
    """Print a command's text output; control characters from a spec (ESC, BEL) are shown as
    visible symbols, so a spec cannot drive the terminal (docs/security.md)."""
    sys.stdout.write(visible(text))
    sys.stdout.flush()
