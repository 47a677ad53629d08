"""Counting conventions: archc's MACs as each peer tool would report them, op by op.

Users compare archc with fvcore, ptflops, thop, torchinfo and DeepSpeed, and those tools
disagree with each other (ResNet-50: 4.09 G, 4.13 G, 4.13 G ...).  Each convention here is one
table keyed by registry op name (like every emitter table) that reproduces one tool's headline
number exactly from the IR, without running anything; :func:`explain` says, op by op, where two
conventions differ and which rule makes the difference.  docs/conventions.md lists the tool
versions the tables were checked against (tests/test_peer_conventions.py runs the tools).
"""

from __future__ import annotations

from dataclasses import dataclass

from archc.analysis import Network
from archc.conventions import deepspeed, fvcore, native, ptflops, ptflops_aten, thop, torchinfo
from archc.conventions.base import ASPECTS, Convention, Rule
from archc.errors import UsageError

#: every convention by name, archc's own first
CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        native.CONVENTION,
        fvcore.CONVENTION,
        ptflops.CONVENTION,
        ptflops_aten.CONVENTION,
        thop.CONVENTION,
        torchinfo.CONVENTION,
        deepspeed.CONVENTION,
    )
}
NAMES = tuple(CONVENTIONS)


def get(name: str) -> Convention:
    """The convention called ``name``; :class:`UsageError` naming the choices otherwise."""
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise UsageError(f"unknown convention {name!r}; choose one of {', '.join(NAMES)}") from None


def layer_counts(network: Network, convention: str | Convention) -> dict[str, int]:
    """Every layer's count under ``convention``, per sample, in evaluation order."""
    conv = get(convention) if isinstance(convention, str) else convention
    counts = {}
    for node in network.order:
        layer = network.layer(node)
        ins = [network.shape(src) for src in layer.inputs]
        counts[node] = conv.count(layer.op, layer.attrs, ins, network.shape(node))
    return counts


def total(network: Network, convention: str | Convention, batch: int = 1) -> int:
    """The network's total under ``convention`` for ``batch`` samples."""
    return sum(layer_counts(network, convention).values()) * batch


@dataclass(frozen=True)
class OpDifference:
    """One op's totals under two conventions, with the rule each applies."""

    op: str
    layers: int
    a: int
    b: int
    rule_a: Rule
    rule_b: Rule

    @property
    def delta(self) -> int:
        return self.b - self.a


def explain(
    network: Network, a: str, b: str, batch: int = 1
) -> tuple[list[OpDifference], int, int]:
    """Per-op totals of conventions ``a`` and ``b`` (ops in first-use order) and both totals."""
    ca, cb = get(a), get(b)
    counts_a, counts_b = layer_counts(network, ca), layer_counts(network, cb)
    per_op: dict[str, list[int]] = {}
    for node in network.order:
        op = network.layer(node).op
        entry = per_op.setdefault(op, [0, 0, 0])
        entry[0] += 1
        entry[1] += counts_a[node] * batch
        entry[2] += counts_b[node] * batch
    rows = [
        OpDifference(op, n, ta, tb, ca.rule(op), cb.rule(op)) for op, (n, ta, tb) in per_op.items()
    ]
    return rows, sum(r.a for r in rows), sum(r.b for r in rows)


def render_explain(network: Network, a: str, b: str, batch: int = 1) -> str:
    """The ``--explain A B`` text: a per-op table, then the rule behind every difference."""
    rows, total_a, total_b = explain(network, a, b, batch)
    ca, cb = get(a), get(b)
    head = ["op", "layers", f"{a} ({ca.unit})", f"{b} ({cb.unit})", "difference"]
    cells = [head] + [
        [r.op, str(r.layers), f"{r.a:,}", f"{r.b:,}", f"{r.delta:+,}" if r.delta else "="]
        for r in rows
    ]
    cells.append(["total", "", f"{total_a:,}", f"{total_b:,}", f"{total_b - total_a:+,}"])
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]

    def line(c: list[str]) -> str:
        return "  ".join(
            c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(c))
        ).rstrip()

    out = [f"network {network.name}, batch {batch}: {a} vs {b}", ""]
    out += [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells[1:]]
    diffs = [r for r in rows if r.delta]
    out.append("")
    if not diffs:
        out.append(f"{a} and {b} count every op of this network the same way.")
    for r in diffs:
        out.append(f"{r.op}: {r.delta:+,}")
        out.append(f"  {a}: {_rule_text(r.rule_a)}")
        out.append(f"  {b}: {_rule_text(r.rule_b)}")
    return "\n".join(out) + "\n"


def markdown_tables() -> str:
    """docs/conventions.md's tables, generated from the conventions (a test keeps them equal):
    the tools and versions, how each treats the usual suspects, and every op's rule."""
    from archc.ops import REGISTRY

    peers = [c for c in CONVENTIONS.values() if c.name != "archc"]
    out = ["| convention | tool and version | the number it reproduces | unit |"]
    out.append("| --- | --- | --- | --- |")
    for c in CONVENTIONS.values():
        tool = f"{c.tool} {c.version}".strip()
        out.append(f"| `{c.name}` | {tool} | `{c.reports}` | {c.unit} |")
    out += ["", "| convention | " + " | ".join(ASPECTS) + " |"]
    out.append("| --- |" + " --- |" * len(ASPECTS))
    for c in CONVENTIONS.values():
        out.append(f"| `{c.name}` | " + " | ".join(c.treats[a] for a in ASPECTS) + " |")
    out += ["", "| op | " + " | ".join(f"`{c.name}`" for c in peers) + " |"]
    out.append("| --- |" + " --- |" * len(peers))
    for op in REGISTRY:
        if op != "input":
            cells = [c.rule(op).formula.replace("|", "\\|") for c in peers]
            out.append(f"| `{op}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _rule_text(rule: Rule) -> str:
    return f"{rule.formula} ({rule.mechanism})" if rule.mechanism else rule.formula


__all__ = [
    "ASPECTS",
    "CONVENTIONS",
    "NAMES",
    "Convention",
    "OpDifference",
    "Rule",
    "explain",
    "get",
    "layer_counts",
    "markdown_tables",
    "render_explain",
    "total",
]
