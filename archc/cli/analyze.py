"""``archc analyze``: per-layer shapes, parameters, MACs, memory and receptive fields."""

from __future__ import annotations

import argparse

from archc.cli.common import (
    add_batch_dtype,
    add_spec_arguments,
    load_spec,
    positive_int,
    write_stdout,
)
from archc.formats import FORMATS, render

DESCRIPTION = """Analyse a spec without running it: for every layer its output shape, parameters,
MACs, activation memory and receptive field, then the network's totals (including peak live
activation memory). Counting conventions: docs/conventions.md."""
EPILOG = """examples:
  archc analyze specs/vgg16.arch
  archc analyze specs/googlenet.arch --depth 1 --format markdown
  archc analyze specs/resnet50.arch --format json --batch 32 --dtype float16
  archc analyze specs/inception_v3.arch --input image=3x331x331
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument(
        "--depth",
        type=positive_int,
        default=None,
        help="collapse scopes deeper than N path segments into one row each",
    )
    add_batch_dtype(parser)


def run(args: argparse.Namespace) -> int:
    net = load_spec(args)
    write_stdout(render(net, args.format, args.depth, args.batch, args.dtype))
    return 0
