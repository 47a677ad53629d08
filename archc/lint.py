"""Warnings: a spec that compiles but probably does not say what its author meant.

Two findings, each located at the layer that causes it:

- **an unused tensor**: a layer whose output no layer reads and that is not an output (a branch
  left dangling after an edit, a typo in a merge's arguments);
- **a stride that drops pixels**: a sliding window (conv, pooling) wider than one pixel whose
  stride is longer than the window (pixels between windows are never seen; a strided 1×1 is
  subsampling by design and not reported), or whose last position ends before the input does,
  so input rows or columns (real pixels, not padding) are never seen.
  ``(H + 2·pad − dilation·(k − 1) − 1) mod stride`` rows are skipped at the bottom; when that is
  more than the bottom padding, pixels are lost.  Ceil-mode pooling never drops.

The CLI prints them to standard error as ``file:line:col: warning: ...`` with the source line;
``--strict`` turns them into errors (exit 2).  They are facts about the IR, so
:func:`lint` needs the shapes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archc.analysis import Network
from archc.errors import ArchError
from archc.ir import G_OUTPUTS
from archc.ops import REGISTRY, dims
from archc.source import Span


@dataclass(frozen=True)
class SpecWarning:
    """One finding: what, where, and a hint."""

    message: str
    span: Span
    hints: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        lines = [f"{self.span.location()}: warning: {self.message}", *self.span.excerpt()]
        lines += [f"  hint: {h}" for h in self.hints]
        return "\n".join(lines)


class StrictWarning(ArchError):
    """A warning with ``--strict``: the spec is refused (exit 2)."""

    kind = "warning (--strict)"


def lint(net: Network) -> list[SpecWarning]:
    """The warnings for ``net``, in evaluation order."""
    found: list[SpecWarning] = []
    outputs = set(net.graph.graph[G_OUTPUTS].values())
    for node in net.order:
        layer = net.layer(node)
        if layer.op != "input" and node not in outputs and not any(net.graph.successors(node)):
            found.append(
                SpecWarning(
                    f"the output of '{node}' is never used",
                    layer.span,
                    ("use it, mark it as an output (output NAME), or remove the layer",),
                )
            )
        found += _dropped_pixels(net, node)
    return _per_line(found)


def _per_line(found: list[SpecWarning]) -> list[SpecWarning]:
    """One warning per spec line and kind: a block called nine times warns once."""
    groups: dict[tuple[Span, tuple[str, ...]], list[SpecWarning]] = {}
    for w in found:
        groups.setdefault((w.span, w.hints), []).append(w)
    merged = []
    for (span, hints), ws in groups.items():
        more = f" (and {len(ws) - 1} more made by this line)" if len(ws) > 1 else ""
        merged.append(SpecWarning(ws[0].message + more, span, hints))
    return merged


def _dropped_pixels(net: Network, node: str) -> list[SpecWarning]:
    layer = net.layer(node)
    op = REGISTRY[layer.op]
    a = layer.attrs
    if not layer.inputs or a.get("ceil") or not isinstance(a.get("pad"), tuple):
        return []
    x = net.shape(layer.inputs[0])
    if len(x) != 3:
        return []
    window = op.window(a, [x])
    if window is None:
        return []
    gaps: list[tuple[str, int]] = []
    lost: list[tuple[str, int]] = []
    for axis, size in ((0, x[1]), (1, x[2])):
        k, s, d = window.kernel[axis], window.stride[axis], window.dilation[axis]
        pad = a["pad"][axis]
        span = d * (k - 1) + 1
        if span == 1:
            continue  # a strided 1×1 subsamples on purpose (ResNet's projection shortcut)
        if s > span:
            gaps.append((("row", "column")[axis], s - span))
        skipped = (size + 2 * pad - span) % s
        if skipped > pad:
            lost.append((("rows", "columns")[axis], skipped - pad))
    summary = op.summary(a)
    if gaps:  # the windows leave pixels out between them (and so, often, at the end too)
        units = [f"{g} {unit}{'s' if g > 1 else ''}" for unit, g in gaps]
        return [
            SpecWarning(
                f"{summary} has a stride longer than its window: it skips {' and '.join(units)} "
                f"between windows of its {dims(x)} input",
                layer.span,
                ("widen the window or shorten the stride",),
            )
        ]
    if not lost:
        return []
    what = " and ".join(f"the last {count} {unit}" for unit, count in lost)
    return [
        SpecWarning(
            f"{summary} never sees {what} of its {dims(x)} input (stride {dims(window.stride)})",
            layer.span,
            ("pad so the windows cover the input, or use ceil=true for a pool",),
        )
    ]


def enforce(warnings: list[SpecWarning]) -> None:
    """``--strict``: the first warning as an error."""
    if warnings:
        first = warnings[0]
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        raise StrictWarning(first.message + more, first.span, first.hints)
