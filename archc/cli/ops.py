"""``archc ops``: the op registry as a user sees it."""

from __future__ import annotations

import argparse

from archc.cli.common import write_stdout
from archc.ops import ALIASES, REGISTRY
from archc.ops.attrs import signature


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    aliases: dict[str, list[str]] = {}
    for alias, name in sorted(ALIASES.items()):
        aliases.setdefault(name, []).append(alias)
    lines = []
    for name in sorted(REGISTRY):
        op = REGISTRY[name]
        if op.internal:
            continue
        also = f"  (also: {', '.join(aliases[name])})" if name in aliases else ""
        lines.append(f"{signature(op)}{also}\n    {op.doc}")
    write_stdout("\n".join(lines) + "\n")
    return 0
