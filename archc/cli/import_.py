"""``archc import``: a Caffe prototxt, an ONNX model or a PyTorch callable as a ``.arch`` spec.

The format comes from the file (``.prototxt``, ``.onnx``, ``module:callable``) or ``--from``.
The spec is written to ``-o`` (standard output by default) and a one-line summary (layers,
params, MACs, whether blocks were recovered) goes to standard error.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """Import a model into a .arch spec: a Caffe prototxt (deploy or train_val), an ONNX
model, or a PyTorch callable (module:callable, traced with torch.fx). Repeated structure
becomes blocks and repeats, the source's names become scopes, and the spec is checked to give
the source's numbers."""

EPILOG = """examples:
  archc import deploy.prototxt -o googlenet.arch
  archc import resnet50.onnx -o resnet50.arch
  archc import torchvision.models:resnet50 --input 3x224x224 -o resnet50.arch
  archc import model.onnx --flat            # one statement per chain, no blocks

exit codes: 0 imported, 2 the model cannot be imported (the layer or node is named)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="FILE", help=".prototxt, .onnx or module:callable")
    parser.add_argument(
        "-o", "--output", default="-", help="where to write the spec (default: stdout)"
    )
    parser.add_argument(
        "--from", dest="fmt", choices=("caffe", "onnx", "torch"), help="the source's format"
    )
    parser.add_argument("--name", help="the network's name (default: the source's)")
    parser.add_argument(
        "--flat", action="store_true", help="no structure recovery: one statement per chain"
    )
    parser.add_argument(
        "--input",
        default="3x224x224",
        metavar="CxHxW",
        help="input shape for --from torch (default 3x224x224)",
    )
    parser.add_argument(
        "--args",
        default="",
        metavar="K=V,...",
        help="keyword arguments for the torch callable (num_classes=10)",
    )


def run(args: argparse.Namespace) -> int:
    from archc.errors import UsageError
    from archc.fileio import write_atomic
    from archc.importers import read, to_spec

    options: dict[str, object] = {"name": args.name}
    if (args.fmt or "") == "torch" or (
        ":" in args.source and not args.source.endswith((".onnx", ".prototxt"))
    ):
        try:
            shape = tuple(int(d) for d in args.input.replace("×", "x").split("x"))
        except ValueError:
            raise UsageError(f"--input {args.input!r}: expected CxHxW, e.g. 3x224x224") from None
        options["input_shape"] = shape
        options["kwargs"] = _kwargs(args.args)
    result = to_spec(read(args.source, args.fmt, **options), structure=not args.flat)
    write_atomic(args.output, result.spec)
    totals = result.network.totals()
    how = "blocks and repeats recovered" if result.structured else result.note or "flat"
    lines = len(result.spec.splitlines())
    sys.stderr.write(
        f"archc: imported {result.network.name}: {len(result.network.order) - len(result.network.inputs)}"
        f" layers, {totals.params:,} params, {totals.macs:,} MACs; {lines} lines, {how}\n"
    )
    return 0


def _kwargs(text: str) -> dict[str, object]:
    import ast

    from archc.errors import UsageError

    out: dict[str, object] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--args {item!r}: expected NAME=VALUE")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out
