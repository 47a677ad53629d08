"""``archc emit``: turn a spec into code, a model file or a diagram.

Targets are a table: target name -> module that provides ``add_options(parser)`` (its own flags;
called once per module) and ``emit(network, args) -> int``.  Target modules keep heavy imports
(torch, onnx, graphviz) inside their functions, so ``archc --help`` stays fast and a missing
extra only matters for the target that needs it.
"""

from __future__ import annotations

import argparse
import importlib

from archc.cli.common import add_spec_arguments, load_spec

EPILOG = """examples:
  archc emit specs/resnet18.arch --target pytorch -o resnet18.py
  archc emit specs/vgg16.arch --target onnx --weights random --seed 0 -o vgg16.onnx
  archc emit specs/googlenet.arch --target svg --depth 1 -o googlenet.svg
"""

TARGETS: dict[str, str] = {
    "pytorch": "archc.emit.pytorch",
    "onnx": "archc.emit.onnx",
    "dot": "archc.emit.graphviz",
    "svg": "archc.emit.graphviz",
    "png": "archc.emit.graphviz",
    "pdf": "archc.emit.graphviz",
}


def _available() -> dict[str, object]:
    modules: dict[str, object] = {}
    for target, name in TARGETS.items():
        try:
            modules[target] = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    modules = _available()
    parser.add_argument("--target", required=True, choices=list(modules), help="what to emit")
    parser.add_argument("-o", "--output", help="output file (default: standard output)")
    parser.add_argument("--seed", type=int, default=None, help="seed for initial weights")
    seen: set[int] = set()
    for module in modules.values():
        if id(module) not in seen:
            seen.add(id(module))
            module.add_options(parser)  # type: ignore[attr-defined]


def run(args: argparse.Namespace) -> int:
    net = load_spec(args)
    module = importlib.import_module(TARGETS[args.target])
    return int(module.emit(net, args))
