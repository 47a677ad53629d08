"""``archc emit``: turn a spec into code, a model file or a diagram.

The library side of each target is ``emit(network, options) -> bytes`` with a frozen options
dataclass (:class:`~archc.emit.pytorch.PytorchOptions`, :class:`~archc.emit.onnx.OnnxOptions`,
:class:`~archc.emit.graphviz.DiagramOptions`); this module is the only place that knows their
command-line flags.  :data:`TARGETS` is the table: target name -> how to add its flags, how to
build its options from the parsed arguments, and how to write them.  Target modules keep heavy
imports (torch, onnx, graphviz) inside their functions, so ``archc --help`` stays fast and a
missing extra only matters for the target that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from archc.analysis import Network
from archc.cli.common import add_spec_arguments, load_spec, positive_int
from archc.errors import UsageError
from archc.fileio import write_atomic
from archc.limits import check_weights

EPILOG = """examples:
  archc emit specs/resnet18.arch --target pytorch -o resnet18.py
  archc emit specs/vgg16.arch --target onnx --weights random --seed 0 -o vgg16.onnx
  archc emit specs/googlenet.arch --target svg --depth 1 -o googlenet.svg
"""

BINARY = frozenset({"onnx", "png", "pdf"})
_T = TypeVar("_T")
#: seconds of diagram work before progress is reported on standard error
PROGRESS_AFTER = 2.0


# --------------------------------------------------------------------------- per-target flags
def _no_options(parser: argparse.ArgumentParser) -> None:
    """The PyTorch target has no options of its own (``-o`` and ``--seed`` are shared)."""


def _pytorch_options(args: argparse.Namespace) -> Any:
    from archc.emit.pytorch import PytorchOptions

    return PytorchOptions(seed=args.seed)


def _onnx_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("onnx target")
    group.add_argument(
        "--opset",
        type=int,
        default=None,
        metavar="N",
        help="ONNX opset to emit (default: the newest the installed onnxruntime runs)",
    )
    group.add_argument(
        "--weights",
        choices=("random", "zeros", "none"),
        default="random",
        help="initializers: seeded PyTorch-like random values (default), zeros, or none "
        "(weights become graph inputs: a small structure-only file)",
    )


def _onnx_options(args: argparse.Namespace) -> Any:
    from archc.emit.onnx import OnnxOptions

    return OnnxOptions(weights=args.weights, seed=args.seed, opset=args.opset)


def _show_list(text: str) -> tuple[str, ...]:
    from archc.emit.graphviz import parse_show

    try:
        return parse_show(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def diagram_depth(text: str) -> int | str | None:
    """``--depth N``, ``all`` (every layer) or ``auto`` (at most ~60 nodes, the default)."""
    if text in ("all", "auto"):
        return None if text == "all" else text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or all: every layer)") from None


def add_diagram_flags(parser: argparse.ArgumentParser) -> None:
    from archc.emit.graphviz import AUTO, COLOR_BY, RANKDIRS

    group = parser.add_argument_group("diagram options (dot, svg, png, pdf)")
    group.add_argument(
        "--show",
        type=_show_list,
        default=(),
        metavar="LIST",
        help="add numbers to each node: a comma-separated list of params, macs, memory",
    )
    group.add_argument(
        "--depth",
        type=diagram_depth,
        default=AUTO,
        metavar="N|all",
        help="collapse scopes deeper than N path segments into one node each "
        "(as archc analyze --depth); all: every layer; default: the deepest depth with at "
        "most 60 nodes (what was collapsed is said on standard error)",
    )
    group.add_argument(
        "--no-fuse",
        dest="fuse",
        action="store_false",
        help="draw normalizations and activations as nodes of their own instead of fusing "
        "them into the layer before (conv → batchnorm → relu as one node)",
    )
    group.add_argument(
        "--dpi", type=positive_int, default=None, help="PNG resolution (Graphviz's default 96)"
    )
    group.add_argument(
        "--rankdir", choices=RANKDIRS, default="TB", help="layout direction (default TB)"
    )
    group.add_argument(
        "--color-by",
        dest="color_by",
        choices=COLOR_BY,
        default="op",
        help="shade nodes by op kind, or by their share of the total params, MACs or "
        "activation memory (default op)",
    )


def _diagram_options(args: argparse.Namespace) -> Any:
    from archc.emit.graphviz import DiagramOptions

    return DiagramOptions(
        depth=args.depth,
        rankdir=args.rankdir,
        color_by=args.color_by,
        show=tuple(args.show or ()),
        format=args.target,
        fuse=args.fuse,
        dpi=args.dpi,
    )


def diagram_work(net: Network, options: Any, what: Callable[[], _T]) -> _T:
    """Run ``what`` (drawing a diagram): say on standard error what the automatic depth
    collapsed, each warning Graphviz prints, and progress when it takes over two seconds."""
    import threading
    import time
    import warnings

    from archc.emit.graphviz import GraphvizWarning, collapse_note

    note = collapse_note(net, options) if options is not None else None
    if note:
        sys.stderr.write(f"archc: {note}\n")
    started = time.monotonic()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(PROGRESS_AFTER):
            sys.stderr.write(f"archc: drawing {net.name}... {time.monotonic() - started:.0f} s\n")
            sys.stderr.flush()

    ticker = threading.Thread(target=progress, daemon=True)
    ticker.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GraphvizWarning)
            data = what()
    finally:
        done.set()
        ticker.join()
    for warning in caught:
        if issubclass(warning.category, GraphvizWarning):
            sys.stderr.write(f"archc: {warning.message}\n")
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    elapsed = time.monotonic() - started
    if elapsed >= PROGRESS_AFTER:
        sys.stderr.write(f"archc: drew {net.name} in {elapsed:.1f} s\n")
    return data


def _write_onnx(net: Network, options: Any, output: str | None) -> None:
    """ONNX streams one tensor at a time and may need an external-data file beside ``-o``."""
    from archc.emit import onnx

    if options.weights != "none":
        check_weights(net, "initial weights")  # random weights of 37 GiB are refused
    if output is None or output == "-":
        if sys.stdout.isatty():
            raise UsageError("an ONNX model is binary: give -o FILE or redirect standard output")
        sys.stdout.flush()
        onnx.stream(net, sys.stdout.buffer, options)
        sys.stdout.buffer.flush()
        return
    paths = onnx.write_file(net, output, options)
    size = sum(p.stat().st_size for p in paths)
    shown = f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"
    note = f" (weights in {paths[1]})" if len(paths) > 1 else ""
    sys.stderr.write(f"archc: wrote {paths[0]}, {shown}{note}\n")


@dataclass(frozen=True)
class Target:
    """One row of the target table."""

    module: str  # the library module with emit(network, options) -> bytes
    flags: Callable[[argparse.ArgumentParser], None]  # its flags (shared by rows, added once)
    options: Callable[[argparse.Namespace], Any]  # its frozen options from the parsed flags
    write: Callable[[Network, Any, str | None], None] | None = None  # None: emit() + write_out


TARGETS: dict[str, Target] = {
    "pytorch": Target("archc.emit.pytorch", _no_options, _pytorch_options),
    "onnx": Target("archc.emit.onnx", _onnx_flags, _onnx_options, _write_onnx),
    "dot": Target("archc.emit.graphviz", add_diagram_flags, _diagram_options),
    "svg": Target("archc.emit.graphviz", add_diagram_flags, _diagram_options),
    "png": Target("archc.emit.graphviz", add_diagram_flags, _diagram_options),
    "pdf": Target("archc.emit.graphviz", add_diagram_flags, _diagram_options),
}


def _available() -> dict[str, Target]:
    """Targets whose module imports (a missing optional extra hides only its targets)."""
    found: dict[str, Target] = {}
    for name, target in TARGETS.items():
        try:
            importlib.import_module(target.module)
        except ModuleNotFoundError as exc:
            if exc.name != target.module:
                raise
            continue
        found[name] = target
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    targets = _available()
    parser.add_argument("--target", required=True, choices=list(targets), help="what to emit")
    parser.add_argument("-o", "--output", help="output file (default: standard output)")
    parser.add_argument("--seed", type=int, default=None, help="seed for initial weights")
    added: set[Callable[[argparse.ArgumentParser], None]] = set()
    for target in targets.values():
        if target.flags not in added:
            added.add(target.flags)
            target.flags(parser)


def write_out(data: bytes, output: str | None, binary: bool) -> None:
    """``data`` to ``-o`` (atomically) or standard output; binary data never to a terminal."""
    if output and output != "-":
        write_atomic(output, data)
        return
    if binary:
        if sys.stdout.isatty():
            raise UsageError("this output is binary: give -o FILE or redirect standard output")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    sys.stdout.write(data.decode("utf-8"))
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    net = load_spec(args)
    target = TARGETS[args.target]
    options = target.options(args)
    if target.write is not None:
        target.write(net, options, args.output)
        return 0
    module = importlib.import_module(target.module)
    if module.__name__ == "archc.emit.graphviz":
        data = diagram_work(net, options, lambda: bytes(module.emit(net, options)))
    else:
        data = module.emit(net, options)
    write_out(data, args.output, args.target in BINARY)
    return 0
