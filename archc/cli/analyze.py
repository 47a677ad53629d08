"""``archc analyze``: per-layer shapes, parameters, MACs, memory and receptive fields."""

from __future__ import annotations

import argparse
import os
import sys

from archc import conventions
from archc.cli.common import (
    add_batch_dtype,
    add_spec_arguments,
    load_spec,
    positive_int,
    write_stdout,
)
from archc.errors import UsageError
from archc.formats import (
    COLUMN_KEYS,
    FORMATS,
    color_enabled,
    paint,
    parse_columns,
    render,
    terminal_width,
)
from archc.source import visible
from archc.training import (
    OPTIMIZERS,
    TrainOptions,
    render_training,
    training_document,
    training_memory,
)

DESCRIPTION = """Analyse a spec without running it: for every layer its output shape, parameters,
MACs, activation memory and receptive field, then the network's totals (including peak live
activation memory). Counting conventions: docs/conventions.md."""
EPILOG = """examples:
  archc analyze specs/vgg16.arch
  archc analyze specs/googlenet.arch --depth 1 --format markdown
  archc analyze specs/resnet50.arch --depth 1 --columns layer,op,params,macs
  archc analyze specs/vgg16.arch --wide | less -S
  archc analyze specs/resnet50.arch --format json --batch 32 --dtype float16
  archc analyze specs/inception_v3.arch --input image=3x331x331
  archc analyze specs/resnet50.arch --convention ptflops
  archc analyze specs/resnet50.arch --explain fvcore thop
  archc analyze specs/resnet50.arch --train --optimizer adam --batch 32 --checkpoint layer3
"""


def add_convention_argument(parser: argparse.ArgumentParser) -> None:
    """``--convention NAME``: count MACs as archc or a peer tool does (docs/conventions.md)."""
    parser.add_argument(
        "--convention",
        choices=conventions.NAMES,
        default="archc",
        help="count MACs as archc (default) or as a peer tool reports them",
    )


def _column_list(text: str) -> tuple[str, ...]:
    try:
        return parse_columns(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _checkpoint_scopes(values: list[str]) -> tuple[str, ...]:
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument(
        "--depth",
        type=positive_int,
        default=None,
        help="collapse scopes deeper than N path segments into one row each",
    )
    table = parser.add_argument_group("table width (--format table)")
    table.add_argument(
        "--columns",
        type=_column_list,
        default=None,
        metavar="LIST",
        help=f"the columns to show, comma-separated: {','.join(COLUMN_KEYS)} "
        "(long op details are still elided to fit)",
    )
    table.add_argument(
        "--wide",
        action="store_true",
        help="every column at full width, whatever the terminal's width (COLUMNS or the tty's "
        "size; output to a file or pipe is never narrowed)",
    )
    add_batch_dtype(parser)
    add_convention_argument(parser)
    parser.add_argument(
        "--explain",
        nargs=2,
        metavar=("A", "B"),
        help="per-op totals of conventions A and B and the rule behind each difference",
    )
    train = parser.add_argument_group("training memory (--train)")
    train.add_argument(
        "--train",
        action="store_true",
        help="add weights, gradients, optimizer state and activations saved for backward",
    )
    train.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam", help="default adam")
    train.add_argument(
        "--master-weights",
        action="store_true",
        help="mixed precision: float32 master weights and optimizer state",
    )
    train.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="SCOPES",
        help="what-if: recompute these scopes in backward (comma-separated, repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    if args.explain:
        unknown = [c for c in args.explain if c not in conventions.CONVENTIONS]
        if unknown:
            raise UsageError(
                f"--explain: unknown convention {unknown[0]!r}; "
                f"choose from {', '.join(conventions.NAMES)}"
            )
    training_flags = args.master_weights or args.checkpoint or args.optimizer != "adam"
    if training_flags and not args.train:
        raise UsageError("--optimizer, --master-weights and --checkpoint go with --train")
    net = load_spec(args)
    if args.explain:
        first, second = args.explain
        write_stdout(conventions.render_explain(net, first, second, batch=args.batch))
        return 0
    memory = None
    if args.train:
        options = TrainOptions(
            optimizer=args.optimizer,
            batch=args.batch,
            dtype=args.dtype,
            master_weights=args.master_weights,
            checkpoint=_checkpoint_scopes(args.checkpoint),
        )
        memory = training_memory(net, options)
    document = training_document(memory, args.depth) if memory is not None else None
    width = None if args.wide else terminal_width(sys.stdout, os.environ)
    text = render(
        net,
        args.format,
        args.depth,
        args.batch,
        args.dtype,
        args.convention,
        document,
        width=width,
        columns=args.columns,
    )
    if memory is not None and args.format != "json":
        text += "\n" + render_training(memory, args.depth, args.format)
    if args.format == "table" and color_enabled(sys.stdout, os.environ):
        head, _, rest = visible(text).partition("\n")
        sys.stdout.write(paint(head, "bold") + "\n" + rest)
        sys.stdout.flush()
        return 0
    write_stdout(text)
    return 0
