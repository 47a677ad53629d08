"""``archc ops``: the op registry as a user sees it.

Every callable op with its signature, aliases, doc line, traits and its first example worked
out by archc (input shape → output shape and counts).  Everything comes from the registry
entries in ``archc/ops/``; ``scripts/ops_table.py`` renders the same facts as ``docs/ops.md``.
"""

from __future__ import annotations

import argparse

from archc.ops import ALIASES, REGISTRY, Example, Op, dims


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def aliases_of() -> dict[str, list[str]]:
    """Canonical op name -> its aliases, sorted."""
    out: dict[str, list[str]] = {}
    for alias, name in sorted(ALIASES.items()):
        out.setdefault(name, []).append(alias)
    return out


def describe_example(op: Op, example: Example) -> str:
    """``on 4×8×8 → 6×8×8; 222 params, 13,824 MACs, 28,032 FLOPs``: what archc works out."""
    import archc
    from archc.ir import G_OUTPUTS

    net = archc.load(f"{op.name}_example.arch", text=example.spec())
    node = net.graph.graph[G_OUTPUTS]["y"]
    cost = net.cost(node)
    counts = [
        f"{value:,} {unit}"
        for value, unit in (
            (cost.params, "params"),
            (cost.buffers, "buffers"),
            (cost.macs, "MACs"),
            (cost.flops, "FLOPs"),
        )
        if value
    ]
    text = f"on {', '.join(dims(s) for s in example.inputs)} → {dims(net.shape(node))}"
    return text + (f"; {', '.join(counts)}" if counts else "")


def run(args: argparse.Namespace) -> int:
    from archc.cli.common import write_stdout
    from archc.ops.attrs import signature

    aliases = aliases_of()
    lines = []
    for name in sorted(REGISTRY):
        op = REGISTRY[name]
        if op.internal:
            continue
        also = f"  (also: {', '.join(aliases[name])})" if name in aliases else ""
        lines.append(f"{signature(op)}{also}\n    {op.doc}")
        if op.traits:
            lines.append(f"    traits: {', '.join(sorted(op.traits))}")
        if op.examples:
            example = op.examples[0]
            lines.append(f"    e.g. {example.call} {describe_example(op, example)}")
    write_stdout("\n".join(lines) + "\n")
    return 0
